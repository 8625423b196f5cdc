/// Progress of long operations (batch transfers, migrate, import, user export and erase), for a
/// progress line. The core only counts; the CLI decides whether anything is shown (a terminal on
/// stderr, no `--quiet`) and how often. Without a reporter, counting costs one check.
public enum Progress {
  /// `(what, done, total)`; total nil when unknown (an import reading a pipe).
  public typealias Reporter = @Sendable (_ what: String, _ done: Int, _ total: Int?) -> Void

  /// Set by the CLI for one run; behind a lock, since in-process runs (the CLI tests) share it and
  /// transfers report from several threads.
  public static var reporter: Reporter? {
    get { reporterLock.locked { installed } }
    set { reporterLock.locked { installed = newValue } }
  }
  nonisolated(unsafe) private static var installed: Reporter?
  private static let reporterLock = Mutex()
  private static let lock = Mutex()
  nonisolated(unsafe) private static var counts: [String: Int] = [:]

  /// Reports `done` of `total` for `what`.
  public static func report(_ what: String, _ done: Int, _ total: Int?) {
    guard let reporter else { return }
    reporter(what, done, total)
  }

  /// Whether a progress line is shown (stderr a terminal, no --quiet): work that only the line needs
  /// (asking an object's size before a download) is done only then.
  public static var isShown: Bool { reporter != nil }

  /// Bytes of one transfer so far, `what` "bytes"; total nil when unknown (a pipe).
  public static func bytes(_ done: Int64, of total: Int64?) {
    guard let reporter else { return }
    reporter("bytes", Int(done), total.map { Int($0) })
  }

  /// One more of `what` done (from any thread).
  public static func tick(_ what: String, total: Int?) {
    guard let reporter else { return }
    let done = lock.locked { () -> Int in
      counts[what, default: 0] += 1
      return counts[what]!
    }
    reporter(what, done, total)
  }
}

/// A sink that reports the bytes written through it (`audio get` of one object on a terminal).
public final class ProgressSink: ByteSink {
  private let inner: any ByteSink
  private let total: Int64?
  private var done: Int64 = 0

  public init(_ inner: any ByteSink, total: Int64?) {
    self.inner = inner
    self.total = total
  }

  public var discardsOnFailure: Bool { inner.discardsOnFailure }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    try inner.write(bytes)
    done += Int64(bytes.count)
    Progress.bytes(done, of: total)
  }
}
