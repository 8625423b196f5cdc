import Crypto

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`): canonical request, string to sign, signing key.
///
/// Written against AWS's published signing test suite (Tests/RexstoreCoreTests/Fixtures/aws4_testsuite)
/// and, for presigned S3 URLs, checked byte for byte against botocore in the end-to-end tests.
/// Paths follow S3's rule: the object key is percent-encoded once (slashes kept) and never normalized.
public enum SigV4 {
  public static let algorithm = "AWS4-HMAC-SHA256"
  public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

  /// RFC 3986 encoding: only `A-Z a-z 0-9 - _ . ~` kept (and `/` when `keepSlash`), upper-case hex.
  public static func encode(_ text: String, keepSlash: Bool = false) -> String {
    PercentEncoding.encode(text, keepSlash: keepSlash)
  }

  /// Pairs (not yet encoded) → `name=value&…`, encoded, sorted by encoded name then encoded value.
  public static func canonicalQuery(_ pairs: [(String, String)]) -> String {
    pairs.map { (encode($0.0), encode($0.1)) }
      .sorted { a, b in
        a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
      }
      .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
  }

  /// Names lower-cased, values trimmed with inner whitespace runs folded to one space, repeated names
  /// merged with `,` in the order given, sorted by name. Returns the block (each line ends `\n`) and
  /// the signed-headers list.
  public static func canonicalHeaders(_ headers: [(String, String)]) -> (block: String, signed: String) {
    var merged: [String: String] = [:]
    for (name, value) in headers {
      let key = name.lowercased().trimmingWhitespace()
      let clean = SignedURLRequest.collapse(value)
      merged[key] = merged[key].map { $0 + "," + clean } ?? clean
    }
    let names = merged.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    return (names.map { "\($0):\(merged[$0]!)\n" }.joined(), names.joined(separator: ";"))
  }

  /// `METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n PAYLOAD`; `uri` is already encoded.
  public static func canonicalRequest(
    method: String, uri: String, query: String, headers: [(String, String)], payloadHash: String
  ) -> (request: String, signedHeaders: String) {
    let (block, signed) = canonicalHeaders(headers)
    return ([method, uri, query, block, signed, payloadHash].joined(separator: "\n"), signed)
  }

  /// `date/region/service/aws4_request`; `date` is `YYYYMMDD`.
  public static func scope(date: String, region: String, service: String) -> String {
    "\(date)/\(region)/\(service)/aws4_request"
  }

  public static func stringToSign(datetime: String, scope: String, canonicalRequest: String) -> String {
    "\(algorithm)\n\(datetime)\n\(scope)\n\(sha256Hex(canonicalRequest))"
  }

  /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
  public static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
    var key = hmac(Array(("AWS4" + secret).utf8), date)
    key = hmac(key, region)
    key = hmac(key, service)
    return hmac(key, "aws4_request")
  }

  public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
    Hex.lower(hmac(signingKey, stringToSign))
  }

  public static func sha256Hex(_ text: String) -> String {
    Hex.lower(Array(SHA256.hash(data: Array(text.utf8))))
  }

  static func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
    Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
  }
}

extension String {
  func trimmingWhitespace() -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
      let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
    else { return "" }
    return String(scalars[first...last])
  }
}

/// Credentials for SigV4. The secret and token never appear in output or errors.
public struct AWSCredentials: Sendable {
  public var accessKeyID: String
  let secretAccessKey: String
  let sessionToken: String?

  public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
  }

  public var hasSessionToken: Bool { sessionToken != nil }
}

/// A presigned S3 URL (query-string authentication), as botocore's `generate_presigned_url` makes it.
public struct S3PresignRequest: Sendable {
  public enum Style: String, Sendable, CaseIterable {
    case path
    case virtual
  }

  public var bucket: String
  public var key: String
  public var method: String
  public var expiresSeconds: Int64
  public var at: Timestamp
  public var region: String
  public var headers: [(String, String)]
  public var query: [(String, String)]
  public var style: Style
  /// `https://host[:port]` (an endpoint URL) or nil for AWS's own endpoint for the region.
  public var endpoint: String?

  public init(
    bucket: String, key: String, method: String, expiresSeconds: Int64, at: Timestamp, region: String,
    headers: [(String, String)] = [], query: [(String, String)] = [], style: Style = .virtual, endpoint: String? = nil
  ) {
    self.bucket = bucket
    self.key = key
    self.method = method
    self.expiresSeconds = expiresSeconds
    self.at = at
    self.region = region
    self.headers = headers
    self.query = query
    self.style = style
    self.endpoint = endpoint
  }

  public static let methods = ["GET", "PUT", "DELETE", "HEAD", "POST"]

  /// Checks that need no credentials: bucket, method, expiry (1 s to 7 days), region, endpoint, headers.
  public func validate() throws(RexstoreError) {
    try S3PresignRequest.checkBucket(bucket)
    guard S3PresignRequest.methods.contains(method) else {
      throw RexstoreError.usage("--method must be one of \(S3PresignRequest.methods.joined(separator: ", "))")
    }
    guard expiresSeconds >= 1, expiresSeconds <= SignedURLRequest.maxExpirySeconds else {
      throw RexstoreError.usage("expiry must be between 1s and 7d (604800 seconds), got \(expiresSeconds)s")
    }
    guard !region.isEmpty, region.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
    else { throw RexstoreError.usage("invalid region '\(region)'") }
    if let endpoint {
      let (scheme, host) = S3PresignRequest.split(endpoint)
      guard scheme == "https" || scheme == "http", !host.isEmpty,
        host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && !"/?#@".unicodeScalars.contains($0) })
      else { throw RexstoreError.usage("invalid endpoint '\(endpoint)': http(s)://HOST[:PORT] only") }
    }
    if style == .virtual, bucket.contains(".") || bucket.contains("_") {
      throw RexstoreError.usage("bucket '\(bucket)' cannot be addressed virtual-host style; use --style path")
    }
    for (name, value) in headers {
      guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains($0) })
      else { throw RexstoreError.usage("invalid header name '\(name)'") }
      guard value.unicodeScalars.allSatisfy({ $0.isASCII }) else {
        throw RexstoreError.usage("header '\(name)' has a non-ASCII value; HTTP headers are ASCII")
      }
    }
  }

  /// S3 bucket names: 3-63 of lower-case letters, digits, `-`, `.` (and `_` for legacy path-style
  /// buckets), starting and ending with a letter or digit.
  static func checkBucket(_ bucket: String) throws(RexstoreError) {
    let allowed = bucket.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || $0 == "_"
    }
    let edges = [bucket.unicodeScalars.first, bucket.unicodeScalars.last].allSatisfy {
      guard let c = $0 else { return false }
      return ("a"..."z").contains(c) || ("0"..."9").contains(c)
    }
    guard allowed, edges, bucket.count >= 3, bucket.count <= 63 else {
      throw RexstoreError.usage("invalid bucket name '\(bucket)'")
    }
  }

  static func split(_ endpoint: String) -> (scheme: String, host: String) {
    guard let range = endpoint.firstRange(of: "://") else { return ("https", endpoint) }
    var host = String(endpoint[range.upperBound...])
    while host.hasSuffix("/") { host.removeLast() }
    return (String(endpoint[..<range.lowerBound]).lowercased(), host)
  }

  public func sign(with credentials: AWSCredentials) throws(RexstoreError) -> SignedURLRequest.Result {
    try validate()
    let scheme: String
    var host: String
    if let endpoint {
      (scheme, host) = S3PresignRequest.split(endpoint)
      host = host.lowercased()
    } else {
      scheme = "https"
      // botocore's default: the global endpoint for us-east-1, the regional one elsewhere.
      host = region == "us-east-1" ? "s3.amazonaws.com" : "s3.\(region).amazonaws.com"
    }
    let keyPath = SigV4.encode(key, keepSlash: true)
    let uri: String
    switch style {
    case .path: uri = key.isEmpty ? "/\(bucket)" : "/\(bucket)/\(keyPath)"
    case .virtual:
      host = "\(bucket).\(host)"
      uri = "/\(keyPath)"
    }
    // Port 443 on https (80 on http) is left out of the signed host, as botocore does.
    var signedHost = host
    if scheme == "https", signedHost.hasSuffix(":443") { signedHost.removeLast(4) }
    if scheme == "http", signedHost.hasSuffix(":80") { signedHost.removeLast(3) }

    var signHeaders: [(String, String)] = headers.filter { $0.0.lowercased() != "host" }
    signHeaders.append(("host", signedHost))
    let datetime = SignedURLRequest.basicFormat(at)
    let scope = SigV4.scope(date: String(datetime.prefix(8)), region: region, service: "s3")
    let signedNames = SigV4.canonicalHeaders(signHeaders).signed
    var auth: [(String, String)] = [
      ("X-Amz-Algorithm", SigV4.algorithm), ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
      ("X-Amz-Date", datetime), ("X-Amz-Expires", String(expiresSeconds)), ("X-Amz-SignedHeaders", signedNames),
    ]
    if let token = credentials.sessionToken { auth.append(("X-Amz-Security-Token", token)) }
    // The caller's parameters first, in the order given (a repeated name keeps its last value, in its
    // first place), then the X-Amz-* ones, as botocore lays them out; a caller's X-Amz-* name gives way.
    var userQuery: [(String, String)] = []
    for (name, value) in query where !auth.contains(where: { $0.0 == name }) && name != "X-Amz-Signature" {
      if let i = userQuery.firstIndex(where: { $0.0 == name }) { userQuery[i].1 = value } else { userQuery.append((name, value)) }
    }
    let all = userQuery + auth
    let urlQuery = all.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
    let (canonical, _) = SigV4.canonicalRequest(
      method: method, uri: uri, query: SigV4.canonicalQuery(all), headers: signHeaders, payloadHash: "UNSIGNED-PAYLOAD")
    let stringToSign = SigV4.stringToSign(datetime: datetime, scope: scope, canonicalRequest: canonical)
    let key = SigV4.signingKey(
      secret: credentials.secretAccessKey, date: String(datetime.prefix(8)), region: region, service: "s3")
    let signature = SigV4.signature(signingKey: key, stringToSign: stringToSign)
    let url = "\(scheme)://\(host)\(uri)?\(urlQuery)&X-Amz-Signature=\(signature)"
    let mustSend = SigV4.canonicalHeaders(signHeaders.filter { $0.0.lowercased() != "host" })
    var send: [(String, String)] = []
    for line in mustSend.block.split(separator: "\n") {
      let colon = line.firstIndex(of: ":")!
      send.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
    }
    return SignedURLRequest.Result(
      url: url, method: method, expiresAt: at.adding(microseconds: expiresSeconds * 1_000_000), headers: send)
  }
}
