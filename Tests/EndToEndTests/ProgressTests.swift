import Foundation
import Testing

/// A progress line on stderr when it is a terminal (run under `script`, which gives the command a
/// pseudo-terminal), never in a pipe or with --quiet, and erased before the JSON (issue 10).
@Suite struct ProgressTests {
  @Test func progressOnlyOnATerminal() throws {
    let scratch = Processes.Scratch()
    let files = try (0..<3).map { try randomFile(scratch, "f\($0).wav", size: 10) }
    let command = ([Processes.binary, "audio", "put", "u1"] + files).map { "'\($0)'" }.joined(separator: " ")
    let terminal = try Processes.run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: scratch.environment)
    #expect(terminal.status == 0, "\(terminal.stderr)")
    #expect(terminal.stdout.contains("rexstore: 3/3 objects"), "\(terminal.stdout)")
    #expect(terminal.stdout.contains("\r\u{1B}[K{\"count\":3"), "the line is erased before the JSON")
    let quiet = try Processes.run(
      "/usr/bin/script", ["-qec", command.replacingOccurrences(of: "'audio'", with: "'--quiet' 'audio'") + " --force", "/dev/null"],
      environment: scratch.environment)
    #expect(!quiet.stdout.contains("objects\r"), "\(quiet.stdout)")
    #expect(!quiet.stdout.contains("rexstore: "))
    let piped = try Processes.rexstore(["audio", "put", "u1", "--force"] + files, in: scratch)
    #expect(piped.status == 0)
    #expect(piped.stderr.isEmpty)
  }
}
