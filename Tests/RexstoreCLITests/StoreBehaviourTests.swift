import Foundation
import Testing

@testable import RexstoreCore

/// Everything the original Python test suite asserted, through the CLI.
@Suite struct StoreBehaviourTests {
  @Test func upsertKeepsCreatedAtAndMovesUpdatedAt() throws {
    let h = Harness()
    let first = try #require(h.run("pattern", "set", "1", "style", "aggr", "0.5").json)
    let second = try #require(h.run("pattern", "set", "1", "style", "aggr", "0.9", "--confidence", "0.7").json)
    #expect(second["created_at"] == first["created_at"])
    #expect(second["value"] == .number("0.9"))
    #expect(second["confidence"] == .number("0.7"))
    let stored = try #require(h.run("pattern", "get", "1", "style", "aggr").json)
    #expect(stored["created_at"] == first["created_at"])
    // updated_at moved (microsecond precision in the file; compare stored rows).
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    let stmt = try db.prepare("SELECT created_at, updated_at, count(*) FROM user_patterns")
    _ = try stmt.step()
    #expect(stmt.text(0) < stmt.text(1))
    #expect(stmt.int(2) == 1)
  }

  @Test func listByTypeReturnsEveryKeyWithValueAndConfidence() throws {
    let h = Harness()
    h.run("pattern", "set", "1", "style", "a", "1", "--confidence", "0.1")
    h.run("pattern", "set", "1", "style", "b", #"{"x":[1]}"#)
    h.run("pattern", "set", "1", "other", "c", "true")
    h.run("pattern", "set", "2", "style", "d", "null")
    let list = try #require(h.run("pattern", "list", "1", "--type", "style").json)
    guard case .array(let items)? = list["items"] else { Issue.record("no items"); return }
    let rows = items.map { [$0["key"]!, $0["value"]!, $0["confidence"]!] }
    #expect(rows.count == 2)
    #expect(rows.contains([.string("a"), .number("1"), .number("0.1")]))
    #expect(rows.contains([.string("b"), .object([.init("x", .array([.number("1")]))]), .number("1.0")]))
    #expect(h.run("pattern", "list", "1").json?["count"] == .number("3"))
  }

  @Test func jsonLookingStringsRoundTrip() {
    let h = Harness()
    for text in ["123", "null", "true", #""x""#, "[1]"] {
      h.run("pattern", "set", "1", "t", "k", text, "--string")
      #expect(h.run("pattern", "get", "1", "t", "k").json?["value"] == .string(text), "\(text)")
    }
  }

  @Test func contextIsNewestFirstWithIdTiebreakAndNoSleeps() throws {
    let h = Harness()
    for i in 0..<5 { h.run("context", "add", "1", "k", "\(i)") }
    // Force identical timestamps: order must then come from id.
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    try db.execute("UPDATE conversation_context SET created_at = '2026-01-01T00:00:00+00:00'")
    let values = try #require(h.run("context", "get", "1", "k").json?["items"])
    guard case .array(let items) = values else { return }
    #expect(items.map { $0["value"]! } == (0..<5).reversed().map { .number("\($0)") })
    #expect(h.run("context", "get", "1", "k", "--limit", "2").json?["count"] == .number("2"))
  }

  @Test func expiredContextIsInvisibleAndPruneDeletesIt() throws {
    let h = Harness()
    h.run("context", "add", "1", "k", "live")
    h.run("context", "add", "1", "k", "gone", "--expires-at", "2020-01-01T00:00:00Z")
    h.run("context", "add", "2", "k", "gone too", "--expires-at", "2021-01-01T00:00:00Z")
    h.run("context", "add", "1", "k", "later", "--expires", "1h")
    #expect(h.run("context", "get", "1", "k").json?["count"] == .number("2"))
    // Reading did not delete anything.
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    func count() throws -> Int64 {
      let s = try db.prepare("SELECT count(*) FROM conversation_context")
      _ = try s.step()
      return s.int(0)
    }
    #expect(try count() == 4)
    let pruned = h.run("context", "prune")
    #expect(pruned.json?["deleted_count"] == .number("2"))
    #expect(pruned.json?["count"] == .number("2"))
    #expect(try count() == 2)
  }

  @Test func sessionFilters() {
    let h = Harness()
    h.run("context", "add", "1", "k", "a", "--session", "s1")
    h.run("context", "add", "1", "k", "b", "--session", "s2")
    h.run("context", "add", "1", "k", "c")
    #expect(h.run("context", "get", "1", "k").json?["count"] == .number("3"))
    #expect(values(h.run("context", "get", "1", "k", "--session", "s1").json) == [.string("a")])
    #expect(values(h.run("context", "get", "1", "k", "--no-session").json) == [.string("c")])
    #expect(h.run("context", "clear", "1", "--no-session").json?["deleted_count"] == .number("1"))
    #expect(h.run("context", "clear", "1").json?["deleted_count"] == .number("2"))
  }

  @Test func insightsFilterByTypeAndInclusiveMinimumWithDefaultLimit() {
    let h = Harness()
    h.run("insight", "add", "1", "tilt", #"{"n":1}"#, "--importance", "0.3")
    h.run("insight", "add", "1", "tilt", #"{"n":2}"#, "--importance", "0.7")
    h.run("insight", "add", "1", "leak", #"{"n":3}"#, "--importance", "0.7")
    #expect(h.run("insight", "list", "1", "--type", "tilt").json?["count"] == .number("2"))
    #expect(h.run("insight", "list", "1", "--min-importance", "0.7").json?["count"] == .number("2"))
    #expect(h.run("insight", "list", "1", "--min-importance", "0.71").json?["count"] == .number("0"))
    let newest = h.run("insight", "list", "1", "--limit", "1").json?["items"]
    guard case .array(let first)? = newest else { Issue.record("no items"); return }
    #expect(first.first?["data"] == JSONValue.object([JSONValue.Member("n", .number("3"))]))
  }

  /// The app's get_insights stops at 50; `insight list` used the same hidden cap (issue 10).
  @Test func insightListHasNoHiddenCapAndStatesAGivenOne() throws {
    let h = Harness()
    h.run("db", "upgrade")
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    try db.execute(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
        + "INSERT INTO user_insights (user_id, insight_type, insight_data, importance, created_at) "
        + "SELECT 1, 't', '{}', 0.5, '2026-01-01T00:00:00+00:00' FROM n")
    let all = try #require(h.run("insight", "list", "1").json)
    #expect(all["count"] == .number("60"))
    #expect(all["limit"] == nil)
    #expect(all["truncated"] == nil)
    let capped = try #require(h.run("insight", "list", "1", "--limit", "55").json)
    #expect(capped["count"] == .number("55"))
    #expect(capped["limit"] == .number("55"))
    #expect(capped["truncated"] == .bool(true))
    let exact = try #require(h.run("insight", "list", "1", "--limit", "60").json)
    #expect(exact["count"] == .number("60"))
    #expect(exact["truncated"] == .bool(false))
  }

  @Test func importIsAllOrNothingAndNamesTheBadLine() throws {
    let h = Harness()
    let good = h.root + "/good.ndjson"
    try """
      {"user_id":1,"type":"t","key":"a","value":1}
      {"user_id":1,"type":"t","key":"b","value":"123","confidence":0.5}

      {"user_id":2,"type":"t","key":"c","value":{"x":null},"created_at":"2026-01-10T14:26:46.123456Z"}
      """.write(toFile: good, atomically: true, encoding: .utf8)
    #expect(h.run("pattern", "import", good).stdout == #"{"imported":3,"source":"\#(good)"}"# + "\n")
    #expect(h.run("pattern", "get", "1", "t", "b").json?["value"] == .string("123"))
    #expect(h.run("pattern", "get", "2", "t", "c").json?["created_at"] == .string("2026-01-10T14:26:46.123Z"))

    let bad = h.root + "/bad.ndjson"
    try """
      {"user_id":3,"type":"t","key":"a","value":1}
      {"user_id":3,"type":"t","key":"b","value":2,"confidence":"high"}
      """.write(toFile: bad, atomically: true, encoding: .utf8)
    let r = h.run("pattern", "import", bad)
    #expect(r.status == 65)
    #expect(r.stderr.contains("line 2: 'confidence' must be a number"))
    #expect(h.run("pattern", "list", "3").json?["count"] == .number("0"))

    for (line, message) in [
      (#"{"user_id":true,"type":"t","key":"a","value":1}"#, "line 1: 'user_id' must be an integer"),
      (#"{"user_id":3,"type":"t","key":"a","value":"\ud800"}"#, "line 1: invalid JSON: lone surrogate"),
      (#"{"user_id":3,"type":"t","key":"a"}"#, "line 1: 'value' is missing"),
      (#"{"user_id":3,"type":"t","key":"a","value":1,"colour":1}"#, "line 1: unknown key 'colour'"),
      (#"[1]"#, "line 1: expected a JSON object"), (#"{"user_id":3,"#, "line 1: invalid JSON"),
    ] {
      try line.write(toFile: bad, atomically: true, encoding: .utf8)
      let r = h.run("pattern", "import", bad)
      #expect(r.status == 65 && r.stderr.contains(message), "\(line): \(r.stderr)")
    }
  }

  /// Issue 12 rewrote how an import line's members are read (one pass, no lookups per key) and how
  /// text is bound (the string's own bytes): a later duplicate key wins, as in Python's json.loads, an
  /// unknown key is refused before any value is judged, an empty string is stored as '' (not NULL,
  /// which the NOT NULL column would refuse) and a NUL inside a value is kept with what follows it.
  @Test func importReadsEachLineAsPythonWouldAndStoresTextByteForByte() throws {
    let h = Harness()
    let file = h.root + "/lines.ndjson"
    try #"""
      {"user_id":1,"type":"t","key":"dup","value":1,"value":{"b":2},"confidence":0.1,"confidence":0.25}
      {"user_id":1,"type":"t","key":"empty","value":""}
      {"user_id":1,"type":"t","key":"nul","value":"a\u0000b"}
      """#.write(toFile: file, atomically: true, encoding: .utf8)
    #expect(h.run("pattern", "import", file).status == 0)
    let dup = try #require(h.run("pattern", "get", "1", "t", "dup").json)
    #expect(dup["value"] == .object([.init("b", .number("2"))]))
    #expect(dup["confidence"] == .number("0.25"))
    #expect(h.run("pattern", "set", "1", "t", "set-empty", "").status == 0)

    let db = try Database(path: h.databasePath, mode: .readOnly, busyTimeoutMilliseconds: 1000)
    let stmt = try db.prepare(
      "SELECT pattern_key, typeof(pattern_value), length(CAST(pattern_value AS BLOB)), hex(pattern_value) "
        + "FROM user_patterns ORDER BY pattern_key")
    var rows: [String] = []
    while try stmt.step() { rows.append("\(stmt.text(0)) \(stmt.text(1)) \(stmt.int(2)) \(stmt.text(3))") }
    #expect(rows == [
      "dup text 8 7B2262223A20327D",  // {"b": 2}, as json.dumps writes it
      "empty text 0 ", "nul text 3 610062", "set-empty text 0 ",
    ])

    let bad = h.root + "/bad.ndjson"
    try #"{"user_id":true,"type":1,"value":1,"colour":1}"#.write(toFile: bad, atomically: true, encoding: .utf8)
    let r = h.run("pattern", "import", bad)
    #expect(r.status == 65 && r.stderr.contains("line 1: unknown key 'colour'"), "\(r.stderr)")
  }

  /// Issue 12 rewrote the table check's bookkeeping (plain arrays instead of dictionaries and sets):
  /// column names still compare case-insensitively, declared types by their upper case, a UNIQUE
  /// constraint may list its columns in any order, and a NOT NULL extra column with a default is fine.
  @Test func theAppTableSpelledInAnotherCaseIsTheAppTable() throws {
    let h = Harness()
    try FileManager.default.createDirectory(atPath: h.root + "/data", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: h.databasePath, contents: nil)
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    try db.execute(
      """
      CREATE TABLE user_patterns (ID INTEGER PRIMARY KEY AUTOINCREMENT, User_Id integer NOT NULL,
        PATTERN_TYPE text NOT NULL, pattern_key TEXT NOT NULL, Pattern_Value Text NOT NULL, confidence REAL,
        created_at TIMESTAMP, updated_at timestamp, source TEXT NOT NULL DEFAULT 'app',
        UNIQUE(pattern_key, PATTERN_TYPE, user_id))
      """)
    #expect(h.run("pattern", "set", "1", "t", "k", "v").status == 0)
    #expect(h.run("pattern", "get", "1", "t", "k").json?["value"] == .string("v"))
    #expect(h.run("db", "check").status == 0)
  }

  @Test func exportImportRoundTripsExactly() throws {
    let h = Harness()
    h.run("pattern", "set", "1", "t", "a", #"{"deep":[1,"é",null]}"#, "--confidence", "0.25")
    h.run("pattern", "set", "1", "t", "b", "123", "--string")
    h.run("pattern", "set", "2", "u", "c", "-5")
    let export = h.run("pattern", "export").stdout
    let file = h.root + "/dump.ndjson"
    try export.write(toFile: file, atomically: true, encoding: .utf8)
    let copy = h.root + "/copy.sqlite3"
    #expect(h.run("--db", copy, "pattern", "import", file).json?["imported"] == .number("3"))
    #expect(h.run("--db", copy, "pattern", "export").stdout == export)
    // The stored text is byte-for-byte what the original holds.
    func rows(_ path: String) throws -> [String] {
      let db = try Database(path: path, mode: .readWrite, busyTimeoutMilliseconds: 1000)
      let s = try db.prepare("SELECT user_id, pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at FROM user_patterns ORDER BY 1, 2, 3")
      var out: [String] = []
      while try s.step() { out.append((0..<7).map { s.text(Int32($0)) }.joined(separator: "|")) }
      return out
    }
    #expect(try rows(copy) == rows(h.databasePath))
  }

  @Test func negativeNumbersAreValuesNotOptions() {
    let h = Harness()
    #expect(h.run("pattern", "set", "1", "t", "k", "-0.5").json?["value"] == .number("-0.5"))
    #expect(h.run("pattern", "set", "1", "t", "k", "--", "--literal").json?["value"] == .string("--literal"))
  }

  @Test func globalOptionsWorkAfterTheVerb() {
    let h = Harness()
    let other = h.root + "/other.sqlite3"
    h.run("pattern", "set", "1", "t", "k", "v", "--db", other)
    #expect(FileManager.default.fileExists(atPath: other))
    #expect(!FileManager.default.fileExists(atPath: h.databasePath))
  }

  @Test func helpAndVersionNeverTouchTheStore() {
    let h = Harness()
    for argv in [["--help"], ["--version"], ["pattern", "set", "--help"], ["help", "context", "add"], ["completion", "bash"], ["man"], ["db", "-h"]] {
      let r = h.run(argv)
      #expect(r.status == 0, "\(argv)")
      #expect(!r.stdout.isEmpty)
    }
    #expect(!FileManager.default.fileExists(atPath: h.root + "/data"))
  }

  @Test func configFileAndPrecedence() throws {
    let h = Harness()
    try FileManager.default.createDirectory(atPath: h.root + "/config/rexstore", withIntermediateDirectories: true)
    try #"{"db": "\#(h.root)/from-file.sqlite3", "busy_timeout": "1s"}"#.write(
      toFile: h.root + "/config/rexstore/config.json", atomically: true, encoding: .utf8)
    let health = try #require(h.run("health").json?["config"])
    #expect(health["db"]?["source"] == .string("file:\(h.root)/config/rexstore/config.json"))
    #expect(health["busy_timeout"]?["value"] == .string("1s"))
    let env = h.run(["health"], env: ["REXSTORE_DB": h.root + "/env.sqlite3"]).json?["config"]
    #expect(env?["db"]?["source"] == .string("env:REXSTORE_DB"))
    let flag = h.run(["health", "--db", "x.sqlite3"], env: ["REXSTORE_DB": h.root + "/env.sqlite3"]).json?["config"]
    #expect(flag?["db"]?["value"] == .string(h.root + "/x.sqlite3"))
  }
}

/// The `value` of each item of a list output.
func values(_ list: JSONValue?) -> [JSONValue] {
  guard case .array(let items)? = list?["items"] else { return [] }
  return items.compactMap { $0["value"] }
}
