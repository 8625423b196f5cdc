import Foundation
import Testing

/// Names below a user's directory that the app wrote itself (`audio/42/sub/take.mp3`): the local root
/// lists them as a bucket does (found by the conformance suite's `listingsIncludeDeeperNames`), so
/// `audio ls`, `user erase` and `migrate` see them on the local root too.
@Suite struct NestedLocalNamesTests {
  @Test func eraseRemovesNestedLocalObjects() throws {
    let scratch = Processes.Scratch()
    let env = scratch.environment
    func run(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, environment: env, in: scratch) }
    let sample = try randomFile(scratch, "s.wav", size: 100)
    #expect(try run(["audio", "put", "42", sample, "--name", "top.wav"]).status == 0)
    // As the app writes it: a plain file, no checksums recorded.
    let nested = scratch.path + "/data/objects/audio/42/sub/take.mp3"
    try FileManager.default.createDirectory(atPath: scratch.path + "/data/objects/audio/42/sub", withIntermediateDirectories: true)
    try Data("take".utf8).write(to: URL(fileURLWithPath: nested))

    let ls = try jsonObject(try run(["audio", "ls", "42"]).stdout)
    #expect((ls["items"] as? [[String: Any]])?.map { $0["blob"] as? String } == ["audio/42/sub/take.mp3", "audio/42/top.wav"])

    let erase = try run(["user", "erase", "42"])
    #expect(erase.status == 0, "\(erase.stdout) \(erase.stderr)")
    let report = try jsonObject(erase.stdout)
    #expect(report["verified"] as? Bool == true)
    #expect(((report["found"] as? [String: Any])?["audio"] as? [Any])?.count == 2)
    #expect(!FileManager.default.fileExists(atPath: nested))
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/42/top.wav"))
  }
}
