import Foundation
import Testing

@testable import RexstoreCLI
@testable import RexstoreCore

/// Issue 8, command-line side: argv bytes that are not UTF-8, `--help` anywhere, configuration and
/// path settings of the wrong kind, out-of-range times and long arguments echoed in errors.
@Suite struct SafetyCLITests {
  /// Runs argv given as bytes, as `main` does.
  func run(_ h: Harness, _ argv: [[UInt8]]) -> Harness.Result {
    let out = MemorySink()
    let err = MemorySink()
    let status = CLI.run(
      arguments: RawArguments(argv), environment: h.environment, workingDirectory: h.root, stdout: out, stderr: err)
    return Harness.Result(status: status, stdout: out.text, stderr: err.text)
  }

  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
  static let bad: [UInt8] = [0x74, 0xFF, 0xFE]  // "t" and two bytes that never occur in UTF-8

  /// Each text argument of a storing command, with invalid UTF-8 in it, and the name the error gives.
  static let textCases: [([[UInt8]], String)] = [
    ([bytes("pattern"), bytes("set"), bytes("1"), bad, bytes("k"), bytes("v")], "argument TYPE"),
    ([bytes("pattern"), bytes("set"), bytes("1"), bytes("t"), bad, bytes("v")], "argument KEY"),
    ([bytes("pattern"), bytes("set"), bytes("1"), bytes("t"), bytes("k"), bad], "argument VALUE"),
    ([bytes("context"), bytes("add"), bytes("1"), bytes("k"), bytes("v"), bytes("--session"), bad], "--session"),
    ([bytes("context"), bytes("add"), bytes("1"), bytes("k"), bytes("v"), bytes("--session=") + bad], "--session"),
    ([bytes("insight"), bytes("add"), bytes("1"), bad, bytes("{}")], "argument TYPE"),
    ([bytes("audio"), bytes("put"), bytes("u1"), bytes("a.wav"), bytes("--content-type"), bad], "--content-type"),
    ([bytes("profile"), bytes("store"), bytes("u1"), bytes("p1"), bytes("a.wav"), bytes("--meta"), bytes("k=") + bad], "--meta"),
  ]

  @Test(arguments: 0..<textCases.count)
  func textArgumentsThatAreNotUTF8AreRefused(_ index: Int) throws {
    let (argv, name) = SafetyCLITests.textCases[index]
    let h = Harness()
    h.run("db", "upgrade")
    let before = try Data(contentsOf: URL(fileURLWithPath: h.databasePath))
    let r = run(h, argv)
    #expect(r.status == 64)
    #expect(r.errorCode == "usage")
    #expect(r.stdout.isEmpty)
    let message = try JSONParser.parse(r.stderr)["error"]?["message"]
    #expect(message == .string("\(name) is not valid UTF-8"))
    // Neither the raw bytes nor their U+FFFD replacement reach stderr.
    #expect(!r.stderr.contains("\u{FFFD}"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: h.databasePath)) == before, "the database changed")
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data/objects"))
  }

