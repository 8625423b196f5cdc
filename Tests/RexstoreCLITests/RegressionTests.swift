import Foundation
import Testing

@testable import RexstoreCore

/// Bugs found in review, each pinned by a test that failed before its fix.
@Suite struct RegressionTests {
  /// SQLite bound text up to the first NUL: `"a\u0000b"` was stored as `a`.
  @Test func valuesWithNULSurviveIntact() {
    let h = Harness()
    #expect(h.run("pattern", "set", "1", "t", "k", #""a\u0000b""#).status == 0)
    #expect(h.run("pattern", "get", "1", "t", "k").json?["value"] == .string("a\u{0}b"))
    h.run("context", "add", "1", "k", "x\u{0}y", "--string")
    #expect(values(h.run("context", "get", "1", "k").json) == [.string("x\u{0}y")])
  }

  /// A 255-byte name is valid, but its temporary file name used to exceed the file-name limit (73).
  @Test func longestValidNamesCanBeStored() throws {
    let h = Harness()
    try Data([1, 2]).write(to: URL(fileURLWithPath: h.root + "/a.wav"))
    let name = String(repeating: "é", count: 125) + "x.wav"  // 255 bytes
    #expect(name.utf8.count == 255)
    let put = h.run("audio", "put", "u1", "a.wav", "--name", name)
    #expect(put.status == 0, "\(put.stderr)")
    let store = h.run("profile", "store", "u1", name, "a.wav")
    #expect(store.status == 0, "\(store.stderr)")
  }

  /// An expiry past year 9999 was stored as `10240-...`, sorted before today, and vanished at once.
  @Test func expiriesBeyondYear9999AreRefused() {
    let h = Harness()
    let r = h.run("context", "add", "1", "k", "v", "--expires", "3000000d")
    #expect(r.status == 64)
    #expect(!FileManager.default.fileExists(atPath: h.databasePath))
  }
}

/// A store killed after swapping its samples in but before committing its record left the new samples
/// live under the old record; the next read of the profile puts the recorded samples back.
@Suite struct ProfileRepairTests {
  @Test func anInterruptedSwapIsRolledBackOnTheNextRead() throws {
    let h = Harness()
    try Data("version one".utf8).write(to: URL(fileURLWithPath: h.root + "/v1.wav"))
    try Data("version two!".utf8).write(to: URL(fileURLWithPath: h.root + "/v2.wav"))
    #expect(h.run("db", "upgrade").status == 0)
    #expect(h.run("profile", "store", "u1", "p1", "v1.wav").status == 0)
    #expect(h.run("profile", "store", "u1", "scratch", "v2.wav").status == 0)
    // Recreate the crash state by hand: the recorded set under a dead writer's temporary name, an
    // unrecorded set live.
    let dir = h.root + "/data/objects/voice_profiles/u1"
    let fm = FileManager.default
    try fm.moveItem(atPath: dir + "/p1", toPath: dir + "/.p1.rexstore-tmp-999999-1-x")
    try fm.moveItem(atPath: dir + "/scratch", toPath: dir + "/p1")
    #expect(h.run("health").status == 1)
    try fm.createDirectory(atPath: h.root + "/out", withIntermediateDirectories: true)
    let got = h.run("profile", "get", "u1", "p1", "-o", "out")
    #expect(got.status == 0, "\(got.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: h.root + "/out/sample_0.wav")) == Data("version one".utf8))
    #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/p1/sample_0.wav")) == Data("version one".utf8))
    #expect(try fm.contentsOfDirectory(atPath: dir).sorted() == ["p1"])
    #expect(h.run("health").status == 0)
  }
}
