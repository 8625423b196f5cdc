/// The closed list of error codes that scripts may match on.
///
/// The raw value is the `error.code` string of the JSON error line; the CLI maps each code to one exit
/// status (DESIGN.md §3). Messages may change between releases, codes may not.
public enum ErrorCode: String, Sendable, CaseIterable {
  case usage
  case unknownCommand = "unknown_command"
  case unknownOption = "unknown_option"
  case notFound = "not_found"
  case conflict
  case invalidInput = "invalid_input"
  case noInput = "no_input"
  case noDatabase = "no_database"
  case unavailable
  case `internal`
  case cannotCreate = "cannot_create"
  case ioError = "io_error"
  case dbLocked = "db_locked"
  case dbCorrupt = "db_corrupt"
  case permissionDenied = "permission_denied"
  case config
  case schemaMismatch = "schema_mismatch"
  case interrupted
  /// A safety limit (`--max-delete`) would have been exceeded; nothing was done.
  case limitExceeded = "limit_exceeded"
  /// The service kept answering 429 through every retry.
  case rateLimited = "rate_limited"
  /// A lock other than the database's (a dossier's) stayed held past the busy timeout.
  case busy
}

/// The one error type the core throws.
///
/// A struct rather than an enum of cases so new failure kinds do not break callers; `code` is the stable
/// part, `message` is for people.
public struct RexstoreError: Error, Sendable, Equatable, CustomStringConvertible {
  public var code: ErrorCode
  public var message: String
  /// An optional one-line suggestion ("did you mean ...", "add a unit ...").
  public var hint: String?

  public init(_ code: ErrorCode, _ message: String, hint: String? = nil) {
    self.code = code
    self.message = message
    self.hint = hint
  }

  public var description: String { "\(code.rawValue): \(message)" }

  public static func usage(_ message: String, hint: String? = nil) -> RexstoreError {
    RexstoreError(.usage, message, hint: hint)
  }

  public static func invalidInput(_ message: String) -> RexstoreError {
    RexstoreError(.invalidInput, message)
  }

  public static func notFound(_ message: String) -> RexstoreError {
    RexstoreError(.notFound, message)
  }
}
