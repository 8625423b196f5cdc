import Foundation
import Testing

/// What no emulator does, from our own stub (`python/gcs_stub.py`): 5xx and 429 bursts, 412 on every
/// upload kind, connections reset mid-body in both directions, stalls and damaged downloads.
@Suite(.serialized) struct GCSFaultTests {
  let server: StorageServer
  let scratch = Processes.Scratch()
  var env: [String: String] { server.emulatorEnvironment(scratch) }

  init() throws { server = try StorageServer(.stub(arguments: [])) }

  func rexstore(_ arguments: [String], env extra: [String: String] = [:]) throws -> Processes.Result {
    try Processes.rexstore(arguments, environment: env.merging(extra) { $1 }, in: scratch)
  }

  func requests(_ method: String, _ fragment: String) throws -> [[String: Any]] {
    try server.log().filter { ($0["method"] as? String) == method && ((($0["path"] as? String) ?? "") + "?" + (($0["query"] as? String) ?? "")).contains(fragment) }
  }

  func stored() throws -> [[String: Any]] {
    (try JSONSerialization.jsonObject(with: Data(try server.http("GET", "/_stub/objects").utf8)) as? [[String: Any]]) ?? []
  }

  @Test func burstsOf503And429AreRetried() throws {
    let file = try randomFile(scratch, "a.wav", size: 1000)
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":2,"action":{"status":503}},{"method":"POST","path_contains":"/upload/","times":1,"action":{"status":429}}]"#)
    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
    #expect(try requests("POST", "uploadType=multipart").map { $0["status"] as? Int } == [503, 503, 429, 200])
  }

  /// A file of known size above the multipart limit goes in one media POST carrying every byte,
  /// create-only, with its content type; no session is opened.
  @Test func aFileOfKnownSizeIsUploadedInOneRequest() throws {
    let size = 20 * 1024 * 1024 + 5
    let file = try randomFile(scratch, "one.wav", size: size)
    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    let media = try requests("POST", "uploadType=media")
    #expect(media.count == 1)
    #expect(media.first?["query"] as? String == "uploadType=media&name=audio%2Fu1%2Fone.wav&ifGenerationMatch=0")
    #expect(media.first?["request_body_bytes"] as? Int == size)
    #expect(try requests("POST", "uploadType=resumable").isEmpty)
    #expect(try requests("PUT", "upload_id").isEmpty)
    let object0 = try #require(try stored().first)
    #expect(object0["contentType"] as? String == (try jsonObject(put.stdout))["content_type"] as? String)
    let object = try #require(try stored().first)
    #expect(object["size"] as? Int == size)
    #expect(object["md5Hash"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
    #expect(object["crc32c"] as? String == (try jsonObject(put.stdout))["crc32c"] as? String)
  }

  /// A pipe that is not spooled (no fallback) has no known size: 16 MiB chunks, the total on the last.
  @Test func aPipeOfUnknownSizeIsUploadedInChunks() throws {
    let size = 20 * 1024 * 1024
    let file = try randomFile(scratch, "pipe.wav", size: size)
    let put = try Processes.run(
      "/bin/sh", ["-c", "cat \"$1\" | \"$0\" audio put u1 - --name pipe.wav --no-fallback", Processes.binary, file],
      environment: env, directory: scratch.path)
    #expect(put.status == 0, "\(put.stderr)")
    let ranges = try requests("PUT", "upload_id").compactMap { $0["content_range"] as? String }
    #expect(ranges == ["bytes 0-16777215/*", "bytes 16777216-\(size - 1)/\(size)"], "\(ranges)")
    #expect(try stored().first?["md5Hash"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
  }

