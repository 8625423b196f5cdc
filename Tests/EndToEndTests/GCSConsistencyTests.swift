import Foundation
import RexstoreCore
import Testing

/// Regressions from the independent review of the GCS backend: each failed before its fix.
@Suite(.serialized) struct GCSConsistencyTests {
  let server: StorageServer
  let scratch = Processes.Scratch()
  var env: [String: String] { server.emulatorEnvironment(scratch) }
  var objects: String { scratch.path + "/data/objects" }

  init() throws { server = try StorageServer(.stub(arguments: [])) }

  func rexstore(_ arguments: [String], env extra: [String: String] = [:]) throws -> Processes.Result {
    try Processes.rexstore(arguments, environment: env.merging(extra) { $1 }, in: scratch)
  }

  func stored() throws -> [String: String] {
    let list = (try JSONSerialization.jsonObject(with: Data(try server.http("GET", "/_stub/objects").utf8)) as? [[String: Any]]) ?? []
    var byName: [String: String] = [:]
    for item in list { byName[item["name"] as? String ?? ""] = item["md5Hash"] as? String }
    return byName
  }

  func write(_ text: String, _ name: String) throws -> String {
    let path = scratch.path + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Review #1: a re-store that failed half-way used to delete the samples it had overwritten.
  @Test func aFailedReStoreLeavesTheOldSamples() throws {
    let s0 = try write("old sample zero", "s0.wav"), s1 = try write("old sample one", "s1.wav")
    #expect(try rexstore(["profile", "store", "u1", "p1", s0, s1]).status == 0)
    let before = try stored()
    // The new third sample cannot be uploaded (its create-only upload keeps failing).
    try server.faults(#"[{"method":"POST","query_contains":"ifGenerationMatch=0","times":50,"action":{"status":503}}]"#)
    let n0 = try write("new zero", "n0.wav"), n1 = try write("new one", "n1.wav"), n2 = try write("new two", "n2.wav")
    let failed = try rexstore(["profile", "store", "u1", "p1", n0, n1, n2, "--no-fallback", "--force"])
    #expect(failed.status == 69, "\(failed.stderr)")
    #expect(try stored() == before)
    try server.http("DELETE", "/_stub/faults")
    let directory = scratch.path + "/out"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let get = try rexstore(["profile", "get", "u1", "p1", "-o", directory])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: directory + "/sample_0.wav", andPath: s0))
    #expect(FileManager.default.contentsEqual(atPath: directory + "/sample_1.wav", andPath: s1))
  }

  /// Review #2: prune deletes the copy it listed, never a newer one under the same name.
  @Test func pruneDeletesOnlyTheListedCopy() throws {
    let store = try GCSObjectStore(settings: GCSSettings(endpoint: server.endpoint, bucket: StorageServer.bucket), tokens: nil)
    let v1 = try write("version one", "v1.wav"), v2 = try write("version two", "v2.wav")
    _ = try store.put("audio/u1/x.wav", from: try ByteSource.open(v1), contentType: "audio/wav", overwrite: false)
    let listed = try #require(try store.listAll(prefix: "audio/u1/").first)
    _ = try store.put("audio/u1/x.wav", from: try ByteSource.open(v2), contentType: "audio/wav", overwrite: true)
    #expect(throws: RexstoreError.self) { try store.deleteListed(listed) }
    #expect(try store.stat("audio/u1/x.wav")?.md5 != listed.md5)

    // An old local copy and a fresh GCS object of one name: prune removes the old copy only.
    try FileManager.default.createDirectory(atPath: objects + "/audio/u2", withIntermediateDirectories: true)
    try Data("stale".utf8).write(to: URL(fileURLWithPath: objects + "/audio/u2/y.wav"))
    var old = [timeval(tv_sec: 1_577_836_800, tv_usec: 0), timeval(tv_sec: 1_577_836_800, tv_usec: 0)]
    utimes(objects + "/audio/u2/y.wav", &old)
    _ = try store.put("audio/u2/y.wav", from: try ByteSource.open(v2), contentType: "audio/wav", overwrite: false)
    let prune = try rexstore(["audio", "prune", "--older-than", "30d"])
    #expect(prune.status == 0, "\(prune.stderr)")
    #expect(!FileManager.default.fileExists(atPath: objects + "/audio/u2/y.wav"))
    #expect(try stored()["audio/u2/y.wav"] != nil)
  }

