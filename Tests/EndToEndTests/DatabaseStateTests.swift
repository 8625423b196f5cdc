import Foundation
import Testing

/// Issues 8.6, 8.9 and 9 on the SQLite side, with real files made by Python's sqlite3 (the app's own
/// library) and the stand-in of the app's storage code (python/app_storage.py).
@Suite struct DatabaseStateTests {
  static let appModule = Processes.packageRoot + "/Tests/EndToEndTests/python"

  /// Runs `body` with `s` a PatternStorage on `sys.argv[1]` (the scratch database unless `db` is given).
  @discardableResult
  func python(_ body: String, _ scratch: Processes.Scratch, db: String? = nil, storage: Bool = true) throws -> String {
    let code = "import sys, json, sqlite3\nsys.path.insert(0, '\(Self.appModule)')\nimport app_storage\n"
      + (storage ? "s = app_storage.PatternStorage(sys.argv[1])\n" : "") + body
    let r = try Processes.python(code, [db ?? scratch.database], in: scratch)
    #expect(r.status == 0, "python failed: \(r.stderr)")
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func makeData(_ scratch: Processes.Scratch) throws {
    try FileManager.default.createDirectory(atPath: scratch.path + "/data", withIntermediateDirectories: true)
  }

  func errorCode(_ r: Processes.Result) -> String? {
    r.stderr.range(of: #""code":"[a-z_]+""#, options: .regularExpression).map {
      String(r.stderr[$0].dropFirst(8).dropLast())
    }
  }

  // MARK: foreign schemas (8.6)

  /// Tables named like the app's but with other columns used to crash reads and writes with 70.
  @Test(arguments: [
    ("CREATE TABLE user_patterns (id INTEGER PRIMARY KEY, name TEXT)", "missing column(s) user_id, pattern_type"),
    ("""
     CREATE TABLE user_patterns (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, pattern_type TEXT NOT NULL,
       pattern_value TEXT NOT NULL, confidence REAL, created_at TIMESTAMP, updated_at TIMESTAMP)
     """, "missing column(s) pattern_key"),
    ("""
     CREATE TABLE user_patterns (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, pattern_type TEXT NOT NULL,
       pattern_key TEXT NOT NULL, pattern_value TEXT NOT NULL, confidence REAL, created_at TIMESTAMP, updated_at TIMESTAMP,
       UNIQUE(user_id, pattern_type, pattern_key))
     """, "column user_id is TEXT, expected INTEGER"),
    ("""
     CREATE TABLE user_patterns (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, pattern_type TEXT NOT NULL,
       pattern_key TEXT NOT NULL, pattern_value TEXT NOT NULL, confidence REAL, created_at TIMESTAMP, updated_at TIMESTAMP)
     """, "no UNIQUE(user_id, pattern_type, pattern_key) constraint"),
    ("""
     CREATE TABLE user_patterns (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, pattern_type TEXT NOT NULL,
       pattern_key TEXT NOT NULL, pattern_value TEXT NOT NULL, confidence REAL, created_at TIMESTAMP, updated_at TIMESTAMP,
       owner TEXT NOT NULL, UNIQUE(user_id, pattern_type, pattern_key))
     """, "extra NOT NULL column(s) without a default: owner"),
  ])
  func aForeignPatternTableIsASchemaMismatchNamedByHealthAndCheck(ddl: String, problem: String) throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    try python("c = sqlite3.connect(sys.argv[1]); c.execute('''\(ddl)'''); c.execute('CREATE TABLE users (id INTEGER)'); c.commit()", scratch, storage: false)
    let before = try Data(contentsOf: URL(fileURLWithPath: scratch.database))
    for argv in [
      ["pattern", "list", "1"], ["pattern", "get", "1", "t", "k"], ["pattern", "set", "1", "t", "k", "v"],
      ["pattern", "rm", "1", "t", "k"], ["pattern", "clear", "1"], ["pattern", "export"], ["pattern", "import", "-"],
      ["db", "upgrade"], ["db", "check"],
    ] {
      let r = try Processes.rexstore(argv, in: scratch, stdin: #"{"user_id":1,"type":"t","key":"k","value":1}"#)
      #expect(r.status == 78, "\(argv): \(r.stderr)")
      #expect(errorCode(r) == "schema_mismatch", "\(argv)")
      #expect(r.stderr.contains("user_patterns") && r.stderr.contains(problem), "\(argv): \(r.stderr)")
    }
    let health = try Processes.rexstore(["health"], in: scratch)
    #expect(health.status == 2)
    #expect(health.stdout.contains(#""status":"critical""#))
    #expect(health.stdout.contains("user_patterns: " + problem), "\(health.stdout)")
    // Refused before anything was written: not even the switch to WAL.
    #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.database)) == before)
    #expect(!FileManager.default.fileExists(atPath: scratch.database + "-wal"))
  }

  /// A foreign context or insights table, with the pattern table fine: only the commands that use it fail.
  @Test func aForeignContextTableFailsOnlyContextCommands() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    #expect(try Processes.rexstore(["pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    try python(
      "c = sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE conversation_context');"
        + " c.execute('CREATE TABLE conversation_context (id INTEGER PRIMARY KEY, blob BLOB)'); c.commit()", scratch, storage: false)
    for argv in [["context", "get", "1", "k"], ["context", "add", "1", "k", "v"], ["context", "prune"]] {
      let r = try Processes.rexstore(argv, in: scratch)
      #expect(r.status == 78 && r.stderr.contains("conversation_context"), "\(argv): \(r.stderr)")
    }
    #expect(try Processes.rexstore(["pattern", "get", "1", "t", "k"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["insight", "add", "1", "t", "{}"], in: scratch).status == 0)
  }

  /// Extra columns a later app could add are harmless when nullable or defaulted.
  @Test func extraNullableColumnsAreTolerated() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    try python("c = sqlite3.connect(sys.argv[1]); c.execute('ALTER TABLE user_patterns ADD COLUMN source TEXT'); c.commit()", scratch)
    #expect(try Processes.rexstore(["pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["pattern", "get", "1", "t", "k"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["db", "check"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["health"], in: scratch).status == 0)
  }

  // MARK: the app's tables dropped (9)

  /// The app's migration `downgrade` drops its tables. Reads used to answer an empty success.
  @Test func droppedAppTablesAreCriticalAndRecreatedByUpgrade() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    #expect(try Processes.rexstore(["pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    try python("app_storage.downgrade(sys.argv[1])", scratch, storage: false)
    for argv in [
      ["pattern", "list", "1"], ["pattern", "get", "1", "t", "k"], ["pattern", "export"], ["context", "get", "1", "k"],
      ["insight", "list", "1"], ["db", "check"], ["user", "export", "1", "-o", scratch.path + "/export"],
    ] {
      let r = try Processes.rexstore(argv, in: scratch)
      #expect(r.status == 78, "\(argv): \(r.stdout) \(r.stderr)")
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.contains("missing"), "\(argv): \(r.stderr)")
    }
    let health = try Processes.rexstore(["health"], in: scratch)
    #expect(health.status == 2)
    #expect(health.stdout.contains("user_patterns: missing table"), "\(health.stdout)")
    let upgrade = try Processes.rexstore(["db", "upgrade"], in: scratch)
    #expect(upgrade.status == 0)
    #expect(upgrade.stdout.contains(#""created_tables":["user_patterns","conversation_context","user_insights"]"#), "\(upgrade.stdout)")
    #expect(try python("print(json.dumps(app_storage.migration_status(sys.argv[1]), sort_keys=True))", scratch, storage: false)
      == #"{"conversation_context": true, "user_insights": true, "user_patterns": true}"#)
    #expect(try Processes.rexstore(["pattern", "list", "1"], in: scratch).stdout == #"{"count":0,"items":[]}"# + "\n")
    #expect(try Processes.rexstore(["health"], in: scratch).status == 0)
  }

  /// Writes bring the schema up to date, as they always did for a new file: they recreate the tables.
  @Test func aWriteRecreatesDroppedTables() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    #expect(try Processes.rexstore(["db", "upgrade"], in: scratch).status == 0)
    try python("app_storage.downgrade(sys.argv[1])", scratch, storage: false)
    #expect(try Processes.rexstore(["insight", "add", "1", "t", "{}"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["pattern", "rm", "1", "t", "k"], in: scratch).status == 1)
    #expect(try Processes.rexstore(["context", "get", "1", "k"], in: scratch).status == 0)
  }

  // MARK: permissions (9) and read-only media (8.9)

  /// Runs rexstore as an unprivileged user. Root reads through any permission bits, so as root the
  /// binary runs under `setpriv` as nobody; otherwise it runs as the current user.
  func rexstoreUnprivileged(_ arguments: [String], in scratch: Processes.Scratch) throws -> Processes.Result {
    if geteuid() == 0 {
      return try Processes.run(
        "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Processes.binary] + arguments,
        environment: scratch.environment, directory: "/")
    }
    return try Processes.run(Processes.binary, arguments, environment: scratch.environment, directory: "/")
  }

  /// A database that exists but cannot be read used to be 66 "no database" when its directory was
  /// closed; it is 77 whether the directory or the file is closed.
  @Test func anUnreadableDatabaseIsPermissionDeniedNotMissing() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    let closedDir = scratch.path + "/closed"
    try FileManager.default.createDirectory(atPath: closedDir, withIntermediateDirectories: true)
    #expect(try Processes.rexstore(["--db", closedDir + "/a.db", "pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    #expect(try Processes.rexstore(["--db", scratch.path + "/b.db", "pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    chmod(scratch.path, 0o755)
    chmod(closedDir, 0o000)
    chmod(scratch.path + "/b.db", 0o000)
    defer { chmod(closedDir, 0o755) }
    for db in [closedDir + "/a.db", scratch.path + "/b.db"] {
      for argv in [["pattern", "list", "1"], ["pattern", "export"], ["db", "status"], ["db", "check"]] {
        let r = try rexstoreUnprivileged(["--db", db] + argv, in: scratch)
        #expect(r.status == 77, "\(db) \(argv): \(r.stderr)")
        #expect(errorCode(r) == "permission_denied", "\(db) \(argv)")
      }
      let health = try rexstoreUnprivileged(["--db", db, "health"], in: scratch)
      #expect(health.status == 2)
      #expect(health.stdout.contains("Permission denied"), "\(health.stdout)")
    }
  }

  /// A WAL database in a directory the reader cannot write: SQLite must create `-shm`, so the read is
  /// refused as 77 with the reason (it was 73 "cannot create"). A rollback-journal database there reads fine.
  @Test func aWALDatabaseInAnUnwritableDirectoryIsPermissionDenied() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    let shared = scratch.path + "/shared"
    try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
    #expect(try Processes.rexstore(["--db", shared + "/wal.db", "pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    try python("s.save_pattern(1, 't', 'k', 'from the app')", scratch, db: shared + "/app.db")
    chmod(scratch.path, 0o755)
    chmod(shared, 0o755)
    chmod(shared + "/wal.db", 0o644)  // rexstore creates it 0600; readable by others, writable by none
    if geteuid() != 0 { chmod(shared, 0o555) }
    defer { chmod(shared, 0o755) }
    let wal = try rexstoreUnprivileged(["--db", shared + "/wal.db", "pattern", "list", "1"], in: scratch)
    #expect(wal.status == 77, "\(wal.stderr)")
    #expect(wal.stderr.contains("-shm"), "\(wal.stderr)")
    let app = try rexstoreUnprivileged(["--db", shared + "/app.db", "pattern", "get", "1", "t", "k"], in: scratch)
    #expect(app.status == 0, "\(app.stderr)")
    #expect(app.stdout.contains(#""value":"from the app""#))
  }

  /// Reads of a database on a read-only mount exited 73; they succeed (immutable snapshot) and writes
  /// are 77. Needs root to mount; skipped otherwise (the unwritable-directory test covers the rest).
  @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
  func readsSucceedOnAReadOnlyMount() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    let mnt = scratch.path + "/mnt"
    try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
    func sh(_ args: [String]) throws -> Int32 { try Processes.run("/usr/bin/env", args, environment: scratch.environment).status }
    guard try sh(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]) == 0 else {
      Issue.record("mount failed")
      return
    }
    defer { _ = try? sh(["umount", mnt]) }
    let db = mnt + "/RexVoice.db"
    for argv in [
      ["pattern", "set", "1", "t", "k", "0.5"], ["context", "add", "1", "hand", "x"], ["insight", "add", "1", "t", "[1]"],
    ] {
      #expect(try Processes.rexstore(["--db", db] + argv, in: scratch).status == 0)
    }
    // A WAL file with no -shm beside it cannot be read without writing: 77 with the reason.
    try python(
      """
      import shutil
      c = sqlite3.connect(sys.argv[1] + '.src'); c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0')
      c.execute('CREATE TABLE t (x)'); c.execute('INSERT INTO t VALUES (1)'); c.commit()
      shutil.copy(sys.argv[1] + '.src', sys.argv[1] + '.walonly'); shutil.copy(sys.argv[1] + '.src-wal', sys.argv[1] + '.walonly-wal')
      c.close()
      """, scratch, db: db, storage: false)
    #expect(try sh(["mount", "-o", "remount,ro", mnt]) == 0)
    let cases: [([String], String)] = [
      (["pattern", "get", "1", "t", "k"], #""value":0.5"#), (["pattern", "list", "1"], #""count":1"#),
      (["pattern", "export"], #""key":"k""#), (["context", "get", "1", "hand"], #""value":"x""#),
      (["insight", "list", "1"], #""data":[1]"#), (["db", "status"], #""journal_mode":"wal""#),
      (["db", "check"], #""ok":true"#), (["health"], #""status":"ok""#),
      (["health"], "on a read-only file system: reads only"),
    ]
    for (argv, expected) in cases {
      let r = try Processes.rexstore(["--db", db] + argv, in: scratch)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
      #expect(r.stdout.contains(expected), "\(argv): \(r.stdout)")
    }
    let write = try Processes.rexstore(["--db", db, "pattern", "set", "1", "t", "k", "1"], in: scratch)
    #expect(write.status == 77, "\(write.stderr)")
    #expect(write.stderr.contains("read-only file system"))
    let walOnly = try Processes.rexstore(["--db", db + ".walonly", "db", "status"], in: scratch)
    #expect(walOnly.status == 77, "\(walOnly.stderr)")
    #expect(walOnly.stderr.contains("-wal"), "\(walOnly.stderr)")
  }

  // MARK: round trips of what the app stores (9)

  /// Data the app accepts: confidence outside [0, 1], NaN (stored as NULL) and infinite confidences,
  /// text user ids, NaN/Infinity inside values (json.dumps writes them bare), a lone surrogate escape,
  /// the SQL default timestamp form. `pattern export | pattern import` reproduces every row exactly.
  @Test func exportImportOfAnAppDatabaseReproducesEveryRow() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    try python(
      """
      s.save_pattern(1, 'style', 'over', 0.5, 1.7)
      s.save_pattern(1, 'style', 'under', 'x', -3)
      s.save_pattern(1, 'style', 'nanconf', 'x', float('nan'))
      s.save_pattern(1, 'style', 'infconf', 'x', float('inf'))
      s.save_pattern('alice', 'style', 'text_user', {'a': 1})
      s.save_pattern(2, 'style', 'nan', float('nan'))
      s.save_pattern(2, 'style', 'inf', {'x': float('-inf'), 'y': [float('inf')]})
      s.save_pattern(2, 'style', 'surrogate', ['\\ud800'])
      s.save_pattern(2, 'style', 'looks', '123')
      s.save_pattern(2, 'style', 'compact', '{"a":1}')
      s.save_pattern(2, 'style', 'unicode', 'é')
      """, scratch)
    let dump = """
      c = sqlite3.connect(sys.argv[1])
      for r in c.execute("SELECT typeof(user_id), user_id, pattern_type, pattern_key, pattern_value, quote(confidence), "
                         "created_at, updated_at FROM user_patterns ORDER BY pattern_key"):
          print(json.dumps(r))
      """
    let original = try python(dump, scratch, storage: false)
    let export = try Processes.rexstore(["pattern", "export"], in: scratch)
    #expect(export.status == 0, "\(export.stderr)")
    #expect(export.stdout.contains(#""user_id":"alice""#), "a text user id was exported as 0 before")
    let copy = scratch.path + "/copy.db"
    let imported = try Processes.rexstore(["--db", copy, "pattern", "import", "-"], in: scratch, stdin: export.stdout)
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(imported.stdout.contains(#""imported":11"#))
    let reproduced = try python(dump, scratch, db: copy, storage: false)
    #expect(reproduced == original)
    #expect(original.split(separator: "\n").count == 11)
    // And the copy exports to the same lines again.
    #expect(try Processes.rexstore(["--db", copy, "pattern", "export"], in: scratch).stdout == export.stdout)
  }

  /// Non-object insights the app stores are listed, and `insight add` of any JSON reaches the app intact.
  @Test func nonObjectInsightsGoBothWays() throws {
    let scratch = Processes.Scratch()
    try makeData(scratch)
    try python("s.save_insight(1, 'list', [1, 'two']); s.save_insight(1, 'str', 'plain')", scratch)
    let list = try Processes.rexstore(["insight", "list", "1"], in: scratch)
    #expect(list.status == 0)
    #expect(list.stdout.contains(#""data":[1,"two"]"#) && list.stdout.contains(#""data":"plain""#), "\(list.stdout)")
    for json in ["[3, 4]", #""text""#, "5.25", "null"] {
      #expect(try Processes.rexstore(["insight", "add", "2", "t", json], in: scratch).status == 0)
    }
    let seen = try python("print(json.dumps(sorted([json.dumps(i['data']) for i in s.get_insights(2)])))", scratch)
    #expect(seen == #"["\"text\"", "5.25", "[3, 4]", "null"]"#)
  }
}
