import Foundation
import Testing

/// The three ways rexstore gets a GCS token, each against the stub's token endpoint: a
/// service-account key (JWT bearer flow, signature checked by the stub), authorized-user ADC (refresh
/// token) and the GCE metadata server. The stub demands a token it issued on every storage request.
@Suite(.serialized) struct GCSAuthTests {
  let scratch = Processes.Scratch()
  let keyPath: String
  let server: StorageServer

  init() throws {
    keyPath = scratch.path + "/key.json"
    let pem = scratch.path + "/key.pem"
    // The key's token_uri must name the stub, whose port is only known once it runs: make the key
    // with a placeholder, start the stub with its PEM, then write the real token_uri.
    let made = try Processes.run(
      StorageServer.python, [StorageServer.scripts + "/make_key.py", keyPath, "http://placeholder/token", pem],
      environment: scratch.environment)
    try #require(made.status == 0, "\(made.stderr)")
    server = try StorageServer(.stub(arguments: ["--require-auth", "--verify-key", pem]))
    let text = try String(contentsOfFile: keyPath, encoding: .utf8)
      .replacingOccurrences(of: "http://placeholder/token", with: server.endpoint + "/token")
    try text.write(toFile: keyPath, atomically: true, encoding: .utf8)
  }

  var baseEnvironment: [String: String] {
    scratch.environment.merging([
      "ENABLE_GCS_STORAGE": "true", "GCS_BUCKET_NAME": StorageServer.bucket, "REXSTORE_GCS_ENDPOINT": server.endpoint,
      "XDG_CACHE_HOME": scratch.path + "/cache", "REXSTORE_GCS_RETRY_DELAY": "10ms", "REXSTORE_GCS_TIMEOUT": "3s",
      "CLOUDSDK_CONFIG": scratch.path + "/gcloud",
    ]) { $1 }
  }

  func tokenRequests() throws -> Int {
    try server.log().filter { ($0["path"] as? String)?.hasSuffix("/token") == true }.count
  }

  @Test func serviceAccountTokenIsFetchedOnceCachedPrivatelyAndRefreshedWhenRefused() throws {
    let env = baseEnvironment.merging(["GOOGLE_APPLICATION_CREDENTIALS": keyPath]) { $1 }
    let file = try randomFile(scratch, "a.wav", size: 5000)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
    let ls = try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch)
    #expect(ls.status == 0)
    // One token for both invocations: the second read it from the cache.
    #expect(try tokenRequests() == 1)
    let storage = try server.log().filter { ($0["path"] as? String)?.contains("/storage/") == true || ($0["path"] as? String)?.contains("/upload/") == true }
    #expect(storage.allSatisfy { ($0["authorization"] as? String)?.hasPrefix("Bearer stub-token-") == true })

    let cacheDirectory = scratch.path + "/cache/rexstore"
    let files = try FileManager.default.contentsOfDirectory(atPath: cacheDirectory)
    #expect(files.count == 1)
    let cached = cacheDirectory + "/" + files[0]
    let attributes = try FileManager.default.attributesOfItem(atPath: cached)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    let cachedText = try String(contentsOfFile: cached, encoding: .utf8)
    #expect(!cachedText.contains("PRIVATE KEY"))
    // Neither the key nor a token ever reaches output.
    for text in [put.stdout, put.stderr, ls.stdout, ls.stderr] {
      #expect(!text.contains("stub-token") && !text.contains("PRIVATE KEY"))
    }

    // A token the server no longer accepts (revoked, say) is dropped and replaced, once.
    try cachedText.replacingOccurrences(of: "stub-token-", with: "revoked-").write(toFile: cached, atomically: false, encoding: .utf8)
    let again = try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try tokenRequests() == 2)

    // A cache file others could read is not trusted.
    chmod(cached, 0o644)
    #expect(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).status == 0)
    #expect(try tokenRequests() == 3)
  }

  @Test func rejectedCredentialsFallBackWithTheReason() throws {
    let other = scratch.path + "/other.json"
    let made = try Processes.run(
      StorageServer.python, [StorageServer.scripts + "/make_key.py", other, server.endpoint + "/token"],
      environment: scratch.environment)
    try #require(made.status == 0)
    let env = baseEnvironment.merging(["GOOGLE_APPLICATION_CREDENTIALS": other]) { $1 }
    let file = try randomFile(scratch, "r.wav", size: 100)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let info = try jsonObject(put.stdout)
    #expect(info["backend"] as? String == "local")
    #expect((info["fallback_reason"] as? String)?.contains("refused the credentials") == true)
    #expect((info["fallback_reason"] as? String)?.contains("invalid_grant") == true)
    let strict = try Processes.rexstore(["audio", "put", "u1", file, "--force", "--no-fallback"], environment: env, in: scratch)
    #expect(strict.status == 69)
    #expect(!strict.stderr.contains("PRIVATE KEY"))
  }

  @Test func authorizedUserADCFromGcloudsWellKnownFile() throws {
    try FileManager.default.createDirectory(atPath: scratch.path + "/gcloud", withIntermediateDirectories: true)
    let adc = """
      {"type":"authorized_user","client_id":"cid.apps.googleusercontent.com","client_secret":"s3cret",
       "refresh_token":"1//refresh","token_uri":"\(server.endpoint)/token"}
      """
    try adc.write(toFile: scratch.path + "/gcloud/application_default_credentials.json", atomically: true, encoding: .utf8)
    let file = try randomFile(scratch, "u.wav", size: 100)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: baseEnvironment, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
    #expect(!put.stdout.contains("s3cret") && !put.stderr.contains("s3cret"))
    #expect(try tokenRequests() == 1)
  }

  @Test func metadataServerWhenNoCredentialsAreConfigured() throws {
    let env = baseEnvironment.merging(["GCE_METADATA_HOST": "127.0.0.1:\(server.port)"]) { $1 }
    let file = try randomFile(scratch, "m.wav", size: 100)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
    let metadata = try server.log().filter { ($0["path"] as? String)?.hasPrefix("/computeMetadata/") == true }
    #expect(metadata.count == 1)
    let health = try Processes.rexstore(["health"], environment: env, in: scratch)
    #expect(health.stdout.contains("metadata server 127.0.0.1:\(server.port)"))
  }
}
