import CSQLite
import Glibc

/// `db status|upgrade|check|backup|vacuum`.
extension Store {
  public func status() throws(RexstoreError) -> JSONValue {
    guard exists else {
      return .record([
        "path": .string(path), "exists": .bool(false), "size_bytes": .null, "journal_mode": .null,
        "schema_version": .null, "binary_schema_version": .int(Schema.currentVersion),
        "upgrade_needed": .bool(true), "tables": .object([]),
      ])
    }
    let db = try reader()
    let version = try schemaVersion(db)
    let report = try db.read { () throws(RexstoreError) -> JSONValue in
      do throws(DatabaseError) {
        let mode = try db.prepare("PRAGMA journal_mode")
        _ = try mode.step()
        // An immutable connection reports "delete"; the file header says what the file is.
        let journalMode = isImmutableSnapshot && headerSaysWAL ? "wal" : mode.text(0)
        var tables: [JSONValue.Member] = []
        let exists = try db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        for table in Schema.tables {
          exists.reset()
          exists.bind(.text(table))
          var rows: JSONValue = .null
          let present = try exists.step()
          if present {
            let count = try db.prepare("SELECT count(*) FROM \"\(table)\"")
            _ = try count.step()
            rows = .int(count.int(0))
          }
          tables.append(.init(table, .record(["exists": .bool(present), "rows": rows])))
        }
        return .record([
          "path": .string(path), "exists": .bool(true), "size_bytes": FileSystem.fileSize(path).map(JSONValue.int) ?? .null,
          "journal_mode": .string(journalMode), "schema_version": .int(version),
          "binary_schema_version": .int(Schema.currentVersion),
          "upgrade_needed": .bool(version < Schema.currentVersion), "tables": .object(tables),
        ])
      } catch {
        throw error.rexstoreError(path: path)
      }
    }
    try confirmSnapshot()
    return report
  }

