import CCurl
import Glibc

/// An HTTP request as the GCS client builds it. Bodies are always of known length, so they stream
/// with a Content-Length and can be sent again from the start on a retry.
public struct HTTPRequest {
  public var method: String
  public var url: String
  public var headers: [(String, String)]
  public var body: HTTPBody

  public init(method: String, url: String, headers: [(String, String)] = [], body: HTTPBody = .empty) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
  }
}

public enum HTTPBody {
  case empty
  case bytes([UInt8])
  /// `length` bytes, pulled through `open()`, which returns a fresh reader each attempt.
  case stream(length: Int64, open: () -> (UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int)

  var length: Int64 {
    switch self {
    case .empty: return 0
    case .bytes(let bytes): return Int64(bytes.count)
    case .stream(let length, _): return length
    }
  }
}

public struct HTTPResponse: Sendable {
  public var status: Int
  /// Lower-cased names; repeated headers joined with ", ".
  public var headers: [String: String]
  /// The body, unless it went to a sink.
  public var body: [UInt8]

  public func header(_ name: String) -> String? { headers[name] }
  public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no complete answer: the network failed (retryable), or our own side of the
/// transfer did (a sink that could not write; never retried).
public enum HTTPFailure: Error {
  /// `retryable`: the connection failed, timed out or broke (worth another try), as opposed to a
  /// request that can never work (a malformed URL, an unsupported protocol).
  case transport(message: String, retryable: Bool)
  case local(RexstoreError)
}

/// How long to wait: for the connection, for a transfer that has stopped moving, and in all. The stall
/// limit alone would let a server that trickles a byte a second hold a request for ever, so every request
/// also has a deadline: `deadlineMilliseconds` for one without a body to move (a listing, a metadata
/// read, a token), plus one second per `transferBytesPerSecond` bytes of the body it sends or receives,
/// so a 1 GiB upload on a slow link is not cut off while a stuck listing still is.
public struct HTTPTimeouts: Sendable {
  public var connectMilliseconds: Int
  public var stallSeconds: Int
  public var deadlineMilliseconds: Int
  public var transferBytesPerSecond: Int64

  public init(
    connectMilliseconds: Int = 10_000, stallSeconds: Int = 60, deadlineMilliseconds: Int = 120_000,
    transferBytesPerSecond: Int64 = 64 * 1024
  ) {
    self.connectMilliseconds = connectMilliseconds
    self.stallSeconds = stallSeconds
    self.deadlineMilliseconds = deadlineMilliseconds
    self.transferBytesPerSecond = transferBytesPerSecond
  }

  /// The deadline of a request that moves `bytes` of body (sent and received).
  public func deadline(forBodyBytes bytes: Int64) -> Int {
    guard bytes > 0 else { return deadlineMilliseconds }
    let (scaled, overflow) = bytes.multipliedReportingOverflow(by: 1000)
    let extra = overflow ? Int64(Int32.max) : min(scaled / max(transferBytesPerSecond, 1), Int64(Int32.max))
    return deadlineMilliseconds + Int(extra)
  }
}

/// A small client over libcurl's easy interface. One handle per client keeps connections (and TLS
/// sessions) alive between requests of one process; redirects are never followed, since a resumable
/// upload's 308 is an answer, not a redirect. Not thread-safe: parallel work uses one client per thread.
public final class HTTPClient {
  private let handle: UnsafeMutableRawPointer
  public let timeouts: HTTPTimeouts

  public init(timeouts: HTTPTimeouts) throws(RexstoreError) {
    var reason = [CChar](repeating: 0, count: 256)
    guard rexstore_curl_load(&reason, reason.count) == 0 else {
      let message = reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
      throw RexstoreError(.unavailable, message)
    }
    guard let handle = rexstore_curl_easy_init() else { throw RexstoreError(.internal, "curl_easy_init failed") }
    self.handle = handle
    self.timeouts = timeouts
  }

  deinit { rexstore_curl_easy_cleanup(handle) }

