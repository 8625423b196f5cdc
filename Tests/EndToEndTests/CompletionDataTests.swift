import Foundation
import Testing

/// Completions that know the data (issue 10): the committed bash, zsh and fish scripts offer user ids,
/// profile ids, pattern types and blob names through the hidden `__complete` helper of the binary under
/// test, which is read-only, silent and always exits 0.
@Suite struct CompletionDataTests {
  /// A store with patterns of users 42 and 7, an insight of user 9, audio of alice and bob (a name with
  /// a space) and a profile p1 of carol.
  static func store() throws -> Processes.Scratch {
    let scratch = Processes.Scratch()
    let steps: [[String]] = [
      ["pattern", "set", "42", "tilt", "k1", "1"], ["pattern", "set", "42", "style", "k", "2"],
      ["pattern", "set", "7", "aggro", "k", "3"], ["insight", "add", "9", "risk", "{}"],
      ["audio", "put", "alice", "a.wav"], ["audio", "put", "bob", "a.wav", "--name", "my rec.wav"],
      ["profile", "store", "carol", "p1", "a.wav"],
    ]
    try Data("RIFF".utf8).write(to: URL(fileURLWithPath: scratch.path + "/a.wav"))
    for step in steps {
      let r = try Processes.rexstore(step, in: scratch)
      #expect(r.status == 0, "\(step): \(r.stderr)")
    }
    return scratch
  }

  static func helper(_ arguments: [String], in scratch: Processes.Scratch) throws -> [String] {
    let r = try Processes.rexstore(arguments, in: scratch)
    #expect(r.status == 0 && r.stderr.isEmpty, "\(arguments): \(r.status) \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
  }

  @Test func helperListsEachKind() throws {
    let s = try Self.store()
    #expect(try Self.helper(["__complete", "user-ids"], in: s) == ["42", "7", "9"])
    #expect(try Self.helper(["__complete", "user-ids", "--", "4"], in: s) == ["42"])
    #expect(try Self.helper(["__complete", "object-users"], in: s) == ["alice", "bob", "carol"])
    #expect(try Self.helper(["__complete", "users"], in: s) == ["42", "7", "9", "alice", "bob", "carol"])
    #expect(try Self.helper(["__complete", "profiles", "--", "", "carol"], in: s) == ["p1"])
    #expect(try Self.helper(["__complete", "pattern-types"], in: s) == ["aggro", "style", "tilt"])
    #expect(try Self.helper(["__complete", "pattern-types", "--", "", "42"], in: s) == ["style", "tilt"])
    #expect(try Self.helper(["__complete", "insight-types"], in: s) == ["risk"])
    #expect(try Self.helper(["__complete", "blobs", "--", ""], in: s) == ["audio/", "voice_profiles/"])
    #expect(try Self.helper(["__complete", "blobs", "--", "audio/"], in: s) == ["audio/alice/", "audio/bob/"])
    #expect(try Self.helper(["__complete", "blobs", "--", "audio/bob/my"], in: s) == ["audio/bob/my rec.wav"])
    #expect(try Self.helper(["__complete", "blobs", "--", "voice_profiles/carol/p1/"], in: s) == ["voice_profiles/carol/p1/sample_0.wav"])
    // Location options before it choose the store, as for any command.
    #expect(try Self.helper(["--db", s.path + "/none.sqlite3", "__complete", "user-ids"], in: s) == [])
  }

