import RexstoreCore

/// A parsed command line: which command, its option values and its positional arguments.
public struct Invocation: Sendable {
  public var command: CommandSpec
  /// Option values by long name; switches map to `[""]`. Repeated scalars keep every value; the last wins.
  public var options: [String: [String]]
  /// Positional arguments as text; a word that is not valid UTF-8 (only possible for a `bytePath`
  /// operand) is here in its display form (`\xFF`), for messages: use `pathArgument` to open it.
  public var arguments: [String]
  /// Every option value as the bytes argv held, beside `options` (same keys, same order).
  public var rawOptions: [String: [[UInt8]]] = [:]
  /// Every positional argument as the bytes argv held, beside `arguments`.
  public var rawArguments: [[UInt8]] = []

  public func flag(_ long: String) -> Bool { options[long] != nil }
  public func value(_ long: String) -> String? { options[long]?.last }
  public func values(_ long: String) -> [String] { options[long] ?? [] }

  /// A path option's value as bytes, passed to the file system unchanged (`OptionSpec.bytePath`).
  public func path(_ long: String) -> FilePathBytes? {
    if let raw = rawOptions[long]?.last { return FilePathBytes(bytes: raw) }
    return value(long).map(FilePathBytes.init)
  }

  /// A positional path argument as bytes (`ArgumentSpec.bytePath`).
  public func pathArgument(_ index: Int) -> FilePathBytes {
    index < rawArguments.count ? FilePathBytes(bytes: rawArguments[index]) : FilePathBytes(arguments[index])
  }
}

/// What the command line asked for.
public enum ParseResult: Sendable {
  case run(Invocation)
  /// `-h`, `--help` or `help ...`: the deepest group or command that was named (nil for the top level).
  case help(group: GroupSpec?, command: CommandSpec?)
  case version
}

/// The hand-written parser: `rexstore [GLOBAL OPTIONS] GROUP [VERB] [OPTIONS] [--] [ARGS]`.
///
/// Global options are accepted before the group and anywhere after it (runbooks append `--db`), a lone
/// `-` is a positional (stdin/stdout), `--` ends options, and a token that looks like a negative number
/// is a value, not an option.
public enum Parser {
  public static func parse(_ argv: [String], table: [GroupSpec] = CommandTable.groups) throws(RexstoreError) -> ParseResult {
    try parse(argv, invalidUTF8: [], table: table).result
  }

