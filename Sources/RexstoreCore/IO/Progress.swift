/// Progress of long operations (batch transfers, migrate, import, user export and erase), for a
/// progress line. The core only counts; the CLI decides whether anything is shown (a terminal on
/// stderr, no `--quiet`) and how often. Without a reporter, counting costs one check.
public enum Progress {
  /// `(what, done, total)`; total nil when unknown (an import reading a pipe).
  public typealias Reporter = @Sendable (_ what: String, _ done: Int, _ total: Int?) -> Void

  nonisolated(unsafe) public static var reporter: Reporter?
  private static let lock = Mutex()
  nonisolated(unsafe) private static var counts: [String: Int] = [:]

  /// Reports `done` of `total` for `what`.
  public static func report(_ what: String, _ done: Int, _ total: Int?) {
    guard let reporter else { return }
    reporter(what, done, total)
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