  /// curl results that mean the network, not the request, failed: resolve, connect, TLS handshake,
  /// send/receive errors, a cut-short or empty answer, timeouts, HTTP/2 stream errors. A streamed body
  /// cut on a kept-alive connection makes curl want to resend it itself, which it cannot (no rewind:
  /// `CURLE_SEND_FAIL_REWIND`); that too is a broken connection, and our retry resends from the
  /// offset the server reports.
  static let retryableCodes: Set<UInt32> = [
    CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_PARTIAL_FILE, CURLE_OPERATION_TIMEDOUT,
    CURLE_SSL_CONNECT_ERROR, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_HTTP2,
    CURLE_HTTP2_STREAM, CURLE_READ_ERROR, CURLE_SEND_FAIL_REWIND,
  ].map(\.rawValue).reduce(into: []) { $0.insert($1) }

  /// Sends a request. A 2xx body goes to `sink` when one is given (a download), otherwise every body
  /// is kept in the response, error bodies capped at 64 KiB.
  ///
  /// `onHead` sees each final (non-1xx) status and its headers before any of the body.
  public func send(
    _ request: HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)? = nil,
    onHead: ((Int, [String: String]) -> Void)? = nil
  ) throws(HTTPFailure) -> HTTPResponse {
    rexstore_curl_easy_reset(handle)
    let transfer = Transfer(sink: sink)
    transfer.onHead = onHead
    if case .stream(_, let open) = request.body { transfer.reader = open() }
    if case .bytes(let bytes) = request.body { transfer.bytes = bytes }
    let context = Unmanaged.passRetained(transfer)
    defer { context.release() }
    var list: UnsafeMutablePointer<curl_slist>?
    defer { rexstore_curl_slist_free_all(list) }
    // curl waits up to a second for "100 Continue" before sending a body; GCS needs no such handshake.
    for line in request.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
      list = rexstore_curl_slist_append(list, line)
    }
    if request.headers.allSatisfy({ $0.0.lowercased() != "content-type" }), request.method == "POST" {
      list = rexstore_curl_slist_append(list, "Content-Type:")
    }

    _ = rexstore_curl_setopt_string(handle, CURLOPT_URL, request.url)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
    // A session URI comes from the server's Location header: never let it name file:// or the like.
    _ = rexstore_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
    _ = rexstore_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeouts.connectMilliseconds)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, timeouts.stallSeconds)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 1024 * 1024)
    _ = rexstore_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
    _ = rexstore_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, list)
    _ = rexstore_curl_setopt_write(handle, writeCallback, context.toOpaque())
    _ = rexstore_curl_setopt_header(handle, headerCallback, context.toOpaque())

    let length = request.body.length
    switch request.method {
    case "GET": _ = rexstore_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
    case "HEAD": _ = rexstore_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
    case "PUT":
      _ = rexstore_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
      _ = rexstore_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
    case "POST":
      _ = rexstore_curl_setopt_long(handle, CURLOPT_POST, 1)
      _ = rexstore_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(length))
    default:
      _ = rexstore_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
    }
    if request.method == "PUT" || request.method == "POST" {
      _ = rexstore_curl_setopt_read(handle, readCallback, context.toOpaque())
    }

    // The deadline: fixed for a request with no body to move; a body's size (the upload's length, a
    // download's Content-Length once known) adds to it, checked as the transfer progresses.
    transfer.started = Monotonic.milliseconds()
    transfer.timeouts = timeouts
    transfer.sentBytes = length
    transfer.countsDownload = sink != nil
    transfer.allowance = timeouts.deadline(forBodyBytes: length)
    if length == 0, sink == nil {
      _ = rexstore_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeouts.deadlineMilliseconds)
    }
    _ = rexstore_curl_setopt_progress(handle, progressCallback, context.toOpaque())

    let code = rexstore_curl_easy_perform(handle)
    if let failure = transfer.failure { throw .local(failure) }
    if transfer.timedOut || (code == CURLE_OPERATION_TIMEDOUT && length == 0 && sink == nil
      && Monotonic.milliseconds() - transfer.started >= timeouts.deadlineMilliseconds)
    {
      throw .transport(
        message: "no complete answer within the \(transfer.allowance / 1000) s deadline (gcs_deadline)", retryable: true)
    }
    guard code == CURLE_OK else {
      let message = String(cString: rexstore_curl_easy_strerror(code))
      throw .transport(message: message, retryable: HTTPClient.retryableCodes.contains(code.rawValue))
    }
    var status = 0
    _ = rexstore_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
  }
}

