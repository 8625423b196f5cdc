import CSQLite
import Glibc

extension Store {
  /// Restores the database from a backup (issue 10), safely:
  /// - the source must be a regular file that SQLite opens and whose `integrity_check` is ok
  ///   (`db_corrupt`, 65, and nothing changed otherwise);
  /// - the live database is first copied aside to `NAME.pre-restore-STAMP` beside it (a backup of
  ///   its own, through the same online-backup API), so a restore can itself be undone;
  /// - the pages are copied into the live file with SQLite's online backup API, which needs the
  ///   database to itself: while another process holds it (a read or write transaction), it waits
  ///   up to the busy timeout and then fails with `db_locked` (75), nothing restored;
  /// - the result is checked again.
  ///
  /// `source` is the user's, as bytes (opened unchanged; `source` in the result is its display form).
  public func restore(from source: FilePathBytes) throws(RexstoreError) -> JSONValue {
    let fd = try FileSystem.openRegularInput(source)
    close(fd)
    if Store.canonical(source) == Store.canonical(FilePathBytes(path)) {
      throw RexstoreError(.conflict, "'\(source)' is the live database itself")
    }
    let backup: Database
    do throws(DatabaseError) {
      backup = try Database(file: source, mode: .readOnly, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      let stmt = try backup.prepare("PRAGMA integrity_check")
      var lines: [String] = []
      while try stmt.step() { lines.append(stmt.text(0)) }
      guard lines == ["ok"] else {
        throw DatabaseError(resultCode: SQLITE_CORRUPT, extendedCode: SQLITE_CORRUPT, message: lines.prefix(3).joined(separator: "; "))
      }
    } catch {
      var failure = error.rexstoreError(path: source.display)
      if failure.code == .dbCorrupt || error.resultCode == SQLITE_NOTADB || error.resultCode == SQLITE_CORRUPT {
        failure = RexstoreError(.dbCorrupt, "'\(source)' is not a sound SQLite database (\(error.message)); nothing was restored")
      }
      throw failure
    }
    var previous: String?
    if exists {
      let stamp = Timestamp.now().exactOutputForm.filter { $0.isNumber || $0 == "T" || $0 == "Z" }
      let aside = path + ".pre-restore-" + stamp
      _ = try self.backup(to: aside, overwrite: false)
      previous = aside
    }
    let live = try writer()
    var pages: Int64 = 0
    do throws(DatabaseError) {
      guard let copy = sqlite3_backup_init(live.handle, "main", backup.handle, "main") else {
        throw live.error(sqlite3_errcode(live.handle))
      }
      let deadline = Timestamp.now().adding(microseconds: Int64(busyTimeoutMilliseconds) * 1_000)
      var rc: Int32
      repeat {
        rc = sqlite3_backup_step(copy, -1)
        if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
          if Timestamp.now() > deadline { break }
          usleep(10_000)
        }
      } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
      pages = Int64(sqlite3_backup_pagecount(copy))
      sqlite3_backup_finish(copy)
      guard rc == SQLITE_DONE else {
        if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
          throw DatabaseError(resultCode: SQLITE_BUSY, extendedCode: rc, message: "other connections hold the database")
        }
        throw DatabaseError(resultCode: rc & 0xFF, extendedCode: rc, message: String(cString: sqlite3_errstr(rc)))
      }
    } catch {
      var failure = error.rexstoreError(path: path)
      if error.resultCode == SQLITE_BUSY {
        failure = RexstoreError(
          .dbLocked, "'\(path)' is in use by another process past the busy timeout; nothing was restored",
          hint: "stop the app (or raise --busy-timeout) and run the restore again")
      }
      throw failure
    }
    let checked = try check(quick: false)
    return .record([
      "path": .string(path), "source": .string(source.display), "pages": .int(pages), "previous": .optional(previous),
      "ok": checked["ok"] ?? .bool(true),
    ])
  }
}
