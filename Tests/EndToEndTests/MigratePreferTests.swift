import Foundation
import Testing

/// `migrate --dry-run` compares with the bucket and predicts what a real run would do, conflicts
/// included; `--prefer local|remote|newer` settles a name held in both places with other bytes.
@Suite struct MigratePreferTests {
  @Test func dryRunPredictsAndPreferResolves() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let gcsEnv = server.emulatorEnvironment(scratch)
    func local(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, in: scratch) }
    func gcs(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, environment: gcsEnv, in: scratch) }
    // Writes straight to the bucket, from a host whose own local root is elsewhere (a put that
    // reaches GCS removes a superseded local copy of the name).
    func elsewhere(_ argv: [String]) throws -> Processes.Result {
      try Processes.rexstore(argv, environment: gcsEnv.merging(["REXSTORE_OBJECTS": scratch.path + "/other"]) { $1 }, in: scratch)
    }
    let v1 = try randomFile(scratch, "v1.wav", size: 100)
    let v2 = try randomFile(scratch, "v2.wav", size: 120)
    // In the bucket first: same.wav (same bytes as the local copy) and both.wav (other bytes, older).
    #expect(try elsewhere(["audio", "put", "u1", v1, "--name", "same.wav"]).status == 0)
    #expect(try elsewhere(["audio", "put", "u1", v2, "--name", "both.wav"]).status == 0)
    Thread.sleep(forTimeInterval: 0.05)
    // Then locally (as if written during an outage): both.wav is newer here.
    #expect(try local(["audio", "put", "u1", v1, "--name", "same.wav"]).status == 0)
    // (--force: a put that was allowed to replace the name; only such a copy replaces an older remote one.)
    #expect(try local(["audio", "put", "u1", v1, "--name", "both.wav", "--force"]).status == 0)
    #expect(try local(["audio", "put", "u1", v1, "--name", "new.wav"]).status == 0)
    // And newer in the bucket: remote.wav.
    #expect(try local(["audio", "put", "u1", v1, "--name", "remote.wav"]).status == 0)
    Thread.sleep(forTimeInterval: 0.05)
    #expect(try elsewhere(["audio", "put", "u1", v2, "--name", "remote.wav"]).status == 0)

    func actions(_ r: Processes.Result) throws -> [String: String] {
      var out: [String: String] = [:]
      for item in try jsonObject(r.stdout)["items"] as? [[String: Any]] ?? [] {
        out[((item["blob"] as? String ?? "") as NSString).lastPathComponent] = item["action"] as? String ?? ""
      }
      return out
    }
    let dry = try gcs(["migrate", "--dry-run"])
    #expect(dry.status == 65, "a predicted conflict fails the dry run as it would fail the real one: \(dry.stdout)")
    #expect(try actions(dry) == ["same.wav": "already_in_gcs", "both.wav": "would_replace", "new.wav": "would_upload", "remote.wav": "would_conflict"])
    let keep = try gcs(["migrate", "--dry-run", "--prefer", "newer"])
    #expect(keep.status == 0)
    #expect(try actions(keep)["remote.wav"] == "would_keep_remote")
    let mine = try gcs(["migrate", "--dry-run", "--prefer", "local"])
    #expect(try actions(mine)["remote.wav"] == "would_replace")
    // Nothing changed in the bucket: the remote copy is still v2.
    let out = scratch.path + "/r.wav"
    #expect(try gcs(["audio", "get", "audio/u1/remote.wav", "-o", out]).status == 0)
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: v2))

    let real = try gcs(["migrate", "--prefer", "local", "--delete-local"])
    #expect(real.status == 0, "\(real.stdout) \(real.stderr)")
    #expect(try actions(real) == ["same.wav": "already_in_gcs", "both.wav": "replaced_older", "new.wav": "uploaded", "remote.wav": "replaced_remote"])
    #expect(try gcs(["audio", "get", "audio/u1/remote.wav", "-o", out]).status == 0)
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: v1))
    #expect(try gcs(["migrate", "--prefer", "sideways"]).status == 64)
  }
}
