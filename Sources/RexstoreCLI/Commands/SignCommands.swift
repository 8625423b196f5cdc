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
    let schemes = Backends.registered.filter { $0.sign != nil }.map(\.scheme)
    let expected = schemes.map { "\($0)://BUCKET/OBJECT" }.joined(separator: " or ")
    guard let range = url.firstRange(of: "://") else { throw RexstoreError.usage("expected \(expected), got '\(url)'") }
    let scheme = String(url[..<range.lowerBound])
    let rest = url[range.upperBound...]
    // BUCKET alone (or BUCKET/) signs the bucket itself (a listing), as Google's signers do; a backend
    // that cannot sign a bucket says so.
    let bucket = String(rest.prefix { $0 != "/" })
    let object = String(rest.dropFirst(bucket.count + 1))
    guard !bucket.isEmpty else { throw RexstoreError.usage("expected \(expected), got '\(url)'") }
    guard let registration = Backends.forScheme(scheme), let sign = registration.sign else {
      throw RexstoreError.usage("expected \(expected), got '\(url)'")
    }
    let config = try rt.config()
    return .json(try sign(try signInput(bucket: bucket, object: object, inv), rt.backendContext(config)).json)
  }

  static let audio = CommandSpec(
    "audio", "sign", summary: "Print a signed URL for a recording in the bucket",
    discussion: discussion + "\nIt needs a remote backend that can sign (gcs, s3); on the local backend it fails with exit 69.",
    arguments: [ArgumentSpec("BLOB", help: "full object name, audio/USER/FILE")],
    options: options,
    examples: ["rexstore audio sign audio/u42/s7.mp3 --method GET --expires 15m"]
  ) { inv, rt throws(RexstoreError) in
    let blob = try AudioBlob(parsing: inv.argument(0))
    let config = try rt.config()
    guard let registration = config.remote else {
      throw RexstoreError(
        .unavailable, "signed URLs need a remote backend, and the configured backend is local",
        hint: "set ENABLE_GCS_STORAGE=true and GCS_BUCKET_NAME, or pass --backend NAME --bucket BUCKET")
    }
    guard let sign = registration.sign else {
      throw RexstoreError(.unavailable, "the \(registration.name) backend cannot sign URLs")
    }
    guard let bucket = registration.bucket(in: config.values) else {
      throw RexstoreError(.config, "the \(registration.name) backend needs a bucket", hint: "set --bucket")
    }
    return .json(try sign(try signInput(bucket: bucket, object: blob.name, inv), rt.backendContext(config)).json)
  }

  /// The options as one request; the backend refuses the ones it does not take.
  static func signInput(bucket: String, object: String, _ inv: Invocation) throws(RexstoreError) -> SignInput {
    let micros = try inv.duration("expires") ?? 3_600_000_000
    guard micros % 1_000_000 == 0 else { throw RexstoreError.usage("--expires must be whole seconds") }
    return SignInput(
      bucket: bucket, object: object, method: (inv.value("method") ?? "GET").uppercased(),
      expiresSeconds: micros / 1_000_000, at: try inv.timestamp("at") ?? .now(), headers: try headerPairs(inv),
      query: try queryPairs(inv), contentType: inv.value("content-type"), style: inv.value("style"),
      host: inv.value("host"), scheme: inv.value("scheme"), region: inv.value("region"), endpoint: inv.value("endpoint"))
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
}
