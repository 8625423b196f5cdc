import Crypto

/// A V4 (`GOOG4-RSA-SHA256`) signed URL request, computed offline from a service-account key.
///
/// Follows Google's canonical-request rules (object-storage.md §1.2), checked byte for byte against
/// the `google-cloud-storage` Python signer in the end-to-end tests.
public struct SignedURLRequest: Sendable {
  public enum Style: String, Sendable, CaseIterable {
    case path
    case virtual
    case bucketBound = "bucket-bound"
  }

  public var bucket: String
  public var object: String
  /// GET, PUT, DELETE, HEAD, or POST (a resumable-upload start, signed with `x-goog-resumable:start`).
  public var method: String
  public var expiresSeconds: Int64
  public var at: Timestamp
  public var headers: [(String, String)]
  public var query: [(String, String)]
  public var contentType: String?
  public var style: Style
  /// Host (and optional port) to sign for; defaults by style: `storage.googleapis.com`, `BUCKET.storage.googleapis.com`.
  public var host: String?
  public var scheme: String

  public init(
    bucket: String, object: String, method: String, expiresSeconds: Int64, at: Timestamp,
    headers: [(String, String)] = [], query: [(String, String)] = [], contentType: String? = nil,
    style: Style = .path, host: String? = nil, scheme: String = "https"
  ) {
    self.bucket = bucket
    self.object = object
    self.method = method
    self.expiresSeconds = expiresSeconds
    self.at = at
    self.headers = headers
    self.query = query
    self.contentType = contentType
    self.style = style
    self.host = host
    self.scheme = scheme
  }

  public static let maxExpirySeconds: Int64 = 604_800
  public static let methods = ["GET", "PUT", "POST", "DELETE", "HEAD"]

  public struct Result: Sendable {
    public var url: String
    public var method: String
    public var expiresAt: Timestamp
    /// Headers the caller must send exactly (everything signed except `host`).
    public var headers: [(String, String)]

  }

