/// The one static command table. Parsing, help, completions and the man page all read it, so they
/// cannot drift apart (git's `commands[]`, ripgrep's flag registry).
public enum CommandTable {
  /// Every setting with a flag (declared once in `Settings`), then the output switches.
  public static let globalOptions: [OptionSpec] = Settings.options + [
    OptionSpec("pretty", help: "indent JSON output"),
    OptionSpec("ndjson", help: "print lists one item per line"),
    OptionSpec("quiet", help: "no warnings on stderr"),
    OptionSpec("verbose", short: "v", help: "log each request to a remote on stderr (secrets masked)"),
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
    GroupSpec(name: "sign", summary: "signed URL for gs:// or s3:// objects, offline", commands: [SignCommands.general]),
    GroupSpec(name: "migrate", summary: "move local objects into the remote bucket", commands: [MigrateCommand.spec]),
    GroupSpec(name: "fsck", summary: "find and repair leftovers of interrupted writers", commands: [FsckCommand.spec]),
    GroupSpec(name: "health", summary: "check the database, the local root and the remote", commands: [HealthCommand.spec]),
    GroupSpec(name: "config", summary: "the resolved settings and their sources", commands: [ConfigCommand.show]),
    GroupSpec(name: "completion", summary: "print a shell completion script", commands: [MetaCommands.completion]),
    GroupSpec(name: "man", summary: "print the man page (mdoc)", commands: [MetaCommands.man]),
    GroupSpec(name: "help", summary: "show help for a command", commands: [MetaCommands.help]),
  ]

  public static var allCommands: [CommandSpec] { groups.flatMap(\.commands) }

  /// Commands the parser knows but help, completions and the man page do not show.
  public static let hiddenGroups: [GroupSpec] = [
    GroupSpec(name: CompleteCommand.name, summary: "candidates for shell completion", commands: [CompleteCommand.spec]),
  ]

  /// How an operand completes: what its ArgumentSpec says, else names from the store by the table's
  /// conventional operand names (USER, PROFILE, TYPE, BLOB), so a new command gets them too. USER is a
  /// numeric database id in the database groups, an object-store segment in `audio` and `profile`.
  public static func completion(of argument: ArgumentSpec, in command: CommandSpec) -> CompletionKind {
    if argument.completion != .none { return argument.completion }
    if command.group == "help", argument.name == "VERB" { return .verbs }
    switch (command.group, argument.name) {
    case ("pattern", "USER"), ("context", "USER"), ("insight", "USER"): return .data(.userIDs)
    case ("audio", "USER"), ("profile", "USER"): return .data(.objectUsers)
    case ("user", "USER"): return .data(.users)
    case ("profile", "PROFILE"): return .data(.profiles)
    case ("pattern", "TYPE"): return .data(.patternTypes)
    case ("insight", "TYPE"): return .data(.insightTypes)
    case (_, "BLOB"): return .data(.blobs)
    default: return .none
    }
  }

  /// How an option's value completes: as declared, else `--type` from the store's types.
  public static func completion(of option: OptionSpec, in command: CommandSpec?) -> CompletionKind {
    if option.completion != .none || option.isSwitch { return option.completion }
    switch (command?.group, option.long) {
    case ("pattern", "type"): return .data(.patternTypes)
    case ("insight", "type"): return .data(.insightTypes)
    default: return .none
    }
  }

  /// Global options that choose where the store is: the completion helper is handed those on the line.
  public static let locationOptions = ["root", "db", "objects", "app-dir", "dossiers", "config"]

  /// Verbs that name the same command in every group: a group that has `ls` also answers to `list`,
  /// one that has `delete` also to `rm`, and so on.
  public static let verbAliases: [String: String] = ["list": "ls", "ls": "list", "rm": "delete", "delete": "rm"]
}
