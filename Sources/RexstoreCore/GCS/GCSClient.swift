/// Where and how to reach one bucket.
public struct GCSSettings: Sendable {
  /// `https://storage.googleapis.com`, an emulator (`STORAGE_EMULATOR_HOST`) or another endpoint.
  public var endpoint: String
  public var bucket: String
  public var retry: RetryPolicy
  public var timeouts: HTTPTimeouts
  /// How many profile samples upload at once.
  public var parallelUploads: Int
  /// Where copies of profile samples wait while a re-store overwrites them (unlinked files).
  public var spoolDirectory: String = "/tmp"
  /// Where they go when the spool directory cannot be written (`$TMPDIR`, else /tmp).
  public var temporaryDirectory: String = "/tmp"
  /// Objects larger than this are downloaded into a file as `slicedDownloadWidth` byte ranges in
  /// parallel (each on its own connection), verified by combining the ranges' CRC32C.
  public var slicedDownloadThreshold: Int64 = 32 << 20
  public var slicedDownloadWidth: Int = 4
  /// `-v`: told one line per request (method, URL with secrets masked, status or failure, attempt).
  public var requestLog: (@Sendable (String) -> Void)?

  public init(endpoint: String, bucket: String, retry: RetryPolicy = RetryPolicy(),
              timeouts: HTTPTimeouts = HTTPTimeouts(), parallelUploads: Int = 4) {
    self.endpoint = endpoint
    self.bucket = bucket
    self.retry = retry
    self.timeouts = timeouts
    self.parallelUploads = parallelUploads
  }

  /// `host:port` gets `http://` (what emulators speak); a trailing `/` is dropped.
  public static func normalizedEndpoint(_ text: String) -> String {
    var url = text.contains("://") ? text : "http://" + text
    while url.hasSuffix("/") { url.removeLast() }
    return url
  }
}

/// One connection's worth of GCS JSON API: authorisation, retries and error mapping. Every request
/// rexstore makes is idempotent or carries a generation precondition, so every one may be retried.
final class GCSClient {
  let settings: GCSSettings
  let tokens: TokenSource?
  let http: HTTPClient

  init(settings: GCSSettings, tokens: TokenSource?) throws(RexstoreError) {
    self.settings = settings
    self.tokens = tokens
    self.http = try HTTPClient(timeouts: settings.timeouts)
  }

  /// A second client for another thread, sharing the token source.
  func sibling() throws(RexstoreError) -> GCSClient { try GCSClient(settings: settings, tokens: tokens) }

  var bucketPath: String { settings.endpoint + "/storage/v1/b/" + PercentEncoding.encode(settings.bucket) }
  var uploadPath: String { settings.endpoint + "/upload/storage/v1/b/" + PercentEncoding.encode(settings.bucket) + "/o" }

  func objectURL(_ name: String) -> String { bucketPath + "/o/" + PercentEncoding.encode(name) }

  static func query(_ pairs: [(String, String?)]) -> String {
    let present = pairs.compactMap { pair in pair.1.map { "\(pair.0)=\(PercentEncoding.encode($0))" } }
    return present.isEmpty ? "" : "?" + present.joined(separator: "&")
  }

  /// A transport failure that no retry can fix (a malformed endpoint URL, say): a configuration
  /// mistake, which must fail loudly rather than quietly fall back.
  func hopeless(_ message: String) -> RexstoreError {
    RexstoreError(.config, "cannot use the GCS endpoint \(settings.endpoint): \(message)",
      hint: "check STORAGE_EMULATOR_HOST / REXSTORE_GCS_ENDPOINT")
  }

  /// The bucket itself is missing: a configuration mistake, not an absent object.
  func noBucket() -> RexstoreError {
    RexstoreError(.config, "bucket gs://\(settings.bucket) does not exist at \(settings.endpoint)",
      hint: "check GCS_BUCKET_NAME / --bucket")
  }

