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
  /// Tables whose shape was checked on this connection.
  private var verifiedTables: Set<String> = []
  /// Set when the reader fell back to `immutable=1`: the file's size and mtime when it was opened.
  private var immutableStamp: [Int64]?

  public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) {
    self.path = path
    self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
  }

  /// Whether something is at `path`. A path that cannot be looked at (a directory on the way without
  /// search permission) counts as existing, so that it fails as permission denied, not as missing.
  public var exists: Bool {
    var st = stat()
    if stat(path, &st) == 0 { return true }
    return errno != ENOENT && errno != ENOTDIR
  }

  /// True when the connection reads an immutable snapshot (a database on a read-only mount).
  public var isImmutableSnapshot: Bool { immutableStamp != nil }

  /// The connection for reading. A missing file is an error, never created as a side effect.
  public func reader() throws(RexstoreError) -> Database {
    if let connection { return connection }
    try requireFile()
    return try open(reading: true)
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
    if let connection {
      if immutableStamp != nil { throw readOnlyMedia(writing: true) }
      db = connection
    } else {
      db = try open(reading: false)
    }
    if !prepared {
      do throws(RexstoreError) {
        try prepareForWriting(db)
      } catch {
        // A WAL switch or the -shm file failing on a read-only mount says "unable to open" (73).
        if error.code == .cannotCreate, !Store.isWritableDirectory(FileSystem.parent(of: path)) {
          throw readOnlyMedia(writing: true)
        }
        throw error
      }
      prepared = true
    }
    return db
  }

  private func requireFile() throws(RexstoreError) {
    var st = stat()
    if stat(path, &st) != 0 {
      let err = errno
      guard err == ENOENT || err == ENOTDIR else { throw systemError("cannot look at database", path: path, errno: err) }
      throw RexstoreError(
        .noDatabase, "no database at '\(path)'",
        hint: "a write command or 'rexstore db upgrade' creates it; check --db/REXSTORE_DB")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      throw RexstoreError(.noInput, "'\(path)' is a directory, not a database file")
    }
  }

  /// Opens the file read-write (SQLite drops to read-only by itself when the file is not writable).
  ///
  /// SQLite opens lazily, so a reader also runs one small query: a WAL database needs its `-shm` file,
  /// and where that cannot be created (a read-only mount, a directory without write permission) the
  /// failure shows here. On a read-only file system with no `-wal` file the database cannot change, and
  /// it is reopened `immutable=1`; every other case is `permission_denied` with the reason. (SQLite reads
  /// a read-only WAL database when its `-shm` and `-wal` exist or can be created, or when it is opened
  /// immutable; immutable ignores any `-wal`, so it is used only when there is none.)
  /// Related SQLite documentation: <https://www.sqlite.org/wal.html#readonly>
  private func open(reading: Bool) throws(RexstoreError) -> Database {
    do throws(DatabaseError) {
      let db = try Database(path: path, mode: .readWrite, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      if reading { try probe(db) }
      connection = db
      return db
    } catch {
      if access(path, R_OK) != 0 { throw systemError("cannot open database", path: path) }
      guard error.resultCode == SQLITE_CANTOPEN || error.resultCode == SQLITE_READONLY else {
        throw error.rexstoreError(path: path)
      }
      guard !Store.isWritableDirectory(FileSystem.parent(of: path)) else { throw error.rexstoreError(path: path) }
      guard reading, Store.isOnReadOnlyFileSystem(path), !hasWriteAheadLog else {
        throw readOnlyMedia(writing: !reading)
      }
      let stamp = fileStamp()
      do throws(DatabaseError) {
        let db = try Database(path: path, mode: .immutable, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        try probe(db)
        connection = db
        immutableStamp = stamp
        return db
      } catch {
        throw error.rexstoreError(path: path)
      }
    }
  }

  static func isWritableDirectory(_ path: String) -> Bool { access(path, W_OK | X_OK) == 0 }

  static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
    var fs = statvfs()
    return statvfs(path, &fs) == 0 && (fs.f_flag & UInt(ST_RDONLY)) != 0
  }

  private func probe(_ db: Database) throws(DatabaseError) {
    let stmt = try db.prepare("SELECT count(*) FROM sqlite_master")
    _ = try stmt.step()
  }

  private var hasWriteAheadLog: Bool { (FileSystem.fileSize(path + "-wal") ?? 0) > 0 }

  private func fileStamp() -> [Int64] {
    var st = stat()
    guard stat(path, &st) == 0 else { return [] }
    return [Int64(st.st_size), Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec), Int64(st.st_ino)]
  }

  /// After a read through an immutable connection: the file must be as it was when opened (a read-only
  /// bind mount of a file system written elsewhere could change under it), else the answer may be wrong.
  public func confirmSnapshot() throws(RexstoreError) {
    guard let immutableStamp else { return }
    if fileStamp() != immutableStamp || hasWriteAheadLog {
      throw RexstoreError(
        .dbLocked, "'\(path)' changed while it was read as a read-only snapshot",
        hint: "retry; the file is on a read-only mount that another system writes to")
    }
  }

  private func readOnlyMedia(writing: Bool) -> RexstoreError {
    let where_ = Store.isOnReadOnlyFileSystem(path) ? "a read-only file system" : "a directory rexstore cannot write"
    if writing {
      return RexstoreError(.permissionDenied, "cannot write database '\(path)': it is on \(where_)")
    }
    return RexstoreError(
      .permissionDenied,
      "cannot read database '\(path)': it is in WAL mode on \(where_), and SQLite needs to create '\(path)-shm' "
        + (hasWriteAheadLog ? "to read its -wal file" : "beside it"),
      hint: hasWriteAheadLog
        ? "copy the database with its -wal file to a writable place, or let the app checkpoint it first"
        : "make the directory writable, or mount it read-only (rexstore then reads the file as immutable)")
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
    // Checked before the switch to WAL, so a foreign database is refused without being changed.
    let version = try db.retryingWhileBusy { () throws(DatabaseError) -> Int? in try rawSchemaVersion(db) } ?? 0
    if version > Schema.currentVersion { throw newerSchema(version) }
    let problems = try appTableProblems(db)
    let missing = problems.filter { $0.problem == TableShape.missing }
    // The DDL also creates indexes on the app's tables, which fails on a foreign table: say so first.
    if version < Schema.currentVersion || !missing.isEmpty,
      let foreign = problems.first(where: { $0.problem != TableShape.missing })
    {
      throw tableError(foreign.table, foreign.problem)
    }
    try db.retryingWhileBusy { () throws(DatabaseError) in
      let mode = try db.cached("PRAGMA journal_mode=WAL")
      defer { mode.reset() }
      _ = try mode.step()
    }
    if version == Schema.currentVersion, missing.isEmpty { return }
    if version < Schema.currentVersion {
      _ = try upgrade(db)
    } else {
      // rexstore's tables are current but the app's are gone (its migration's `downgrade` drops
      // them): writes recreate them with the app's own DDL, as a first write would.
      try db.write { () throws(RexstoreError) in
        do throws(DatabaseError) {
          try db.execute(Schema.appTables)
        } catch {
          throw error.rexstoreError(path: path)
        }
      }
    }
  }

  /// The app's tables that are missing or foreign, each with what is wrong, in the app's order.
  public func appTableProblems(_ db: Database) throws(RexstoreError) -> [(table: String, problem: String)] {
    try db.retryingWhileBusy { () throws(DatabaseError) -> [(table: String, problem: String)] in
      var found: [(table: String, problem: String)] = []
      for shape in TableShape.app {
        if let problem = try shape.problem(in: db) { found.append((shape.name, problem)) }
      }
      return found
    }
  }

  /// Checks once per connection that `table` is there with the app's columns.
  func verify(_ db: Database, table: String) throws(RexstoreError) {
    guard !verifiedTables.contains(table), let shape = TableShape.named(table) else { return }
    let problem = try db.retryingWhileBusy { () throws(DatabaseError) -> String? in try shape.problem(in: db) }
    if let problem { throw tableError(table, problem) }
    verifiedTables.insert(table)
  }

  /// `schema_mismatch` (78): the database is not what the app and rexstore share, a configuration
  /// problem (wrong `--db`, or tables dropped or made by something else), never an empty answer.
  public func tableError(_ table: String, _ problem: String) -> RexstoreError {
    if problem == TableShape.missing {
      return RexstoreError(
        .schemaMismatch, "table '\(table)' is missing from '\(path)'",
        hint: "'rexstore db upgrade' creates the app's tables (the app's migration 'downgrade' drops them); check --db")
    }
    return RexstoreError(
      .schemaMismatch, "table '\(table)' in '\(path)' is not the app's: \(problem)",
      hint: "check --db; rexstore reads and writes only the app's schema")
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
    let result = try db.retryingWhileBusy { () throws(DatabaseError) -> T in try body(db) }
    try confirmSnapshot()
    return result
  }

  /// Runs a read of one of the app's tables: a missing or foreign table is `schema_mismatch` (78),
  /// never an empty answer.
  ///
  /// The table check and the read share one read transaction: one snapshot, and one round of WAL
  /// read locks instead of one per statement (a point read ran six).
  public func reading<T>(table: String, _ body: (Database) throws(DatabaseError) -> T) throws(RexstoreError) -> T {
    let db = try reader()
    let result = try db.read { () throws(RexstoreError) -> T in
      try verify(db, table: table)
      return try db.retryingWhileBusy { () throws(DatabaseError) -> T in try body(db) }
    }
    try confirmSnapshot()
    return result
  }

  /// Runs a read that answers `empty` when its table does not exist yet (a database the app created
  /// before it had pattern storage): nothing stored is an empty answer, not a fault.
  public func reading<T>(
    emptyResult empty: T, _ body: (Database) throws(DatabaseError) -> T
  ) throws(RexstoreError) -> T {
    let db = try reader()
    let result = try db.retryingWhileBusy { () throws(DatabaseError) -> T in
      do throws(DatabaseError) {
        return try body(db)
      } catch {
        if error.isMissingTable { return empty }
        throw error
      }
    }
    try confirmSnapshot()
    return result
  }

  /// Runs `body` in one write transaction; SQLite errors become `RexstoreError`s. With `table`, that
  /// table is first checked to have the app's columns.
  public func writing<T>(
    create: Bool = true, table: String? = nil, _ body: (Database) throws(DatabaseError) -> T
  ) throws(RexstoreError) -> T {
    let db = try writer(create: create)
    if let table { try verify(db, table: table) }
    return try db.write { () throws(RexstoreError) -> T in
      do throws(DatabaseError) {
        return try body(db)
      } catch {
        throw error.rexstoreError(path: path)
      }
    }
  }
}
