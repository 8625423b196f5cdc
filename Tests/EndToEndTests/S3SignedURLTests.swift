import Foundation
import Testing

/// Presigned S3 URLs, differentially: `rexstore sign s3://…` must equal, byte for byte, botocore's
/// `generate_presigned_url` with the same credentials and the same pinned clock.
@Suite struct S3SignedURLTests {
  static let python = Processes.packageRoot + "/.venv/bin/python"
  static let script = Processes.packageRoot + "/Tests/EndToEndTests/python/s3_presign_reference.py"
  static let keyID = "AKIDEXAMPLE"
  static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

  struct Case {
    var bucket = "rex-audio"
    var key: String
    var method = "GET"
    var expires = 900
    var at = "2026-11-28T12:34:56Z"
    var region = "us-east-1"
    var style = "virtual"
    var endpoint: String?
    var token: String?
    var headers: [(String, String)] = []
    var query: [(String, String)] = []

    var json: [String: Any] {
      let basic = at.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
      return [
        "bucket": bucket, "key": key, "method": method, "expires": expires, "at": basic, "region": region,
        "style": style, "endpoint": endpoint as Any, "token": token as Any,
        "headers": Dictionary(headers, uniquingKeysWith: { $1 }), "query": query.map { [$0.0, $0.1] },
      ]
    }

    var argv: [String] {
      var a = ["sign", "s3://\(bucket)/\(key)", "--method", method, "--expires", "\(expires)s", "--at", at, "--style", style, "--region", region]
      if let endpoint { a += ["--endpoint", endpoint] }
      for (k, v) in headers { a += ["--header", "\(k):\(v)"] }
      for (k, v) in query { a += ["--query", "\(k)=\(v)"] }
      return a
    }
  }

  static var cases: [Case] {
    let keys = [
      "audio/u1/rec.mp3", "name with spaces.wav", "unicodé/ファイル.wav", "plus+sign.wav", "tilde~name.wav",
      "deep/nested/path/to/file.wav", "a&b=c?d#e.wav", "dir//double/slash.wav", "percent%20literal.wav",
      "semi;colon,comma'quote\"!*().wav",
    ]
    let methods = ["GET", "PUT", "DELETE", "HEAD"]
    let places: [(String, String, String?)] = [
      ("us-east-1", "virtual", nil), ("eu-west-1", "virtual", nil), ("us-east-1", "path", nil), ("ap-southeast-2", "path", nil),
      ("us-east-1", "path", "http://localhost:9000"), ("eu-central-1", "virtual", "https://s3.example.com:8443"),
    ]
    var out: [Case] = []
    for i in 0..<36 {
      let place = places[i % places.count]
      var c = Case(
        key: keys[i % keys.count], method: methods[(i / 2) % methods.count], expires: [1, 900, 3600, 604_800][i % 4],
        at: i % 3 == 0 ? "2026-11-28T12:34:56Z" : "2025-02-28T23:59:59Z", region: place.0, style: place.1,
        endpoint: place.2)
      if i % 5 == 1 { c.token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+token/=" }
      if i % 7 == 2 { c.headers = [("x-amz-meta-owner", "  rex   coach  "), ("Content-Type", "audio/mpeg")] }
      if i % 6 == 3 { c.query = [("response-content-disposition", "attachment; filename=\"a b.wav\""), ("versionId", "3/L4kqtJl+40")] }
      out.append(c)
    }
    return out
  }

  func environment(_ scratch: Processes.Scratch, token: String? = nil) -> [String: String] {
    var env = scratch.environment
    env["AWS_ACCESS_KEY_ID"] = Self.keyID
    env["AWS_SECRET_ACCESS_KEY"] = Self.secret
    if let token { env["AWS_SESSION_TOKEN"] = token }
    return env
  }

  @Test func urlsMatchBotocoreByteForByte() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no \(Self.python): run 'make test', which installs boto3")
    let scratch = Processes.Scratch()
    let cases = Self.cases
    let input = String(decoding: try JSONSerialization.data(withJSONObject: cases.map(\.json)), as: UTF8.self)
    let reference = try Processes.run(Self.python, [Self.script], environment: environment(scratch), stdin: input)
    try #require(reference.status == 0, "\(reference.stderr)")
    let expected = try #require(try JSONSerialization.jsonObject(with: Data(reference.stdout.utf8)) as? [String])
    #expect(expected.count == cases.count)
    #expect(Set(expected).count == cases.count, "cases must differ")
    for (c, url) in zip(cases, expected) {
      let r = try Processes.run(Processes.binary, c.argv, environment: environment(scratch, token: c.token))
      #expect(r.status == 0, "\(c.argv): \(r.stderr)")
      let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
      #expect(json?["url"] as? String == url, "\(c.argv)")
      #expect(!r.stdout.contains(Self.secret) && !r.stderr.contains(Self.secret))
    }
  }

