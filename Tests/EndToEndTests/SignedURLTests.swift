import Foundation
import Testing

/// V4 signed URLs, differentially: rexstore's URL must equal, byte for byte, the one google-cloud-storage's
/// signer produces with the same freshly generated key and the same pinned time.
@Suite struct SignedURLTests {
  static let python = Processes.packageRoot + "/.venv/bin/python"
  static let scripts = Processes.packageRoot + "/Tests/EndToEndTests/python"

  struct Case {
    var bucket = "rex-audio"
    var object: String
    var method = "GET"
    var expires = 900
    var at = "2026-11-28T12:34:56Z"
    var headers: [(String, String)] = []
    var query: [(String, String)] = []
    var contentType: String?
    var style = "path"
    var host: String?
    var scheme = "https"

    var json: [String: Any] {
      let basic = at.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
      return [
        "bucket": bucket, "object": object, "method": method, "expires": expires, "at": basic,
        "headers": Dictionary(headers, uniquingKeysWith: { $1 }), "query": Dictionary(query, uniquingKeysWith: { $1 }),
        "content_type": contentType as Any, "style": style, "host": host as Any, "scheme": scheme,
      ]
    }

    var argv: [String] {
      var a = ["sign", "gs://\(bucket)/\(object)", "--method", method, "--expires", "\(expires)s", "--at", at, "--style", style, "--scheme", scheme]
      for (k, v) in headers { a += ["--header", "\(k):\(v)"] }
      for (k, v) in query { a += ["--query", "\(k)=\(v)"] }
      if let contentType { a += ["--content-type", contentType] }
      if let host { a += ["--host", host] }
      return a
    }
  }

  /// Methods, awkward names, headers with odd whitespace, query parameters, all three URL styles.
  static var cases: [Case] {
    let objects = [
      "audio/u1/rec.mp3", "name with spaces.wav", "unicodé/ファイル.wav", "a&b=c?d#e.wav", "dir//double/slash.wav",
      "/leading-slash.wav", "tilde~plus+percent%.wav", "semi;colon,comma'quote\".wav",
    ]
    let methods = ["GET", "PUT", "POST", "DELETE", "HEAD"]
    let headerSets: [[(String, String)]] = [
      [], [("x-goog-meta-owner", "  rex   coach  ")], [("X-Goog-Meta-Tab", "a\t\tb"), ("x-goog-meta-z", "last")],
      [("x-goog-content-sha256", "UNSIGNED-PAYLOAD")],
    ]
    let querySets: [[(String, String)]] = [
      [], [("response-content-disposition", "attachment; filename=\"a b.wav\"")],
      [("generation", "1732790000000000"), ("a", "x/y z"), ("a-b", "1")],
    ]
    let styles: [(String, String?, String)] = [
      ("path", nil, "https"), ("virtual", nil, "https"), ("bucket-bound", "cdn.example.com", "https"),
      ("bucket-bound", "media.example.org", "http"), ("path", "localhost:9023", "http"),
    ]
    var out: [Case] = []
    for i in 0..<40 {
      let style = styles[i % styles.count]
      out.append(
        Case(
          object: objects[i % objects.count], method: methods[(i / 2) % methods.count],
          expires: [1, 900, 3600, 604_800][i % 4], at: i % 3 == 0 ? "2026-11-28T12:34:56Z" : "2025-02-28T23:59:59Z",
          headers: headerSets[(i / 3) % headerSets.count], query: querySets[(i / 5) % querySets.count],
          contentType: i % 4 == 1 ? "audio/mpeg" : nil, style: style.0, host: style.1, scheme: style.2))
    }
    // Found in review: a caller's header that clashes with one rexstore adds, and a host with a scheme.
    out.append(Case(object: "r.wav", method: "POST", headers: [("x-goog-resumable", "start")]))
    out.append(Case(object: "h.wav", headers: [("Host", "example.com")]))
    out.append(Case(object: "c.wav", method: "PUT", contentType: "audio/wav", style: "bucket-bound", host: "https://cdn.example.com"))
    // Issue 11: the bucket itself (a listing), in every style, and a header name with slashes.
    out.append(Case(object: ""))
    out.append(Case(object: "", expires: 60, query: [("prefix", "audio/u1/"), ("delimiter", "/")], style: "virtual"))
    out.append(Case(object: "", style: "bucket-bound", host: "cdn.example.com"))
    out.append(Case(object: "", style: "path", host: "localhost:9023", scheme: "http"))
    out.append(Case(object: "p/q.wav", headers: [("header/name/with/slash", "should-be-encoded")]))
    out.append(Case(object: "", headers: [("x/y", "1")]))
    return out
  }

  func key(_ scratch: Processes.Scratch) throws -> String {
    try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no \(Self.python): run 'make test', which installs google-cloud-storage")
    let path = scratch.path + "/key.json"
    let made = try Processes.run(Self.python, [Self.scripts + "/make_key.py", path], environment: scratch.environment)
    try #require(made.status == 0, "\(made.stderr)")
    return path
  }

