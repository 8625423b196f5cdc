import Foundation
import Testing

@testable import RexstoreCore

/// The object side through the CLI: exact output, bytes on disk, failure modes.
@Suite struct AudioProfileTests {
  func file(_ h: Harness, _ name: String, _ bytes: [UInt8]) throws -> String {
    let path = h.root + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  var objects: (Harness) -> String { { $0.root + "/data/objects" } }

  @Test func putThenGetRoundTripsBytesWithGCSChecksums() throws {
    let h = Harness()
    _ = try file(h, "nine.mp3", Array("123456789".utf8))
    let put = h.run("audio", "put", "u1", "nine.mp3")
    #expect(
      Harness.normalized(put.stdout)
        == #"{"backend":"local","blob":"audio/u1/nine.mp3","content_type":"audio/mpeg","crc32c":"4waSgw==","fallback_reason":null,"md5":"JfnnlDI7RTiF9RgfG2JNCw==","size_bytes":9,"updated_at":"<TIME>"}"#
        + "\n")
    let stored = try Data(contentsOf: URL(fileURLWithPath: objects(h) + "/audio/u1/nine.mp3"))
    #expect(Array(stored) == Array("123456789".utf8))
    let mode = try FileManager.default.attributesOfItem(atPath: objects(h) + "/audio/u1/nine.mp3")[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let get = h.run("audio", "get", "audio/u1/nine.mp3")
    #expect(get.status == 0)
    #expect(get.stdout == "123456789")
    let ls = h.run("audio", "ls", "u1")
    #expect(Harness.normalized(ls.stdout) == #"{"count":1,"items":[{"backend":"local","blob":"audio/u1/nine.mp3","content_type":"audio/mpeg","crc32c":"4waSgw==","md5":"JfnnlDI7RTiF9RgfG2JNCw==","size_bytes":9,"updated_at":"<TIME>"}]}"# + "\n")
    #expect(h.run("audio", "ls", "u10").stdout == #"{"count":0,"items":[]}"# + "\n")
  }

  @Test func putNeverOverwritesWithoutForce() throws {
    let h = Harness()
    _ = try file(h, "a.wav", [1, 2, 3])
    #expect(h.run("audio", "put", "u1", "a.wav").status == 0)
    _ = try file(h, "a.wav", [9, 9])
    let again = h.run("audio", "put", "u1", "a.wav")
    #expect(again.status == 65)
    #expect(again.errorCode == "conflict")
    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: objects(h) + "/audio/u1/a.wav"))) == [1, 2, 3])
    #expect(h.run("audio", "put", "u1", "a.wav", "--force").json?["size_bytes"] == .number("2"))
    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: objects(h) + "/audio/u1/a.wav"))) == [9, 9])
    #expect(try FileManager.default.contentsOfDirectory(atPath: objects(h) + "/audio/u1").filter { !$0.hasPrefix(".") } == ["a.wav"])
  }

  @Test func inputAndNameErrors() throws {
    let h = Harness()
    #expect(h.run("audio", "put", "u1", "missing.wav").status == 66)
    #expect(h.run("audio", "put", "u1", "-").status == 64)
    #expect(h.run("audio", "get", "audio/u1/none.wav").errorCode == "not_found")
    #expect(h.run("audio", "get", "audio/u1/none.wav").status == 1)
    #expect(h.run("profile", "store", "u1", "p1", "missing.wav").status == 66)
    // No dossier directory yet: reads are loud (66), like pattern reads on a missing database.
    #expect(h.run("profile", "get", "u1", "p1").errorCode == "no_database")
    #expect(h.run("profile", "list", "u1").status == 66)
    #expect(h.run("profile", "delete", "u1", "p1", "--if-exists").status == 66)
    #expect(!FileManager.default.fileExists(atPath: objects(h)))
  }

  /// A download that fails verification leaves the existing file untouched and no temporary file.
  @Test func getToAPathNeverClobbersOnFailure() throws {
    let h = Harness()
    _ = try file(h, "a.wav", Array(repeating: 7, count: 100_000))
    #expect(h.run("audio", "put", "u1", "a.wav").status == 0)
    // Damage the stored bytes in place (same inode, so the recorded checksums stay).
    let stored = try FileHandle(forWritingTo: URL(fileURLWithPath: objects(h) + "/audio/u1/a.wav"))
    try stored.seek(toOffset: 50_000)
    stored.write(Data([8]))
    try stored.close()
    let target = try file(h, "keep.wav", Array("precious".utf8))
    let r = h.run("audio", "get", "audio/u1/a.wav", "-o", "keep.wav")
    #expect(r.status == 74, "\(r.stderr)")
    #expect(r.stderr.contains("damaged"))
    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: target))) == Array("precious".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: h.root).filter { $0.contains("rexstore-tmp") }.isEmpty)
    #expect(h.run("audio", "get", "audio/u1/a.wav", "-o", "missing-dir/x.wav").status == 73)
  }

  @Test func removeIsIdempotentWithIfExistsAndReportsFailures() throws {
    let h = Harness()
    _ = try file(h, "a.wav", [1])
    h.run("audio", "put", "u1", "a.wav")
    let r = h.run("audio", "rm", "audio/u1/a.wav", "audio/u1/b.wav")
    #expect(r.status == 1)
    #expect(r.stdout == #"{"count":2,"failures":[{"blob":"audio/u1/b.wav","code":"not_found","message":"no object 'audio/u1/b.wav'"}],"items":[{"blob":"audio/u1/a.wav","deleted":true},{"blob":"audio/u1/b.wav","deleted":false}]}"# + "\n")
    let again = h.run("audio", "rm", "audio/u1/a.wav", "--if-exists")
    #expect(again.status == 0)
    #expect(again.stdout == #"{"count":1,"failures":[],"items":[{"blob":"audio/u1/a.wav","deleted":false}]}"# + "\n")
  }

  @Test func pruneHonoursAgeUserDryRunAndMaxDelete() throws {
    let h = Harness()
    _ = try file(h, "a.wav", [1])
    for (user, name) in [("u1", "old1.wav"), ("u1", "new.wav"), ("u2", "old2.wav")] {
      h.run("audio", "put", user, "a.wav", "--name", name)
    }
    let old = Date(timeIntervalSinceNow: -40 * 86_400)
    for path in ["audio/u1/old1.wav", "audio/u2/old2.wav"] {
      try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: objects(h) + "/" + path)
    }
    let dry = h.run("audio", "prune", "--older-than", "30d", "--dry-run")
    #expect(dry.json?["count"] == .number("2"))
    #expect(dry.json?["dry_run"] == .bool(true))
    let refused = h.run("audio", "prune", "--older-than", "30d", "--max-delete", "1")
    #expect(refused.status == 25)
    #expect(refused.errorCode == "limit_exceeded")
    #expect(refused.stdout.isEmpty)
    // A dry run over the limit still lists every candidate, and says the real run would be refused.
    let preview = h.run("audio", "prune", "--older-than", "30d", "--max-delete", "1", "--dry-run")
    #expect(preview.status == 25)
    #expect(preview.json?["count"] == .number("2"))
    #expect(preview.json?["limit_exceeded"] == .bool(true))
    let u1 = h.run("audio", "prune", "--older-than", "30d", "--user", "u1")
    #expect(u1.json?["freed_bytes"] == .number("1"))
    #expect(u1.json?["items"] == .array([.record(["blob": .string("audio/u1/old1.wav"), "deleted": .bool(true), "size_bytes": .number("1")])]))
    #expect(h.run("audio", "ls", "u2").json?["count"] == .number("1"))
    #expect(h.run("audio", "ls", "u1").json?["count"] == .number("1"))
    #expect(h.run("audio", "prune", "--older-than", "30d").json?["count"] == .number("1"))
    #expect(h.run("audio", "prune").status == 64)
  }

  @Test func restoringAProfileReplacesSamplesAndKeepsCreatedAt() throws {
    let h = Harness()
    let a = try file(h, "a.wav", Array("123456789".utf8))
    let b = try file(h, "b.wav", [1, 2, 3, 4])
    _ = try file(h, "c.wav", [])
    let first = h.run("profile", "store", "u1", "calm", "a.wav", "b.wav", "c.wav", "--meta-json", #"{"rate":16000}"#, "--meta", "mood=calm")
    #expect(first.status == 0, "\(first.stderr)")
    #expect(
      Harness.normalized(first.stdout)
        == #"{"created_at":"<TIME>","fallback_reason":null,"metadata":{"mood":"calm","rate":16000},"missing_samples":[],"profile_id":"calm","sample_count":3,"samples":[{"backend":"local","blob":"voice_profiles/u1/calm/sample_0.wav","content_type":"audio/wav","crc32c":"4waSgw==","md5":"JfnnlDI7RTiF9RgfG2JNCw==","size_bytes":9,"updated_at":"<TIME>"},{"backend":"local","blob":"voice_profiles/u1/calm/sample_1.wav","content_type":"audio/wav","crc32c":"\#(Checksums.crc32c([1, 2, 3, 4]))","md5":"CNbAWiFRKnmh3+udKo8mLw==","size_bytes":4,"updated_at":"<TIME>"},{"backend":"local","blob":"voice_profiles/u1/calm/sample_2.wav","content_type":"audio/wav","crc32c":"AAAAAA==","md5":"1B2M2Y8AsgTpgAmY7PhCfg==","size_bytes":0,"updated_at":"<TIME>"}],"storage":"local","total_bytes":13,"updated_at":"<TIME>","user_id":"u1"}"#
        + "\n")
    #expect(h.run("profile", "store", "u1", "calm", "b.wav").errorCode == "conflict")
    let second = h.run("profile", "store", "u1", "calm", "b.wav", "--force")
    #expect(second.json?["created_at"] == first.json?["created_at"])
    #expect(second.json?["sample_count"] == .number("1"))
    let dir = objects(h) + "/voice_profiles/u1/calm"
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") } == ["sample_0.wav"])
    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/sample_0.wav"))) == [1, 2, 3, 4])
    #expect(try FileManager.default.contentsOfDirectory(atPath: objects(h) + "/voice_profiles/u1") == ["calm"])
    _ = (a, b)
  }

  @Test func profileListGetAndDelete() throws {
    let h = Harness()
    _ = try file(h, "a.wav", Array("123456789".utf8))
    h.run("profile", "store", "u1", "p2", "a.wav", "a.wav")
    h.run("profile", "store", "u1", "p1", "a.wav", "--meta", "k=v")
    let list = h.run("profile", "list", "u1")
    guard case .array(let items)? = list.json?["items"] else { Issue.record("no items: \(list.stdout)"); return }
    // In the dossier's order, as the app's list_voice_profiles() returns them.
    #expect(items.map { $0["profile_id"]! } == [.string("p2"), .string("p1")])
    #expect(items.map { $0["total_bytes"]! } == [.number("18"), .number("9")])
    #expect(items[1]["metadata"] == .object([.init("k", .string("v"))]))
    try FileManager.default.createDirectory(atPath: h.root + "/out", withIntermediateDirectories: true)
    let got = h.run("profile", "get", "u1", "p2", "-o", "out")
    #expect(got.status == 0, "\(got.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: h.root + "/out").sorted() == ["sample_0.wav", "sample_1.wav"])
    #expect(
      h.run("profile", "delete", "u1", "p2").stdout
        == #"{"deleted":true,"failures":[],"profile_id":"p2","samples_deleted":["voice_profiles/u1/p2/sample_0.wav","voice_profiles/u1/p2/sample_1.wav"],"user_id":"u1"}"#
        + "\n")
    #expect(!FileManager.default.fileExists(atPath: objects(h) + "/voice_profiles/u1/p2"))
    #expect(h.run("profile", "delete", "u1", "p2").status == 1)
    #expect(h.run("profile", "delete", "u1", "p2", "--if-exists").json?["deleted"] == .bool(false))
    #expect(h.run("profile", "get", "u1", "p2").errorCode == "not_found")
    #expect(h.run("profile", "list", "u1").json?["count"] == .number("1"))
  }

  @Test func healthFindsTemporaryFilesLeftBehind() throws {
    let h = Harness()
    _ = try file(h, "a.wav", [1])
    h.run("audio", "put", "u1", "a.wav")
    FileManager.default.createFile(atPath: objects(h) + "/audio/u1/.a.wav.rexstore-tmp-999999-1-x", contents: Data([1]))
    let r = h.run("health")
    #expect(r.status == 1)
    #expect(r.stdout.contains(#""name":"local_temporaries","status":"warning""#))
    #expect(r.stdout.contains(".a.wav.rexstore-tmp-999999-1-x"))
    // A temporary file whose writer is still running (this test process) is work in progress.
    let live = objects(h) + "/audio/u1/.b.wav.rexstore-tmp-\(getpid())-1-x"
    FileManager.default.createFile(atPath: live, contents: Data([1]))
    #expect(!h.run("health").stdout.contains(".b.wav.rexstore-tmp-"))
    // The leftover is never listed as an object.
    #expect(h.run("audio", "ls", "u1").json?["count"] == .number("1"))
  }
}