  /// Path settings take bytes too (issue 8): a part that is not UTF-8 must exist (it is opened by its
  /// bytes); when it does not, the setting is a configuration error and nothing is created anywhere.
  @Test func pathSettingsWhoseBytesDoNotExistAreConfigurationErrors() throws {
    let h = Harness()
    let dir = Array((h.root + "/p").utf8)
    for argv in [
      [SafetyCLITests.bytes("--db"), dir + [0xFF, 0x2F, 0x78], SafetyCLITests.bytes("pattern"), SafetyCLITests.bytes("set"), SafetyCLITests.bytes("1"), SafetyCLITests.bytes("t"), SafetyCLITests.bytes("k"), SafetyCLITests.bytes("v")],
      [SafetyCLITests.bytes("--root=") + dir + [0xFF], SafetyCLITests.bytes("pattern"), SafetyCLITests.bytes("set"), SafetyCLITests.bytes("1"), SafetyCLITests.bytes("t"), SafetyCLITests.bytes("k"), SafetyCLITests.bytes("v")],
    ] {
      let r = run(h, argv)
      #expect(r.status == 78, "\(r.stderr)")
      #expect(r.stderr.contains("p\\\\xFF' does not exist"), "\(r.stderr)")
    }
    // Nothing was created under any name.
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: h.root).filter { $0.hasPrefix("p") }.isEmpty)
  }

  /// A trailing `/` means the same on a path setting whose bytes are not UTF-8 as on one that is text
  /// (review leftover: `--db "DIR\xff/x.sqlite3/"` dropped the slash and was accepted, while the text
  /// form was refused, and a text `--db DIR/x.sqlite3/` of a new database made a directory under the
  /// database's name before failing with 74). A file setting ending in `/` is 78, nothing created.
  @Test func aTrailingSlashMeansTheSameOnAPathSettingGivenAsBytes() throws {
    let h = Harness()
    let b = SafetyCLITests.bytes
    func c(_ path: [UInt8]) -> [CChar] { path.map { CChar(bitPattern: $0) } + [0] }
    func kind(_ path: [UInt8]) -> mode_t? {
      var info = stat()
      return stat(c(path), &info) == 0 ? info.st_mode & S_IFMT : nil
    }
    let tail = [b("pattern"), b("set"), b("1"), b("t"), b("k"), b("v")]
    // One directory named by text, one whose name is not UTF-8; made by their bytes.
    for dir in [b(h.root + "/p"), b(h.root + "/q") + [0xFF]] {
      #expect(mkdir(c(dir), 0o755) == 0)
      // A database that does not exist yet: refused, and no directory appears under its name.
      let fresh = run(h, [b("--db"), dir + b("/x.sqlite3/")] + tail)
      #expect(fresh.status == 78, "\(fresh.stderr)")
      #expect(fresh.errorCode == "config")
      #expect(fresh.stderr.contains("ends in '/', which names a directory"), "\(fresh.stderr)")
      #expect(kind(dir + b("/x.sqlite3")) == nil)
      // The same name as a regular file (a database made without the slash): still refused.
      #expect(run(h, [b("--db"), dir + b("/x.sqlite3")] + tail).status == 0)
      let existing = run(h, [b("--db"), dir + b("/x.sqlite3/")] + tail)
      #expect(existing.status == 78, "\(existing.stderr)")
      #expect(kind(dir + b("/x.sqlite3")) == S_IFREG)
      // A config file named with a trailing slash is not read as that file.
      let fd = open(c(dir + b("/c.json")), O_CREAT | O_WRONLY | O_TRUNC, 0o644)
      #expect(fd >= 0 && write(fd, "{}", 2) == 2)
      close(fd)
      let config = run(h, [b("--config"), dir + b("/c.json/")] + tail)
      #expect(config.status == 78, "\(config.stderr)")
      // A directory setting may end in `/` either way.
      let rooted = run(h, [b("--root"), dir + b("/r/")] + tail)
      #expect(rooted.status == 0, "\(rooted.stderr)")
      #expect(kind(dir + b("/r/rexstore.sqlite3")) == S_IFREG)
    }
  }

  /// Review finding: a --db whose last part is `.` or `..` names a directory as surely as one ending
  /// in `/`, but slips past the trailing-slash check: `--db DIR/x.sqlite3/.` made a directory under
  /// the database's name (and `--db DIR/new/x.sqlite3/..` two), then failed with 73. Expected: 78,
  /// nothing created, as for `--db DIR/x.sqlite3/`.
  @Test func aDatabasePathEndingInDotOrDotDotIsRefusedBeforeAnythingIsCreated() throws {
    let h = Harness()
    let b = SafetyCLITests.bytes
    for (suffix, made) in [("/x.sqlite3/.", "/x.sqlite3"), ("/new/x.sqlite3/..", "/new")] {
      let r = run(h, [b("--db"), b(h.root + suffix), b("pattern"), b("set"), b("1"), b("t"), b("k"), b("v")])
      #expect(r.status == 78, "\(r.stderr)")
      #expect(r.errorCode == "config")
      #expect(!FileManager.default.fileExists(atPath: h.root + made), "\(suffix) created \(made)")
    }
  }

  /// An empty path setting used to mean the working directory: `--root "$UNSET"` in a runbook put the
  /// database and objects wherever the job happened to run (`--db ''` was refused only by accident,
  /// for ending in '/'). An empty flag is a usage error (64), an empty config-file value 78; nothing is
  /// created. (An empty variable still counts as unset, as shells and the app treat it.)
  @Test func anEmptyPathSettingIsRefusedNotTakenForTheWorkingDirectory() throws {
    let h = Harness()
    let b = SafetyCLITests.bytes
    for flag in ["--db", "--root", "--objects", "--dossiers", "--app-dir"] {
      let r = run(h, [b(flag), b(""), b("pattern"), b("set"), b("1"), b("t"), b("k"), b("v")])
      #expect(r.status == 64, "\(flag): \(r.stderr)")
      #expect(r.stderr.contains("must not be empty"), "\(flag): \(r.stderr)")
    }
    let from = run(h, [b("migrate"), b("--from"), b(""), b("--dry-run")])
    #expect(from.status == 64, "\(from.stderr)")
    #expect(from.stderr.contains("must not be empty"), "\(from.stderr)")
    let config = h.root + "/c.json"
    try Data(#"{"dossiers":""}"#.utf8).write(to: URL(fileURLWithPath: config))
    let r = run(h, [b("--config"), b(config), b("pattern"), b("set"), b("1"), b("t"), b("k"), b("v")])
    #expect(r.status == 78, "\(r.stderr)")
    #expect(r.stderr.contains("must not be empty"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data/rexstore.sqlite3"))
  }

  /// The table's byte-path operands keep argv's bytes in the invocation (inline `--opt=` values
  /// too); text operands beside them are still refused.
  @Test func bytePathOperandsKeepTheirBytes() throws {
    let raw = RawArguments([
      SafetyCLITests.bytes("audio"), SafetyCLITests.bytes("get"), SafetyCLITests.bytes("audio/u1/a.wav"),
      SafetyCLITests.bytes("--output=o") + [0xFF, 0x80],
    ])
    guard case .run(let inv) = try Parser.parse(raw.words, invalidUTF8: raw.invalid, raw: raw.bytes).result else {
      Issue.record("not a run")
      return
    }
    #expect(inv.path("output") == FilePathBytes(bytes: [0x6F, 0xFF, 0x80]))
    #expect(inv.value("output") == "o\\xFF\\x80")
    let put = RawArguments([SafetyCLITests.bytes("audio"), SafetyCLITests.bytes("put"), SafetyCLITests.bytes("u1"), [0x66, 0xFE]])
    guard case .run(let putInv) = try Parser.parse(put.words, invalidUTF8: put.invalid, raw: put.bytes).result else {
      Issue.record("not a run")
      return
    }
    #expect(putInv.pathArgument(1) == FilePathBytes(bytes: [0x66, 0xFE]))
    let text = RawArguments([SafetyCLITests.bytes("audio"), SafetyCLITests.bytes("put"), [0x75, 0xFE], SafetyCLITests.bytes("f")])
    #expect(throws: RexstoreError.self) { try Parser.parse(text.words, invalidUTF8: text.invalid, raw: text.bytes) }
  }

  /// Which operands are byte paths is the table's to say: every file or directory operand of a command
  /// is one, except those whose handler still takes text (`migrate --from`; the global settings).
  @Test func theTableMarksEveryCommandPathOperandAsBytes() {
    var textPaths: [String] = []
    for command in CommandTable.allCommands {
      for argument in command.arguments where argument.completion.isPath && !argument.bytePath {
        textPaths.append("\(command.name) \(argument.name)")
      }
      for option in command.options where option.completion.isPath && !option.bytePath {
        textPaths.append("\(command.name) --\(option.long)")
      }
    }
    #expect(textPaths == [])
    // Every global option that names a file or directory (the path settings) takes bytes.
    let pathOptions = CommandTable.globalOptions.filter { $0.completion.isPath }
    #expect(!pathOptions.isEmpty && pathOptions.allSatisfy { $0.bytePath })
    let bytePaths = CommandTable.allCommands.flatMap { command in
      command.arguments.filter(\.bytePath).map { "\(command.name) \($0.name)" }
        + command.options.filter(\.bytePath).map { "\(command.name) --\($0.long)" }
    }
    #expect(Set(bytePaths) == [
      "audio put FILE", "audio get --output", "pattern import FILE", "profile store SAMPLE", "profile get --output",
      "user export --output", "db backup DEST", "db restore SRC", "migrate --from",
    ])
  }

  @Test func escapedFormShowsBadBytesAsHex() {
    #expect(RawArguments.escaped([0x61, 0xFF, 0xC3, 0xA9, 0xE2, 0x82]) == "a\\xFFé\\xE2\\x82")
    let raw = RawArguments([[0x61], [0x80]])
    #expect(raw.words == ["a", "\\x80"])
    #expect(raw.invalid == [1])
  }

  /// DESIGN §3: `--help` anywhere exits 0 and touches nothing, even after a name that means nothing.
  @Test func helpAnywhereWinsOverUnknownNames() {
    let h = Harness()
    let top = h.run("nosuch", "--help")
    #expect(top.status == 0)
    #expect(top.stdout == Help.text(group: nil, command: nil))
    #expect(top.stderr == #"{"warning":"ignored 'nosuch': --help shows the help of the command named before it"}"# + "\n")
    let group = h.run("pattern", "nosuch", "--tpye", "-h")
    #expect(group.status == 0)
    #expect(group.stdout.hasPrefix("rexstore pattern:"))
    let option = h.run("pattern", "set", "--tpye", "x", "--help")
    #expect(option.status == 0)
    #expect(option.stdout.hasPrefix("Usage: rexstore pattern set"))
    #expect(h.run("nosuch", "--help", "--quiet").stderr.isEmpty)
    // After `--`, --help is a value like any other.
    #expect(h.run("pattern", "set", "1", "t", "k", "--", "--help").status == 0)
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data/objects"))
  }

  @Test func configFileProblemsAreAllExit78() throws {
    let h = Harness()
    let big = h.root + "/big.json"
    try Data(repeating: 0x20, count: (1 << 20) + 1).write(to: URL(fileURLWithPath: big))
    let fifo = h.root + "/fifo.json"
    #expect(mkfifo(fifo, 0o600) == 0)
    for path in [h.root + "/missing.json", h.root, big, fifo] {
      let r = h.run("--config", path, "pattern", "list", "1")
      #expect(r.status == 78, "\(path): \(r.stderr)")
      #expect(r.errorCode == "config")
    }
    // The same through the variable and the XDG default.
    #expect(h.run(["pattern", "list", "1"], env: ["REXSTORE_CONFIG": h.root]).status == 78)
    try FileManager.default.createDirectory(atPath: h.root + "/config/rexstore/config.json", withIntermediateDirectories: true)
    #expect(h.run("pattern", "list", "1").status == 78)
  }

  @Test func pathSettingsOfTheWrongKindAreExit78() throws {
    let h = Harness()
    let file = h.root + "/plain"
    FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
    for argv in [
      ["--objects", file, "audio", "ls", "u1"], ["--root", file, "pattern", "list", "1"],
      ["--db", h.root, "pattern", "list", "1"], ["--objects", file + "/below", "audio", "ls", "u1"],
    ] {
      let r = h.run(argv)
      #expect(r.status == 78, "\(argv): \(r.stderr)")
      #expect(r.errorCode == "config")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data("x".utf8))
    // Symlinks to the right kind are fine.
    try FileManager.default.createDirectory(atPath: h.root + "/real", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: h.root + "/link", withDestinationPath: h.root + "/real")
    #expect(h.run("--objects", h.root + "/link", "audio", "ls", "u1").status == 0)
  }

  @Test func longArgumentsAreCappedInErrors() throws {
    let h = Harness()
    let long = String(repeating: "a", count: 100_000)
    for argv in [
      ["pattern", "list", long], [long], ["pattern", long], ["pattern", "list", "1", "--" + long],
      ["pattern", "get", "1", "t", "k", long], ["context", "add", "1", "k", "v", "--expires", long],
      ["pattern", "set", "1", "t", "k", "v", "--confidence", long],
    ] {
      let r = h.run(argv)
      #expect(r.status != 0)
      #expect(r.stderr.utf8.count < 1_000, "\(r.stderr.utf8.count) bytes for \(argv.map { $0.prefix(20) })")
      #expect(r.stderr.contains(String(repeating: "a", count: 200) + "…"), "\(r.stderr.prefix(300))")
    }
  }

  @Test func echoCapKeepsWholeCharacters() {
    let text = String(repeating: "é", count: 150)  // 300 bytes
    let capped = Echo.capped(text)
    #expect(capped == String(repeating: "é", count: 100) + "…")
    #expect(Echo.capped("short") == "short")
  }
}
