import Testing

@testable import RexstoreCLI

/// Invariants of the one command table. Parsing, help, completions and the man page all read it, so a
/// slip here (a clashing option, a missing help line) shows up in every one of them.
@Suite struct CommandTableTests {
  static let groups = CommandTable.groups
  static let commands = CommandTable.allCommands
  /// Options the parser knows before any command: the globals and the builtins (`--help`, `--version`).
  static let globalAndBuiltin = CommandTable.globalOptions + CommandTable.builtinOptions
  /// Every option of the table, each with where it appears.
  static let allOptions: [(owner: String, option: OptionSpec)] =
    globalAndBuiltin.map { ("global options", $0) } + commands.flatMap { c in c.options.map { (c.name, $0) } }

  static func duplicates(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return Set(names.filter { !seen.insert($0).inserted }).sorted()
  }

  // MARK: Names

  @Test func groupNamesAreUnique() {
    #expect(Self.duplicates(Self.groups.map(\.name)) == [], "duplicate group names")
  }

  @Test func verbsAreUniqueWithinAGroup() {
    for group in Self.groups {
      #expect(Self.duplicates(group.commands.compactMap(\.verb)) == [], "duplicate verbs in '\(group.name)'")
    }
  }

  /// `hasVerbs` looks at the first command only, so a group must be all verbs or a single verbless command.
  @Test func groupsAreAllVerbsOrOneVerblessCommand() {
    for group in Self.groups {
      #expect(group.commands.allSatisfy { $0.group == group.name }, "a command of '\(group.name)' names another group")
      if group.hasVerbs {
        #expect(group.commands.allSatisfy { $0.verb != nil }, "'\(group.name)' mixes verbs and a verbless command")
      } else {
        #expect(group.commands.count == 1, "verbless group '\(group.name)' holds \(group.commands.count) commands")
      }
    }
  }

  @Test func optionNamesAreUniqueWithinACommand() {
    for command in Self.commands {
      #expect(Self.duplicates(command.options.map(\.long)) == [], "duplicate options in '\(command.name)'")
      #expect(
        Self.duplicates(command.options.compactMap(\.short).map(String.init)) == [],
        "duplicate short options in '\(command.name)'")
    }
    #expect(Self.duplicates(Self.globalAndBuiltin.map(\.long)) == [], "duplicate global options")
  }

  /// The parser looks a command's options up together with the globals, and handles the builtins first,
  /// so a command option with one of their names would be shadowed or ambiguous.
  @Test func commandOptionsDoNotCollideWithGlobalOrBuiltinOptions() {
    let reserved = Set(Self.globalAndBuiltin.map(\.long))
    let reservedShort = Set(Self.globalAndBuiltin.compactMap(\.short))
    for command in Self.commands {
      for option in command.options {
        #expect(!reserved.contains(option.long), "'\(command.name)' redefines --\(option.long)")
        if let short = option.short {
          #expect(!reservedShort.contains(short), "'\(command.name)' redefines -\(short)")
        }
      }
    }
  }

  @Test func longOptionNamesAreKebabCase() {
    for (owner, option) in Self.allOptions {
      #expect(option.long.wholeMatch(of: #/[a-z][a-z0-9-]*/#) != nil, "--\(option.long) of \(owner) is not kebab-case")
    }
  }

  // MARK: Help text

  @Test func everythingHasHelp() {
    for group in Self.groups {
      #expect(!group.summary.isEmpty, "group '\(group.name)' has no summary")
    }
    for command in Self.commands {
      #expect(!command.summary.isEmpty, "'\(command.name)' has no summary")
      for argument in command.arguments {
        #expect(!argument.help.isEmpty, "argument \(argument.name) of '\(command.name)' has no help")
      }
    }
    for (owner, option) in Self.allOptions {
      #expect(!option.help.isEmpty, "--\(option.long) of \(owner) has no help")
    }
  }

  /// Summaries are one column of `rexstore --help`, the group help and the zsh and fish menus.
  @Test func summariesAreAtMost60Characters() {
    for group in Self.groups {
      #expect(group.summary.count <= 60, "summary of group '\(group.name)' is \(group.summary.count) characters")
    }
    for command in Self.commands {
      #expect(
        command.summary.count <= 60,
        "summary of '\(command.name)' is \(command.summary.count) characters (at most 60): \(command.summary)")
    }
  }

  /// `rexstore help G V`, `rexstore G V --help` and Help.text all give the same page, headed by the usage line.
  @Test func everyCommandHasHelp() throws {
    for group in Self.groups {
      for command in group.commands {
        let words = [group.name] + (command.verb.map { [$0] } ?? [])
        let text = Help.text(group: group, command: command)
        #expect(text.hasPrefix("Usage: \(command.usage)\n"), "help of '\(command.name)' does not start with its usage")
        #expect(text.contains(command.summary))
        #expect(Self.run(["help"] + words) == .init(status: 0, stdout: text), "rexstore help \(command.name)")
        #expect(Self.run(words + ["--help"]) == .init(status: 0, stdout: text), "rexstore \(command.name) --help")
        #expect(Self.run(words + ["-h"]) == .init(status: 0, stdout: text), "rexstore \(command.name) -h")
      }
    }
  }

  @Test func everyGroupHasHelp() {
    for group in Self.groups {
      let text = Help.text(group: group, command: nil)
      #expect(Self.run(["help", group.name]) == .init(status: 0, stdout: text), "rexstore help \(group.name)")
      if group.hasVerbs {
        for command in group.commands { #expect(text.contains(command.verb!), "'\(group.name)' help omits a verb") }
      }
    }
    let top = Help.text(group: nil, command: nil)
    for group in Self.groups { #expect(top.contains(group.name), "top-level help omits '\(group.name)'") }
  }

  struct Outcome: Equatable {
    var status: Int32
    var stdout: String
  }

  /// Runs the CLI in-process; help touches no store, so no environment is needed.
  static func run(_ arguments: [String]) -> Outcome {
    let out = MemorySink()
    let err = MemorySink()
    let status = CLI.run(arguments: arguments, environment: [:], workingDirectory: "/", stdout: out, stderr: err)
    return Outcome(status: status, stdout: out.text)
  }
}
