import Foundation
import Testing

/// `rexstore fsck`: leftovers found, removed with --repair (never through a link), orphans only with
/// --include-orphans, and a dry run that changes nothing (issues 8 and 10).
@Suite struct FsckTests {
  @Test func findsRepairsAndLeavesWhatIsNotItsToRemove() throws {
    let scratch = Processes.Scratch()
    func run(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, in: scratch) }
    let sample = try randomFile(scratch, "a.wav", size: 100)
    #expect(try run(["db", "upgrade"]).status == 0)
    #expect(try run(["profile", "store", "u1", "p", sample]).status == 0)
    #expect(try run(["audio", "put", "u1", sample]).status == 0)
    let data = scratch.path + "/data"
    let fm = FileManager.default
    fm.createFile(atPath: data + "/objects/audio/u1/.x.wav.rexstore-tmp-999999-1-a", contents: Data("tmp".utf8))
    try fm.createDirectory(atPath: data + "/objects/voice_profiles/u1/.p.rexstore-tmp-999999-2-b", withIntermediateDirectories: true)
    fm.createFile(atPath: data + "/objects/voice_profiles/u1/p/stray.wav", contents: Data("zz".utf8))
    fm.createFile(atPath: data + "/dossiers/.ghost.json.lock", contents: nil)
    fm.createFile(atPath: data + "/.copy.sqlite3.tmp-999999", contents: Data("b".utf8))
    // A link planted below the root is reported by nobody and followed by nothing.
    try fm.createDirectory(atPath: scratch.path + "/canary", withIntermediateDirectories: true)
    fm.createFile(atPath: scratch.path + "/canary/.y.rexstore-tmp-999999-3-c", contents: Data("keep".utf8))
    try fm.createSymbolicLink(atPath: data + "/objects/audio/u9", withDestinationPath: scratch.path + "/canary")

    let health = try run(["health"])
    #expect(health.status == 1)
    #expect(health.stdout.contains("rexstore fsck"))

    func kinds(_ r: Processes.Result) throws -> [String: String] {
      var out: [String: String] = [:]
      for item in try jsonObject(r.stdout)["items"] as? [[String: Any]] ?? [] {
        out[(item["kind"] as? String ?? "") + ":" + ((item["path"] as? String ?? "") as NSString).lastPathComponent] = item["action"] as? String
      }
      return out
    }
    let report = try run(["fsck"])
    #expect(report.status == 1)
    #expect(try kinds(report) == [
      "temporary_file:.x.wav.rexstore-tmp-999999-1-a": "reported", "profile_staging_directory:.p.rexstore-tmp-999999-2-b": "reported",
      "backup_temporary:.copy.sqlite3.tmp-999999": "reported", "stale_lock:.ghost.json.lock": "reported",
      "unreferenced_sample:stray.wav": "reported", "symlink:u9": "reported",
    ])
    let dry = try run(["fsck", "--repair", "--dry-run"])
    #expect(Set(try kinds(dry).values) == ["would_remove", "reported"])
    #expect(fm.fileExists(atPath: data + "/objects/audio/u1/.x.wav.rexstore-tmp-999999-1-a"))
    let repaired = try run(["fsck", "--repair"])
    #expect(repaired.status == 1, "the unreferenced sample is still reported")
    #expect(!fm.fileExists(atPath: data + "/objects/audio/u1/.x.wav.rexstore-tmp-999999-1-a"))
    #expect(!fm.fileExists(atPath: data + "/dossiers/.ghost.json.lock"))
    #expect(fm.fileExists(atPath: data + "/objects/voice_profiles/u1/p/stray.wav"))
    let orphans = try run(["fsck", "--repair", "--include-orphans"])
    #expect(orphans.status == 1, "the link is still reported: \(orphans.stdout)")
    #expect(!fm.fileExists(atPath: data + "/objects/voice_profiles/u1/p/stray.wav"))
    try fm.removeItem(atPath: data + "/objects/audio/u9")
    #expect(try run(["fsck"]).status == 0)
    #expect(try run(["profile", "get", "u1", "p", "-o", scratch.path + "/o"]).status == 0)
    #expect(fm.fileExists(atPath: scratch.path + "/canary/.y.rexstore-tmp-999999-3-c"))
  }
}