  /// Review (session 14) #1: a create-only put that fell back while GCS was out, of a name GCS already
  /// held, is not a newer version of it: `migrate` reports a conflict and keeps both, instead of
  /// replacing the bucket's object (which no --force ever allowed).
  @Test func aCreateOnlyPutThatFellBackNeverReplacesTheBucketsObject() throws {
    let original = try write("the original", "o.wav")
    #expect(try rexstore(["audio", "put", "u1", original, "--name", "a.wav"]).status == 0)
    let before = try stored()["audio/u1/a.wav"]
    #expect(before != nil)
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    usleep(20_000)
    let other = try write("another take", "x.wav")
    let fell = try rexstore(["audio", "put", "u1", other, "--name", "a.wav"])
    #expect(fell.status == 0)
    #expect(try jsonObject(fell.stdout)["backend"] as? String == "local")
    try server.http("DELETE", "/_stub/faults")
    let migrate = try rexstore(["migrate", "--delete-local"])
    #expect(migrate.status == 65, "\(migrate.stdout)\(migrate.stderr)")
    #expect(((try jsonObject(migrate.stdout)["items"] as? [[String: Any]])?.first?["action"] as? String) == "failed")
    // The bucket still holds the original; the local copy is kept for the operator to choose.
    #expect(try stored()["audio/u1/a.wav"] == before)
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/a.wav"))
  }

  /// Review (session 14) #2 and #5: paging `audio ls` one item at a time shows both copies of a name
  /// held in the bucket and locally (the page may end between them); a token that is not one this
  /// listing gave is a usage error (64), not an empty page.
  @Test func pagesNeverSkipTheSecondCopyOfAName() throws {
    let one = try write("one", "a1.wav")
    #expect(try rexstore(["audio", "put", "u1", one, "--name", "a.wav"]).status == 0)
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    let two = try write("two", "a2.wav")
    #expect(try rexstore(["audio", "put", "u1", two, "--name", "a.wav", "--force"]).status == 0)
    #expect(try rexstore(["audio", "put", "u1", two, "--name", "b.wav"]).status == 0)
    try server.http("DELETE", "/_stub/faults")
    var seen: [String] = []
    var token: String?
    for _ in 0..<5 {
      let r = try rexstore(["audio", "ls", "--limit", "1"] + (token.map { ["--page-token", $0] } ?? []))
      #expect(r.status == 0, "\(r.stderr)")
      let page = try jsonObject(r.stdout)
      for item in page["items"] as? [[String: Any]] ?? [] {
        seen.append("\(item["blob"] as? String ?? "") \(item["backend"] as? String ?? "")")
      }
      token = page["next_page_token"] as? String
      if token == nil { break }
    }
    #expect(seen == ["audio/u1/a.wav gcs", "audio/u1/a.wav local", "audio/u1/b.wav local"])
    for bad in ["garbage", "audio/u1/a.wav\u{1}elsewhere", String(repeating: "x", count: 3000)] {
      let r = try rexstore(["audio", "ls", "--limit", "1", "--page-token", bad])
      #expect(r.status == 64, "\(bad.prefix(30)): \(r.stdout)")
    }
  }

  /// Review #3: a write that fell back is what later reads return, and it blocks a create-only put.
  @Test func theNewestCopyWinsAcrossBackends() throws {
    let v1 = try write("version one", "f.wav")
    #expect(try rexstore(["audio", "put", "u1", v1]).status == 0)
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    usleep(20_000)
    let v2 = try write("version two, longer", "f.wav")
    let forced = try rexstore(["audio", "put", "u1", v2, "--force"])
    #expect(forced.status == 0)
    #expect(try jsonObject(forced.stdout)["backend"] as? String == "local")
    try server.http("DELETE", "/_stub/faults")
    let get = try rexstore(["audio", "get", "audio/u1/f.wav"])
    #expect(get.stdout == "version two, longer")
    // A create-only put of the same name is a conflict while the fallback copy waits for migrate.
    let again = try rexstore(["audio", "put", "u1", v2])
    #expect(again.status == 65)
    #expect(again.stderr.contains("local root"))
    // migrate replaces the older GCS copy with the newer local one, and the two agree again.
    let migrate = try rexstore(["migrate", "--delete-local"])
    #expect(migrate.status == 0, "\(migrate.stdout)\(migrate.stderr)")
    #expect(((try jsonObject(migrate.stdout)["items"] as? [[String: Any]])?.first?["action"] as? String) == "replaced_older")
    #expect(try rexstore(["audio", "get", "audio/u1/f.wav"]).stdout == "version two, longer")
    // And a --force put that reaches GCS removes a superseded local copy.
    try FileManager.default.createDirectory(atPath: objects + "/audio/u1", withIntermediateDirectories: true)
    try Data("stale".utf8).write(to: URL(fileURLWithPath: objects + "/audio/u1/f.wav"))
    #expect(try rexstore(["audio", "put", "u1", v1, "--force"]).status == 0)
    #expect(!FileManager.default.fileExists(atPath: objects + "/audio/u1/f.wav"))
  }

  /// Review #4: an overwrite whose answer was lost is recognised as stored, not reported as a conflict.
  @Test func aForcedPutWhoseAnswerWasLostSucceeds() throws {
    let v1 = try write("one", "g.wav")
    #expect(try rexstore(["audio", "put", "u1", v1]).status == 0)
    let v2 = try write("two", "g.wav")
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":1,"action":{"reset_after_response_bytes":0}}]"#)
    let put = try rexstore(["audio", "put", "u1", v2, "--force"])
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
  }

