import Foundation
import Testing

/// GCS settings that are wrong fail loudly (78) before anything is written, and never fall back:
/// a typo should not quietly send every recording to the local disk.
@Suite struct GCSConfigTests {
  static let gcs = ["ENABLE_GCS_STORAGE": "true", "GCS_BUCKET_NAME": "rex-bucket", "STORAGE_EMULATOR_HOST": "127.0.0.1:9"]

  @Test(arguments: [
    ["REXSTORE_GCS_RETRIES": "0"], ["REXSTORE_GCS_RETRIES": "many"], ["REXSTORE_GCS_RETRY_DELAY": "5"],
    ["REXSTORE_GCS_TIMEOUT": "soon"],
  ])
  func badRetrySettingsAreConfigurationErrors(env: [String: String]) throws {
    let h = Harness()
    let file = h.root + "/a.wav"
    try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
    let r = h.run(["audio", "put", "u1", file], env: Self.gcs.merging(env) { $1 })
    #expect(r.status == 78)
    #expect(r.errorCode == "config")
    #expect(r.stdout.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data/objects/audio"))
  }

  @Test func anUnreadableCredentialsFileIsAConfigurationErrorNotAFallback() throws {
    let h = Harness()
    let file = h.root + "/a.wav"
    try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
    let key = h.root + "/key.json"
    try Data(#"{"type":"service_account","client_email":"x@y"}"#.utf8).write(to: URL(fileURLWithPath: key))
    let env = ["ENABLE_GCS_STORAGE": "true", "GCS_BUCKET_NAME": "rex-bucket", "GOOGLE_APPLICATION_CREDENTIALS": key]
    let r = h.run(["audio", "put", "u1", file], env: env)
    #expect(r.status == 78)
    #expect(r.stderr.contains("lacks client_email or private_key"))
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data/objects/audio"))
  }

  @Test func migrateNeedsABucket() {
    let r = Harness().run(["migrate", "--dry-run"])
    #expect(r.status == 78)
    #expect(r.stderr.contains("GCS needs a bucket"))
  }

  @Test func migrateFromAMissingDirectoryIs66() {
    let r = Harness().run(["migrate", "--from", "/nonexistent/app"], env: Self.gcs)
    #expect(r.status == 66)
  }

  @Test func noFallbackFromTheEnvironmentAndItsSource() {
    let h = Harness()
    let r = h.run(["health"], env: ["REXSTORE_NO_FALLBACK": "1"])
    // Typed: a switch is a JSON boolean (issue 10).
    #expect(r.json?["config"]?["no_fallback"]?["value"] == .bool(true), "\(r.stdout)")
    #expect(r.json?["config"]?["no_fallback"]?["source"] == .string("env:REXSTORE_NO_FALLBACK"))
  }
}
