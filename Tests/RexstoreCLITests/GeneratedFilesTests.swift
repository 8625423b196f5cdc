import Foundation
import Testing

@testable import RexstoreCLI

/// The committed completions and man page: they match the generators (no drift), and the shells and
/// mandoc accept what the generators write.
///
/// bash is always present and always checked. zsh, fish and mandoc are checked when installed; CI
/// installs them (apt-get install mandoc zsh fish), so there, with `CI` set, a missing one fails.
@Suite struct GeneratedFilesTests {
  /// Paths of the committed files, relative to the package root.
  static let paths = ["completions/rexstore.bash", "completions/_rexstore", "completions/rexstore.fish", "man/rexstore.1"]

  /// What `scripts/gen-docs.sh` writes to `path`, rendered in-process.
  static func rendered(_ path: String) -> String {
    switch path {
    case "completions/rexstore.bash": BashCompletion.script()
    case "completions/_rexstore": ZshCompletion.script()
    case "completions/rexstore.fish": FishCompletion.script()
    case "man/rexstore.1": ManPage.render()
    default: fatalError("no generator for \(path)")
    }
  }

  /// This file is Tests/RexstoreCLITests/GeneratedFilesTests.swift; the package root is two levels up.
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  // MARK: Drift

  @Test(arguments: paths)
  func committedFileIsUpToDate(_ path: String) throws {
    let url = Self.packageRoot.appendingPathComponent(path)
    let committed = try #require(
      try? String(contentsOf: url, encoding: .utf8), "\(path) is missing; run scripts/gen-docs.sh")
    let expected = Self.rendered(path)
    // A Bool, so that a failure prints the message and the first difference, not both whole files.
    let upToDate = committed == expected
    #expect(upToDate, "\(path) is out of date; run scripts/gen-docs.sh (\(Self.firstDifference(committed, expected)))")
  }

  /// Where two texts first differ, so the failure names a line instead of dumping both files.
  static func firstDifference(_ committed: String, _ expected: String) -> String {
    let a = committed.split(separator: "\n", omittingEmptySubsequences: false)
    let b = expected.split(separator: "\n", omittingEmptySubsequences: false)
    for i in 0..<max(a.count, b.count) {
      let old = i < a.count ? String(a[i]) : "<end of file>"
      let new = i < b.count ? String(b[i]) : "<end of file>"
      if old != new { return "line \(i + 1): committed \(old.debugDescription), generator \(new.debugDescription)" }
    }
    return "texts differ"
  }

  // MARK: bash

  @Test func bashScriptParses() throws {
    let dir = try Scratch()
    let script = try dir.write("rexstore.bash", BashCompletion.script())
    let result = try Shell.run(Shell.bash, ["-n", script])
    #expect(result.status == 0, "bash -n: \(result.stderr)")
  }

  /// One completion: the script is sourced, COMP_WORDS/COMP_CWORD are set as bash would (the last
  /// word is the one being completed) and `_rexstore` is called; its COMPREPLY comes back.
  /// `dir` is the working directory, for file completion; the script is kept out of it.
  static func bashComplete(_ words: [String], in dir: Scratch) throws -> [String] {
    let scripts = try Scratch()
    let script = try scripts.write("rexstore.bash", BashCompletion.script())
    let program = """
      source "$1" || exit 99
      shift
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
      _rexstore
      ((${#COMPREPLY[@]})) && printf '%s\\n' "${COMPREPLY[@]}"
      exit 0
      """
    let result = try Shell.run(Shell.bash, ["-c", program, "bash", script] + words, in: dir.path)
    #expect(result.status == 0 && result.stderr.isEmpty, "bash completion of \(words): \(result.stderr)")
    return result.stdout.split(separator: "\n").map(String.init)
  }

  @Test func bashCompletesGroupsVerbsOptionsAndChoices() throws {
    let dir = try Scratch()
    #expect(try Self.bashComplete(["rexstore", "pat"], in: dir) == ["pattern"])
    #expect(try Self.bashComplete(["rexstore", "pattern", "s"], in: dir) == ["set"])
    #expect(try Self.bashComplete(["rexstore", "pattern", "set", "--conf"], in: dir).contains("--confidence"))
    #expect(try Self.bashComplete(["rexstore", "completion", ""], in: dir) == ["bash", "zsh", "fish"])
    #expect(try Self.bashComplete(["rexstore", "help", ""], in: dir) == CommandTable.groups.map(\.name))
    let top = try Self.bashComplete(["rexstore", ""], in: dir)
    #expect(top.starts(with: CommandTable.groups.map(\.name)) && top.contains("--db"))
  }

  @Test func bashCompletesEveryVerbAndOption() throws {
    let dir = try Scratch()
    for group in CommandTable.groups where group.hasVerbs {
      #expect(try Self.bashComplete(["rexstore", group.name, ""], in: dir) == group.commands.compactMap(\.verb))
    }
    for command in CommandTable.allCommands {
      let offered = Set(try Self.bashComplete(["rexstore"] + command.name.split(separator: " ").map(String.init) + ["--"], in: dir))
      let expected = (command.options + CommandTable.globalOptions).map { "--\($0.long)" }
      #expect(offered.isSuperset(of: expected), "rexstore \(command.name) --<TAB> misses \(Set(expected).subtracting(offered))")
    }
  }

  @Test func bashCompletesFilesAndDirectories() throws {
    let dir = try Scratch()
    _ = try dir.write("my file.sqlite3", "")
    _ = try dir.write("other.db", "")
    try FileManager.default.createDirectory(atPath: dir.path + "/subdir", withIntermediateDirectories: true)
    #expect(Set(try Self.bashComplete(["rexstore", "--db", ""], in: dir)) == ["my file.sqlite3", "other.db", "subdir"])
    // A name with a space stays one candidate.
    #expect(try Self.bashComplete(["rexstore", "--db", "my"], in: dir) == ["my file.sqlite3"])
    // `--db=o` reaches the function as `--db`, `=`, `o`; `--db=` as `--db`, `=`.
    #expect(try Self.bashComplete(["rexstore", "--db", "=", "o"], in: dir) == ["other.db"])
    #expect(try Self.bashComplete(["rexstore", "--db", "="], in: dir).count == 3)
    #expect(try Self.bashComplete(["rexstore", "--root", ""], in: dir) == ["subdir"])
    #expect(try Self.bashComplete(["rexstore", "pattern", "import", "o"], in: dir) == ["other.db"])
    #expect(try Self.bashComplete(["rexstore", "db", "backup", "--force", "o"], in: dir) == ["other.db"])
  }

  @Test func bashSkipsOptionValuesWhenFindingTheCommand() throws {
    let dir = try Scratch()
    #expect(try Self.bashComplete(["rexstore", "--db", "x.sqlite3", "pattern", "s"], in: dir) == ["set"])
    #expect(try Self.bashComplete(["rexstore", "--db", "=", "x.sqlite3", "pattern", "s"], in: dir) == ["set"])
    #expect(try Self.bashComplete(["rexstore", "pattern", "--busy-timeout", "2s", "s"], in: dir) == ["set"])
    // A value with nothing to offer completes to nothing, not to command words.
    #expect(try Self.bashComplete(["rexstore", "--busy-timeout", ""], in: dir) == [])
    // A verbless command's first argument is not a verb: its options still complete after it.
    #expect(try Self.bashComplete(["rexstore", "help", "pattern", "--qu"], in: dir) == ["--quiet"])
  }

  // MARK: zsh

  @Test(.enabled(if: Shell.checkable("zsh"), "zsh is not installed (apt-get install zsh)"))
  func zshScriptParses() throws {
    let zsh = try Shell.require("zsh")
    let dir = try Scratch()
    let script = try dir.write("_rexstore", ZshCompletion.script())
    let result = try Shell.run(zsh, ["-n", script])
    #expect(result.status == 0, "zsh -n: \(result.stderr)")
  }

  /// compinit reads the `#compdef` line and binds the file's function to `rexstore`.
  @Test(.enabled(if: Shell.checkable("zsh"), "zsh is not installed (apt-get install zsh)"))
  func zshCompinitRegistersTheFunction() throws {
    let zsh = try Shell.require("zsh")
    let dir = try Scratch()
    _ = try dir.write("functions/_rexstore", ZshCompletion.script())
    let program = #"fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; print -r -- ${_comps[rexstore]}"#
    let result = try Shell.run(zsh, ["-fc", program, "zsh", dir.path + "/functions", dir.path + "/zcompdump"])
    #expect(result.status == 0, "zsh compinit: \(result.stderr)")
    #expect(result.stdout == "_rexstore\n", "compinit did not register _rexstore for rexstore: \(result.stdout)")
  }

  // MARK: fish

  @Test(.enabled(if: Shell.checkable("fish"), "fish is not installed (apt-get install fish)"))
  func fishScriptParses() throws {
    let fish = try Shell.require("fish")
    let dir = try Scratch()
    let script = try dir.write("rexstore.fish", FishCompletion.script())
    let result = try Shell.run(fish, ["--no-execute", script], in: dir.path, environment: dir.fishEnvironment)
    #expect(result.status == 0, "fish --no-execute: \(result.stderr)")
  }

  /// The first column of `complete -C` for `line` (fish prints `candidate<TAB>description`); `dir` is
  /// the working directory, for file completion.
  static func fishComplete(_ line: String, in dir: Scratch) throws -> [String] {
    let fish = try Shell.require("fish")
    let scripts = try Scratch()
    let script = try scripts.write("rexstore.fish", FishCompletion.script())
    let result = try Shell.run(
      fish, ["-c", "source $argv[1]; complete -C $argv[2]", script, line], in: dir.path,
      environment: dir.fishEnvironment)
    #expect(result.status == 0, "fish completion of '\(line)': \(result.stderr)")
    return result.stdout.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) }
  }

  @Test(.enabled(if: Shell.checkable("fish"), "fish is not installed (apt-get install fish)"))
  func fishCompletesGroupsVerbsAndOptions() throws {
    let dir = try Scratch()
    _ = try dir.write("other.db", "")
    #expect(Set(try Self.fishComplete("rexstore ", in: dir)) == Set(CommandTable.groups.map(\.name)))
    for group in CommandTable.groups where group.hasVerbs {
      #expect(Set(try Self.fishComplete("rexstore \(group.name) ", in: dir)) == Set(group.commands.compactMap(\.verb)))
    }
    #expect(try Self.fishComplete("rexstore pattern set --conf", in: dir).contains("--confidence"))
    #expect(try Self.fishComplete("rexstore --db o", in: dir) == ["other.db"])
    // A value with nothing to offer completes to nothing, not to file names.
    #expect(try Self.fishComplete("rexstore --busy-timeout ", in: dir) == [])
  }

  // MARK: mandoc

  @Test(.enabled(if: Shell.checkable("mandoc"), "mandoc is not installed (apt-get install mandoc)"))
  func manPageLintsClean() throws {
    let mandoc = try Shell.require("mandoc")
    let dir = try Scratch()
    let page = try dir.write("rexstore.1", ManPage.render())
    let result = try Shell.run(mandoc, ["-T", "lint", "-W", "warning", page])
    #expect(result.status == 0, "mandoc -T lint -W warning:\n\(result.stdout)\(result.stderr)")
  }

  /// Every level, style included (long lines, sentence breaks), on the committed page as the brief
  /// states it: `mandoc -T lint man/rexstore.1`. What mandoc says about the host's own man database
  /// ("outdated mandoc.db lacks jq(1) entry") names no line of the page and is not the page's fault.
  @Test(.enabled(if: Shell.checkable("mandoc"), "mandoc is not installed (apt-get install mandoc)"))
  func committedManPageLintsCleanAtStyleLevel() throws {
    let mandoc = try Shell.require("mandoc")
    let result = try Shell.run(mandoc, ["-T", "lint", "man/rexstore.1"], in: Self.packageRoot.path)
    let messages = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains("rexstore.1:") }
    #expect(messages.isEmpty && result.status == 0, "mandoc -T lint man/rexstore.1:\n\(messages.joined(separator: "\n"))")
  }

  /// The folding that keeps text lines within 80 bytes: never inside a literal display, never at a
  /// sentence end or a run of spaces, and a continuation never starts as a request.
  @Test func roffFoldingKeepsLiteralsAndRequests() {
    let long = String(repeating: "word ", count: 20) + ".Xr-like start"
    let folded = RoffWrap.fold(long)
    #expect(folded.split(separator: "\n").allSatisfy { $0.utf8.count <= 80 })
    #expect(!folded.contains("\n.") && !folded.contains(" \n"))
    #expect(folded.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\\&", with: "") == long)
    let literal = ".Bd -literal\n" + long + "\n.Ed"
    #expect(RoffWrap.fold(literal) == literal)
    let sentence = String(repeating: "a", count: 75) + " e.g. " + String(repeating: "b", count: 20)
    #expect(RoffWrap.fold(sentence) == String(repeating: "a", count: 75) + "\ne.g. " + String(repeating: "b", count: 20))
  }
}