/// The state of one request that libcurl's callbacks reach through their user-data pointer.
private final class Transfer {
  let sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)?
  var reader: ((UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int)?
  var bytes: [UInt8] = []
  var sent = 0
  var status = 0
  var headers: [String: String] = [:]
  var body: [UInt8] = []
  var failure: RexstoreError?
  var onHead: ((Int, [String: String]) -> Void)?
  static let errorBodyLimit = 64 * 1024
  var started = 0
  var timeouts = HTTPTimeouts()
  var sentBytes: Int64 = 0
  var countsDownload = false
  var timedOut = false
  /// The deadline in force, in milliseconds from `started`.
  var allowance = 0

  /// Whether the request has run past its deadline, given what curl knows of the download's size.
  /// A download of unknown length (no Content-Length) is scaled by what has arrived so far.
  func overDeadline(downloadTotal: Int64, downloaded: Int64) -> Bool {
    allowance = timeouts.deadline(forBodyBytes: sentBytes + (countsDownload ? max(downloadTotal, downloaded, 0) : 0))
    if Monotonic.milliseconds() - started > allowance { timedOut = true }
    return timedOut
  }

  init(sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)?) { self.sink = sink }

  func header(_ line: UnsafeRawBufferPointer) {
    // Trim CR and LF as bytes: "\r\n" is a single Character, which a Character-wise trim misses.
    var end = line.count
    while end > 0, line[end - 1] == 0x0D || line[end - 1] == 0x0A { end -= 1 }
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<end]), as: UTF8.self)
    if text.hasPrefix("HTTP/") {
      // A new status line (after "100 Continue", say) starts a new set of headers.
      headers = [:]
      let parts = text.split(separator: " ", maxSplits: 2)
      status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
      return
    }
    if text.isEmpty {
      if status >= 200 { onHead?(status, headers) }
      return
    }
    guard let colon = text.firstIndex(of: ":") else { return }
    let name = text[..<colon].lowercased()
    let value = String(text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
    if let existing = headers[name] { headers[name] = existing + ", " + value } else { headers[name] = value }
  }

  func receive(_ data: UnsafeRawBufferPointer) -> Bool {
    if let sink, (200..<300).contains(status) {
      do throws(RexstoreError) {
        try sink(data)
      } catch {
        failure = error
        return false
      }
      return true
    }
    if body.count < Transfer.errorBodyLimit || sink == nil { body.append(contentsOf: data) }
    return true
  }

  func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int? {
    if let reader {
      do throws(RexstoreError) {
        return try reader(buffer)
      } catch {
        failure = error
        return nil
      }
    }
    let n = min(buffer.count, bytes.count - sent)
    if n > 0 {
      bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + sent, byteCount: n) }
      sent += n
    }
    return n
  }
}

private let writeCallback: rexstore_curl_data_callback = { data, size, count, user in
  let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  let length = size * count
  return transfer.receive(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let headerCallback: rexstore_curl_data_callback = { data, size, count, user in
  let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  transfer.header(UnsafeRawBufferPointer(start: data, count: size * count))
  return size * count
}

private let progressCallback: rexstore_curl_progress_callback = { user, downloadTotal, downloaded, _, _ in
  let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  return transfer.overDeadline(downloadTotal: Int64(downloadTotal), downloaded: Int64(downloaded)) ? 1 : 0
}

/// CURL_READFUNC_ABORT: stop the upload, the reader failed.
private let readAbort = 0x1000_0000

private let readCallback: rexstore_curl_data_callback = { data, size, count, user in
  let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  guard let n = transfer.fill(UnsafeMutableRawBufferPointer(start: data, count: size * count)) else {
    return readAbort
  }
  return n
}