  @Test func settingsComeFromTheEnvironmentAndTheSharedFiles() throws {
    let scratch = Processes.Scratch()
    let at = ["--at", "2026-11-28T00:00:00Z"]
    // Region and endpoint from the environment.
    var env = environment(scratch)
    env["AWS_REGION"] = "eu-west-1"
    env["AWS_ENDPOINT_URL_S3"] = "http://localhost:9000"
    env["AWS_ENDPOINT_URL"] = "http://ignored:1"
    let r = try Processes.run(Processes.binary, ["sign", "s3://bkt/k.wav", "--style", "path"] + at, environment: env)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains(#""url":"http://localhost:9000/bkt/k.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261128%2Feu-west-1%2Fs3%2Faws4_request&"#))
    // A profile in the shared credentials and config files.
    let home = scratch.path + "/home"
    try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
    try "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[rex]\naws_access_key_id = AKIDREX\naws_secret_access_key = PROFILESECRET\naws_session_token = PTOKEN\n"
      .write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
    try "[profile rex]\nregion = ap-south-1\n".write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
    var files = scratch.environment
    files["AWS_PROFILE"] = "rex"
    let p = try Processes.run(Processes.binary, ["sign", "s3://bkt/k.wav"] + at, environment: files)
    #expect(p.status == 0, "\(p.stderr)")
    #expect(p.stdout.contains("https://bkt.s3.ap-south-1.amazonaws.com/k.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDREX%2F20261128%2Fap-south-1%2Fs3%2Faws4_request&"))
    #expect(p.stdout.contains("X-Amz-Security-Token=PTOKEN&X-Amz-Signature="))
    #expect(!p.stdout.contains("PROFILESECRET"))
    let d = try Processes.run(Processes.binary, ["sign", "s3://bkt/k.wav"] + at, environment: scratch.environment)
    #expect(d.stdout.contains("Credential=AKIDDEFAULT%2F20261128%2Fus-east-1%2F"))
  }

  @Test func failuresComeBeforeAnySigning() throws {
    let scratch = Processes.Scratch()
    let env = environment(scratch)
    func status(_ argv: [String], _ env: [String: String]) throws -> Int32 {
      try Processes.run(Processes.binary, argv, environment: env).status
    }
    // Bad requests are usage errors even without credentials.
    #expect(try status(["sign", "s3://bkt/k", "--expires", "8d"], scratch.environment) == 64)
    #expect(try status(["sign", "s3://bkt/k", "--method", "PATCH"], env) == 64)
    #expect(try status(["sign", "s3://bkt/"], env) == 64)
    #expect(try status(["sign", "s3://bkt"], env) == 64)
    #expect(try status(["sign", "s3://my.bkt/k"], env) == 64)  // dotted: virtual-host style cannot address it
    #expect(try status(["sign", "s3://my.bkt/k", "--style", "path"], env) == 0)
    #expect(try status(["sign", "s3://bkt/k", "--style", "bucket-bound"], env) == 64)
    #expect(try status(["sign", "s3://bkt/k", "--content-type", "a/b"], env) == 64)
    #expect(try status(["sign", "s3://bkt/k", "--region", "EU WEST"], env) == 64)
    #expect(try status(["sign", "s3://bkt/k", "--endpoint", "ftp://x"], env) == 64)
    #expect(try status(["sign", "gs://bkt/k", "--region", "eu-west-1"], env) == 64)
    // No credentials anywhere: unavailable (69), and the message names no secret.
    let none = try Processes.run(Processes.binary, ["sign", "s3://bkt/k"], environment: scratch.environment)
    #expect(none.status == 69)
    #expect(none.stderr.contains("AWS_ACCESS_KEY_ID"))
  }
}
