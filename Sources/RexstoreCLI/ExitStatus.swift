import RexstoreCore

/// The exit status of each error code (DESIGN.md §3), in one place: `of` and the man page's EXIT
/// STATUS section are both read off `table`.
public enum ExitStatus {
  public static let success: Int32 = 0

  /// Each status, the codes that give it, and what it means (as the man page says it).
  static let table: [(status: Int32, codes: [ErrorCode], meaning: String)] = [
    (1, [.notFound], "negative answer: not found"),
    // rsync's status for the same guard ("The --max-delete limit stopped deletions").
    (25, [.limitExceeded], "a prune or erase would delete more than --max-delete; nothing deleted"),
    (64, [.usage, .unknownCommand, .unknownOption], "usage error"),
    (65, [.invalidInput, .conflict, .dbCorrupt], "bad input data, conflict, damaged database or data"),
    (66, [.noInput, .noDatabase], "input file or database missing"),
    (69, [.unavailable], "service unavailable: the remote out with fallback off, or on a delete"),
    (70, [.internal], "internal error"),
    (73, [.cannotCreate], "cannot create output"),
    (74, [.ioError], "I/O error, or bytes that do not match their checksums"),
    (75, [.dbLocked, .rateLimited, .busy], "database or dossier busy after the timeout, or the remote rate-limited after retries; retry"),
    (77, [.permissionDenied], "permission denied"),
    (78, [.config, .schemaMismatch], "configuration error"),
    (130, [.interrupted], "interrupted"),
  ]

  public static func of(_ code: ErrorCode) -> Int32 {
    table.first { $0.codes.contains(code) }?.status ?? 70
  }
}