  /// Nothing is created or changed: no database, no object root, a database of an older schema stays
  /// byte for byte as it was; a broken store or a bad line is silence and exit 0.
  @Test func helperIsReadOnlyAndSilent() throws {
    let empty = Processes.Scratch()
    for kind in ["user-ids", "users", "pattern-types", "blobs", "profiles", "no-such-kind"] {
      #expect(try Self.helper(["__complete", kind, "--", "", "carol"], in: empty) == [])
    }
    #expect(!FileManager.default.fileExists(atPath: empty.path + "/data"), "the helper created the data root")
    #expect(try Self.helper(["__complete"], in: empty) == [])
    #expect(try Self.helper(["__complete", "--bogus"], in: empty) == [])
    #expect(try Self.helper(["--config", "/nonexistent.json", "__complete", "users"], in: empty) == [])
    #expect(try Self.helper(["__complete", "blobs", "--", "../../etc/"], in: empty) == [])
    #expect(try Self.helper(["__complete", "profiles", "--", "", ".."], in: empty) == [])

    // An app database without rexstore's tables: read, never migrated.
    let app = Processes.Scratch()
    try FileManager.default.createDirectory(atPath: app.path + "/data", withIntermediateDirectories: true)
    let made = try Processes.run(
      "/usr/bin/sqlite3",
      [app.database, "CREATE TABLE user_patterns (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, pattern_type TEXT NOT NULL, pattern_key TEXT NOT NULL, pattern_value TEXT NOT NULL, confidence REAL DEFAULT 1.0, created_at TIMESTAMP, updated_at TIMESTAMP); INSERT INTO user_patterns (user_id, pattern_type, pattern_key, pattern_value) VALUES (5, 'tilt', 'k', '1');"],
      environment: app.environment)
    #expect(made.status == 0, "\(made.stderr)")
    let before = try Data(contentsOf: URL(fileURLWithPath: app.database))
    #expect(try Self.helper(["__complete", "user-ids"], in: app) == ["5"])
    #expect(try Self.helper(["__complete", "pattern-types"], in: app) == ["tilt"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: app.database)) == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: app.path + "/data") == ["rexstore.sqlite3"])

    // A file that is not a database.
    try Data("not sqlite".utf8).write(to: URL(fileURLWithPath: app.database))
    #expect(try Self.helper(["__complete", "user-ids"], in: app) == [])
  }

  @Test func helperIsHidden() throws {
    let s = Processes.Scratch()
    for arguments in [["--help"], ["man"], ["help", "help"]] {
      let r = try Processes.rexstore(arguments, in: s)
      #expect(r.status == 0 && !r.stdout.contains("__complete"), "\(arguments) shows the helper")
    }
    // The scripts call it, but never offer it.
    #expect(try !Self.bash([""], in: s).contains { $0.hasPrefix("__") })
    #expect(try !Self.bash(["help", ""], in: s).contains { $0.hasPrefix("__") })
    let typo = try Processes.rexstore(["complete"], in: s)
    #expect(typo.status == 64 && !typo.stderr.contains("__complete"))
  }

  // MARK: Real shells, with the committed scripts

  static let root = Processes.packageRoot

  /// bash: the committed script is sourced, COMP_WORDS/COMP_CWORD set as bash sets them and
  /// `_rexstore` called; the first word is the binary under test, which the script runs.
  static func bash(_ words: [String], in scratch: Processes.Scratch) throws -> [String] {
    let program = """
      source "$1" || exit 99
      shift
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
      _rexstore
      ((${#COMPREPLY[@]})) && printf '%s\\n' "${COMPREPLY[@]}"
      exit 0
      """
    let r = try Processes.run(
      "/bin/bash", ["-c", program, "bash", root + "/completions/rexstore.bash", Processes.binary] + words,
      environment: scratch.environment, directory: scratch.path)
    #expect(r.status == 0 && r.stderr.isEmpty, "bash \(words): \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
  }

  @Test func bashCompletesFromTheStore() throws {
    let s = try Self.store()
    #expect(try Self.bash(["pattern", "get", ""], in: s) == ["42", "7", "9"])
    #expect(try Self.bash(["pattern", "get", "42", ""], in: s) == ["style", "tilt"])
    #expect(try Self.bash(["pattern", "list", "42", "--type", ""], in: s) == ["style", "tilt"])
    #expect(try Self.bash(["context", "add", "9"], in: s) == ["9"])
    #expect(try Self.bash(["insight", "list", "9", "--type", ""], in: s) == ["risk"])
    #expect(try Self.bash(["profile", "get", "carol", ""], in: s) == ["p1"])
    #expect(try Self.bash(["audio", "put", ""], in: s) == ["alice", "bob", "carol"])
    #expect(try Self.bash(["audio", "list", "a"], in: s) == ["alice"])
    #expect(try Self.bash(["audio", "get", "audio/b"], in: s) == ["audio/bob/"])
    // Quoted for the line, so the name stays one word.
    #expect(try Self.bash(["audio", "get", "audio/bob/"], in: s) == [#"audio/bob/my\ rec.wav"#])
    #expect(try Self.bash(["audio", "rm", "audio/alice/a.wav", "audio/a"], in: s) == ["audio/alice/"])
    #expect(try Self.bash(["user", "export", ""], in: s) == ["42", "7", "9", "alice", "bob", "carol"])
    // The second operand of `audio put` is a file again.
    #expect(try Self.bash(["audio", "put", "alice", "a."], in: s) == ["a.wav"])
    // The line's --db decides which database is read (here: none).
    #expect(try Self.bash(["--db", s.path + "/none.sqlite3", "pattern", "get", ""], in: s) == [])
    #expect(try Self.bash(["--db", "=", s.database, "pattern", "get", ""], in: s) == ["42", "7", "9"])
  }

