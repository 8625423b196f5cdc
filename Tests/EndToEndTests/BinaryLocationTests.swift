import Foundation
import Testing

/// The end-to-end tests run the binary built from the current sources, and say so clearly when it is
/// stale or missing instead of testing old code (issue 11).
@Suite struct BinaryLocationTests {
  @Test func theBinaryUnderTestIsCurrent() throws {
    let found = Processes.locate()
    #expect(found.problem == nil, "\(found.problem ?? "")")
    #expect(FileManager.default.isExecutableFile(atPath: found.path))
    if ProcessInfo.processInfo.environment["REXSTORE_BIN"] == nil {
      // Beside the test bundle that this same build produced, whatever the scratch path.
      let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath()
      #expect(found.path == bundle.deletingLastPathComponent().appendingPathComponent("rexstore").path)
    }
  }

  /// A package tree whose source changed after its binary was built: the problem names both.
  @Test func aBinaryOlderThanASourceIsStale() throws {
    let scratch = Processes.Scratch()
    let fm = FileManager.default
    try fm.createDirectory(atPath: scratch.path + "/Sources/rexstore", withIntermediateDirectories: true)
    fm.createFile(atPath: scratch.path + "/Package.swift", contents: Data())
    fm.createFile(atPath: scratch.path + "/Sources/rexstore/main.swift", contents: Data())
    fm.createFile(atPath: scratch.path + "/rexstore", contents: Data())
    let old = Date(timeIntervalSinceNow: -3600)
    try fm.setAttributes([.modificationDate: old], ofItemAtPath: scratch.path + "/Package.swift")
    try fm.setAttributes([.modificationDate: old.addingTimeInterval(-60)], ofItemAtPath: scratch.path + "/rexstore")
    let problem = try #require(Processes.staleness(of: scratch.path + "/rexstore", root: scratch.path))
    #expect(problem.contains("is older than Sources/rexstore/main.swift"), "\(problem)")
    #expect(problem.contains("run 'swift build'"))
    // Built after every source: current.
    try fm.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: scratch.path + "/rexstore")
    #expect(Processes.staleness(of: scratch.path + "/rexstore", root: scratch.path) == nil)
  }
}