  /// One try, with a token. A 401 (a token revoked or expired early) gets one more try with a fresh token.
  func exchange(
    _ make: () -> HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)? = nil,
    onHead: ((Int, [String: String]) -> Void)? = nil, attempt: Int? = nil
  ) throws(RexstoreError) -> RemoteExchange {
    var refreshed = false
    while true {
      var request = make()
      let started = Monotonic.milliseconds()
      func note(_ outcome: String) {
        guard let log = settings.requestLog else { return }
        log(
          "\(request.method) \(GCSClient.masked(request.url)) -> \(outcome) in \(Monotonic.milliseconds() - started) ms"
            + (attempt.map { " (attempt \($0))" } ?? ""))
      }
      if let tokens, !tokens.credentials.isAnonymous {
        request.headers.append(("Authorization", "Bearer " + (try tokens.token(using: http, retry: settings.retry))))
      }
      do throws(HTTPFailure) {
        let response = try http.send(request, sink: sink, onHead: onHead)
        note("HTTP \(response.status)")
        if response.status == 401, let tokens, !tokens.credentials.isAnonymous, !refreshed {
          tokens.invalidate()
          refreshed = true
          continue
        }
        return .response(response)
      } catch {
        switch error {
        case .local(let failure):
          note("stopped (" + failure.message + ")")
          throw failure
        case .transport(let message, let retryable):
          note("no answer (" + ServerText.shown(message) + ")")
          if !retryable { throw hopeless(message) }
          return .noAnswer(message)
        }
      }
    }
  }

  static func isRetryable(_ status: Int) -> Bool { status == 408 || status == 429 || status >= 500 }

  /// A URL fit for a log line: the values of query parameters that are capabilities (a resumable
  /// session's id, signatures, tokens) are masked.
  static func masked(_ given: String) -> String {
    let url = URLText.maskingPasswords(in: given)
    guard let question = url.firstIndex(of: "?") else { return url }
    let secret: Set<String> = [
      "upload_id", "access_token", "key", "token", "x-goog-signature", "x-goog-credential", "x-amz-signature",
      "x-amz-credential", "x-amz-security-token", "signature", "sig",
    ]
    let pairs = url[url.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
      guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
      let name = pair[..<eq]
      return secret.contains(name.lowercased()) ? name + "=REDACTED" : String(pair)
    }
    return url[..<question] + "?" + pairs.joined(separator: "&")
  }

  func unreachable(_ what: String, _ message: String) -> RexstoreError {
    RexstoreError(.unavailable, "cannot \(what): no answer from \(URLText.maskingPasswords(in: settings.endpoint)) (\(message))")
  }

  /// The error for a status that is not a success, with GCS's own message when it sent one.
  func failure(_ what: String, _ response: HTTPResponse) -> RexstoreError {
    var detail = "HTTP \(response.status)"
    var words = ""
    if let json = try? JSONParser.parse(response.text), case .string(let message)? = json["error"]?["message"] {
      // The server's words, redacted and capped: they may quote a token or a signed URL back.
      words = message
      detail += ": " + ServerText.shown(message)
    }
    let message = "cannot \(what): GCS answered \(detail)"
    switch response.status {
    case 401, 403: return RexstoreError(.permissionDenied, message)
    case 404 where GCSClient.namesMissingBucket(words): return noBucket()
    case 404: return RexstoreError(.notFound, message)
    case 409, 412: return RexstoreError(.conflict, message)
    case 400: return RexstoreError(.invalidInput, message)
    case 429: return RexstoreError(.rateLimited, message)
    default: return RexstoreError(.unavailable, message)
    }
  }

  /// Whether a 404's words say the bucket is missing. A missing object's words name its bucket too
  /// (GCS: "No such object: BUCKET/NAME"; gcp-storage-emulator: "Object with name … does not exist in
  /// bucket …"), and bucket or object names may contain "bucket": those are never a missing bucket.
  static func namesMissingBucket(_ message: String) -> Bool {
    let words = message.lowercased()
    if words.hasPrefix("no such object") || words.hasPrefix("object ") { return false }
    return words.contains("bucket")
  }

  /// An object resource (`storage#object`) as rexstore reports it.
  static func objectInfo(_ json: JSONValue) -> ObjectInfo? {
    guard case .string(let name)? = json["name"] else { return nil }
    func text(_ key: String) -> String? {
      if case .string(let value)? = json[key] { return value }
      return nil
    }
    return ObjectInfo(
      name: name, size: text("size").flatMap { Int64($0) } ?? 0, md5: text("md5Hash"), crc32c: text("crc32c"),
      contentType: text("contentType"), backend: "gcs", updated: text("updated").flatMap(Timestamp.parse),
      version: text("generation"))
  }

  func objectInfo(_ what: String, _ response: HTTPResponse) throws(RexstoreError) -> ObjectInfo {
    guard let json = try? JSONParser.parse(response.text), let info = GCSClient.objectInfo(json) else {
      throw RexstoreError(.unavailable, "cannot \(what): GCS sent an unreadable object resource")
    }
    return info
  }
}

/// Lines from any thread, written one at a time (the `-v` request log; batch workers share it).
public final class LineLog: @unchecked Sendable {
  private let lock = Mutex()
  private let write: (String) -> Void

  public init(_ write: @escaping (String) -> Void) { self.write = write }

  public func callAsFunction(_ line: String) { lock.locked { write(line) } }
}

extension GCSClient: RetryingClient {
  var retryPolicy: RetryPolicy { settings.retry }
  func isRetryable(_ response: HTTPResponse) -> Bool { GCSClient.isRetryable(response.status) }
}
