/// The one static command table. Parsing, help, completions and the man page all read it, so they
/// cannot drift apart (git's `commands[]`, ripgrep's flag registry).
public enum CommandTable {
  public static let globalOptions: [OptionSpec] = [
    OptionSpec("root", value: "DIR", help: "data root (default $XDG_DATA_HOME/rexstore)", completion: .directory),
    OptionSpec("db", value: "PATH", help: "SQLite database (default ROOT/rexstore.sqlite3)", completion: .file),
    OptionSpec("objects", value: "DIR", help: "local object root (default ROOT/objects)", completion: .directory),
    OptionSpec("app-dir", value: "DIR", help: "the app's working directory: its RexVoice.db, objects and dossiers", completion: .directory),
    OptionSpec("dossiers", value: "DIR", help: "the app's dossier directory (default ROOT/dossiers)", completion: .directory),
    OptionSpec("config", value: "FILE", help: "JSON config file (default $XDG_CONFIG_HOME/rexstore/config.json)", completion: .file),
    OptionSpec("busy-timeout", value: "DUR", help: "how long to wait for a busy database (default 5s)"),
    OptionSpec("backend", value: "NAME", help: "object backend: auto, gcs, s3 or local (default auto)", completion: .choices(["auto", "gcs", "s3", "local"])),
    OptionSpec("bucket", value: "NAME", help: "GCS bucket (default $GCS_BUCKET_NAME)"),
    OptionSpec("credentials", value: "FILE", help: "service-account key or ADC file (default $GOOGLE_APPLICATION_CREDENTIALS)", completion: .file),
    OptionSpec("no-fallback", help: "fail (exit 69) instead of storing locally when GCS is unavailable"),
    OptionSpec("pretty", help: "indent JSON output"),
    OptionSpec("ndjson", help: "print lists one item per line"),
    OptionSpec("quiet", help: "no warnings on stderr"),
    OptionSpec("verbose", short: "v", help: "log each GCS request on stderr (secrets masked)"),
  ]

  /// `-h`/`--help` and `--version` are handled by the parser before any table lookup; listed for help.
  public static let builtinOptions: [OptionSpec] = [
    OptionSpec("help", short: "h", help: "show help and exit"),
    OptionSpec("version", help: "print the version and exit"),
  ]

  public static let groups: [GroupSpec] = [
    GroupSpec(name: "audio", summary: "recordings in the object store: put, get, ls, rm, prune", commands: AudioCommands.all),
    GroupSpec(name: "profile", summary: "voice profiles: samples plus a record", commands: ProfileCommands.all),
    GroupSpec(name: "pattern", summary: "behavioural patterns: one value per user, type and key", commands: PatternCommands.all),
    GroupSpec(name: "context", summary: "conversation context: an expiring append log", commands: ContextCommands.all),
    GroupSpec(name: "insight", summary: "insights: JSON objects ranked by importance", commands: InsightCommands.all),
    GroupSpec(name: "user", summary: "one user everywhere: export and erase", commands: UserCommands.all),
    GroupSpec(name: "db", summary: "database status, upgrade, check, backup and vacuum", commands: DatabaseCommands.all),
    GroupSpec(name: "sign", summary: "V4 signed URL for gs://BUCKET/OBJECT, offline", commands: [SignCommands.general]),
    GroupSpec(name: "migrate", summary: "move local objects into GCS", commands: [MigrateCommand.spec]),
    GroupSpec(name: "fsck", summary: "find and repair leftovers of interrupted writers", commands: [FsckCommand.spec]),
    GroupSpec(name: "health", summary: "check the database, the local object root and GCS", commands: [HealthCommand.spec]),
    GroupSpec(name: "config", summary: "the resolved settings and their sources", commands: [ConfigCommand.show]),
    GroupSpec(name: "completion", summary: "print a shell completion script", commands: [MetaCommands.completion]),
    GroupSpec(name: "man", summary: "print the man page (mdoc)", commands: [MetaCommands.man]),
    GroupSpec(name: "help", summary: "show help for a command", commands: [MetaCommands.help]),
  ]

  public static var allCommands: [CommandSpec] { groups.flatMap(\.commands) }

  /// Verbs that name the same command in every group: a group that has `ls` also answers to `list`,
  /// one that has `delete` also to `rm`, and so on.
  public static let verbAliases: [String: String] = ["list": "ls", "ls": "list", "rm": "delete", "delete": "rm"]
}
