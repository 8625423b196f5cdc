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

  @Test func resumableUploadResumesFromTheOffsetTheServerReports() throws {
    let file = try randomFile(scratch, "big.wav", size: 40 * 1024 * 1024)
    // The first chunk fails after the server kept 1 MiB of it; the resend dies mid-body.
    try server.faults(#"""
      [{"method":"PUT","query_contains":"upload_id","times":1,"action":{"status":503,"persist_bytes":1048576}},
       {"method":"PUT","query_contains":"upload_id","times":1,"action":{"reset_after_request_bytes":300000}}]
      """#)
    let put = try rexstore(["audio", "put", "u1", file])
    #expect(put.status == 0, "\(put.stderr)")
    let puts = try requests("PUT", "upload_id")
    let ranges = puts.compactMap { $0["content_range"] as? String }
    // After each failure rexstore asks for the offset (bytes */N) and resends from there, not from 0.
    #expect(ranges.filter { $0.hasPrefix("bytes */") }.count == 2, "\(ranges)")
    #expect(ranges.contains("bytes 1048576-16777215/*"), "\(ranges)")
    let object = try #require(try stored().first)
    #expect(object["size"] as? Int == 40 * 1024 * 1024)
    #expect(object["md5Hash"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
  }

  @Test func preconditionFailuresAreConflicts() throws {
    let small = try randomFile(scratch, "s.wav", size: 10)
    let big = try randomFile(scratch, "b.wav", size: 9 * 1024 * 1024)
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":1,"action":{"status":412}},{"method":"PUT","query_contains":"upload_id","times":1,"action":{"status":412}}]"#)
    for file in [small, big] {
      let put = try rexstore(["audio", "put", "u1", file])
      #expect(put.status == 65, "\(put.stderr)")
      #expect(put.stdout.isEmpty)
      #expect(put.stderr.contains(#""code":"conflict""#))
    }
    // A conflict is the caller's business: nothing fell back to the local root.
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio"))
    #expect(try stored().isEmpty)
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
}
