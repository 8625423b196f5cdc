import RexstoreCore

/// Help text, rendered from the command table.
public enum Help {
  public static func text(group: GroupSpec?, command: CommandSpec?) -> String {
    if let command { return commandHelp(command) }
    if let group { return groupHelp(group) }
    return topHelp()
  }

  static func topHelp() -> String {
    var s = """
      rexstore \(CLI.version): the storage toolkit of the Rex poker-coaching app.
      Every command prints JSON on stdout and has a documented exit status.

      Usage: rexstore [GLOBAL OPTIONS] COMMAND [VERB] [OPTIONS] [--] [ARGS]

      Commands:

      """
    s += table(CommandTable.groups.map { ($0.name, $0.summary) })
    s += "\nGlobal options:\n" + optionTable(CommandTable.globalOptions + CommandTable.builtinOptions)
    s += """

      Exit status: 0 ok, 1 not found, 64 usage, 65 bad data, 66 no input, 69 unavailable, 70 internal,
      73 cannot create, 74 I/O error, 75 busy (retry), 77 permission denied, 78 configuration.

      Run 'rexstore help COMMAND' or 'rexstore COMMAND --help' for details.

      """
    return s
  }

  static func groupHelp(_ group: GroupSpec) -> String {
    if !group.hasVerbs { return commandHelp(group.commands[0]) }
    var s = "rexstore \(group.name): \(group.summary)\n\n"
    s += "Usage: rexstore \(group.name) VERB [OPTIONS] [ARGS]\n\nVerbs:\n"
    s += table(group.commands.map { ($0.usage.dropFirst("rexstore \(group.name) ".count).description, $0.summary) })
    s += "\nRun 'rexstore help \(group.name) VERB' for details.\n"
    return s
  }

  static func commandHelp(_ command: CommandSpec) -> String {
    var s = "Usage: \(command.usage)\n\n\(command.summary).\n"
    if !command.discussion.isEmpty { s += "\n" + command.discussion + "\n" }
    if !command.arguments.isEmpty {
      s += "\nArguments:\n" + table(command.arguments.map { ($0.name, $0.help) })
    }
    if !command.options.isEmpty {
      s += "\nOptions:\n" + optionTable(command.options)
    }
    s += "\nGlobal options:\n" + optionTable(CommandTable.globalOptions + CommandTable.builtinOptions)
    if !command.examples.isEmpty {
      s += "\nExamples:\n" + command.examples.map { "  \($0)\n" }.joined()
    }
    return s
  }

  static func optionTable(_ options: [OptionSpec]) -> String {
    table(options.map { ($0.synopsis, $0.help) })
  }

  /// Two columns, the first padded to the widest entry (capped so long names do not push help off-screen).
  static func table(_ rows: [(String, String)]) -> String {
    let width = min(28, rows.map(\.0.count).max() ?? 0)
    return rows.map { name, help in
      let pad = name.count < width ? String(repeating: " ", count: width - name.count) : ""
      let sep = name.count > width ? "\n" + String(repeating: " ", count: width + 4) : pad + "  "
      return "  \(name)\(sep)\(help)\n"
    }.joined()
  }
}
