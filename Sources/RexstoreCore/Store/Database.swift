import CSQLite
import Glibc

/// SQLite's own error, kept with its result codes until it is mapped to a `RexstoreError`.
public struct DatabaseError: Error, Sendable {
  public var resultCode: Int32
  public var extendedCode: Int32
  public var message: String

  /// `no such table` on a read means the database predates rexstore's tables: an empty answer, not a fault.
  public var isMissingTable: Bool {
    resultCode == SQLITE_ERROR && message.hasPrefix("no such table")
  }

  /// Maps on the primary result code, as GRDB's `ResultCode` matching does.
  public func rexstoreError(path: String) -> RexstoreError {
    let detail = "\(message) (\(path))"
    switch resultCode {
    case SQLITE_BUSY, SQLITE_LOCKED:
      return RexstoreError(.dbLocked, "database is busy: \(detail)", hint: "retry, or raise --busy-timeout")
    case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH:
      return RexstoreError(.permissionDenied, "database is read-only or not permitted: \(detail)")
    case SQLITE_CORRUPT, SQLITE_NOTADB:
      return RexstoreError(.dbCorrupt, "not a usable SQLite database: \(detail)")
    case SQLITE_IOERR, SQLITE_FULL:
      return RexstoreError(.ioError, "database I/O error: \(detail)")
    case SQLITE_CANTOPEN:
      return RexstoreError(.cannotCreate, "cannot open database: \(detail)")
    case SQLITE_CONSTRAINT:
      return RexstoreError(.conflict, "constraint failed: \(detail)")
    case SQLITE_INTERRUPT:
      return RexstoreError(.interrupted, "interrupted")
    default:
      return RexstoreError(.internal, "SQLite error \(extendedCode): \(detail)")
    }
  }
}

/// One SQLite connection, used from one thread.
///
/// Modelled on GRDB's shapes (typed errors, statements, transaction closures) at a fraction of the size.
/// Related SQLite documentation: <https://www.sqlite.org/c3ref/open.html>
public final class Database {
  public let path: String
  let handle: OpaquePointer
  private var statementCache: [String: Statement] = [:]

  public enum Mode: Sendable {
    case readOnly
    case readWrite
    /// Read-only with SQLite's `immutable=1` URI parameter: no locks, no `-shm`. Only for a file that
    /// cannot change while it is open (a database on a read-only mount with no `-wal` beside it).
    /// Related SQLite documentation: <https://www.sqlite.org/uri.html#uriimmutable>
    case immutable
  }

  public let busyTimeoutMilliseconds: Int32

  public convenience init(path: String, mode: Mode, busyTimeoutMilliseconds: Int32) throws(DatabaseError) {
    try self.init(file: FilePathBytes(path), mode: mode, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
  }

  /// Opens a database named by bytes (a user's `db backup DEST` or `db restore SRC`): SQLite's unix
  /// VFS hands the name to open(2) as it is. `path` is its display form.
  public init(file: FilePathBytes, mode: Mode, busyTimeoutMilliseconds: Int32) throws(DatabaseError) {
    _ = Database.configured
    self.path = file.display
    self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    var db: OpaquePointer?
    var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
    var name = file.cString
    switch mode {
    case .readOnly: flags |= SQLITE_OPEN_READONLY
    case .readWrite: flags |= SQLITE_OPEN_READWRITE
    case .immutable:
      flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
      name = Array(("file:" + Database.uriEscaped(file.bytes) + "?immutable=1").utf8CString)
    }
    let rc = sqlite3_open_v2(name, &db, flags, nil)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      if let db { sqlite3_close_v2(db) }
      throw DatabaseError(resultCode: rc & 0xFF, extendedCode: rc, message: message)
    }
    handle = db
    sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
  }

  /// Process-wide SQLite settings, applied once before the first connection: no memory statistics
  /// (a mutex around every allocation; `pattern import` spent about 3% of its time there).
  private static let configured: Void = { _ = rexstore_sqlite3_disable_memstatus() }()

