import Foundation
import Testing

/// One big transfer on a terminal draws a byte progress line, done/total (issue 10): `audio put` of
/// one file and `audio get` of one object, run under `script` for a pseudo-terminal; never in a pipe
/// or with --quiet, and erased before the JSON.
@Suite struct ByteProgressTests {
  static func onTerminal(_ words: [String], in scratch: Processes.Scratch) throws -> Processes.Result {
    let command = ([Processes.binary] + words).map { "'\($0)'" }.joined(separator: " ")
    return try Processes.run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: scratch.environment)
  }

  @Test func putAndGetOfOneObjectShowBytes() throws {
    let scratch = Processes.Scratch()
    let file = try randomFile(scratch, "big.wav", size: 3 << 20)
    let put = try Self.onTerminal(["audio", "put", "u1", file], in: scratch)
    #expect(put.status == 0, "\(put.stdout)")
    #expect(put.stdout.contains("rexstore: 3.0 MiB/3.0 MiB (100%)"), "\(put.stdout.debugDescription)")
    #expect(put.stdout.contains("(100%)\r\u{1B}[K{\"backend\":\"local\""), "the line is erased before the JSON")

    let out = scratch.path + "/out.wav"
    let get = try Self.onTerminal(["audio", "get", "audio/u1/big.wav", "-o", out], in: scratch)
    #expect(get.status == 0, "\(get.stdout)")
    #expect(get.stdout.contains("rexstore: 3.0 MiB/3.0 MiB (100%)"), "\(get.stdout.debugDescription)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: file)))

    // --quiet, or stderr not a terminal: no line at all.
    let quiet = try Self.onTerminal(["--quiet", "audio", "get", "audio/u1/big.wav", "-o", out], in: scratch)
    #expect(quiet.status == 0 && !quiet.stdout.contains("rexstore: "), "\(quiet.stdout.debugDescription)")
    let piped = try Processes.rexstore(["audio", "put", "u1", file, "--force"], in: scratch)
    #expect(piped.status == 0 && piped.stderr.isEmpty, "\(piped.stderr)")
    let pipedGet = try Processes.rexstore(["audio", "get", "audio/u1/big.wav", "-o", out], in: scratch)
    #expect(pipedGet.status == 0 && pipedGet.stderr.isEmpty, "\(pipedGet.stderr)")
  }

  /// Standard input has no size: bytes so far, no total.
  @Test func putFromAPipeShowsBytesWithoutATotal() throws {
    let scratch = Processes.Scratch()
    let file = try randomFile(scratch, "big.wav", size: 2 << 20)
    let command = "cat '\(file)' | '\(Processes.binary)' audio put u1 - --name live.wav"
    let r = try Processes.run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: scratch.environment)
    #expect(r.status == 0, "\(r.stdout)")
    #expect(r.stdout.range(of: #"rexstore: [0-9.]+ (B|KiB|MiB)\r"#, options: .regularExpression) != nil, "\(r.stdout.debugDescription)")
    #expect(!r.stdout.contains("%)"))
  }
}