  /// Parses argv; `invalidUTF8` names the words that were not valid UTF-8 and `raw` holds each word's
  /// bytes (see `RawArguments`; nil: the words' own UTF-8). With `-h`/`--help` anywhere before `--` the
  /// answer is help, whatever else the line holds: words that name nothing are skipped and returned as
  /// `ignored`, for a warning.
  public static func parse(
    _ argv: [String], invalidUTF8: Set<Int>, raw: [[UInt8]]? = nil, table: [GroupSpec] = CommandTable.groups
  ) throws(RexstoreError) -> (result: ParseResult, ignored: [String]) {
    let raw = raw ?? argv.map { Array($0.utf8) }
    var options: [String: [String]] = [:]
    var rawOptions: [String: [[UInt8]]] = [:]
    var positionals: [String] = []
    var rawPositionals: [[UInt8]] = []
    var group: GroupSpec?
    var command: CommandSpec?
    var versionRequested = false
    var afterDashDash = false
    var index = 0
    var ignored: [String] = []
    /// The first argument refused for its bytes; thrown once parsing is done (help still wins).
    var badBytes: RexstoreError?

    // DESIGN §3: --help anywhere means help and touches nothing, so look for it first.
    let helpRequested = (argv.firstIndex(of: "--") ?? argv.count) > 0
      && argv[..<(argv.firstIndex(of: "--") ?? argv.count)].contains { $0 == "-h" || $0 == "--help" }

    func known() -> [OptionSpec] { (command?.options ?? []) + CommandTable.globalOptions }

    /// A word that is not valid UTF-8 is refused unless the table says it is a byte path.
    func refuseBytes(at position: Int, name: String, isPath: Bool, bytePath: Bool) {
      guard invalidUTF8.contains(position), !bytePath, badBytes == nil else { return }
      badBytes = isPath
        ? RexstoreError.usage(
          "\(name) is not valid UTF-8: paths that are not valid UTF-8 are not supported",
          hint: "rename the file, or reach it through a symlink whose name is valid UTF-8")
        : RexstoreError.usage("\(name) is not valid UTF-8", hint: "text arguments must be valid UTF-8")
    }

    while index < argv.count {
      let token = argv[index]
      let position = index
      index += 1
      if !afterDashDash, token == "--" {
        afterDashDash = true
        continue
      }
      if !afterDashDash, token.hasPrefix("-"), token != "-", !looksNumeric(token) {
        if token == "-h" || token == "--help" { continue }
        if token == "--version" {
          versionRequested = true
          continue
        }
        let spec: OptionSpec
        let inline: String?
        do {
          (spec, inline) = try lookupOption(token, in: known(), command: command)
        } catch {
          if helpRequested {
            ignored.append(token)
            continue
          }
          throw error
        }
        if spec.isSwitch {
          if inline != nil {
            if helpRequested { continue }
            throw usage("option --\(spec.long) takes no value", command: command)
          }
          options[spec.long, default: []].append("")
          rawOptions[spec.long, default: []].append([])
          continue
        }
        let value: String
        let bytes: [UInt8]
        if let inline {
          value = inline
          let word = raw[position]
          bytes = Array(word[(word.firstIndex(of: UInt8(ascii: "=")).map { $0 + 1 } ?? word.count)...])
          refuseBytes(at: position, name: "--\(spec.long)", isPath: spec.completion.isPath, bytePath: spec.bytePath)
        } else {
          guard index < argv.count, !(argv[index].hasPrefix("-") && argv[index] != "-" && !looksNumeric(argv[index])) else {
            if helpRequested { continue }
            throw usage(
              "missing value for --\(spec.long)", command: command,
              hint: "write --\(spec.long)=VALUE for a value that starts with '-'")
          }
          value = argv[index]
          bytes = raw[index]
          refuseBytes(at: index, name: "--\(spec.long)", isPath: spec.completion.isPath, bytePath: spec.bytePath)
          index += 1
        }
        options[spec.long, default: []].append(value)
        rawOptions[spec.long, default: []].append(bytes)
        continue
      }
      // A positional word: the group, then the verb, then arguments.
      if group == nil {
        guard let found = table.first(where: { $0.name == token }) else {
          if helpRequested {
            ignored.append(token)
            break
          }
          // Hidden commands (`__complete`) are never suggested.
          throw unknownCommand(token, candidates: table.map(\.name).filter { !$0.hasPrefix("__") }, what: "command")
        }
        group = found
        if !found.hasVerbs { command = found.commands[0] }
        continue
      }
      if command == nil, let group {
        // `ls`/`list` and `rm`/`delete` name the same verb in every group (CommandTable.verbAliases).
        let verb = group.commands.contains { $0.verb == token } ? token : CommandTable.verbAliases[token] ?? token
        guard let found = group.commands.first(where: { $0.verb == verb }) else {
          if helpRequested {
            ignored.append(token)
            break
          }
          throw unknownCommand(
            token, candidates: group.commands.compactMap(\.verb), what: "\(group.name) verb",
            usage: "rexstore \(group.name) <\(group.commands.compactMap(\.verb).joined(separator: "|"))>")
        }
        command = found
        continue
      }
      if let command, !command.arguments.isEmpty {
        let spec = command.arguments[min(positionals.count, command.arguments.count - 1)]
        refuseBytes(at: position, name: "argument \(spec.name)", isPath: spec.completion.isPath, bytePath: spec.bytePath)
      }
      positionals.append(token)
      rawPositionals.append(raw[position])
    }

    if versionRequested, !helpRequested { return (.version, ignored) }
    if helpRequested { return (.help(group: group, command: command), ignored) }
    if let badBytes { throw badBytes }
    guard let group else {
      throw RexstoreError.usage("no command given", hint: "run 'rexstore --help' for the list of commands")
    }
    guard let command else {
      throw RexstoreError.usage(
        "'\(group.name)' needs a verb: \(group.commands.compactMap(\.verb).joined(separator: ", "))",
        hint: "run 'rexstore help \(group.name)'")
    }
    let required = command.arguments.filter { !$0.optional }.count
    if positionals.count < required {
      let missing = command.arguments[positionals.count].name
      throw usage("missing argument \(missing)", command: command)
    }
    if positionals.count > command.arguments.count, command.arguments.last?.variadic != true {
      throw usage("unexpected argument '\(Echo.capped(positionals[command.arguments.count]))'", command: command)
    }
    for spec in known() where !spec.repeatable && (options[spec.long]?.count ?? 0) > 1 && !spec.isSwitch {
      options[spec.long] = [options[spec.long]!.last!]
      rawOptions[spec.long] = rawOptions[spec.long].map { [$0.last!] }
    }
    let invocation = Invocation(
      command: command, options: options, arguments: positionals, rawOptions: rawOptions, rawArguments: rawPositionals)
    return (.run(invocation), ignored)
  }

