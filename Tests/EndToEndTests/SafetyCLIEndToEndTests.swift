import Foundation
import Testing

/// Issue 8 through the built binary: argv bytes as the kernel passes them, a FIFO as config file, a
/// trickling GCS endpoint, and secrets a server echoes back.
@Suite(.serialized) struct SafetyCLIEndToEndTests {
  let scratch = Processes.Scratch()

  /// Runs a shell line with `$R` the binary; argv bytes come from printf, which Foundation's String
  /// arguments could not carry.
  func shell(_ line: String, environment: [String: String]? = nil) throws -> Processes.Result {
    try Processes.run(
      "/bin/sh", ["-c", line], environment: (environment ?? scratch.environment).merging(["R": Processes.binary]) { $1 },
      directory: scratch.path)
  }

  func sqlite(_ query: String) throws -> String {
    try Processes.run("/usr/bin/sqlite3", [scratch.database, query], environment: [:]).stdout
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test func invalidUTF8TextIsRefusedAndNothingIsStored() throws {
    #expect(try Processes.rexstore(["db", "upgrade"], in: scratch).status == 0)
    for line in [
      #""$R" pattern set 1 "$(printf 't\377')" k v"#, #""$R" pattern set 1 t "$(printf 'k\300\200')" v"#,
      #""$R" pattern set 1 t k "$(printf 'v\355\240\200')""#,
      #""$R" context add 1 k v --session "$(printf 's\377')""#, #""$R" insight add 1 "$(printf 'i\377')" '{}'"#,
    ] {
      // Stderr is read as UTF-8: raw bytes echoed there would make the read itself fail.
      let r = try shell(line)
      #expect(r.status == 64, "\(line): \(r.stderr)")
      #expect(r.stderr.contains(#""code":"usage""#) && r.stderr.contains("is not valid UTF-8"), "\(r.stderr)")
      #expect(r.stdout.isEmpty)
    }
    #expect(try sqlite("SELECT count(*) FROM user_patterns") == "0")
    #expect(try sqlite("SELECT count(*) FROM conversation_context") == "0")
    #expect(try sqlite("SELECT count(*) FROM user_insights") == "0")
  }

  /// Path *settings* that are not UTF-8 are still refused (the paths commands operate on are bytes
  /// passed through: BytePathTests).
  /// Path settings are bytes (issue 8): a database, object root or `migrate --from` directory whose
  /// name is not UTF-8 is used under exactly that name; a part that is not UTF-8 and does not exist is
  /// a configuration error that creates nothing.
  @Test func pathSettingsThatAreNotUTF8ReachTheirBytes() throws {
    let sample = try randomFile(scratch, "ok.wav", size: 100)
    #expect(try shell(#"mkdir "$(printf 'bad\377')""#).status == 0)
    let db = try shell(#""$R" --db "$(printf 'bad\377/x.db')" pattern set 1 t k v"#)
    #expect(db.status == 0, "\(db.stderr)")
    #expect(try shell(#"test -f "$(printf 'bad\377/x.db')""#).status == 0)
    let variable = try shell(#"REXSTORE_DB="$(printf 'bad\377/x.db')" "$R" pattern get 1 t k"#)
    #expect(variable.status == 0, "\(variable.stderr)")
    #expect(try jsonObject(variable.stdout)["value"] as? String == "v")
    let put = try shell(#""$R" --objects "$(printf 'bad\377')" audio put u1 ok.wav"#)
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try shell(#"cmp ok.wav "$(printf 'bad\377/audio/u1/ok.wav')""#).status == 0)
    // --from reaches the directory by its bytes; with no bucket configured, the error is about that.
    let migrate = try shell(#""$R" migrate --dry-run --from "$(printf 'bad\377')""#)
    #expect(migrate.status == 78, "\(migrate.stderr)")
    #expect(migrate.stderr.contains("needs a bucket"), "\(migrate.stderr)")
    // config show names the path as given, with its exact bytes.
    let shown = try shell(#""$R" --objects "$(printf 'bad\377')" config show --origin"#)
    let objects = try #require(try jsonObject(shown.stdout)["objects"] as? [String: Any])
    #expect(objects["value"] as? String == scratch.path + "/bad\\xFF")
    #expect(objects["value_bytes_hex"] as? String == (scratch.path + "/bad").utf8.map { String(format: "%02x", $0) }.joined() + "ff")
    // `~/` means $HOME for bytes too (review, session 14): never a directory named `~`.
    #expect(try shell(#"mkdir -p "home/$(printf 'h\377')""#).status == 0)
    let tilde = try shell(#"HOME="$PWD/home" REXSTORE_ROOT="~/$(printf 'h\377')/r" "$R" pattern set 1 t k v"#)
    #expect(tilde.status == 0, "\(tilde.stderr)")
    #expect(try shell(#"test -f "home/$(printf 'h\377')/r/rexstore.sqlite3" && test ! -e "~""#).status == 0)
    // A part that is not UTF-8 and does not exist: 78, nothing created by any spelling.
    let missing = try shell(#""$R" --db "$(printf 'nope\377/x.db')" pattern set 1 t k v"#)
    #expect(missing.status == 78, "\(missing.stderr)")
    // (Counted by the shell: a listing with a name that is not UTF-8 is not a Swift string.)
    #expect(try shell("ls -A | grep -c '^nope'").stdout == "0\n")
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/ok.wav"))
    _ = sample
  }

  @Test func aFIFOAsConfigFileFailsAt78InsteadOfBlocking() throws {
    let fifo = scratch.path + "/config.fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    // `timeout` is only a hang guard: the old binary blocked in open(2) for ever (exit 124 here).
    let r = try Processes.run(
      "/usr/bin/timeout", ["20", Processes.binary, "--config", fifo, "pattern", "list", "1"],
      environment: scratch.environment, directory: scratch.path)
    #expect(r.status == 78, "\(r.stderr)")
    #expect(r.stderr.contains("not a regular file"))
  }

  @Test func aTricklingEndpointIsCutOffByTheDeadline() throws {
    let server = try StorageServer(.stub(arguments: []))
    try server.faults(#"[{"method":"GET","path_contains":"/o","times":1000,"action":{"trickle_bytes_per_second":1}}]"#)
    let env = server.emulatorEnvironment(scratch).merging([
      "REXSTORE_GCS_TIMEOUT": "60s", "REXSTORE_GCS_DEADLINE": "2s", "REXSTORE_GCS_RETRIES": "2",
    ]) { $1 }
    let start = Date()
    let ls = try Processes.run(
      "/usr/bin/timeout", ["100", Processes.binary, "audio", "ls", "u1"], environment: env, directory: scratch.path)
    let took = Date().timeIntervalSince(start)
    #expect([69, 74].contains(ls.status), "\(ls.status): \(ls.stderr)")
    #expect(ls.stderr.contains("deadline"), "\(ls.stderr)")
    #expect(took < 30, "audio ls took \(took) s with a 2 s deadline")

    // health bounds its probe on its own: the configured deadline is longer, the probe's is 10 s at most.
    let healthStart = Date()
    let health = try Processes.run(
      "/usr/bin/timeout", ["100", Processes.binary, "health"],
      environment: env.merging(["REXSTORE_GCS_DEADLINE": "10m"]) { $1 }, directory: scratch.path)
    let healthTook = Date().timeIntervalSince(healthStart)
    #expect([1, 2].contains(health.status), "\(health.status): \(health.stderr)")
    #expect(health.stdout.contains("deadline"), "\(health.stdout)")
    #expect(healthTook < 60, "health took \(healthTook) s")
  }

  static let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzZWNyZXQifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
  static let secrets = [
    jwt, "ya29.a0SecretAccessTokenValue", "1//0gSecretRefreshTokenValue", "GOCSPX-SecretClientValue",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
  ]
  static let echo = "echo: Authorization: Bearer ya29.a0SecretAccessTokenValue assertion=\(jwt)"
    + " client_secret=GOCSPX-SecretClientValue&refresh_token=1//0gSecretRefreshTokenValue"
    + #" private_key="-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----""#
    + String(repeating: " padding", count: 200)

  func expectNoSecrets(_ texts: [String]) {
    for text in texts {
      for secret in SafetyCLIEndToEndTests.secrets { #expect(!text.contains(secret), "\(secret) in \(text)") }
      #expect(!text.contains(String(repeating: " padding", count: 80)), "server text not capped: \(text.count)")
    }
  }

  @Test func secretsEchoedByTheStorageEndpointAreRedacted() throws {
    let server = try StorageServer(.stub(arguments: []))
    let body = try String(
      decoding: JSONSerialization.data(withJSONObject: ["error": ["code": 403, "message": SafetyCLIEndToEndTests.echo]]),
      as: UTF8.self)
    let rule = try String(
      decoding: JSONSerialization.data(withJSONObject: [
        "path_contains": "/storage/", "times": 1000, "action": ["status": 403, "body": body],
      ]), as: UTF8.self)
    try server.faults(rule)
    let env = server.emulatorEnvironment(scratch)
    let ls = try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch)
    #expect(ls.status == 77, "\(ls.stderr)")
    #expect(ls.stderr.contains("[redacted]"), "\(ls.stderr)")
    let health = try Processes.rexstore(["health"], environment: env, in: scratch)
    #expect(health.stdout.contains("[redacted]"), "\(health.stdout)")
    expectNoSecrets([ls.stdout, ls.stderr, health.stdout, health.stderr])
  }

  @Test func secretsEchoedByTheTokenEndpointAreRedacted() throws {
    let server = try StorageServer(.stub(arguments: []))
    let adc = scratch.path + "/adc.json"
    let credentials: [String: Any] = [
      "type": "authorized_user", "client_id": "id.apps.googleusercontent.com", "client_secret": "GOCSPX-SecretClientValue",
      "refresh_token": "1//0gSecretRefreshTokenValue", "token_uri": server.endpoint + "/token",
    ]
    try JSONSerialization.data(withJSONObject: credentials).write(to: URL(fileURLWithPath: adc))
    let rule = try String(
      decoding: JSONSerialization.data(withJSONObject: [
        "path_contains": "/token", "times": 1000,
        "action": ["status": 400, "body": ["error": "invalid_grant", "error_description": SafetyCLIEndToEndTests.echo]],
      ]), as: UTF8.self)
    try server.faults(rule)
    let env = scratch.environment.merging([
      "ENABLE_GCS_STORAGE": "true", "GCS_BUCKET_NAME": StorageServer.bucket, "REXSTORE_GCS_ENDPOINT": server.endpoint,
      "GOOGLE_APPLICATION_CREDENTIALS": adc, "XDG_CACHE_HOME": scratch.path + "/cache", "REXSTORE_GCS_RETRY_DELAY": "10ms",
      "CLOUDSDK_CONFIG": scratch.path + "/gcloud",
    ]) { $1 }
    let ls = try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch)
    #expect(ls.status != 0)
    #expect(ls.stderr.contains("invalid_grant") && ls.stderr.contains("[redacted]"), "\(ls.stderr)")
    let health = try Processes.rexstore(["health"], environment: env, in: scratch)
    #expect(health.stdout.contains("[redacted]"), "\(health.stdout)")
    expectNoSecrets([ls.stdout, ls.stderr, health.stdout, health.stderr])
  }
}
