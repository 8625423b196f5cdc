import Foundation
import Testing

@testable import RexstoreCore

/// argv -> exit status and `error.code`, for every failure class DESIGN.md §3 names. Each case also
/// checks the contract around the failure: stdout empty, one JSON line on stderr, nothing written.
@Suite struct ExitCodeTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var argv: [String]
    var status: Int32
    var code: String
    var hint: String? = nil
    var testDescription: String { argv.joined(separator: " ") }
  }

  static let usageCases: [Case] = [
    Case(argv: ["patern", "list", "1"], status: 64, code: "unknown_command", hint: "did you mean 'pattern'?"),
    Case(argv: ["pattern", "lst", "1"], status: 64, code: "unknown_command", hint: "did you mean 'list'?"),
    Case(argv: ["pattern"], status: 64, code: "usage"),
    Case(argv: ["pattern", "list", "1", "--tpye", "x"], status: 64, code: "unknown_option", hint: "did you mean '--type'?"),
    Case(argv: ["--dbb", "x", "pattern", "list", "1"], status: 64, code: "unknown_option", hint: "did you mean '--db'?"),
    Case(argv: ["pattern", "set", "1", "t", "k"], status: 64, code: "usage"),
    Case(argv: ["pattern", "get", "1", "t", "k", "extra"], status: 64, code: "usage"),
    Case(argv: ["pattern", "set", "1", "t", "k", "v", "--confidence"], status: 64, code: "usage"),
    Case(argv: ["pattern", "set", "1", "t", "k", "v", "--string=yes"], status: 64, code: "usage"),
    Case(argv: ["pattern", "set", "abc", "t", "k", "v"], status: 64, code: "usage"),
    Case(argv: ["pattern", "set", "1.5", "t", "k", "v"], status: 64, code: "usage"),
    Case(argv: ["pattern", "set", "1", "t", "k", "v", "--confidence", "high"], status: 64, code: "usage"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires", "30"], status: 64, code: "usage"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires", "soon"], status: 64, code: "usage"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires", "1h", "--expires-at", "2030-01-01T00:00:00Z"], status: 64, code: "usage"),
    Case(argv: ["context", "get", "1", "k", "--session", "s", "--no-session"], status: 64, code: "usage"),
    Case(argv: ["context", "get", "1", "k", "--limit", "0"], status: 64, code: "usage"),
    Case(argv: ["insight", "list", "1", "--limit", "-3"], status: 64, code: "usage"),
    Case(argv: ["--busy-timeout", "5", "pattern", "list", "1"], status: 64, code: "usage"),
    Case(argv: ["completion", "tcsh"], status: 64, code: "usage"),
    Case(argv: ["help", "nothing"], status: 64, code: "unknown_command"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires-at", "0000-06-01T00:00:00Z"], status: 64, code: "usage"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires-at", "0001-01-01T00:30:00+01:00"], status: 64, code: "usage"),
    Case(argv: ["context", "add", "1", "k", "v", "--expires-at", "9999-12-31T23:30:00-01:00"], status: 64, code: "usage"),
  ]

  static let dataCases: [Case] = [
    Case(argv: ["pattern", "set", "1", "t", "k", "v", "--confidence", "1.5"], status: 65, code: "invalid_input"),
    Case(argv: ["pattern", "set", "1", "t", "k", "v", "--confidence", "-0.1"], status: 65, code: "invalid_input"),
    Case(argv: ["pattern", "set", "1", "", "k", "v"], status: 65, code: "invalid_input"),
    Case(argv: ["insight", "add", "1", "t", "{not json"], status: 65, code: "invalid_input"),
    // Issue 8.4: lone surrogates are refused wherever user JSON is parsed, never stored as U+FFFD.
    Case(argv: ["insight", "add", "1", "t", #"{"a":"\ud800"}"#], status: 65, code: "invalid_input"),
    Case(argv: ["insight", "add", "1", "t", #""\udc00""#], status: 65, code: "invalid_input"),
    Case(argv: ["pattern", "set", "1", "t", "k", #""\ud800""#], status: 65, code: "invalid_input"),
    Case(argv: ["pattern", "set", "1", "t", "k", #"{"a":["x\udfff"]}"#], status: 65, code: "invalid_input"),
    Case(argv: ["context", "add", "1", "k", #""\ud83d""#], status: 65, code: "invalid_input"),
    Case(argv: ["profile", "store", "1", "p", "missing.wav", "--meta-json", #"{"a":"\ud800"}"#], status: 65, code: "invalid_input"),
    Case(argv: ["insight", "add", "1", "t", "{}", "--importance", "2"], status: 65, code: "invalid_input"),
    Case(argv: ["pattern", "import", "/nonexistent/file.ndjson"], status: 66, code: "no_input"),
  ]

  @Test(arguments: usageCases + dataCases)
  func failsWithDocumentedStatus(_ c: Case) throws {
    let h = Harness()
    _ = h.run("db", "upgrade")
    let before = try Data(contentsOf: URL(fileURLWithPath: h.databasePath))
    let r = h.run(c.argv)
    #expect(r.status == c.status)
    #expect(r.errorCode == c.code)
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.filter { $0 == "\n" }.count == 1)
    if let hint = c.hint {
      guard case .string(let got)? = (try JSONParser.parse(r.stderr))["error"]?["hint"] else {
        Issue.record("no hint in \(r.stderr)")
        return
      }
      #expect(got == hint)
    }
    let after = try Data(contentsOf: URL(fileURLWithPath: h.databasePath))
    #expect(before == after, "the database changed")
  }

  /// Reads, deletions and maintenance never create the file: a cron job pointed at the wrong path
  /// fails loudly instead of reporting that it found or deleted nothing.
  @Test(arguments: [
    ["pattern", "get", "1", "t", "k"], ["pattern", "list", "1"], ["pattern", "export"], ["context", "get", "1", "k"],
    ["insight", "list", "1"], ["pattern", "rm", "1", "t", "k", "--if-exists"], ["pattern", "clear", "1"],
    ["context", "clear", "1"], ["context", "prune"], ["insight", "clear", "1"], ["db", "check"], ["db", "vacuum"],
    ["db", "backup", "copy.sqlite3"],
  ])
  func missingDatabaseIsNeverCreatedByReadsOrDeletes(argv: [String]) {
    let h = Harness()
    let r = h.run(argv)
    #expect(r.status == 66)
    #expect(r.errorCode == "no_database")
    #expect(r.stdout.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data"))
  }

  /// A path setting naming the wrong kind of file is a configuration error (DESIGN §8), for reads and writes.
  @Test func aDirectoryIsNotADatabase() {
    let h = Harness()
    #expect(h.run("--db", h.root, "pattern", "get", "1", "t", "k").errorCode == "config")
    #expect(h.run("--db", h.root, "pattern", "set", "1", "t", "k", "v").status == 78)
  }

  @Test func notFoundIsExitOne() {
    let h = Harness()
    h.run("db", "upgrade")
    #expect(h.run("pattern", "get", "1", "t", "k").status == 1)
    #expect(h.run("pattern", "rm", "1", "t", "k").errorCode == "not_found")
    let idempotent = h.run("pattern", "rm", "1", "t", "k", "--if-exists")
    #expect(idempotent.status == 0)
    #expect(idempotent.stdout == #"{"deleted":false,"key":"k","type":"t","user_id":1}"# + "\n")
  }

  @Test func aFileThatIsNotSQLiteIsCorrupt() throws {
    let h = Harness()
    try FileManager.default.createDirectory(atPath: h.root + "/data", withIntermediateDirectories: true)
    let junk = Data(repeating: 0x41, count: 8192)
    try junk.write(to: URL(fileURLWithPath: h.databasePath))
    for argv in [["pattern", "get", "1", "t", "k"], ["pattern", "set", "1", "t", "k", "v"], ["db", "check"]] {
      let r = h.run(argv)
      #expect(r.status == 65, "\(argv)")
      #expect(r.errorCode == "db_corrupt", "\(argv)")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: h.databasePath)) == junk)
  }

  @Test func aBusyDatabaseGivesTempfailAfterTheTimeout() throws {
    let h = Harness()
    h.run("pattern", "set", "1", "t", "k", "v")
    let holder = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 0)
    try holder.execute("BEGIN IMMEDIATE")
    let r = h.run("--busy-timeout", "100ms", "pattern", "set", "1", "t", "k", "w")
    try holder.execute("ROLLBACK")
    #expect(r.status == 75)
    #expect(r.errorCode == "db_locked")
    #expect(r.stdout.isEmpty)
    let value = h.run("pattern", "get", "1", "t", "k").json?["value"]
    #expect(value == .string("v"))
  }

  @Test func configErrorsAreExit78() throws {
    let h = Harness()
    let config = h.root + "/config.json"
    try #"{"db": "/tmp/x.sqlite3", "colour": "blue"}"#.write(toFile: config, atomically: true, encoding: .utf8)
    let r = h.run("--config", config, "pattern", "list", "1")
    #expect(r.status == 78)
    #expect(r.errorCode == "config")
    let missing = h.run("--config", h.root + "/nope.json", "pattern", "list", "1")
    #expect(missing.status == 78)
    let noHome = h.run(["pattern", "list", "1"], env: ["HOME": "", "REXSTORE_ROOT": ""])
    #expect(noHome.status == 78)
  }
}