  /// A media upload that fails (cut mid-body, or a 503) hands over to a resumable session; its one
  /// PUT cut mid-body (the server kept what arrived, in 256 KiB units), or answered 503 after keeping
  /// 1 MiB: rexstore asks the session what it holds and sends only the rest.
  @Test func resumableUploadResumesFromTheOffsetTheServerReports() throws {
    let size = 40 * 1024 * 1024
    let file = try randomFile(scratch, "big.wav", size: size)
    try server.faults(#"""
      [{"method":"POST","query_contains":"uploadType=media","times":1,"action":{"reset_after_request_bytes":3000000}},
       {"method":"PUT","query_contains":"upload_id","times":1,"action":{"reset_after_request_bytes":5000000,"persist_received":true}}]
      """#)
    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    let kept = 5_000_000 / 262_144 * 262_144
    var ranges = try requests("PUT", "upload_id").compactMap { $0["content_range"] as? String }
    #expect(ranges == ["bytes 0-\(size - 1)/\(size)", "bytes */\(size)", "bytes \(kept)-\(size - 1)/\(size)"], "\(ranges)")
    #expect(try requests("POST", "uploadType=media").map { $0["status"] as? Int } == [nil])
    let object = try #require(try stored().first)
    #expect(object["size"] as? Int == size)
    #expect(object["md5Hash"] as? String == (try jsonObject(put.stdout))["md5"] as? String)

    try server.http("DELETE", "/_stub/log")
    try server.faults(#"""
      [{"method":"POST","query_contains":"uploadType=media","times":1,"action":{"status":503}},
       {"method":"PUT","query_contains":"upload_id","times":1,"action":{"status":503,"persist_bytes":1048576}}]
      """#)
    let again = try rexstore(["audio", "put", "u1", file, "--name", "again.wav"])
    #expect(again.status == 0, "\(again.stderr)")
    ranges = try requests("PUT", "upload_id").compactMap { $0["content_range"] as? String }
    #expect(ranges == ["bytes 0-\(size - 1)/\(size)", "bytes */\(size)", "bytes 1048576-\(size - 1)/\(size)"], "\(ranges)")
    #expect(try stored().first { ($0["name"] as? String) == "audio/u1/again.wav" }?["md5Hash"] as? String
      == (try jsonObject(put.stdout))["md5"] as? String)
  }

  /// A media upload whose answer is lost after the server stored the object: the session that takes
  /// over is refused (412, create-only), and rexstore recognises the stored object as its own bytes.
  @Test func aMediaUploadWhoseAnswerIsLostIsRecognisedAsItsOwn() throws {
    let size = 12 * 1024 * 1024 + 1
    let file = try randomFile(scratch, "lost.wav", size: size)
    try server.faults(#"[{"method":"POST","query_contains":"uploadType=media","times":1,"action":{"reset_after_response_bytes":0}}]"#)
    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    let objects = try stored()
    #expect(objects.count == 1)
    #expect(objects.first?["md5Hash"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
    #expect(try requests("POST", "uploadType=media").count == 1)
    #expect(try requests("POST", "uploadType=resumable").count == 1)
    // The session's answer was the precondition's refusal: the object checked is the media upload's.
    #expect(try requests("PUT", "upload_id").compactMap { $0["status"] as? Int }.last == 412)
  }

  /// A media upload that GCS stored with other bytes than were sent (damage on the way) is removed by
  /// its generation, and the put fails with 74; nothing is left in the bucket.
  @Test func aMediaUploadStoredWithOtherBytesIsRemoved() throws {
    let file = try randomFile(scratch, "bad.wav", size: 9 * 1024 * 1024)
    try server.faults(#"[{"method":"POST","query_contains":"uploadType=media","times":1,"action":{"corrupt_request_body":true}}]"#)
    let put = try rexstore(["audio", "put", "u1", file, "--no-fallback"])
    #expect(put.status == 74, "\(put.stderr)")
    #expect(put.stderr.contains("checksum mismatch"), "\(put.stderr)")
    #expect(try stored().isEmpty)
    #expect(try requests("DELETE", "/o/audio%2Fu1%2Fbad.wav").first?["query"] as? String == "ifGenerationMatch=\(1700000000000001)")
  }

  /// 412 on a multipart upload, on a media upload, and on the session PUT that follows a media upload
  /// answered 503 (which stored nothing, so the refusal is not our own object): each is a conflict.
  @Test func preconditionFailuresAreConflicts() throws {
    let small = try randomFile(scratch, "s.wav", size: 10)
    let big = try randomFile(scratch, "b.wav", size: 9 * 1024 * 1024)
    let session = try randomFile(scratch, "c.wav", size: 9 * 1024 * 1024)
    try server.faults(#"""
      [{"method":"POST","query_contains":"uploadType=multipart","times":1,"action":{"status":412}},
       {"method":"POST","query_contains":"uploadType=media","times":1,"action":{"status":412}},
       {"method":"POST","query_contains":"uploadType=media","times":1,"action":{"status":503}},
       {"method":"PUT","query_contains":"upload_id","times":1,"action":{"status":412}}]
      """#)
    for file in [small, big, session] {
      let put = try rexstore(["audio", "put", "u1", file])
      #expect(put.status == 65, "\(put.stderr)")
      #expect(put.stdout.isEmpty)
      #expect(put.stderr.contains(#""code":"conflict""#))
    }
    // A conflict is the caller's business: nothing fell back to the local root.
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio"))
    #expect(try stored().isEmpty)
    #expect(try requests("PUT", "upload_id").map { $0["status"] as? Int } == [412])
  }

  @Test func downloadsResumeAfterAResetAndRefuseDamage() throws {
    let file = try randomFile(scratch, "d.wav", size: 5 * 1024 * 1024)
    #expect(try rexstore(["audio", "put", "u1", file]).status == 0)
    try server.faults(#"[{"method":"GET","query_contains":"alt=media","times":1,"action":{"reset_after_response_bytes":1000000}}]"#)
    let out = scratch.path + "/copy.wav"
    let get = try rexstore(["audio", "get", "audio/u1/d.wav", "-o", out])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: file))
    #expect(try requests("GET", "alt=media").count == 2)

    try server.faults(#"[{"method":"GET","query_contains":"alt=media","times":1,"action":{"corrupt_response_body":true}}]"#)
    let damaged = scratch.path + "/damaged.wav"
    let bad = try rexstore(["audio", "get", "audio/u1/d.wav", "-o", damaged])
    #expect(bad.status == 74, "\(bad.stderr)")
    #expect(bad.stderr.contains("does not match"))
    #expect(!FileManager.default.fileExists(atPath: damaged))
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).allSatisfy { !$0.contains(".rexstore-tmp-") })
  }

  /// Above 32 MiB a download into a file is 4 parallel ranges of 9 MiB here (36 MiB): one range
  /// answered 503 once and another cut mid-body are fetched again (the cut one from where it broke),
  /// and the file is exact.
  @Test func largeDownloadsAreFetchedAsParallelRangesAndRetried() throws {
    let size = 36 * 1024 * 1024
    let file = try randomFile(scratch, "big.wav", size: size)
    #expect(try rexstore(["audio", "put", "u1", file]).status == 0)
    try server.http("DELETE", "/_stub/log")
    try server.faults(#"""
      [{"method":"GET","query_contains":"alt=media","range_contains":"bytes=18874368-","times":1,"action":{"status":503}},
       {"method":"GET","query_contains":"alt=media","range_contains":"bytes=28311552-","times":1,"action":{"reset_after_response_bytes":1000000}}]
      """#)
    let out = scratch.path + "/copy.wav"
    let get = try rexstore(["audio", "get", "audio/u1/big.wav", "-o", out])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: file))
    let ranges = try requests("GET", "alt=media").map { ($0["range"] as? String) ?? "none" }
    // The first answer tells the size (its body is not read); then the ranges, two of them twice.
    #expect(ranges.first == "none", "\(ranges)")
    let base = ["bytes=0-9437183", "bytes=9437184-18874367", "bytes=18874368-28311551", "bytes=28311552-37748735"]
    #expect(ranges.count == 7, "\(ranges)")
    #expect(Set(base).isSubset(of: Set(ranges)), "\(ranges)")
    #expect(ranges.filter { $0 == "bytes=18874368-28311551" }.count == 2, "\(ranges)")
    let last = ranges.filter { $0.hasSuffix("-37748735") }
    #expect(last.count == 2, "\(ranges)")
    let resumedStart = try #require(Int((last.last ?? "").dropFirst(6).split(separator: "-").first ?? ""), "\(ranges)")
    #expect(resumedStart >= 28_311_552 && resumedStart <= 28_311_552 + 1_000_000, "\(ranges)")
    let answer = try jsonObject(get.stdout)
    #expect(answer["size_bytes"] as? Int == size)
    #expect(answer["md5"] as? String == (try stored().first?["md5Hash"] as? String))
  }

  /// A range whose bytes arrive damaged: the combined CRC32C differs, exit 74, nothing at the path
  /// and no temporary file left.
  @Test func aCorruptedRangeIsDetectedAndNothingIsRenamed() throws {
    let size = 36 * 1024 * 1024
    let file = try randomFile(scratch, "big.wav", size: size)
    #expect(try rexstore(["audio", "put", "u1", file]).status == 0)
    try server.faults(#"[{"method":"GET","query_contains":"alt=media","range_contains":"bytes=9437184-","times":1,"action":{"corrupt_response_body":true}}]"#)
    let out = scratch.path + "/damaged.wav"
    let get = try rexstore(["audio", "get", "audio/u1/big.wav", "-o", out])
    #expect(get.status == 74, "\(get.stderr)")
    #expect(get.stdout.isEmpty)
    #expect(get.stderr.contains("CRC32C") && get.stderr.contains("does not match"), "\(get.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).allSatisfy { !$0.contains(".rexstore-tmp-") })
  }

  @Test func aStalledServerTimesOutAndIsRetried() throws {
    let file = try randomFile(scratch, "t.wav", size: 1000)
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":1,"action":{"stall_seconds":4}}]"#)
    let put = try rexstore(["audio", "put", "u1", file], env: ["REXSTORE_GCS_TIMEOUT": "1s"])
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
  }

  @Test func anOutageFallsBackToTheLocalRootUnlessFallbackIsOff() throws {
    let file = try randomFile(scratch, "f.wav", size: 2000)
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":429}}]"#)
    let off = try rexstore(["audio", "put", "u1", file, "--no-fallback"])
    #expect(off.status == 69, "\(off.stderr)")
    #expect(off.stdout.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/f.wav"))

    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    let info = try jsonObject(put.stdout)
    #expect(info["backend"] as? String == "local")
    #expect((info["fallback_reason"] as? String)?.contains("429") == true)
    let warning = try jsonObject(put.stderr)
    #expect((warning["warning"] as? String)?.hasPrefix("GCS unavailable") == true)
    #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/data/objects/audio/u1/f.wav", andPath: file))
    let quiet = try rexstore(["audio", "put", "u1", file, "--force", "--quiet"])
    #expect(quiet.status == 0 && quiet.stderr.isEmpty)

    // Reads fall through to the local copy while GCS is out, and say so.
    let get = try rexstore(["audio", "get", "audio/u1/f.wav", "-o", scratch.path + "/back.wav"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(get.stderr.contains("read 'audio/u1/f.wav' from the local root"))
    // An object only GCS could have is not "not found" while GCS is out: it is a rate limit (75).
    let elsewhere = try rexstore(["audio", "get", "audio/u1/other.wav"])
    #expect(elsewhere.status == 75, "\(elsewhere.stderr)")
    // Deleting needs GCS to answer.
    #expect(try rexstore(["audio", "rm", "audio/u1/f.wav"]).status == 75)

    try server.http("DELETE", "/_stub/faults")
    let ls = try jsonObject(try rexstore(["audio", "ls", "u1"]).stdout)
    #expect((ls["items"] as? [[String: Any]])?.map { $0["backend"] as? String } == ["local"])
    let health = try rexstore(["health"])
    #expect(health.status == 1)
    let checks = (try jsonObject(health.stdout)["checks"] as? [[String: Any]]) ?? []
    #expect(checks.first { $0["name"] as? String == "pending_migration" }?["status"] as? String == "warning")
    #expect(checks.first { $0["name"] as? String == "gcs" }?["status"] as? String == "ok")

    let migrate = try rexstore(["migrate", "--delete-local"])
    #expect(migrate.status == 0, "\(migrate.stderr)")
    let moved = (try jsonObject(migrate.stdout)["items"] as? [[String: Any]]) ?? []
    #expect(moved.count == 1)
    #expect(moved.first?["blob"] as? String == "audio/u1/f.wav")
    #expect(moved.first?["action"] as? String == "uploaded")
    #expect(moved.first?["deleted_local"] as? Bool == true)
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/f.wav"))
    let after = (try jsonObject(try rexstore(["health"]).stdout)["checks"] as? [[String: Any]]) ?? []
    #expect(after.first { $0["name"] as? String == "pending_migration" }?["status"] as? String == "ok")
    #expect(try stored().map { $0["name"] as? String } == ["audio/u1/f.wav"])
  }

  @Test func healthIsCriticalWhenGCSIsDownAndFallbackIsOff() throws {
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    #expect(try rexstore(["health"]).status == 1)
    #expect(try rexstore(["health", "--no-fallback"]).status == 2)
  }

  @Test func aFailedProfileStoreRemovesWhatItUploadedThenFallsBack() throws {
    let samples = try (0..<4).map { try randomFile(scratch, "p\($0).wav", size: $0 == 3 ? 9 * 1024 * 1024 : 20_000) }
    try server.faults(#"[{"query_contains":"sample_3","times":1000,"action":{"status":503}}]"#)
    let store = try rexstore(["profile", "store", "u1", "calm"] + samples)
    #expect(store.status == 0, "\(store.stderr)")
    let record = try jsonObject(store.stdout)
    #expect(record["storage"] as? String == "local")
    #expect(record["fallback_reason"] is String)
    // Samples 0-2 reached the bucket and were deleted again: GCS holds no part of the profile.
    #expect(try requests("POST", "uploadType=multipart").filter { $0["status"] as? Int == 200 }.count == 3)
    #expect(try stored().isEmpty)
    for i in 0..<4 {
      #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/data/objects/voice_profiles/u1/calm/sample_\(i).wav", andPath: samples[i]))
    }
    try server.http("DELETE", "/_stub/faults")
    let get = try rexstore(["profile", "get", "u1", "calm"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try jsonObject(get.stdout)["storage"] as? String == "local")
  }

  /// Review finding: GCS keeps nothing of a media POST whose body ends before its Content-Length, but
  /// the stub kept what came, so a put whose media request was cut met its own truncated object
  /// (412 on the session, "already exists", 65). The stub now stores nothing, as GCS does; the
  /// session that takes over stores the whole object under the create-only precondition.
  @Test func aMediaUploadCutMidBodyStoresNothingAndTheSessionTakesOver() throws {
    let size = 20 * 1024 * 1024 + 17
    let file = try randomFile(scratch, "cut.wav", size: size)
    let proxy = try StorageServer(.cuttingProxy(upstreamPort: server.port, cutAfterBytes: 3_000_000, mediaFirst: true))
    let put = try rexstore(["audio", "put", "u1", file, "--no-fallback"], env: ["STORAGE_EMULATOR_HOST": proxy.endpoint])
    let lines = try String(contentsOfFile: proxy.dataDirectory + "/server.log", encoding: .utf8)
    #expect(lines.contains("CUT MEDIA"), "\(lines)")
    #expect(put.status == 0, "\(put.stderr)")
    let object = try #require(try stored().first { $0["name"] as? String == "audio/u1/cut.wav" })
    #expect(object["size"] as? Int == size)
  }

  /// Review finding: GCS words a missing object's 404 "No such object: BUCKET/NAME", and any 404
  /// whose message contained "bucket" was taken for a missing bucket (78): with the bucket
  /// `rex-bucket`, a get of a missing object exited 78 instead of 1, and `put --force` of a new name
  /// (its generation lookup meets that 404) failed 78 instead of storing the object.
  @Test func aMissingObjectIsNotFoundWhateverItsBucketIsCalled() throws {
    let missing = try rexstore(["audio", "get", "audio/u1/missing.wav", "-o", scratch.path + "/out.wav"])
    #expect(missing.status == 1, "\(missing.stderr)")
    let file = try randomFile(scratch, "new.wav", size: 9 * 1024 * 1024 + 1)
    let put = try rexstore(["audio", "put", "u1", file, "--force"])
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try stored().contains { $0["name"] as? String == "audio/u1/new.wav" })
  }
}
