import Crypto

/// One connection's worth of S3 REST API: SigV4 header signing, retries and error mapping.
/// Not thread-safe: parallel work uses one client per thread (`sibling()`).
final class S3Client {
  let settings: S3Settings
  /// nil: anonymous requests (a public bucket, or a server that checks no signature).
  let credentials: AWSCredentials?
  let http: HTTPClient
  /// The signing clock; tests pin it.
  let clock: @Sendable () -> Timestamp

  init(settings: S3Settings, credentials: AWSCredentials?, clock: @escaping @Sendable () -> Timestamp = { .now() })
    throws(RexstoreError)
  {
    self.settings = settings
    self.credentials = credentials
    self.clock = clock
    self.http = try HTTPClient(timeouts: settings.timeouts)
  }

  func sibling() throws(RexstoreError) -> S3Client {
    try S3Client(settings: settings, credentials: credentials, clock: clock)
  }

  var bucketLabel: String { "s3://\(settings.bucket)" }

  // MARK: - Requests

  /// A signed request for `key` (an empty key: the bucket). `query` values are not yet encoded.
  /// A body of bytes is hashed into the signature; a streamed body is sent as `UNSIGNED-PAYLOAD`
  /// (its integrity is the job of Content-MD5 and the CRC32C checksum header).
  func request(
    _ method: String, key: String, query: [(String, String)] = [], headers: [(String, String)] = [],
    body: HTTPBody = .empty
  ) -> HTTPRequest {
    let (scheme, host) = settings.origin
    let path = settings.path(key)
    let canonicalQuery = SigV4.canonicalQuery(query)
    let url = "\(scheme)://\(host)\(path)" + (canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)
    var all = headers
    if let credentials {
      let payloadHash: String
      switch body {
      case .empty: payloadHash = SigV4.emptyPayloadHash
      case .bytes(let bytes): payloadHash = S3Client.sha256Hex(bytes)
      case .stream: payloadHash = "UNSIGNED-PAYLOAD"
      }
      all += S3Client.authorization(
        method: method, scheme: scheme, host: host, path: path, query: canonicalQuery, headers: headers,
        payloadHash: payloadHash, credentials: credentials, region: settings.region, at: clock())
    }
    return HTTPRequest(method: method, url: url, headers: all, body: body)
  }

  static func sha256Hex(_ bytes: [UInt8]) -> String { Hex.lower(Array(SHA256.hash(data: bytes))) }

  /// The headers that sign a request (`Authorization: AWS4-HMAC-SHA256 ...` and the `x-amz-*` it
  /// covers), as botocore's S3SigV4Auth computes them: every header the caller sends is signed, with
  /// `host`, `x-amz-date` and `x-amz-content-sha256` (and the session token).
  static func authorization(
    method: String, scheme: String, host: String, path: String, query: String, headers: [(String, String)],
    payloadHash: String, credentials: AWSCredentials, region: String, at: Timestamp
  ) -> [(String, String)] {
    var signedHost = host.lowercased()
    if scheme == "https", signedHost.hasSuffix(":443") { signedHost.removeLast(4) }
    if scheme == "http", signedHost.hasSuffix(":80") { signedHost.removeLast(3) }
    let datetime = SignedURLRequest.basicFormat(at)
    let date = String(datetime.prefix(8))
    var added: [(String, String)] = [("x-amz-date", datetime), ("x-amz-content-sha256", payloadHash)]
    if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
    let signHeaders = headers + added + [("host", signedHost)]
    let (canonical, signed) = SigV4.canonicalRequest(
      method: method, uri: path, query: query, headers: signHeaders, payloadHash: payloadHash)
    let scope = SigV4.scope(date: date, region: region, service: "s3")
    let stringToSign = SigV4.stringToSign(datetime: datetime, scope: scope, canonicalRequest: canonical)
    let key = SigV4.signingKey(secret: credentials.secretAccessKey, date: date, region: region, service: "s3")
    let signature = SigV4.signature(signingKey: key, stringToSign: stringToSign)
    added.append((
      "Authorization",
      "\(SigV4.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"
    ))
    return added
  }

