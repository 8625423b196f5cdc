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
    OptionSpec("style", value: "STYLE", help: "path (default), virtual or bucket-bound",
      completion: .choices(SignedURLRequest.Style.allCases.map(\.rawValue))),
    OptionSpec("host", value: "HOST", help: "host to sign for (bucket-bound domain, emulator)"),
    OptionSpec("scheme", value: "SCHEME", help: "https (default) or http", completion: .choices(["https", "http"])),
    OptionSpec("at", value: "TIME", help: "sign as of this RFC 3339 time (reproducible URLs)"),
  ]

  static let discussion = """
    The output lists the URL, the method, when it expires and the headers the caller must send exactly.
    Signing needs a service-account key (--credentials or GOOGLE_APPLICATION_CREDENTIALS); without one,
    or with other credentials, it fails with exit 69.
    """

  static let general = CommandSpec(
    "sign", summary: "Print a V4 signed URL for gs://BUCKET/OBJECT",
    discussion: discussion,
    arguments: [ArgumentSpec("URL", help: "gs://BUCKET/OBJECT")],
    options: options,
    examples: ["rexstore sign gs://rex-audio/audio/u42/s7.mp3 --expires 15m"]
  ) { inv, rt throws(RexstoreError) in
    let url = inv.argument(0)
    guard url.hasPrefix("gs://") else { throw RexstoreError.usage("expected gs://BUCKET/OBJECT, got '\(url)'") }
    let rest = url.dropFirst(5)
    guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
      throw RexstoreError.usage("expected gs://BUCKET/OBJECT, got '\(url)'")
    }
    return .json(try sign(bucket: String(rest[..<slash]), object: String(rest[rest.index(after: slash)...]), inv, rt))
  }

  static let audio = CommandSpec(
    "audio", "sign", summary: "Print a V4 signed URL for a recording in the bucket",
    discussion: discussion + "\nIt needs the GCS backend; on the local backend it fails with exit 69.",
    arguments: [ArgumentSpec("BLOB", help: "full object name, audio/USER/FILE")],
    options: options,
    examples: ["rexstore audio sign audio/u42/s7.mp3 --method GET --expires 15m"]
  ) { inv, rt throws(RexstoreError) in
    let blob = try AudioBlob(parsing: inv.argument(0))
    let config = try rt.config()
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
    let micros = try inv.duration("expires") ?? 3_600_000_000
    guard micros % 1_000_000 == 0 else { throw RexstoreError.usage("--expires must be whole seconds") }
    let styleName = inv.value("style") ?? "path"
    guard let style = SignedURLRequest.Style(rawValue: styleName) else {
      throw RexstoreError.usage("--style must be path, virtual or bucket-bound, got '\(styleName)'")
    }
    var headers: [(String, String)] = []
    for pair in inv.values("header") {
      guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex else {
        throw RexstoreError.usage("--header takes NAME:VALUE, got '\(pair)'")
      }
      headers.append((String(pair[..<colon]), String(pair[pair.index(after: colon)...])))
    }
    var query: [(String, String)] = []
    for pair in inv.values("query") {
      guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
        throw RexstoreError.usage("--query takes NAME=VALUE, got '\(pair)'")
      }
      query.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
    }
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

  /// `https://host:port` → ("https", "host:port"); a bare host has no scheme.
  static func splitScheme(_ text: String) -> (String?, String) {
    guard let range = text.firstRange(of: "://") else { return (nil, text) }
    return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
  }
}
