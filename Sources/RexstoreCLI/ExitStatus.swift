import RexstoreCore

/// The exit status of each error code (DESIGN.md §3), in one place.
public enum ExitStatus {
  public static let success: Int32 = 0

  public static func of(_ code: ErrorCode) -> Int32 {
    switch code {
    case .notFound: return 1
    case .usage, .unknownCommand, .unknownOption: return 64
    case .invalidInput, .conflict, .dbCorrupt: return 65
    // rsync's status for the same guard ("The --max-delete limit stopped deletions").
    case .limitExceeded: return 25
    case .noInput, .noDatabase: return 66
    case .unavailable: return 69
    case .internal: return 70
    case .cannotCreate: return 73
    case .ioError: return 74
    case .dbLocked, .rateLimited, .busy: return 75
    case .permissionDenied: return 77
    case .config, .schemaMismatch: return 78
    case .interrupted: return 130
    }
  }
}
