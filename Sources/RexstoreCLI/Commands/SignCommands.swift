import Foundation
import RexstoreCore

/// `rexstore sign gs://BUCKET/OBJECT` and `rexstore audio sign BLOB`: V4 signed URLs from a
/// service-account key, computed offline.
enum SignCommands {
  static let options: [OptionSpec] = [
    OptionSpec("method", value: "METHOD", help: "GET (default), PUT, POST (resumable start), DELETE or HEAD",
      completion: .choices(SignedURLRequest.methods)),
    OptionSpec("expires", value: "DUR", help: "validity, at most 7d (default 1h)"),
    OptionSpec("content-type", value: "TYPE", help: "sign a Content-Type the caller must send"),
    OptionSpec("header", value: "K:V", help: "sign a header the caller must send (repeatable)", repeatable: true),
    OptionSpec("query", value: "K=V", help: "add a signed query parameter (repeatable)", repeatable: true),
    OptionSpec("style", value: "STYLE", help: "path (gs:// default), virtual (s3:// default) or bucket-bound (gs://)",
      completion: .choices(SignedURLRequest.Style.allCases.map(\.rawValue))),
    OptionSpec("host", value: "HOST", help: "host to sign for (bucket-bound domain, emulator, S3 endpoint)"),
    OptionSpec("scheme", value: "SCHEME", help: "https (default) or http", completion: .choices(["https", "http"])),
    OptionSpec("at", value: "TIME", help: "sign as of this RFC 3339 time (reproducible URLs)"),
    OptionSpec("region", value: "REGION", help: "s3:// only: the bucket's region (AWS_REGION, default us-east-1)"),
    OptionSpec("endpoint", value: "URL", help: "s3:// only: endpoint URL (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)"),
  ]

  static let discussion = """
    The output lists the URL, the method, when it expires and the headers the caller must send exactly.
    Signing needs a service-account key (--credentials or GOOGLE_APPLICATION_CREDENTIALS); without one,
    or with other credentials, it fails with exit 69.
    """

  static let generalDiscussion = discussion + """

    gs://BUCKET alone signs the bucket itself (listing its objects).
    s3://BUCKET/KEY prints a SigV4 presigned URL, as botocore's generate_presigned_url does. Credentials
    come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else from the shared
    credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) for AWS_PROFILE (default
    "default"); the region from --region, AWS_REGION, AWS_DEFAULT_REGION, the profile in AWS_CONFIG_FILE
    (default ~/.aws/config), else us-east-1. Without credentials it fails with exit 69.
    """

