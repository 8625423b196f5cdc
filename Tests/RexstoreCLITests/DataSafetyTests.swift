import Foundation
import Testing

@testable import RexstoreCore

/// Issue 8.4 and 9 on the SQLite side: imported text is UTF-8 or refused, and round-trips stay exact.
@Suite struct DataSafetyTests {
  /// An NDJSON line with bytes that are not UTF-8 used to be stored with U+FFFD in their place.
  @Test(arguments: [
    [0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
  ] as [[UInt8]])
  func importRefusesALineThatIsNotUTF8(bad: [UInt8]) throws {
    let h = Harness()
    let file = h.root + "/in.ndjson"
    var bytes = Array(#"{"user_id":1,"type":"t","key":"a","value":"ok"}"#.utf8) + [0x0A]
    bytes += Array(#"{"user_id":1,"type":"t","key":"b","value":"x"#.utf8) + bad + Array(#"y"}"#.utf8) + [0x0A]
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    let r = h.run("pattern", "import", file)
    #expect(r.status == 65)
    #expect(r.errorCode == "invalid_input")
    #expect(r.stderr.contains("line 2: not valid UTF-8"), "\(r.stderr)")
    #expect(r.stderr.contains("nothing was imported"))
    #expect(h.run("pattern", "list", "1").json?["count"] == .number("0"))
  }

  /// Also outside string values: in a key, and on standard input (the spooled path).
  @Test func importRefusesInvalidUTF8InAKeyAndOnStandardInput() throws {
    let h = Harness()
    let file = h.root + "/in.ndjson"
    let bytes = Array(#"{"user_id":1,"type":"t","#.utf8) + [0x22, 0x6B, 0xFE, 0x22] + Array(#":1,"key":"a","value":1}"#.utf8)
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    let r = h.run("pattern", "import", file)
    #expect(r.status == 65 && r.stderr.contains("line 1: not valid UTF-8"), "\(r.stderr)")
  }

  /// Lone surrogates in an import line: refused, naming the line, nothing imported.
  @Test func importRefusesLoneSurrogatesNamingTheLine() throws {
    let h = Harness()
    let file = h.root + "/in.ndjson"
    try """
      {"user_id":1,"type":"t","key":"a","value":"fine"}
      {"user_id":1,"type":"t","key":"b","value":{"k":"\\udc01"}}
      """.write(toFile: file, atomically: true, encoding: .utf8)
    let r = h.run("pattern", "import", file)
    #expect(r.status == 65)
    #expect(r.stderr.contains("line 2: invalid JSON: lone surrogate"), "\(r.stderr)")
    #expect(h.run("pattern", "list", "1").json?["count"] == .number("0"))
  }

  /// `--string` keeps the old escape hatch: the text itself is stored, JSON-encoded so that the app's
  /// `json.loads` gives back these exact characters rather than a surrogate.
  @Test func aStringThatLooksLikeALoneSurrogateIsStoredAsText() throws {
    let h = Harness()
    let r = h.run("pattern", "set", "1", "t", "k", #""\ud800""#, "--string")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.json?["value"] == .string(#""\ud800""#))
    let db = try Database(path: h.databasePath, mode: .readOnly, busyTimeoutMilliseconds: 1000)
    let stmt = try db.prepare("SELECT pattern_value FROM user_patterns")
    _ = try stmt.step()
    #expect(stmt.text(0) == #""\"\\ud800\"""#)
  }

  /// Issue 9: `insight add` takes any JSON value, as the app's `save_insight` (json.dumps) does.
  @Test(arguments: [("[1, 2]", "[1,2]"), (#""just text""#, #""just text""#), ("3.50", "3.50"), ("null", "null"), ("true", "true")])
  func insightAddTakesAnyJSONValue(given: String, shown: String) throws {
    let h = Harness()
    let r = h.run("insight", "add", "1", "t", given)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains(#""data":"# + shown + ","))
    let list = h.run("insight", "list", "1")
    #expect(list.stdout.contains(#""data":"# + shown + ","), "\(list.stdout)")
  }

  /// Import reproduces what the app can store (it never range-checks); `pattern set` still checks.
  @Test func importKeepsConfidenceOutsideTheUnitIntervalAndTextUserIDs() throws {
    let h = Harness()
    let file = h.root + "/in.ndjson"
    try """
      {"user_id":1,"type":"t","key":"high","value":1,"confidence":1.75}
      {"user_id":1,"type":"t","key":"none","value":1,"confidence":null}
      {"user_id":1,"type":"t","key":"inf","value":1,"confidence":"-Infinity"}
      {"user_id":"alice","type":"t","key":"a","value":"x"}
      """.write(toFile: file, atomically: true, encoding: .utf8)
    let r = h.run("pattern", "import", file)
    #expect(r.status == 0, "\(r.stderr)")
    let db = try Database(path: h.databasePath, mode: .readOnly, busyTimeoutMilliseconds: 1000)
    let stmt = try db.prepare(
      "SELECT pattern_key, typeof(user_id), user_id, quote(confidence) FROM user_patterns ORDER BY pattern_key")
    var rows: [String] = []
    while try stmt.step() { rows.append([0, 1, 2, 3].map { stmt.text(Int32($0)) }.joined(separator: "|")) }
    #expect(rows == ["a|text|alice|1.0", "high|integer|1|1.75", "inf|integer|1|-Inf", "none|integer|1|NULL"])
    #expect(h.run("pattern", "get", "1", "t", "none").json?["confidence"] == .null)
    #expect(h.run("pattern", "set", "1", "t", "k", "v", "--confidence", "1.75").status == 65)
  }

  /// A `stored` text must read back as the visible value, so an edited line cannot disagree with itself.
  @Test func importRefusesAStoredTextThatContradictsTheValue() throws {
    let h = Harness()
    let file = h.root + "/in.ndjson"
    try #"{"user_id":1,"type":"t","key":"a","value":2,"stored":{"value":"NaN"}}"#
      .write(toFile: file, atomically: true, encoding: .utf8)
    let r = h.run("pattern", "import", file)
    #expect(r.status == 65 && r.stderr.contains("line 1: 'stored.value' does not read back as 'value'"), "\(r.stderr)")
  }
}
