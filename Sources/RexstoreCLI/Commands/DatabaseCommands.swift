import RexstoreCore

/// `rexstore db ...`: maintenance of the SQLite file.
enum DatabaseCommands {
  static let all: [CommandSpec] = [status, upgrade, check, backup, restore, vacuum]

  static let restore = CommandSpec(
    "db", "restore", summary: "Restore the database from a backup (old one kept aside)",
    discussion: """
      SRC must be a sound SQLite file (integrity_check ok) or nothing happens (65). The live database
      is first copied to DB.pre-restore-STAMP beside it; then SRC's pages are copied in with SQLite's
      online backup API, which needs the database to itself: while another process holds it, the
      restore waits up to the busy timeout and fails with db_locked (75), restoring nothing. The
      result is checked again.
      """,
    arguments: [ArgumentSpec("SRC", help: "a backup made by 'db backup' (or any copy of the database)", completion: .file, bytePath: true)],
    examples: ["rexstore db restore /var/backups/rexstore/rexstore.sqlite3"]
  ) { inv, rt throws(RexstoreError) in
    let source = rt.absolute(inv.pathArgument(0))
    return .json(try rt.store().restore(from: source).addingPathHex("source", source))
  }

  static let status = CommandSpec(
    "db", "status", summary: "Show the database file, schema version and table sizes"
  ) { _, rt throws(RexstoreError) in
    .json(try rt.store().status())
  }

  static let upgrade = CommandSpec(
    "db", "upgrade", summary: "Create the database or apply pending schema changes",
    discussion: """
      Write commands do this on their own; run it to prepare a database ahead of time. The app's tables
      are recreated if they are missing (its migration's downgrade drops them; listed under
      created_tables); a table of that name with other columns is refused (exit 78). It also creates
      the dossier directory and moves voice-profile records rexstore 0.1 kept in its own SQLite table
      into the users' dossiers (a row whose profile the dossier already holds differently is kept and
      listed under profile_conflicts).
      """
  ) { _, rt throws(RexstoreError) in
    let schema = try rt.store().upgradeSchema()
    let config = try rt.config()
    try FileSystem.makeDirectories(config.dossiers.value)
    let moved = try rt.profiles().moveLegacyRecords()
    return .json(
      schema.adding([
        "dossiers": .string(config.dossiers.value), "profiles_moved": .array(moved.moved.map(JSONValue.string)),
        "profile_conflicts": .array(moved.conflicts.map(JSONValue.string)),
      ]))
  }

  static let check = CommandSpec(
    "db", "check", summary: "Verify the database's integrity and the app's tables",
    discussion: """
      Exit 65 when SQLite's integrity_check (or quick_check) finds damage; 78 when one of the app's
      tables is missing or has other columns than the app's (the message names table and columns).
      """,
    options: [OptionSpec("quick", help: "run the faster quick_check")]
  ) { inv, rt throws(RexstoreError) in
    .json(try rt.store().check(quick: inv.flag("quick")))
  }

  static let backup = CommandSpec(
    "db", "backup", summary: "Copy the database consistently while others write",
    discussion: """
      Uses SQLite's online backup API; DEST appears only when the copy is complete. With --force an
      existing regular file is replaced atomically, and an existing character device or FIFO is
      written into (the copy is built in TMPDIR first); nothing else is replaced. The live database
      and its -wal/-shm/-journal files are refused (65, conflict); a DEST ending in / is a usage
      error (64), refused before anything is created. Missing parent directories are created.
      Temporaries that killed backups left in DEST's directory are removed.
      """,
    arguments: [ArgumentSpec("DEST", help: "path of the copy", completion: .file, bytePath: true)],
    options: [OptionSpec("force", help: "replace DEST if it exists")],
    examples: ["rexstore db backup /var/backups/rexstore-$(date +%F).sqlite3"]
  ) { inv, rt throws(RexstoreError) in
    let destination = rt.absolute(inv.pathArgument(0))
    return .json(
      try rt.store().backup(to: destination, overwrite: inv.flag("force"), temporaryDirectory: try rt.config().temporaryDirectory)
        .addingPathHex("destination", destination))
  }

  static let vacuum = CommandSpec(
    "db", "vacuum", summary: "Rebuild the database file to reclaim space"
  ) { _, rt throws(RexstoreError) in
    .json(try rt.store().vacuum())
  }
}
