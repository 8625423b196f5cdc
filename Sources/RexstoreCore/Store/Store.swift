import CSQLite
import Glibc

/// The structured store: one SQLite file shared with the Python app.
///
/// The connection is opened on first use, so commands that never touch the database (help, version,
/// completion) never open it. Reads never create the file; writes create it (0600, directories 0700),
/// switch it to WAL and bring the schema up to date before their first transaction.
public final class Store {
  public let path: String
  public let busyTimeoutMilliseconds: Int32
  private var connection: Database?
  private var prepared = false

  public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) {
    self.path = path
    self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
  }

  public var exists: Bool { access(path, F_OK) == 0 }

  /// The connection for reading. A missing file is an error, never created as a side effect.
  public func reader() throws(RexstoreError) -> Database {
    if let connection { return connection }
    try requireFile()
    return try open()
  }

  /// The connection for writing, with WAL on and the schema current.
  ///
  /// - Parameter create: whether a missing file is created. Commands that only delete or maintain
  ///   (`rm`, `clear`, `prune`, `vacuum`) pass false: a cron job pointed at the wrong path should fail,
  ///   not leave an empty database there and report that it deleted nothing.
  public func writer(create: Bool = true) throws(RexstoreError) -> Database {
    if connection == nil {
      if !create { try requireFile() }
      if FileSystem.isDirectory(path) {
        throw RexstoreError(.cannotCreate, "'\(path)' is a directory, not a database file")
      }
      if !exists { try createFile() }
    }
    let db: Database
    if let connection { db = connection } else { db = try open() }
    if !prepared {
      try prepareForWriting(db)
      prepared = true
    }
    return db
  }

  private func requireFile() throws(RexstoreError) {
    guard exists else {
      throw RexstoreError(
        .noDatabase, "no database at '\(path)'",
        hint: "a write command or 'rexstore db upgrade' creates it; check --db/REXSTORE_DB")
    }
    if FileSystem.isDirectory(path) {
      throw RexstoreError(.noInput, "'\(path)' is a directory, not a database file")
    }
  }

  private func open() throws(RexstoreError) -> Database {
    do throws(DatabaseError) {
      let db = try Database(path: path, mode: .readWrite, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      connection = db
      return db
    } catch {
      if access(path, R_OK) != 0 { throw systemError("cannot open database", path: path) }
      throw error.rexstoreError(path: path)
    }
  }

  private func createFile() throws(RexstoreError) {
    try FileSystem.makeDirectories(FileSystem.parent(of: path))
    let fd = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    if fd >= 0 {
      close(fd)
    } else if errno != EEXIST {
      throw systemError("cannot create database", path: path)
    }
  }

  private func prepareForWriting(_ db: Database) throws(RexstoreError) {
    try db.retryingWhileBusy { () throws(DatabaseError) in
      let mode = try db.cached("PRAGMA journal_mode=WAL")
      defer { mode.reset() }
      _ = try mode.step()
    }
    let version = try db.retryingWhileBusy { () throws(DatabaseError) -> Int? in try rawSchemaVersion(db) } ?? 0
    if version == Schema.currentVersion { return }
    if version > Schema.currentVersion { throw newerSchema(version) }
    _ = try upgrade(db)
  }

  /// The schema version recorded by rexstore; 0 for a database only the app has used.
  public func schemaVersion(_ db: Database) throws(RexstoreError) -> Int {
    do throws(DatabaseError) {
      return try rawSchemaVersion(db) ?? 0
    } catch {
      throw error.rexstoreError(path: path)
    }
  }

  /// nil when rexstore's tables do not exist yet.
  private func rawSchemaVersion(_ db: Database) throws(DatabaseError) -> Int? {
    do {
      let stmt = try db.cached("SELECT value FROM rexstore_meta WHERE key = 'schema_version'")
      defer { stmt.reset() }
      guard try stmt.step() else { return 0 }
      return Int(stmt.text(0)) ?? 0
    } catch {
      if error.isMissingTable { return nil }
      throw error
    }
  }

  /// Applies every migration newer than the file's version in one transaction; returns those applied.
  public func upgrade(_ db: Database) throws(RexstoreError) -> [Schema.Migration] {
    try db.write { () throws(RexstoreError) -> [Schema.Migration] in
      let version = try schemaVersion(db)
      if version > Schema.currentVersion { throw newerSchema(version) }
      let pending = Schema.migrations.filter { $0.version > version }
      do throws(DatabaseError) {
        for migration in pending {
          try db.execute(migration.sql)
          try db.execute(
            "INSERT INTO rexstore_meta (key, value) VALUES ('schema_version', '\(migration.version)') "
              + "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        }
      } catch {
        throw error.rexstoreError(path: path)
      }
      return pending
    }
  }

  private func newerSchema(_ version: Int) -> RexstoreError {
    RexstoreError(
      .schemaMismatch,
      "database schema version \(version) is newer than this rexstore (\(Schema.currentVersion))",
      hint: "upgrade rexstore")
  }

  /// Runs a read; SQLite errors become `RexstoreError`s.
  public func reading<T>(_ body: (Database) throws(DatabaseError) -> T) throws(RexstoreError) -> T {
    let db = try reader()
    return try db.retryingWhileBusy { () throws(DatabaseError) -> T in try body(db) }
  }

  /// Runs a read that answers `empty` when its table does not exist yet (a database the app created
  /// before it had pattern storage): nothing stored is an empty answer, not a fault.
  public func reading<T>(
    emptyResult empty: T, _ body: (Database) throws(DatabaseError) -> T
  ) throws(RexstoreError) -> T {
    let db = try reader()
    return try db.retryingWhileBusy { () throws(DatabaseError) -> T in
      do throws(DatabaseError) {
        return try body(db)
      } catch {
        if error.isMissingTable { return empty }
        throw error
      }
    }
  }

  /// Runs `body` in one write transaction; SQLite errors become `RexstoreError`s.
  public func writing<T>(
    create: Bool = true, _ body: (Database) throws(DatabaseError) -> T
  ) throws(RexstoreError) -> T {
    let db = try writer(create: create)
    return try db.write { () throws(RexstoreError) -> T in
      do throws(DatabaseError) {
        return try body(db)
      } catch {
        throw error.rexstoreError(path: path)
      }
    }
  }
}