  static let general = CommandSpec(
    "sign", summary: "Print a signed URL: gs://BUCKET[/OBJECT] or s3://BUCKET/KEY",
    discussion: generalDiscussion,
    arguments: [ArgumentSpec("URL", help: "gs://BUCKET[/OBJECT] or s3://BUCKET/KEY")],
    options: options,
    examples: [
      "rexstore sign gs://rex-audio/audio/u42/s7.mp3 --expires 15m",
      "rexstore sign s3://rex-audio/audio/u42/s7.mp3 --region eu-west-1 --expires 15m",
    ]
  ) { inv, rt throws(RexstoreError) in
    let url = inv.argument(0)
    if url.hasPrefix("s3://") {
      let rest = url.dropFirst(5)
      guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
        throw RexstoreError.usage("expected s3://BUCKET/KEY, got '\(url)'")
      }
      return .json(try S3Signing.sign(bucket: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]), inv, rt))
    }
    guard url.hasPrefix("gs://") else {
      throw RexstoreError.usage("expected gs://BUCKET[/OBJECT] or s3://BUCKET/KEY, got '\(url)'")
    }
    let rest = url.dropFirst(5)
    // gs://BUCKET and gs://BUCKET/ sign the bucket itself (a listing), as Google's signers do.
    guard let slash = rest.firstIndex(of: "/") else {
      guard !rest.isEmpty else { throw RexstoreError.usage("expected gs://BUCKET[/OBJECT], got '\(url)'") }
      return .json(try sign(bucket: String(rest), object: "", inv, rt))
    }
    guard slash != rest.startIndex else { throw RexstoreError.usage("expected gs://BUCKET[/OBJECT], got '\(url)'") }
    return .json(try sign(bucket: String(rest[..<slash]), object: String(rest[rest.index(after: slash)...]), inv, rt))
  }

  static let audio = CommandSpec(
    "audio", "sign", summary: "Print a V4 signed URL for a recording in the bucket",
    discussion: discussion + "\nIt needs the GCS or S3 backend (on S3 a SigV4 presigned URL); on the local backend it fails with exit 69.",
    arguments: [ArgumentSpec("BLOB", help: "full object name, audio/USER/FILE")],
    options: options,
    examples: ["rexstore audio sign audio/u42/s7.mp3 --method GET --expires 15m"]
  ) { inv, rt throws(RexstoreError) in
    let blob = try AudioBlob(parsing: inv.argument(0))
    let config = try rt.config()
    if config.effectiveBackend == "s3" { return .json(try S3Signing.signAudio(blob.name, inv, rt)) }
    guard config.effectiveBackend == "gcs" else {
      throw RexstoreError(
        .unavailable, "signed URLs need the GCS backend, and the configured backend is local",
        hint: "set ENABLE_GCS_STORAGE=true and GCS_BUCKET_NAME, or pass --backend gcs --bucket NAME")
    }
    guard let bucket = config.bucket?.value else {
      throw RexstoreError(.config, "the GCS backend needs a bucket", hint: "set --bucket or GCS_BUCKET_NAME")
    }
    return .json(try sign(bucket: bucket, object: blob.name, inv, rt))
  }

  static func sign(bucket: String, object: String, _ inv: Invocation, _ rt: Runtime) throws(RexstoreError) -> JSONValue {
    for name in ["region", "endpoint"] where inv.value(name) != nil {
      throw RexstoreError.usage("--\(name) applies to s3:// URLs only")
    }
    let micros = try inv.duration("expires") ?? 3_600_000_000
    guard micros % 1_000_000 == 0 else { throw RexstoreError.usage("--expires must be whole seconds") }
    let styleName = inv.value("style") ?? "path"
    guard let style = SignedURLRequest.Style(rawValue: styleName) else {
      throw RexstoreError.usage("--style must be path, virtual or bucket-bound, got '\(styleName)'")
    }
    let headers = try headerPairs(inv)
    let query = try queryPairs(inv)
    let config = try rt.config()
    var host: String?
    var scheme = inv.value("scheme")
    if let given = inv.value("host") {
      // `https://cdn.example.com` is taken apart as google-cloud-storage does; an explicit --scheme wins.
      let (prefix, bare) = splitScheme(given)
      host = bare
      scheme = scheme ?? prefix
    } else if style == .path, let emulator = config.emulatorHost?.value {
      // The emulator's address stands in for the default host; emulators speak plain http.
      let (prefix, bare) = splitScheme(emulator)
      host = bare.hasSuffix("/") ? String(bare.dropLast()) : bare
      scheme = scheme ?? prefix ?? "http"
    }
    let finalScheme = scheme ?? "https"
    guard finalScheme == "https" || finalScheme == "http" else {
      throw RexstoreError.usage("the scheme must be https or http, got '\(finalScheme)'")
    }
    let request = SignedURLRequest(
      bucket: bucket, object: object, method: (inv.value("method") ?? "GET").uppercased(), expiresSeconds: micros / 1_000_000,
      at: try inv.timestamp("at") ?? .now(), headers: headers, query: query, contentType: inv.value("content-type"),
      style: style, host: host, scheme: finalScheme)
    // Checked before the key is read: a bad request never depends on the credentials.
    try request.validate()
    guard let path = config.credentials?.value else {
      throw RexstoreError(
        .unavailable, "signing needs a service-account key and none is configured",
        hint: "set --credentials FILE or GOOGLE_APPLICATION_CREDENTIALS")
    }
    return try request.sign(with: try ServiceAccountKey.load(path: path)).json
  }

  static func headerPairs(_ inv: Invocation) throws(RexstoreError) -> [(String, String)] {
    var headers: [(String, String)] = []
    for pair in inv.values("header") {
      guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex else {
        throw RexstoreError.usage("--header takes NAME:VALUE, got '\(pair)'")
      }
      headers.append((String(pair[..<colon]), String(pair[pair.index(after: colon)...])))
    }
    return headers
  }

  static func queryPairs(_ inv: Invocation) throws(RexstoreError) -> [(String, String)] {
    var query: [(String, String)] = []
    for pair in inv.values("query") {
      guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
        throw RexstoreError.usage("--query takes NAME=VALUE, got '\(pair)'")
      }
      query.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
    }
    return query
  }

  /// `https://host:port` → ("https", "host:port"); a bare host has no scheme.
  static func splitScheme(_ text: String) -> (String?, String) {
    guard let range = text.firstRange(of: "://") else { return (nil, text) }
    return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
  }
}

