import RexstoreCore

/// `rexstore db ...`: maintenance of the SQLite file.
enum DatabaseCommands {
  static let all: [CommandSpec] = [status, upgrade, check, backup, vacuum]

  static let status = CommandSpec(
    "db", "status", summary: "Show the database file, schema version and table sizes"
  ) { _, rt throws(RexstoreError) in
    .json(try rt.store().status())
  }

  static let upgrade = CommandSpec(
    "db", "upgrade", summary: "Create the database or apply pending schema changes",
    discussion: """
      Write commands do this on their own; run it to prepare a database ahead of time. It also creates
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
    "db", "check", summary: "Verify the database's integrity (exit 65 if damaged)",
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
    arguments: [ArgumentSpec("DEST", help: "path of the copy", completion: .file)],
    options: [OptionSpec("force", help: "replace DEST if it exists")],
    examples: ["rexstore db backup /var/backups/rexstore-$(date +%F).sqlite3"]
  ) { inv, rt throws(RexstoreError) in
    .json(
      try rt.store().backup(
        to: rt.absolute(inv.argument(0)), overwrite: inv.flag("force"), temporaryDirectory: try rt.config().temporaryDirectory))
  }

  static let vacuum = CommandSpec(
    "db", "vacuum", summary: "Rebuild the database file to reclaim space"
  ) { _, rt throws(RexstoreError) in
    .json(try rt.store().vacuum())
  }
}
