import Foundation
import Testing

/// After one invocation sees GCS out, later ones within the window go straight to the local root
/// without retrying, say so, and share that across processes; after the window GCS is tried again.
/// `migrate` stops at the first outage instead of retrying every object (issue 10).
@Suite(.serialized) struct OutageWindowTests {
  let server: StorageServer
  let scratch = Processes.Scratch()
  var env: [String: String] {
    server.emulatorEnvironment(scratch).merging(["REXSTORE_GCS_RETRIES": "3", "REXSTORE_OUTAGE_WINDOW": "30s"]) { $1 }
  }

  init() throws { server = try StorageServer(.stub(arguments: [])) }

  func uploads() throws -> Int {
    try server.log().filter { ($0["method"] as? String) == "POST" && (($0["path"] as? String) ?? "").contains("/upload/") }.count
  }

  @Test func writesWithinTheWindowDoNotRetryGCS() throws {
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":100000,"action":{"status":503}}]"#)
    let file = try randomFile(scratch, "a.wav", size: 100)
    let first = try Processes.rexstore(["audio", "put", "u1", file, "--name", "first.wav"], environment: env, in: scratch)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(try jsonObject(first.stdout)["backend"] as? String == "local")
    let tried = try uploads()
    #expect(tried == 3)
    // Eight processes at once, all inside the window: none of them asks GCS.
    let racers = try (0..<8).map { i in
      try Processes.start(Processes.binary, ["audio", "put", "u1", file, "--name", "r\(i).wav"], environment: env)
    }
    for racer in racers {
      racer.waitUntilExit()
      #expect(racer.terminationStatus == 0)
    }
    let next = try Processes.rexstore(["audio", "put", "u1", file, "--name", "next.wav"], environment: env, in: scratch)
    #expect(next.status == 0)
    #expect((try jsonObject(next.stdout)["fallback_reason"] as? String)?.contains("not retried") == true, "\(next.stdout)")
    #expect(try uploads() == tried)
    // A zero window retries on every call.
    let eager = try Processes.rexstore(
      ["audio", "put", "u1", file, "--name", "eager.wav"], environment: env.merging(["REXSTORE_OUTAGE_WINDOW": "0s"]) { $1 },
      in: scratch)
    #expect(eager.status == 0)
    #expect(try uploads() == tried + 3)
    // After the window GCS is tried again; once it answers, the remembered outage is gone.
    _ = try server.http("DELETE", "/_stub/faults")
    Thread.sleep(forTimeInterval: 1.2)
    let short = env.merging(["REXSTORE_OUTAGE_WINDOW": "1s"]) { $1 }
    let after = try Processes.rexstore(["audio", "put", "u1", file, "--name", "after.wav"], environment: short, in: scratch)
    #expect(after.status == 0, "\(after.stderr)")
    #expect(try jsonObject(after.stdout)["backend"] as? String == "gcs")
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/.rexstore-outage"))
  }

  @Test func migrateStopsAtTheFirstOutage() throws {
    for i in 0..<4 {
      let file = try randomFile(scratch, "m\(i).wav", size: 50)
      let put = try Processes.rexstore(["audio", "put", "u1", file], in: scratch)
      #expect(put.status == 0)
    }
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":100000,"action":{"status":503}}]"#)
    let migrate = try Processes.rexstore(["migrate"], environment: env, in: scratch)
    #expect(migrate.status == 69, "\(migrate.stderr)")
    let actions = (try jsonObject(migrate.stdout)["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
    #expect(actions == ["failed", "skipped", "skipped", "skipped"])
    #expect(try uploads() == 3)
  }
}
