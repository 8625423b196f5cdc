import Testing

@testable import RexstoreCore

@Suite struct JSONTests {
  @Test(arguments: [
    ("null", JSONValue.null), ("true", .bool(true)), (" 1.50 ", .number("1.50")), ("-0", .number("-0")),
    ("\"a\\u00e9\\ud83d\\ude00\"", .string("aé😀")), ("[1,[2]]", .array([.number("1"), .array([.number("2")])])),
    ("{\"b\":1,\"a\":2}", .object([.init("b", .number("1")), .init("a", .number("2"))])),
  ])
  func parsesValidJSON(text: String, expected: JSONValue) throws {
    #expect(try JSONParser.parse(text) == expected)
  }

  @Test(arguments: ["", "tru", "01", "1.", ".5", "1 2", "[1,]", "{\"a\"}", "'a'", "\"\u{01}\"", "NaN", "\u{FEFF}1", "{a:1}"])
  func rejectsInvalidJSON(text: String) {
    #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
  }

  @Test func nestingIsBounded() {
    let deep = String(repeating: "[", count: 100_000)
    #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
  }

  /// The strings Python's `json.loads` would decode (so they must not be stored raw).
  @Test(arguments: [
    ("123", true), ("null", true), ("true", true), ("\"x\"", true), (" 1 ", true), ("NaN", true),
    ("-Infinity", true), ("[]", true), ("hello", false), ("1 2", false), ("", false), ("nul", false),
  ])
  func predictsPythonDecoding(text: String, decodes: Bool) {
    #expect(JSONParser.pythonWouldDecode(text) == decodes)
  }

  @Test func compactOutputSortsKeysAndKeepsUnicodeAndSlashes() throws {
    let value = try JSONParser.parse(#"{"z":"é/\n","a":[1,{"y":null,"b":true}],"a":2}"#)
    #expect(value.serialized(.compact) == #"{"a":2,"z":"é/\n"}"#)
  }

  @Test func prettyOutputIndentsTwoSpaces() throws {
    let value = try JSONParser.parse(#"{"b":[1],"a":{}}"#)
    #expect(value.serialized(.pretty) == "{\n  \"a\": {},\n  \"b\": [\n    1\n  ]\n}")
  }

  /// Python's `json.dumps` defaults: `", "`/`": "`, ASCII only with surrogate pairs, order kept.
  @Test func pythonStyleMatchesJsonDumps() throws {
    let value = try JSONParser.parse(#"{"b":"é😀\u007f","a":[1,2.50]}"#)
    #expect(value.serialized(.python) == #"{"b": "\u00e9\ud83d\ude00\u007f", "a": [1, 2.50]}"#)
  }

  @Test func controlCharactersAreEscaped() {
    #expect(JSONValue.string("\u{01}\t").serialized() == #""\u0001\t""#)
  }
}