  /// A path as the path part of a `file:` URI: `%`, `?` and `#` (and bytes outside printable ASCII)
  /// percent-encoded, everything else as is.
  static func uriEscaped(_ path: String) -> String { uriEscaped(Array(path.utf8)) }

  static func uriEscaped(_ path: [UInt8]) -> String {
    var out = ""
    for byte in path {
      switch byte {
      case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x21, 0x7F...0xFF:
        let hex = Array("0123456789ABCDEF".utf8)
        out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
      default:
        out.unicodeScalars.append(Unicode.Scalar(byte))
      }
    }
    return out
  }

  deinit {
    statementCache.removeAll()
    sqlite3_close_v2(handle)
  }

  func error(_ rc: Int32) -> DatabaseError {
    DatabaseError(
      resultCode: rc & 0xFF, extendedCode: sqlite3_extended_errcode(handle),
      message: String(cString: sqlite3_errmsg(handle)))
  }

  /// Runs one or more statements that return no rows.
  public func execute(_ sql: String) throws(DatabaseError) {
    let rc = sqlite3_exec(handle, sql, nil, nil, nil)
    guard rc == SQLITE_OK else { throw error(rc) }
  }

  /// A prepared statement, reused for the life of the connection (hot loops such as `pattern import`).
  public func cached(_ sql: String) throws(DatabaseError) -> Statement {
    if let statement = statementCache[sql] {
      statement.reset()
      return statement
    }
    let statement = try Statement(database: self, sql: sql)
    statementCache[sql] = statement
    return statement
  }

  public func prepare(_ sql: String) throws(DatabaseError) -> Statement {
    try Statement(database: self, sql: sql)
  }

  public var changes: Int { Int(sqlite3_changes64(handle)) }

  /// Runs `body` in a write transaction taken up front (`BEGIN IMMEDIATE`).
  ///
  /// Taking the write lock first is what makes the busy timeout apply: a deferred transaction that
  /// upgrades from read to write can fail with `SQLITE_BUSY` at once, without waiting.
  /// Related SQLite documentation: <https://www.sqlite.org/lang_transaction.html>
  public func write<T>(_ body: () throws(RexstoreError) -> T) throws(RexstoreError) -> T {
    try retryingWhileBusy { () throws(DatabaseError) in try execute("BEGIN IMMEDIATE") }
    do throws(RexstoreError) {
      let result = try body()
      do throws(DatabaseError) {
        try execute("COMMIT")
      } catch {
        throw error.rexstoreError(path: path)
      }
      return result
    } catch {
      _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
      throw error
    }
  }

  /// Runs `step` again while SQLite answers `SQLITE_BUSY`, until the busy timeout has passed.
  ///
  /// The busy handler covers ordinary lock waits, but SQLite returns `SQLITE_BUSY` at once in a few
  /// cases: while another connection switches a new file to WAL or recovers the WAL index. Seen with
  /// eight processes creating one database together; only steps that did nothing yet are retried.
  public func retryingWhileBusy<T>(_ step: () throws(DatabaseError) -> T) throws(RexstoreError) -> T {
    let deadline = Timestamp.now().adding(microseconds: Int64(busyTimeoutMilliseconds) * 1_000)
    var pause: UInt32 = 1_000
    while true {
      do throws(DatabaseError) {
        return try step()
      } catch {
        guard error.resultCode == SQLITE_BUSY, Timestamp.now() < deadline else {
          throw error.rexstoreError(path: path)
        }
        usleep(pause)
        pause = min(pause * 2, 50_000)
      }
    }
  }

  /// Runs `body` in one read transaction, so multi-statement reads see one snapshot.
  public func read<T>(_ body: () throws(RexstoreError) -> T) throws(RexstoreError) -> T {
    do throws(DatabaseError) {
      try execute("BEGIN")
    } catch {
      throw error.rexstoreError(path: path)
    }
    defer { _ = sqlite3_exec(handle, "COMMIT", nil, nil, nil) }
    return try body()
  }
}
