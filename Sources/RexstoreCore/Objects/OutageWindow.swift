import CSupport
import Glibc

/// A remote's outage remembered across invocations, so that a cron burst or a runbook loop during an
/// outage does not wait out the whole retry budget on every call (issue 10).
///
/// The first call that gives up on GCS writes `.rexstore-outage` in the local root (a temporary
/// renamed into place, so concurrent writers and readers never see half a file). Calls within
/// `window` of it go straight to the fallback and say so; the first call after the window tries GCS
/// again, and a call that reaches GCS removes the file. A root that cannot be written just means
/// nothing is remembered.
public struct OutageWindow: Sendable {
  public let path: String
  public let windowMicroseconds: Int64
  /// How messages name the remote (`GCS`, `S3`).
  public let remote: String

  public init(root: String, windowMicroseconds: Int64, remote: String = "GCS") {
    self.path = root + "/.rexstore-outage"
    self.windowMicroseconds = windowMicroseconds
    self.remote = remote
  }

  /// The outage another call saw within the window, as the error to act on; nil when none.
  public func recent(now: Timestamp = .now()) -> RexstoreError? {
    guard windowMicroseconds > 0, let text = try? FileSystem.readSmallFile(path, limit: 4096),
      let value = try? JSONParser.parse(text), case .number(let at)? = value["at_us"], let seen = Int64(at)
    else { return nil }
    let age = now.microseconds - seen
    guard age >= 0, age < windowMicroseconds else { return nil }
    var reason = "\(remote) unavailable"
    if case .string(let s)? = value["reason"] { reason = s }
    var code = ErrorCode.unavailable
    if case .string(let c)? = value["code"], let known = ErrorCode(rawValue: c), FallbackObjectStore.isOutage(RexstoreError(known, "")) {
      code = known
    }
    return RexstoreError(
      code,
      "\(reason) (seen \(age / 1_000_000)s ago; \(remote) is not retried until \(windowMicroseconds / 1_000_000)s have passed)",
      hint: "set REXSTORE_OUTAGE_WINDOW=0s to retry on every call")
  }

  public func record(_ error: RexstoreError, now: Timestamp = .now()) {
    guard windowMicroseconds > 0, (try? FileSystem.makeDirectories(FileSystem.parent(of: path))) != nil else { return }
    // Only a regular file (or nothing) is ever replaced: something else planted under that name stays.
    var st = stat()
    if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG { return }
    let text = JSONValue.record([
      "at_us": .int(now.microseconds), "code": .string(error.code.rawValue), "reason": .string(error.message),
    ]).serialized(.compact)
    let temp = path + ".tmp-\(getpid())-\(rexstore_random32())"
    let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    let bytes = Array(text.utf8)
    let ok = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
    close(fd)
    if !ok || rename(temp, path) != 0 { unlink(temp) }
  }

  public func clear() {
    guard windowMicroseconds > 0 else { return }
    unlink(path)
  }
}