// Nested, so these helpers cannot clash with names in the target's other test files.
extension GeneratedFilesTests {
  /// Running the checkers: bash, zsh, fish and mandoc as child processes.
  enum Shell {
    struct Result {
      var status: Int32
      var stdout: String
      var stderr: String
    }

    static var isCI: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    /// `name` found on PATH.
    static func find(_ name: String) -> String? {
      let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
      return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether a test needing `name` runs: when it is installed, and always under CI, where it must be.
    static func checkable(_ name: String) -> Bool { isCI || find(name) != nil }

    static func require(_ name: String) throws -> String {
      try #require(find(name), "\(name) is not on PATH; CI must install it (apt-get install -y \(name))")
    }

    static var bash: String { find("bash") ?? "/bin/bash" }

    /// Runs `executable` to completion. Output goes to temporary files rather than pipes, so a child that
    /// fills one stream while we wait on the other cannot deadlock.
    static func run(
      _ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil
    ) throws -> Result {
      let scratch = try Scratch()
      let outPath = scratch.path + "/stdout", errPath = scratch.path + "/stderr"
      try Data().write(to: URL(fileURLWithPath: outPath))
      try Data().write(to: URL(fileURLWithPath: errPath))
      let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
      let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
      let process = Process()
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
      process.standardInput = FileHandle.nullDevice
      process.standardOutput = out
      process.standardError = err
      if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
      if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
      try process.run()
      process.waitUntilExit()
      try out.close()
      try err.close()
      return Result(
        status: process.terminationStatus,
        stdout: try String(contentsOfFile: outPath, encoding: .utf8),
        stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }
  }

  /// A private temporary directory, removed when the value goes away.
  final class Scratch {
    let path: String

    init() throws {
      path = FileManager.default.temporaryDirectory.appendingPathComponent("rexstore-gen-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` (creating parent directories) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
      let file = path + "/" + name
      try FileManager.default.createDirectory(
        atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try text.write(toFile: file, atomically: true, encoding: .utf8)
      return file
    }

    /// Keeps fish away from the user's config and history.
    var fishEnvironment: [String: String] {
      ["XDG_CONFIG_HOME": path + "/xdg-config", "XDG_DATA_HOME": path + "/xdg-data", "XDG_CACHE_HOME": path + "/xdg-cache"]
    }
  }
}