/// `sign s3://BUCKET/KEY`: the AWS settings under the names the AWS CLI and SDKs use.
enum S3Signing {
  static func sign(bucket: String, key: String, _ inv: Invocation, _ rt: Runtime) throws(RexstoreError) -> JSONValue {
    for name in ["content-type", "scheme"] where inv.value(name) != nil {
      throw RexstoreError.usage("--\(name) applies to gs:// URLs only; use --header content-type:TYPE or --endpoint")
    }
    let micros = try inv.duration("expires") ?? 3_600_000_000
    guard micros % 1_000_000 == 0 else { throw RexstoreError.usage("--expires must be whole seconds") }
    let styleName = inv.value("style") ?? "virtual"
    guard let style = S3PresignRequest.Style(rawValue: styleName) else {
      throw RexstoreError.usage("--style must be path or virtual for s3://, got '\(styleName)'")
    }
    let env = rt.environment
    func setting(_ names: String...) -> String? {
      for name in names { if let v = env[name], !v.isEmpty { return v } }
      return nil
    }
    let home = env["HOME"] ?? ""
    func expand(_ path: String) -> String { path.hasPrefix("~/") ? home + path.dropFirst() : path }
    let profile = setting("AWS_PROFILE") ?? "default"
    let configFile = expand(setting("AWS_CONFIG_FILE") ?? "~/.aws/config")
    let profileConfig = try INIFile.section(
      path: configFile, name: profile == "default" ? "default" : "profile \(profile)", required: false)

    var endpoint = inv.value("endpoint") ?? inv.value("host") ?? setting("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    if let given = endpoint, !given.contains("://") { endpoint = "https://" + given }
    let region = inv.value("region") ?? setting("AWS_REGION", "AWS_DEFAULT_REGION") ?? profileConfig["region"] ?? "us-east-1"
    let request = S3PresignRequest(
      bucket: bucket, key: key, method: (inv.value("method") ?? "GET").uppercased(), expiresSeconds: micros / 1_000_000,
      at: try inv.timestamp("at") ?? .now(), region: region, headers: try SignCommands.headerPairs(inv),
      query: try SignCommands.queryPairs(inv), style: style, endpoint: endpoint)
    // Checked before any credential is read: a bad request never depends on the credentials.
    try request.validate()

    // The same resolution as the s3 backend's (environment, then the profile in the shared files).
    let credentials = try S3Credentials.require(
      environment: env, readFile: { path in try? FileSystem.readSmallFile(path, limit: 1 << 20) }
    ).credentials
    return try request.sign(with: credentials).json
  }
}

extension S3Signing {
  /// `audio sign` on the s3 backend (issue 11, minimal wiring): the configured bucket's presigned URL.
  static func signAudio(_ name: String, _ inv: Invocation, _ rt: Runtime) throws(RexstoreError) -> JSONValue {
    for option in ["content-type", "scheme", "style", "host", "region", "endpoint"] where inv.value(option) != nil {
      throw RexstoreError.usage("--\(option) does not apply to audio sign on the s3 backend; the backend's settings are used")
    }
    let micros = try inv.duration("expires") ?? 3_600_000_000
    guard micros % 1_000_000 == 0 else { throw RexstoreError.usage("--expires must be whole seconds") }
    return try rt.s3Store().signedURL(
      name, method: (inv.value("method") ?? "GET").uppercased(), expiresSeconds: micros / 1_000_000,
      now: try inv.timestamp("at") ?? .now(), headers: try SignCommands.headerPairs(inv),
      query: try SignCommands.queryPairs(inv)
    ).json
  }
}

/// The AWS shared credentials/config format: `[section]` lines and `key = value` lines, `#`/`;` comments.
enum INIFile {
  static func section(path: String, name: String, required: Bool) throws(RexstoreError) -> [String: String] {
    guard let data = FileManager.default.contents(atPath: path) else {
      if required { throw RexstoreError(.noInput, "cannot read '\(path)'") }
      return [:]
    }
    var current: String?
    var out: [String: String] = [:]
    for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if line.hasPrefix("["), line.hasSuffix("]") {
        current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        continue
      }
      guard current == name, let eq = line.firstIndex(of: "=") else { continue }
      let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
      out[key] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
    }
    return out
  }
}