  /// Sourcing the committed script registers the function for rexstore, as `complete -p` shows it.
  @Test func bashRegistersTheFunction() throws {
    let r = try Processes.run(
      "/bin/bash", ["-c", "source \"$1\" && complete -p rexstore", "bash", Self.root + "/completions/rexstore.bash"],
      environment: Processes.Scratch().environment)
    #expect(r.status == 0 && r.stdout == "complete -F _rexstore rexstore\n", "\(r.stdout) \(r.stderr)")
  }

  @Test func bashHelpGroupOffersItsVerbs() throws {
    let s = Processes.Scratch()
    #expect(try Self.bash(["help", "pattern", ""], in: s) == ["set", "get", "list", "rm", "clear", "import", "export"])
    #expect(try Self.bash(["help", "db", "b"], in: s) == ["backup"])
    #expect(try Self.bash(["help", "health", ""], in: s) == [])
  }

  static func zsh(_ words: [String], in scratch: Processes.Scratch) throws -> [String] {
    // compadd, _describe and _files stand in for the completion system's builtins and print what they
    // are given; `words`, CURRENT and PREFIX are set as zsh sets them.
    let program = #"""
      compadd() { local a; for a in "$@"; do [[ $a == -- ]] && { shift; break; }; shift; done; print -rl -- "$@"; }
      _describe() { print -r -- "describe $*"; }
      _files() { print -r -- "files $*"; }
      source "$1" >/dev/null 2>&1
      shift
      words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
      _rexstore
      """#
    let r = try Processes.run(
      "/usr/bin/zsh", ["-fc", program, "zsh", root + "/completions/_rexstore", Processes.binary] + words,
      environment: scratch.environment, directory: scratch.path)
    #expect(r.status == 0 && r.stderr.isEmpty, "zsh \(words): \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
  }

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh"), "zsh is not installed"))
  func zshCompletesFromTheStore() throws {
    let s = try Self.store()
    #expect(try Self.zsh(["pattern", "get", ""], in: s) == ["42", "7", "9"])
    #expect(try Self.zsh(["pattern", "rm", "42", ""], in: s) == ["style", "tilt"])
    #expect(try Self.zsh(["profile", "delete", "carol", ""], in: s) == ["p1"])
    #expect(try Self.zsh(["audio", "get", "audio/"], in: s) == ["audio/alice/", "audio/bob/"])
    #expect(try Self.zsh(["audio", "sign", "audio/bob/"], in: s) == ["audio/bob/my rec.wav"])
    #expect(try Self.zsh(["--db=" + s.path + "/none.sqlite3", "pattern", "get", ""], in: s) == [])
    #expect(try Self.zsh(["help", "user", ""], in: s) == ["export", "erase"])
  }

  static func fish(_ line: String, in scratch: Processes.Scratch) throws -> [String] {
    var environment = scratch.environment
    environment["XDG_CONFIG_HOME"] = scratch.path + "/xdg-config"
    environment["XDG_DATA_HOME"] = scratch.path + "/xdg-data"
    let r = try Processes.run(
      "/usr/bin/fish", ["-c", "source $argv[1]; complete -C $argv[2]", root + "/completions/rexstore.fish", Processes.binary + " " + line],
      environment: environment, directory: scratch.path)
    #expect(r.status == 0 && r.stderr.isEmpty, "fish '\(line)': \(r.stderr)")
    return r.stdout.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) }
  }

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/fish"), "fish is not installed"))
  func fishCompletesFromTheStore() throws {
    let s = try Self.store()
    #expect(Set(try Self.fish("pattern get ", in: s)) == ["42", "7", "9"])
    #expect(Set(try Self.fish("pattern get 42 ", in: s)) == ["style", "tilt"])
    #expect(Set(try Self.fish("pattern list 42 --type ", in: s)) == ["style", "tilt"])
    #expect(try Self.fish("profile get carol ", in: s) == ["p1"])
    #expect(try Self.fish("audio get audio/bob/", in: s) == ["audio/bob/my rec.wav"])
    // `list` is `ls`: the users, not the verbs again.
    #expect(Set(try Self.fish("audio list ", in: s)) == ["alice", "bob", "carol"])
    #expect(Set(try Self.fish("help context ", in: s)) == ["add", "get", "list", "clear", "prune"])
    #expect(try Self.fish("--db \(s.path)/none.sqlite3 pattern get ", in: s) == [])
  }
}
