/// What one try of a remote request came to: an answer of any status, or no answer at all.
enum RemoteExchange {
  case response(HTTPResponse)
  case noAnswer(String)
}

/// A remote backend's HTTP client as the retry loop sees it: one try (`exchange`, which signs or
/// authorises the request and logs it), which answers deserve another try, and how a failure is worded.
/// `send` and `sendNotingRetries` are written once here for every backend.
protocol RetryingClient {
  var retryPolicy: RetryPolicy { get }
  func exchange(
    _ make: () -> HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)?,
    onHead: ((Int, [String: String]) -> Void)?, attempt: Int?
  ) throws(RexstoreError) -> RemoteExchange
  /// 408, 429, 5xx, and whatever else the service documents as "try again".
  func isRetryable(_ response: HTTPResponse) -> Bool
  func unreachable(_ what: String, _ message: String) -> RexstoreError
  func failure(_ what: String, _ response: HTTPResponse) -> RexstoreError
}

extension RetryingClient {
  /// Sends with retries for retryable answers and lost connections; other answers are returned as they are.
  func send(
    _ what: String, _ make: () -> HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)? = nil,
    onHead: ((Int, [String: String]) -> Void)? = nil
  ) throws(RexstoreError) -> HTTPResponse {
    try sendNotingRetries(what, make, sink: sink, onHead: onHead).response
  }

  /// `send`, also telling whether an earlier try may have taken effect unseen (no answer, or a 5xx
  /// after the server may have acted): a create-only write's 412 or a delete's 404 may then be our
  /// own earlier try's doing.
  func sendNotingRetries(
    _ what: String, _ make: () -> HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(RexstoreError) -> Void)? = nil,
    onHead: ((Int, [String: String]) -> Void)? = nil
  ) throws(RexstoreError) -> (response: HTTPResponse, retried: Bool) {
    var retried = false
    let response = try retryPolicy.run { attempt throws(RexstoreError) -> RetryPolicy.Outcome<HTTPResponse> in
      switch try exchange(make, sink: sink, onHead: onHead, attempt: attempt) {
      case .noAnswer(let message):
        retried = true
        return .retry(unreachable(what, message), retryAfterSeconds: nil)
      case .response(let response):
        if isRetryable(response) {
          retried = true
          return .retry(failure(what, response), retryAfterSeconds: response.header("retry-after").flatMap { Int($0) })
        }
        return .done(response)
      }
    }
    return (response, retried)
  }

  /// A DELETE made safe to retry by its precondition (a generation, an ETag): true when it deleted,
  /// false when there was nothing to delete; a 404 after a try whose answer was lost means that try
  /// did the deleting; a 412 means the object was replaced meanwhile (conflict, nothing deleted).
  func conditionalDelete(_ what: String, _ make: () -> HTTPRequest) throws(RexstoreError) -> Bool {
    let (response, retried) = try sendNotingRetries(what, make)
    switch response.status {
    case 200, 204: return true
    case 404: return retried
    case 412: throw RexstoreError(.conflict, "cannot \(what): it was replaced meanwhile; nothing deleted")
    default: throw failure(what, response)
    }
  }
}