  @Test func urlsMatchGoogleCloudStorageByteForByte() throws {
    let scratch = Processes.Scratch()
    let keyPath = try key(scratch)
    let cases = Self.cases
    let input = String(decoding: try JSONSerialization.data(withJSONObject: cases.map(\.json)), as: UTF8.self)
    let reference = try Processes.run(
      Self.python, [Self.scripts + "/sign_reference.py", keyPath], environment: scratch.environment, stdin: input)
    try #require(reference.status == 0, "\(reference.stderr)")
    let expected = try #require(try JSONSerialization.jsonObject(with: Data(reference.stdout.utf8)) as? [String])
    #expect(expected.count == cases.count)
    #expect(Set(expected).count == cases.count, "cases must differ")
    var env = scratch.environment
    env["GOOGLE_APPLICATION_CREDENTIALS"] = keyPath
    for (c, url) in zip(cases, expected) {
      let r = try Processes.run(Processes.binary, c.argv, environment: env)
      #expect(r.status == 0, "\(c.argv): \(r.stderr)")
      let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
      #expect(json?["url"] as? String == url, "\(c.argv)")
    }
  }

  @Test func outputListsTheHeadersToSendAndNeverTheKey() throws {
    let scratch = Processes.Scratch()
    let keyPath = try key(scratch)
    var env = scratch.environment
    env["GOOGLE_APPLICATION_CREDENTIALS"] = keyPath
    let r = try Processes.run(
      Processes.binary,
      ["sign", "gs://bkt/o.wav", "--method", "POST", "--content-type", "audio/wav", "--header", "x-goog-meta-a:  1  2 ", "--at", "2026-11-28T00:00:00Z", "--expires", "15m"],
      environment: env)
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["method"] as? String == "POST")
    #expect(json["expires_at"] as? String == "2026-11-28T00:15:00.000Z")
    #expect(json["headers"] as? [String: String] == ["content-type": "audio/wav", "x-goog-meta-a": "1 2", "x-goog-resumable": "start"])
    #expect(!r.stdout.contains("PRIVATE KEY") && !r.stderr.contains("PRIVATE KEY"))
  }

  @Test func failuresComeBeforeAnySigning() throws {
    let scratch = Processes.Scratch()
    let keyPath = try key(scratch)
    var env = scratch.environment
    env["GOOGLE_APPLICATION_CREDENTIALS"] = keyPath
    func run(_ argv: [String], _ env: [String: String]) throws -> Processes.Result {
      try Processes.run(Processes.binary, argv, environment: env)
    }
    // Expiry is checked before the key is read: no credentials needed to get 64.
    #expect(try run(["sign", "gs://bkt/o", "--expires", "8d"], scratch.environment).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--method", "PATCH"], env).status == 64)
    #expect(try run(["sign", "s3://b/o"], env).status == 64)
    #expect(try run(["sign", "gs:///o"], env).status == 64)
    #expect(try run(["sign", "gs://"], env).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--style", "bucket-bound"], env).status == 64)
    // No key, or credentials that cannot sign: the service is unavailable (69).
    #expect(try run(["sign", "gs://bkt/o"], scratch.environment).status == 69)
    let user = scratch.path + "/user.json"
    try #"{"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"}"#.write(
      toFile: user, atomically: true, encoding: .utf8)
    #expect(try run(["sign", "gs://bkt/o", "--credentials", user], scratch.environment).status == 69)
    // Malformed input found in review: all usage errors, before any signing.
    #expect(try run(["sign", "gs://B C/o"], env).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--header", "bad name:v"], env).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--header", "x-goog-meta-a:é"], env).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--at", "2026-11-28 12:00:00"], env).status == 64)
    #expect(try run(["sign", "gs://bkt/o", "--host", "evil.com/x?"], env).status == 64)
    // The emulator stands in for the host, over plain http unless it says otherwise.
    var emulator = env
    emulator["STORAGE_EMULATOR_HOST"] = "localhost:9023/"
    #expect(try run(["sign", "gs://bkt/o.wav"], emulator).stdout.contains(#""url":"http://localhost:9023/bkt/o.wav?"#))
    // --backend gcs without a bucket is a configuration error.
    #expect(try run(["audio", "sign", "audio/u1/a.wav", "--backend", "gcs"], env).status == 78)
    // audio sign needs the GCS backend.
    let local = try run(["audio", "sign", "audio/u1/a.wav"], env)
    #expect(local.status == 69)
    #expect(local.stderr.contains("backend is local"))
    var gcs = env
    gcs["ENABLE_GCS_STORAGE"] = "True"
    gcs["GCS_BUCKET_NAME"] = "rex-audio"
    let signed = try run(["audio", "sign", "audio/u1/a.wav", "--at", "2026-11-28T00:00:00Z"], gcs)
    #expect(signed.status == 0, "\(signed.stderr)")
    #expect(signed.stdout.contains(#"https://storage.googleapis.com/rex-audio/audio/u1/a.wav?X-Goog-Algorithm=GOOG4-RSA-SHA256"#))
  }
}
