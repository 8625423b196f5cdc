import CSQLite

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Bind with `bind(_:)` in parameter order, step with `step()`.
public final class Statement {
  let handle: OpaquePointer
  unowned let database: Database
  private var nextIndex: Int32 = 1

  init(database: Database, sql: String) throws(DatabaseError) {
    self.database = database
    var stmt: OpaquePointer?
    let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
    guard rc == SQLITE_OK, let stmt else { throw database.error(rc) }
    handle = stmt
  }

  deinit { sqlite3_finalize(handle) }

  /// A static empty C string.
  private static var empty: UnsafePointer<CChar> {
    UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
  }

  public func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
    nextIndex = 1
  }

  @discardableResult
  public func bind(_ values: SQLValue...) -> Statement {
    for value in values {
      switch value {
      case .null: sqlite3_bind_null(handle, nextIndex)
      case .integer(let v): sqlite3_bind_int64(handle, nextIndex, v)
      case .real(let v): sqlite3_bind_double(handle, nextIndex, v)
      // An explicit byte length: with -1 SQLite would stop at the first NUL and silently cut the value.
      // The string's own UTF-8 is handed over (SQLite copies it), not a temporary C string per bind.
      case .text(var v):
        v.withUTF8 { bytes in
          let start = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
          // A nil pointer would bind NULL; an empty string binds '' from a static byte.
          _ = sqlite3_bind_text(handle, nextIndex, start ?? Statement.empty, Int32(bytes.count), transient)
        }
      }
      nextIndex += 1
    }
    return self
  }

  /// Advances to the next row; false when done.
  public func step() throws(DatabaseError) -> Bool {
    let rc = sqlite3_step(handle)
    switch rc {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default:
      let error = database.error(rc)
      sqlite3_reset(handle)
      throw error
    }
  }

  /// Steps until done; for statements that return no rows.
  public func run() throws(DatabaseError) {
    while try step() {}
  }

  /// `SQLITE_INTEGER`, `SQLITE_FLOAT`, `SQLITE_TEXT`, `SQLITE_BLOB` or `SQLITE_NULL`: the storage class of
  /// this row's value (the app can store text in an INTEGER column).
  public func columnType(_ column: Int32) -> Int32 { sqlite3_column_type(handle, column) }

  public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

  public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

  public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

  public func text(_ column: Int32) -> String {
    guard let bytes = sqlite3_column_text(handle, column) else { return "" }
    let count = Int(sqlite3_column_bytes(handle, column))
    return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
  }

  public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}

/// A value bound to a statement parameter.
public enum SQLValue: Sendable {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)

  public static func optional(_ text: String?) -> SQLValue { text.map(SQLValue.text) ?? .null }
}
