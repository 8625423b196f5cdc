import Foundation
import Testing

/// Hostile names are refused before any I/O, on every command that takes one: exit 64, nothing written.
@Suite struct ObjectNameTests {
  static let hostile: [String] = [
    "..", "../x", "a/b", "/etc/passwd", "", "a\u{0}b", "a\u{1}b", "a\nb", "tab\there", "\u{7F}",
    String(repeating: "a", count: 256), ".", ".hidden",
  ]

  /// Every way a name reaches a command, with `N` standing for the hostile name.
  static let templates: [[String]] = [
    ["audio", "put", "N", "sample.wav"], ["audio", "put", "u1", "sample.wav", "--name", "N"],
    ["audio", "get", "audio/N/x.wav"], ["audio", "get", "audio/u1/N"], ["audio", "get", "N"],
    ["audio", "get", "audio/u1/N", "-o", "out.wav"], ["audio", "ls", "N"], ["audio", "rm", "audio/u1/N"],
    ["audio", "rm", "audio/u1/ok.wav", "audio/N/x.wav"], ["audio", "prune", "--older-than", "1d", "--user", "N"],
    ["profile", "store", "N", "p1", "sample.wav"], ["profile", "store", "u1", "N", "sample.wav"],
    ["profile", "get", "N", "p1"], ["profile", "get", "u1", "N"], ["profile", "get", "u1", "N", "-o", "."],
    ["profile", "list", "N"], ["profile", "delete", "N", "p1"], ["profile", "delete", "u1", "N", "--if-exists"],
  ]

  @Test(arguments: templates)
  func hostileNamesAreRefusedBeforeAnyIO(template: [String]) throws {
    // A full blob name may hold names the app writes itself: a sub-path (`audio/u1/a/b`) is fine,
    // and a dot segment is refused by the local root per item (AppNameTests covers both).
    let blobTemplate = template.contains { $0.hasPrefix("audio/") }
    for name in Self.hostile where !(blobTemplate && ["a/b", ".hidden"].contains(name)) {
      let h = Harness()
      try Data("RIFF".utf8).write(to: URL(fileURLWithPath: h.root + "/sample.wav"))
      // Keep an object that a traversal could hit, and remember everything on disk.
      let before = try snapshot(h.root)
      let argv = template.map { $0 == "N" ? name : $0.replacingOccurrences(of: "/N", with: "/" + name) }
      let r = h.run(argv)
      #expect(r.status == 64, "\(argv.debugDescription): \(r.stderr)")
      #expect(r.errorCode == "usage", "\(argv.debugDescription)")
      #expect(r.stdout.isEmpty)
      #expect(try snapshot(h.root) == before, "\(argv.debugDescription) wrote something")
    }
  }

  /// Every path under `root` with its size.
  func snapshot(_ root: String) throws -> [String: Int] {
    var files: [String: Int] = [:]
    let enumerator = FileManager.default.enumerator(atPath: root)
    while let path = enumerator?.nextObject() as? String {
      let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
      files[path] = (attributes[.size] as? Int) ?? -1
    }
    return files
  }

  @Test func aValidNameWithSpacesAndUnicodeIsAccepted() throws {
    let h = Harness()
    try Data("x".utf8).write(to: URL(fileURLWithPath: h.root + "/sample.wav"))
    let r = h.run("audio", "put", "user 1", "sample.wav", "--name", "réc ordé.wav")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.json?["blob"] == .string("audio/user 1/réc ordé.wav"))
  }
}
