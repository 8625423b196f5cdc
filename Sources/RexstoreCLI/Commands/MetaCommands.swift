import RexstoreCore

/// Commands about rexstore itself: help, completion scripts and the man page. None touches a store.
enum MetaCommands {
  static let shells = ["bash", "zsh", "fish"]

  static let help = CommandSpec(
    "help", summary: "Show help for a command",
    arguments: [
      ArgumentSpec("COMMAND", help: "a command group", optional: true, completion: .commands),
      ArgumentSpec("VERB", help: "a verb of that group", optional: true),
    ],
    examples: ["rexstore help pattern set"]
  ) { inv, _ throws(RexstoreError) in
    guard let name = inv.arguments.first else { return .text(Help.text(group: nil, command: nil)) }
    var argv = [name]
    if inv.arguments.count > 1 { argv.append(inv.arguments[1]) }
    argv.append("--help")
    guard case .help(let group, let command) = try Parser.parse(argv) else { return .text(Help.text(group: nil, command: nil)) }
    if inv.arguments.count > 1, command == nil, let group {
      throw RexstoreError(.unknownCommand, "unknown \(group.name) verb '\(inv.arguments[1])'",
        hint: Suggest.closest(to: inv.arguments[1], in: group.commands.compactMap(\.verb)).map { "did you mean '\($0)'?" })
    }
    if group == nil {
      throw RexstoreError(.unknownCommand, "unknown command '\(name)'",
        hint: Suggest.closest(to: name, in: CommandTable.groups.map(\.name)).map { "did you mean '\($0)'?" })
    }
    return .text(Help.text(group: group, command: command))
  }

  static let completion = CommandSpec(
    "completion", summary: "Print a shell completion script",
    discussion: """
      bash: rexstore completion bash > ~/.local/share/bash-completion/completions/rexstore
      zsh:  rexstore completion zsh > ~/.zfunc/_rexstore   (with ~/.zfunc on $fpath)
      fish: rexstore completion fish > ~/.config/fish/completions/rexstore.fish
      """,
    arguments: [ArgumentSpec("SHELL", help: "bash, zsh or fish", completion: .choices(shells))]
  ) { inv, _ throws(RexstoreError) in
    switch inv.argument(0) {
    case "bash": return .text(BashCompletion.script())
    case "zsh": return .text(ZshCompletion.script())
    case "fish": return .text(FishCompletion.script())
    default:
      throw RexstoreError.usage("unsupported shell '\(inv.argument(0))'", hint: "choose bash, zsh or fish")
    }
  }

  static let man = CommandSpec(
    "man", summary: "Print the rexstore(1) man page in mdoc",
    examples: ["rexstore man | man -l -"]
  ) { _, _ throws(RexstoreError) in
    .text(ManPage.render())
  }
}
