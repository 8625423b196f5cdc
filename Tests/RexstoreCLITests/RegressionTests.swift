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