  // MARK: - Sending


  /// One try. A transport failure no retry can fix (a malformed endpoint) is a configuration error.
  func exchange(
    _ make: () -> HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)? = nil,
    onHead: ((Int, [String: String]) -> Void)? = nil, attempt: Int? = nil
  ) throws(RexstoreError) -> RemoteExchange {
    let request = make()
    let started = Monotonic.milliseconds()
    func note(_ outcome: String) {
      guard let log = settings.requestLog else { return }
      log("\(request.method) \(GCSClient.masked(request.url)) -> \(outcome) in \(Monotonic.milliseconds() - started) ms"
        + (attempt.map { " (attempt \($0))" } ?? ""))
    }
    do throws(HTTPFailure) {
      let response = try http.send(request, sink: sink, onHead: onHead)
      note("HTTP \(response.status)")
      return .response(response)
    } catch {
      switch error {
      case .local(let failure):
        note("stopped (" + failure.message + ")")
        throw failure
      case .transport(let message, let retryable):
        note("no answer (" + ServerText.shown(message) + ")")
        if !retryable {
          throw RexstoreError(
            .config, "cannot use the S3 endpoint \(URLText.maskingPasswords(in: settings.endpoint ?? "of \(settings.region)")): \(message)",
            hint: "check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL")
        }
        return .noAnswer(message)
      }
    }
  }

  /// 408, 429, 5xx, and S3's own "try again" answers (a 400 RequestTimeout, a 200 whose body is an
  /// error, which CompleteMultipartUpload may send after it started answering).
  static func isRetryable(_ response: HTTPResponse) -> Bool {
    let status = response.status
    if status == 408 || status == 429 || status >= 500 { return true }
    if status == 400, errorCode(response) == "RequestTimeout" { return true }
    return false
  }

  func unreachable(_ what: String, _ message: String) -> RexstoreError {
    RexstoreError(.unavailable, "cannot \(what): no answer from \(settings.origin.host) (\(message))")
  }

  func noBucket() -> RexstoreError {
    RexstoreError(
      .config, "bucket \(bucketLabel) does not exist at \(settings.origin.host)", hint: "check S3_BUCKET_NAME / --bucket")
  }

  /// The `<Code>` of an error body.
  static func errorCode(_ response: HTTPResponse) -> String? {
    guard !response.body.isEmpty, let xml = S3XML.parse(response.body), xml.name == "Error" else { return nil }
    return xml.value("Code")
  }

  /// The error for an answer that is not a success, with S3's code and message when it sent them.
  func failure(_ what: String, _ response: HTTPResponse) -> RexstoreError {
    var detail = "HTTP \(response.status)"
    let xml = response.body.isEmpty ? nil : S3XML.parse(response.body)
    let code = xml?.value("Code")
    if let code { detail += " \(ServerText.shown(code))" }
    if let message = xml?.value("Message") { detail += ": " + ServerText.shown(message) }
    let message = "cannot \(what): S3 answered \(detail)"
    switch (response.status, code) {
    case (_, "NoSuchBucket"): return noBucket()
    case (301, _), (_, "PermanentRedirect"), (_, "AuthorizationHeaderMalformed"):
      let region = response.header("x-amz-bucket-region").map { " (the bucket is in \(ServerText.shown($0)))" } ?? ""
      return RexstoreError(.config, message + region, hint: "check AWS_REGION")
    case (401, _), (403, _): return RexstoreError(.permissionDenied, message)
    case (404, _): return RexstoreError(.notFound, message)
    case (409, _), (412, _): return RexstoreError(.conflict, message)
    case (429, _), (503, "SlowDown"): return RexstoreError(.rateLimited, message)
    case (400, _): return RexstoreError(.invalidInput, message)
    default: return RexstoreError(.unavailable, message)
    }
  }
}

extension S3Client: RetryingClient {
  var retryPolicy: RetryPolicy { settings.retry }
  func isRetryable(_ response: HTTPResponse) -> Bool { S3Client.isRetryable(response) }
}
