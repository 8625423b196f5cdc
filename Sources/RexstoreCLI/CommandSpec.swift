import RexstoreCore

/// How a shell should complete a value.
public enum CompletionKind: Sendable, Equatable {
  case none
  case file
  case directory
  case choices([String])
  /// The command groups of the table (resolved late: the table cannot name itself while it is built).
  case commands
  /// The verbs of the group named by the operand before (`rexstore help pattern <TAB>`).
  case verbs
  /// Names held in the store, listed by the hidden helper `rexstore __complete KIND`.
  case data(DataKind)

  /// `.commands` resolved to words.
  var resolved: CompletionKind {
    self == .commands ? .choices(CommandTable.groups.map(\.name)) : self
  }
}

/// An option of a command or a global option.
public struct OptionSpec: Sendable {
  public var long: String
  public var short: Character?
  /// The value's placeholder (`DUR`, `FILE`); nil for a switch.
  public var valueName: String?
  /// Built when help or a generator asks (see `SettingSpec.help`); parsing never needs it.
  public var help: String { helpText() }
  private let helpText: @Sendable () -> String
  public var repeatable: Bool
  public var completion: CompletionKind
  /// See `ArgumentSpec.bytePath`.
  public var bytePath: Bool

  public init(
    _ long: String, short: Character? = nil, value: String? = nil, help: @autoclosure @escaping @Sendable () -> String,
    repeatable: Bool = false, completion: CompletionKind = .none, bytePath: Bool = false
  ) {
    self.long = long
    self.short = short
    self.valueName = value
    self.helpText = help
    self.repeatable = repeatable
    self.completion = completion
    self.bytePath = bytePath
  }

  public var isSwitch: Bool { valueName == nil }

  /// `--busy-timeout DUR` or `-o, --output PATH`, as help shows it.
  public var synopsis: String {
    var s = short.map { "-\($0), " } ?? ""
    s += "--\(long)"
    if let valueName { s += " \(valueName)" }
    return s
  }
}

/// A positional argument.
public struct ArgumentSpec: Sendable {
  public var name: String
  public var help: String
  public var optional: Bool
  /// Takes every remaining word (`BLOB...`); only the last argument may be variadic.
  public var variadic: Bool
  public var completion: CompletionKind
  /// A path the handler passes to the file system as the bytes given (`Invocation.path`,
  /// `pathArgument`): not valid UTF-8 is fine. Every other word is text and refused (64) unless it is
  /// valid UTF-8; so is a path operand (a `.file`/`.directory` completion) whose handler still takes
  /// text (the global settings, `migrate --from`), with "not supported" in the message.
  public var bytePath: Bool

  public init(
    _ name: String, help: String, optional: Bool = false, variadic: Bool = false, completion: CompletionKind = .none,
    bytePath: Bool = false
  ) {
    self.name = name
    self.help = help
    self.optional = optional
    self.variadic = variadic
    self.completion = completion
    self.bytePath = bytePath
  }

  /// `USER`, `[FILE]`, `SAMPLE...`.
  public var synopsis: String {
    let base = name + (variadic ? "..." : "")
    return optional ? "[\(base)]" : base
  }
}

/// What a command hands back to the CLI to print.
public enum CommandOutput {
  /// One JSON document.
  case json(JSONValue)
  /// A list: `{"items":[...],"count":N}`, or one item per line with `--ndjson`.
  case list([JSONValue])
  /// Text printed as is (help, completion scripts, the man page).
  case text(String)
  /// Output the command already streamed to stdout itself.
  case streamed
  /// A monitoring-style report: printed on stdout whatever its exit status (`health`).
  case report(JSONValue, exit: Int32)
  /// The same as text (`health --nagios`).
  case reportText(String, exit: Int32)
}

public typealias CommandHandler = @Sendable (Invocation, Runtime) throws(RexstoreError) -> CommandOutput

/// One row of the command table: `group` alone for verbless commands, `group verb` otherwise.
public struct CommandSpec: Sendable {
  public var group: String
  public var verb: String?
  public var summary: String
  public var discussion: String
  public var arguments: [ArgumentSpec]
  public var options: [OptionSpec]
  public var examples: [String]
  public var run: CommandHandler

  public init(
    _ group: String, _ verb: String? = nil, summary: String, discussion: String = "",
    arguments: [ArgumentSpec] = [], options: [OptionSpec] = [], examples: [String] = [],
    run: @escaping CommandHandler
  ) {
    self.group = group
    self.verb = verb
    self.summary = summary
    self.discussion = discussion
    self.arguments = arguments
    self.options = options
    self.examples = examples
    self.run = run
  }

  public var name: String { verb.map { "\(group) \($0)" } ?? group }

  /// `rexstore pattern set [OPTIONS] USER TYPE KEY VALUE`.
  public var usage: String {
    var parts = ["rexstore", name]
    if !options.isEmpty { parts.append("[OPTIONS]") }
    for argument in arguments { parts.append(argument.synopsis) }
    return parts.joined(separator: " ")
  }
}

/// A top-level group such as `pattern`, with its verbs; a verbless group holds one command with no verb.
///
/// A group's commands are built when first asked for, not with the table: one invocation names one
/// group, and building every command's spec (options, help, completions) cost each `pattern get`
/// about a fifth of its own CPU time in Swift's type-metadata instantiation. Each group's list is a
/// `static let`, built once per process.
public struct GroupSpec: Sendable {
  public var name: String
  public var summary: String
  private let load: @Sendable () -> [CommandSpec]

  public init(name: String, summary: String, commands: @autoclosure @escaping @Sendable () -> [CommandSpec]) {
    self.name = name
    self.summary = summary
    self.load = commands
  }

  public var commands: [CommandSpec] { load() }

  public var hasVerbs: Bool { commands.first?.verb != nil }
}

extension CompletionKind {
  /// A file or directory name: bytes for the file system, not text to store.
  var isPath: Bool { self == .file || self == .directory }
}

/// What the hidden `rexstore __complete KIND PREFIX [WORD...]` helper lists, read-only, from the
/// database, the local object root and the dossiers (never a remote store).
public enum DataKind: String, Sendable, CaseIterable {
  /// Numeric user ids in the database (patterns, context, insights).
  case userIDs = "user-ids"
  /// User segments of the object store (`audio/USER`, `voice_profiles/USER`) and of the dossiers.
  case objectUsers = "object-users"
  /// Both: `user export`/`erase` take either.
  case users
  /// Profile ids of the user given as WORD (its dossier record and `voice_profiles/USER/`).
  case profiles
  /// Pattern types, of the user given as WORD when there is one.
  case patternTypes = "pattern-types"
  /// Insight types, of the user given as WORD when there is one.
  case insightTypes = "insight-types"
  /// Blob names under the local object root, one level at a time (`audio/`, `audio/u1/`, ...).
  case blobs
}