  /// Bytes 18 and 19 of the SQLite header are 2 for a WAL database.
  /// Related SQLite documentation: <https://www.sqlite.org/fileformat2.html#the_database_header>
  private var headerSaysWAL: Bool {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var header = [UInt8](repeating: 0, count: 20)
    let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 20, 0) }
    return n == 20 && header[18] == 2 && header[19] == 2
  }

  /// Creates the file if needed and applies pending migrations; recreates the app's tables when they
  /// are missing (its migration's `downgrade` drops them). A foreign table is `schema_mismatch`.
  public func upgradeSchema() throws(RexstoreError) -> JSONValue {
    var from = 0
    var missing = TableShape.app.map(\.name)
    if exists {
      let db = try reader()
      from = try schemaVersion(db)
      missing = try appTableProblems(db).filter { $0.problem == TableShape.missing }.map(\.table)
    }
    _ = try writer()
    let applied = Schema.migrations.filter { $0.version > from }
    return .record([
      "path": .string(path), "from_version": .int(from), "to_version": .int(Schema.currentVersion),
      "applied": .array(applied.map { .record(["version": .int($0.version), "summary": .string($0.summary)]) }),
      "created_tables": .array(missing.map(JSONValue.string)),
    ])
  }

  /// The app's tables that are missing or foreign, as one `schema_mismatch` error naming each; nil
  /// when all three are there with the app's columns.
  public func schemaProblem() throws(RexstoreError) -> RexstoreError? {
    let problems = try appTableProblems(try reader())
    guard let first = problems.first else { return nil }
    if problems.count == 1 { return tableError(first.table, first.problem) }
    let all = problems.map { "\($0.table): \($0.problem)" }.joined(separator: "; ")
    let anyMissing = problems.contains { $0.problem == TableShape.missing }
    return RexstoreError(
      .schemaMismatch, "the app's tables in '\(path)' are not usable: \(all)",
      hint: anyMissing ? "'rexstore db upgrade' creates missing tables; check --db" : "check --db")
  }

  /// `PRAGMA integrity_check` (or the faster `quick_check`); problems are reported as `db_corrupt`.
  public func check(quick: Bool) throws(RexstoreError) -> JSONValue {
    let pragma = quick ? "quick_check" : "integrity_check"
    let problems = try reading { db throws(DatabaseError) -> [String] in
      let stmt = try db.prepare("PRAGMA \(pragma)")
      var lines: [String] = []
      while try stmt.step() { lines.append(stmt.text(0)) }
      return lines == ["ok"] ? [] : lines
    }
    guard problems.isEmpty else {
      let shown = problems.prefix(5).joined(separator: "; ")
      throw RexstoreError(.dbCorrupt, "\(pragma) found \(problems.count) problem(s) in '\(path)': \(shown)")
    }
    if let schema = try schemaProblem() { throw schema }
    return .record(["path": .string(path), "ok": .bool(true), "check": .string(pragma)])
  }

  /// A consistent copy made with SQLite's online backup API while other processes keep writing.
  ///
  /// The copy is built in a temporary file next to `destination`, fsynced, made 0600 and renamed into
  /// place, so `destination` is either absent or a complete database. Only a regular file is ever
  /// replaced (with `overwrite`): an existing character device or FIFO is written into instead (the
  /// copy is built under `temporaryDirectory` first), anything else is refused. The live database
  /// (or its -wal, -shm, -journal) is never a destination (`conflict`), and a `destination` ending in
  /// `/` is a usage error, refused before anything is created. Backup temporaries of dead writers in
  /// the destination's directory are removed first.
  /// Related SQLite documentation: <https://www.sqlite.org/backup.html>
  public func backup(to destination: String, overwrite: Bool, temporaryDirectory: String = "/tmp") throws(RexstoreError) -> JSONValue {
    try backup(to: FilePathBytes(destination), overwrite: overwrite, temporaryDirectory: temporaryDirectory)
  }

  /// The same for a destination given as bytes (the user's DEST, passed to the file system unchanged;
  /// `destination` in the result is its display form).
  public func backup(to destination: FilePathBytes, overwrite: Bool, temporaryDirectory: String = "/tmp") throws(RexstoreError) -> JSONValue {
    if destination.hasTrailingSlash {
      throw RexstoreError.usage(
        "DEST '\(destination)' ends in '/': name the backup file, e.g. \(destination)rexstore.sqlite3")
    }
    try refuseLiveDatabase(destination)
    let source = try reader()
    var st = Glibc.stat()
    var streamInto = false
    var target = destination
    if lstat(destination.cString, &st) == 0 {
      if !overwrite {
        throw RexstoreError(.conflict, "'\(destination)' already exists", hint: "pass --force to replace it")
      }
      var kind = FileKind(st)
      if kind.isSymlink, stat(destination.cString, &st) == 0 {
        kind = FileKind(st)
        if kind.isRegular, let resolved = realpath(destination.cString, nil) {
          target = FilePathBytes(cString: resolved)
          free(resolved)
        }
      }
      switch kind.mode {
      case S_IFREG: break
      case S_IFCHR, S_IFIFO: streamInto = true
      case S_IFDIR: throw RexstoreError(.cannotCreate, "'\(destination)' is a directory")
      default:
        throw RexstoreError(
          .cannotCreate, "cannot write to '\(destination)': it is \(kind.description); only regular files are replaced")
      }
    }
    let directory = streamInto ? FilePathBytes(temporaryDirectory) : target.parent
    try FileSystem.makeDirectories(directory)
    if !streamInto { Store.removeAbandonedBackupTemporaries(in: directory) }
    let temp = directory + ("/." + (streamInto ? "backup" : target.baseName.display) + ".tmp-\(getpid())")
    let fd = open(temp.cString, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create backup", path: temp).asCannotCreate }
    close(fd)
    var pages: Int64 = 0
    var size: Int64?
    do throws(RexstoreError) {
      do throws(DatabaseError) {
        let target = try Database(file: temp, mode: .readWrite, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        guard let backup = sqlite3_backup_init(target.handle, "main", source.handle, "main") else {
          throw target.error(sqlite3_errcode(target.handle))
        }
        let deadline = Timestamp.now().adding(microseconds: Int64(busyTimeoutMilliseconds) * 1_000)
        var rc: Int32
        repeat {
          rc = sqlite3_backup_step(backup, -1)
          if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
            if Timestamp.now() > deadline { break }
            usleep(10_000)
          }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        pages = Int64(sqlite3_backup_pagecount(backup))
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
          throw DatabaseError(resultCode: rc & 0xFF, extendedCode: rc, message: String(cString: sqlite3_errstr(rc)))
        }
        // Leave a self-contained file: no -wal beside it.
        try target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
      } catch {
        throw error.rexstoreError(path: destination.display)
      }
      if streamInto {
        size = try Store.copy(temp, into: destination)
        Store.removeBackupTemporary(temp)
      } else {
        let sync = open(temp.cString, O_RDONLY | O_CLOEXEC)
        if sync >= 0 {
          fsync(sync)
          close(sync)
        }
        if overwrite {
          guard FileDownload.stillReplaceable(target) else {
            throw RexstoreError(.cannotCreate, "'\(destination)' is no longer a regular file; not replaced")
          }
          guard rename(temp.cString, target.cString) == 0 else { throw systemError("cannot rename backup into", path: destination) }
        } else {
          // link(2) refuses to replace a DEST created since the check above.
          guard link(temp.cString, target.cString) == 0 else {
            if errno == EEXIST {
              throw RexstoreError(.conflict, "'\(destination)' already exists", hint: "pass --force to replace it")
            }
            throw systemError("cannot link backup into", path: destination)
          }
          unlink(temp.cString)
        }
        FileSystem.syncDirectory(directory)
        size = FileSystem.fileSize(target)
      }
    } catch {
      Store.removeBackupTemporary(temp)
      throw error
    }
    return .record([
      "source": .string(path), "destination": .string(destination.display), "pages": .int(pages),
      "size_bytes": size.map(JSONValue.int) ?? .null,
    ])
  }

  /// Refuses a destination that is the live database or one of its companion files, by identity
  /// (same device and inode) or by name (a -wal that does not exist yet would be taken for one).
  func refuseLiveDatabase(_ destination: FilePathBytes) throws(RexstoreError) {
    let companions = ["", "-wal", "-shm", "-journal"]
    var dest = Glibc.stat()
    var live = Glibc.stat()
    let destExists = stat(destination.cString, &dest) == 0
    let canonicalDB = Store.canonical(FilePathBytes(path))
    let canonicalDest = Store.canonical(destination)
    for suffix in companions {
      let same =
        (destExists && stat(path + suffix, &live) == 0 && live.st_dev == dest.st_dev && live.st_ino == dest.st_ino)
        || (canonicalDB != nil && canonicalDest == canonicalDB! + suffix)
      if same {
        throw RexstoreError(
          .conflict, "'\(destination)' is the live database\(suffix.isEmpty ? "" : "'s \(suffix) file"); a backup never replaces it",
          hint: "back up to another path")
      }
    }
  }

  /// `path` with its directory resolved (the file itself need not exist); nil if the directory is missing.
  static func canonical(_ path: FilePathBytes) -> FilePathBytes? {
    guard let resolved = realpath(path.parent.cString, nil) else { return nil }
    defer { free(resolved) }
    let directory = FilePathBytes(cString: resolved)
    return FilePathBytes(bytes: (directory.bytes == [UInt8(ascii: "/")] ? [] : directory.bytes) + [UInt8(ascii: "/")] + path.baseName.bytes)
  }

  static func removeBackupTemporary(_ temp: FilePathBytes) {
    for suffix in ["", "-journal", "-wal", "-shm"] { unlink((temp + suffix).cString) }
  }

  /// Copies a finished backup into a device or FIFO; returns the bytes written.
  static func copy(_ temp: FilePathBytes, into destination: FilePathBytes) throws(RexstoreError) -> Int64 {
    let input = try FileSystem.openRegularInput(temp)
    defer { close(input) }
    let output = open(destination.cString, O_WRONLY | O_NOCTTY | O_CLOEXEC)
    guard output >= 0 else { throw systemError("cannot write to", path: destination).asCannotCreate }
    var st = Glibc.stat()
    guard fstat(output, &st) == 0, FileKind(st).mode == S_IFCHR || FileKind(st).mode == S_IFIFO else {
      close(output)
      throw RexstoreError(.cannotCreate, "'\(destination)' changed while it was opened; nothing written")
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileSystem.copyBufferSize, alignment: 4096)
    defer { buffer.deallocate() }
    var total: Int64 = 0
    do throws(RexstoreError) {
      while true {
        let n = read(input, buffer.baseAddress, buffer.count)
        if n < 0 {
          if errno == EINTR { continue }
          throw systemError("cannot read", path: temp)
        }
        if n == 0 { break }
        try FileSystem.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), name: destination.display)
        total += Int64(n)
      }
    } catch {
      close(output)
      throw error
    }
    guard close(output) == 0 || errno == EINTR else { throw systemError("cannot write to", path: destination) }
    return total
  }

  /// Backup temporaries (`.NAME.tmp-PID`, with `-journal`, `-wal`, `-shm`) in `directory`; with their
  /// sizes and whether their writer is gone (see `FileSystem.temporaryIsAbandoned`).
  public static func backupTemporaries(in directory: String) -> [(name: String, bytes: Int64, abandoned: Bool, writerAlive: Bool)] {
    backupTemporaries(in: FilePathBytes(directory))
  }

  /// The same in a directory given as bytes (a user's DEST's directory). Names are read as text: the
  /// temporaries' own names always are (see `backup`), other entries are never touched.
  public static func backupTemporaries(in directory: FilePathBytes) -> [(name: String, bytes: Int64, abandoned: Bool, writerAlive: Bool)] {
    var found: [(String, Int64, Bool, Bool)] = []
    for name in (try? FileSystem.entries(of: directory)) ?? [] where name.hasPrefix(".") {
      guard isBackupTemporaryName(name) else { continue }
      var st = Glibc.stat()
      guard lstat((directory + "/" + name).cString, &st) == 0, FileKind(st).isRegular else { continue }
      let kind = FileKind(st)
      let alive = FileSystem.writerPID(name, marker: ".tmp-").map { FileSystem.processIsAlive($0, writingAt: kind.modified) } ?? true
      found.append((name, kind.size, FileSystem.temporaryIsAbandoned(name, marker: ".tmp-", modified: kind.modified), alive))
    }
    return found
  }

  /// Whether `name` has the exact shape `.NAME.tmp-DIGITS` with an optional SQLite companion suffix.
  static func isBackupTemporaryName(_ name: String) -> Bool {
    var rest = Substring(name)
    var last: Substring?
    while !rest.isEmpty {
      if rest.hasPrefix(".tmp-") { last = rest }
      rest = rest.dropFirst()
    }
    guard let tail = last?.dropFirst(5) else { return false }
    let digits = tail.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty else { return false }
    return ["", "-journal", "-wal", "-shm"].contains(String(tail.dropFirst(digits.count)))
  }

  static func removeAbandonedBackupTemporaries(in directory: FilePathBytes) {
    for temporary in backupTemporaries(in: directory) where temporary.abandoned {
      unlink((directory + "/" + temporary.name).cString)
    }
  }

  /// Rebuilds the file to reclaim free pages, then truncates the WAL.
  public func vacuum() throws(RexstoreError) -> JSONValue {
    let db = try writer(create: false)
    let before = FileSystem.fileSize(path)
    do throws(DatabaseError) {
      try db.execute("VACUUM")
      try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    } catch {
      throw error.rexstoreError(path: path)
    }
    return .record([
      "path": .string(path), "size_before_bytes": before.map(JSONValue.int) ?? .null,
      "size_after_bytes": FileSystem.fileSize(path).map(JSONValue.int) ?? .null,
    ])
  }
}