  /// Review #5: a wrong endpoint or bucket is a configuration error (78), never a quiet fallback.
  @Test func configurationMistakesDoNotFallBack() throws {
    let file = try write("x", "h.wav")
    let badURL = try rexstore(["audio", "put", "u1", file], env: ["STORAGE_EMULATOR_HOST": "htp://127.0.0.1:1"])
    #expect(badURL.status == 78, "\(badURL.stdout)\(badURL.stderr)")
    let noBucket = try rexstore(["audio", "put", "u1", file], env: ["GCS_BUCKET_NAME": "no-such-bucket"])
    #expect(noBucket.status == 78, "\(noBucket.stdout)\(noBucket.stderr)")
    #expect(try rexstore(["audio", "ls", "u1"], env: ["GCS_BUCKET_NAME": "no-such-bucket"]).status == 78)
    #expect(!FileManager.default.fileExists(atPath: objects + "/audio"))
  }

  /// Review #6: a fallback after a failed upload stores the bytes from where stdin started.
  @Test func fallbackRereadsStdinFromWhereItStarted() throws {
    let file = try write("HEADERpayload", "in.bin")
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    let script = "{ dd bs=6 count=1 of=/dev/null 2>/dev/null; exec \"$0\" audio put u1 - --name off.bin; } < \"$1\""
    let r = try Processes.run("/bin/sh", ["-c", script, Processes.binary, file], environment: env, directory: scratch.path)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try String(contentsOfFile: objects + "/audio/u1/off.bin", encoding: .utf8) == "payload")
  }

  /// Review #7: a listing never silently leaves out the bucket.
  @Test func aListingWithoutGCSFails() throws {
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":429}}]"#)
    let ls = try rexstore(["audio", "ls", "u1"])
    #expect(ls.status == 75)
    #expect(ls.stdout.isEmpty)
  }

  /// Second review #1: a download that broke after bytes reached the sink never continues with the
  /// local copy's bytes.
  @Test func aBrokenDownloadDoesNotSpliceInTheLocalCopy() throws {
    try FileManager.default.createDirectory(atPath: objects + "/audio/u1", withIntermediateDirectories: true)
    try Data("old local copy".utf8).write(to: URL(fileURLWithPath: objects + "/audio/u1/z.wav"))
    var old = [timeval(tv_sec: 1_577_836_800, tv_usec: 0), timeval(tv_sec: 1_577_836_800, tv_usec: 0)]
    utimes(objects + "/audio/u1/z.wav", &old)
    let store = try GCSObjectStore(settings: GCSSettings(endpoint: server.endpoint, bucket: StorageServer.bucket), tokens: nil)
    let big = try randomFile(scratch, "z.wav", size: 3 * 1024 * 1024)
    _ = try store.put("audio/u1/z.wav", from: try ByteSource.open(big), contentType: "audio/wav", overwrite: false)
    try server.faults(#"[{"method":"GET","query_contains":"alt=media","times":100,"action":{"reset_after_response_bytes":200000}}]"#)
    let out = scratch.path + "/z-out.wav"
    let get = try rexstore(["audio", "get", "audio/u1/z.wav", "-o", out])
    #expect(get.status == 69, "\(get.stdout)\(get.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
  }

  /// Second review #9: once a batch meets an outage, later items go straight to the local root.
  @Test func aBatchStopsRetryingAfterTheFirstOutage() throws {
    let files = try (0..<12).map { try randomFile(scratch, "b\($0).wav", size: 100) }
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    let put = try rexstore(["audio", "put", "u1", "--quiet"] + files)
    #expect(put.status == 0, "\(put.stderr)")
    let items = (try jsonObject(put.stdout)["items"] as? [[String: Any]]) ?? []
    #expect(items.count == 12 && items.allSatisfy { $0["backend"] as? String == "local" })
    // At most the first item of each of the four workers waited out its five attempts.
    let uploads = try server.log().filter { ($0["path"] as? String)?.hasPrefix("/upload/") == true }
    #expect(uploads.count <= 20, "\(uploads.count) upload attempts")
  }

  /// Second review #3 and #7: --batch keeps the batch form for one file, and failures name the FILE as given.
  @Test func batchFormForOneFileAndFailuresAsGiven() throws {
    _ = try write("x", "one.wav")
    let first = try rexstore(["audio", "put", "u1", "one.wav", "--batch"])
    #expect(first.status == 0)
    #expect(try jsonObject(first.stdout)["count"] as? Int == 1)
    let again = try rexstore(["audio", "put", "u1", "one.wav", "--batch"])
    #expect(again.status == 65)
    #expect(((try jsonObject(again.stdout)["failures"] as? [[String: Any]])?.first?["file"] as? String) == "one.wav")
    let directory = scratch.path + "/into"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let get = try rexstore(["audio", "get", "audio/u1/one.wav", "-o", directory, "--batch"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try String(contentsOfFile: directory + "/one.wav", encoding: .utf8) == "x")
  }
}