  /// `-5`, `-0.25` and `-1e3` are values (a negative pattern value), never options.
  static func looksNumeric(_ token: String) -> Bool {
    let utf8 = Array(token.utf8)
    return utf8.count >= 2 && utf8[0] == UInt8(ascii: "-") && (utf8[1] >= 0x30 && utf8[1] <= 0x39 || utf8[1] == UInt8(ascii: "."))
  }

  private static func lookupOption(
    _ token: String, in specs: [OptionSpec], command: CommandSpec?
  ) throws(RexstoreError) -> (OptionSpec, String?) {
    if token.hasPrefix("--") {
      let body = token.dropFirst(2)
      let name: Substring
      var inline: String?
      if let eq = body.firstIndex(of: "=") {
        name = body[..<eq]
        inline = String(body[body.index(after: eq)...])
      } else {
        name = body
      }
      if let spec = specs.first(where: { $0.long == name }) { return (spec, inline) }
      let suggestion = Suggest.closest(to: String(name), in: specs.map(\.long)).map { "did you mean '--\($0)'?" }
      throw RexstoreError(
        .unknownOption, "unknown option '--\(Echo.capped(String(name)))'" + (command.map { " for '\($0.name)'" } ?? ""),
        hint: suggestion ?? helpHint(command))
    }
    let chars = Array(token.dropFirst())
    if chars.count == 1, let spec = specs.first(where: { $0.short == chars[0] }) { return (spec, nil) }
    throw RexstoreError(
      .unknownOption, "unknown option '\(Echo.capped(token))'" + (command.map { " for '\($0.name)'" } ?? ""),
      hint: "long options take two dashes; " + helpHint(command))
  }

  private static func helpHint(_ command: CommandSpec?) -> String {
    "run 'rexstore \(command.map { "\($0.name) " } ?? "")--help'"
  }

  private static func unknownCommand(
    _ token: String, candidates: [String], what: String, usage: String? = nil
  ) -> RexstoreError {
    let hint = Suggest.closest(to: token, in: candidates).map { "did you mean '\($0)'?" }
    return RexstoreError(
      .unknownCommand, "unknown \(what) '\(Echo.capped(token))'", hint: hint ?? "run 'rexstore --help' for the list of commands")
  }

  private static func usage(_ message: String, command: CommandSpec?, hint: String? = nil) -> RexstoreError {
    RexstoreError.usage(
      message, hint: hint ?? command.map { "usage: \($0.usage); see 'rexstore \($0.name) --help'" })
  }
}

extension Parser {
  /// The group a command line names, found as `parse` finds it (options skipped, with the value of a
  /// global option that takes one), also when the line cannot be parsed: a command that reports in its
  /// own convention (`health`) still recognises itself.
  public static func groupName(in argv: [String], table: [GroupSpec] = CommandTable.groups) -> String? {
    let valued = Set(CommandTable.globalOptions.filter { !$0.isSwitch }.map { "--\($0.long)" })
    var index = 0
    var afterDashDash = false
    while index < argv.count {
      let token = argv[index]
      index += 1
      if !afterDashDash, token == "--" {
        afterDashDash = true
        continue
      }
      if !afterDashDash, token.hasPrefix("-"), token != "-", !looksNumeric(token) {
        if valued.contains(token) { index += 1 }
        continue
      }
      return table.contains { $0.name == token } ? token : nil
    }
    return nil
  }
}