  /// The checks that need no key: method, expiry (at most 7 days), style, bucket, host, headers.
  public func validate() throws(RexstoreError) {
    try SignedURLRequest.checkBucket(bucket)
    if let host {
      guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && !"/?#@".unicodeScalars.contains($0) })
      else { throw RexstoreError.usage("invalid --host '\(host)': a host name and optional port only") }
    }
    for (name, value) in headers {
      // `/` is allowed: Google's signers accept `header/name/with/slash` (conformance case), so do we.
      guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && !"()<>@,;:\\\"[]?={}".unicodeScalars.contains($0) })
      else { throw RexstoreError.usage("invalid header name '\(name)'") }
      guard value.unicodeScalars.allSatisfy({ $0.isASCII }) else {
        throw RexstoreError.usage("header '\(name)' has a non-ASCII value; HTTP headers are ASCII")
      }
    }
    guard SignedURLRequest.methods.contains(method) else {
      throw RexstoreError.usage("--method must be one of \(SignedURLRequest.methods.joined(separator: ", "))")
    }
    guard expiresSeconds >= 1, expiresSeconds <= SignedURLRequest.maxExpirySeconds else {
      throw RexstoreError.usage("expiry must be between 1s and 7d (604800 seconds), got \(expiresSeconds)s")
    }
    if style == .bucketBound, host == nil {
      throw RexstoreError.usage("--style bucket-bound needs --host (the bucket's own domain)")
    }
  }

  public func sign(with key: ServiceAccountKey) throws(RexstoreError) -> Result {
    try validate()
    let fullHost = host ?? (style == .virtual ? "\(bucket).storage.googleapis.com" : "storage.googleapis.com")
    // Signed as the URL carries it, port included: what google-cloud-storage's signer does (it takes
    // the endpoint's netloc). Google's conformance vectors 21-25 sign it without the port instead.
    let signedHost = fullHost

    // The caller's headers first; the ones rexstore adds replace a caller's header of the same name
    // (content-type, x-goog-resumable) or give way to it (host), as google-cloud-storage does.
    var canonical: [(String, String)] = headers.map { ($0.0.lowercased(), $0.1) }
    if let contentType {
      canonical.removeAll { $0.0 == "content-type" }
      canonical.append(("content-type", contentType))
    }
    if method == "POST" {
      canonical.removeAll { $0.0 == "x-goog-resumable" }
      canonical.append(("x-goog-resumable", "start"))
    }
    if !canonical.contains(where: { $0.0 == "host" }) { canonical.append(("host", signedHost)) }
    // Trim, collapse internal whitespace runs, merge repeated names with ",".
    var merged: [String: String] = [:]
    for (name, value) in canonical {
      let name = SignedURLRequest.collapse(name)
      let clean = SignedURLRequest.collapse(value)
      merged[name] = merged[name].map { $0 + "," + clean } ?? clean
    }
    let names = merged.keys.sorted()
    let canonicalHeaders = names.map { "\($0):\(merged[$0]!)\n" }.joined()
    let signedHeaders = names.joined(separator: ";")

    let datetime = SignedURLRequest.basicFormat(at)
    let scope = "\(datetime.prefix(8))/auto/storage/goog4_request"
    var parameters: [(String, String)] = [
      ("X-Goog-Algorithm", "GOOG4-RSA-SHA256"), ("X-Goog-Credential", "\(key.clientEmail)/\(scope)"),
      ("X-Goog-Date", datetime), ("X-Goog-Expires", String(expiresSeconds)), ("X-Goog-SignedHeaders", signedHeaders),
    ]
    // A repeated --query name keeps its last value, and the X-Goog-* parameters win over the caller's.
    var userQuery: [(String, String)] = []
    for (name, value) in query where !parameters.contains(where: { $0.0 == name }) {
      userQuery.removeAll { $0.0 == name }
      userQuery.append((name, value))
    }
    // Sorted as whole `name=value` strings, as Google's Python signer sorts them.
    let canonicalQuery = (userQuery + parameters).map { "\(PercentEncoding.encode($0.0))=\(PercentEncoding.encode($0.1))" }
      .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: "&")

    let objectPath = PercentEncoding.encode(object, keepSlash: true)
    let uri: String
    switch style {
    case .path: uri = object.isEmpty ? "/\(bucket)" : "/\(bucket)/\(objectPath)"
    case .virtual, .bucketBound: uri = "/\(objectPath)"
    }
    let payload = merged["x-goog-content-sha256"] ?? "UNSIGNED-PAYLOAD"
    let canonicalRequest = [method, uri, canonicalQuery, canonicalHeaders, signedHeaders, payload].joined(separator: "\n")
    let hashed = Hex.lower(Array(SHA256.hash(data: Array(canonicalRequest.utf8))))
    let stringToSign = "GOOG4-RSA-SHA256\n\(datetime)\n\(scope)\n\(hashed)"
    let signature = try key.signHex(stringToSign)
    let url = "\(scheme)://\(fullHost)\(uri)?\(canonicalQuery)&X-Goog-Signature=\(signature)"
    let mustSend = names.filter { $0 != "host" }.map { ($0, merged[$0]!) }
    return Result(
      url: url, method: method, expiresAt: at.adding(microseconds: expiresSeconds * 1_000_000), headers: mustSend)
  }

  /// Trims and collapses whitespace runs to one space (Python's `" ".join(value.split())`).
  /// GCS bucket names: 3-63 characters (222 with dots) of lower-case letters, digits, `-`, `_` and `.`,
  /// starting and ending with a letter or digit.
  static func checkBucket(_ bucket: String) throws(RexstoreError) {
    let allowed = bucket.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
    }
    let edges = [bucket.unicodeScalars.first, bucket.unicodeScalars.last].allSatisfy {
      guard let c = $0 else { return false }
      return ("a"..."z").contains(c) || ("0"..."9").contains(c)
    }
    let limit = bucket.contains(".") ? 222 : 63
    guard allowed, edges, bucket.count >= 3, bucket.count <= limit else {
      throw RexstoreError.usage("invalid bucket name '\(bucket)'")
    }
  }

  static func collapse(_ value: String) -> String {
    var out = ""
    var pendingSpace = false
    for scalar in value.unicodeScalars {
      if scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value) {
        pendingSpace = true
      } else {
        if pendingSpace, !out.isEmpty { out += " " }
        pendingSpace = false
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// `YYYYMMDDTHHMMSSZ`.
  static func basicFormat(_ ts: Timestamp) -> String {
    let iso = ts.outputForm  // 2026-11-28T12:00:00.000Z
    let chars = Array(iso)
    let pick = { (range: Range<Int>) in String(chars[range]) }
    return pick(0..<4) + pick(5..<7) + pick(8..<10) + "T" + pick(11..<13) + pick(14..<16) + pick(17..<19) + "Z"
  }
}
