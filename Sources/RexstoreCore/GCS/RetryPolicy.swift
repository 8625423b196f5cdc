import CSupport
import Glibc

/// Truncated exponential backoff with full jitter (each wait is uniform in [0, min(cap, base·2ⁿ)]),
/// bounded both in attempts and in total time, as Google's retry strategy page recommends. Jitter
/// keeps many cron jobs that failed together from retrying together.
public struct RetryPolicy: Sendable {
  /// Tries in all, the first included.
  public var attempts: Int
  public var baseDelayMilliseconds: Int
  public var maxDelayMilliseconds: Int
  /// No retry starts after this long since the first try.
  public var deadlineMilliseconds: Int

  public init(attempts: Int = 5, baseDelayMilliseconds: Int = 500, maxDelayMilliseconds: Int = 16_000,
              deadlineMilliseconds: Int = 60_000) {
    self.attempts = attempts
    self.baseDelayMilliseconds = baseDelayMilliseconds
    self.maxDelayMilliseconds = maxDelayMilliseconds
    self.deadlineMilliseconds = deadlineMilliseconds
  }

  /// What one try came to: an answer, or a failure worth another try (a server's `Retry-After`, in
  /// seconds, replaces the drawn wait when it is shorter than the cap).
  public enum Outcome<Value> {
    case done(Value)
    case retry(RexstoreError, retryAfterSeconds: Int?)
  }

  /// Runs `body` until it is done, throws, or the budget is spent; then the last failure is thrown,
  /// its message saying how many tries were made.
  public func run<Value>(_ body: (Int) throws(RexstoreError) -> Outcome<Value>) throws(RexstoreError) -> Value {
    let start = Monotonic.milliseconds()
    var attempt = 1
    while true {
      switch try body(attempt) {
      case .done(let value): return value
      case .retry(var error, let retryAfter):
        var wait = Int(UInt64(rexstore_random32()) * UInt64(ceiling(attempt)) / UInt64(UInt32.max))
        if let retryAfter, retryAfter * 1000 <= maxDelayMilliseconds { wait = retryAfter * 1000 }
        let elapsed = Monotonic.milliseconds() - start
        guard attempt < attempts, elapsed + wait < deadlineMilliseconds else {
          if attempt > 1 { error.message += " (after \(attempt) attempts)" }
          throw error
        }
        Monotonic.sleep(milliseconds: wait)
        attempt += 1
      }
    }
  }

  private func ceiling(_ attempt: Int) -> Int {
    let shift = min(attempt - 1, 30)
    return min(maxDelayMilliseconds, baseDelayMilliseconds << shift)
  }
}

public enum Monotonic {
  public static func milliseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
  }

  static func sleep(milliseconds: Int) {
    guard milliseconds > 0 else { return }
    var wait = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var left = timespec()
    while nanosleep(&wait, &left) != 0 && errno == EINTR { wait = left }
  }
}

/// The clock as Unix seconds, for token expiry.
enum WallClock {
  static func seconds() -> Int { Int(time(nil)) }
}
