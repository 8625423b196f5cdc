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

  /// Issue 8.4: a lone surrogate used to become U+FFFD silently; it is refused, and flagged so callers
  /// can tell "JSON with a lone surrogate" from "not JSON".
  @Test(arguments: [#""\ud800""#, #""\uDC00""#, #"{"a":"x\ud83dy"}"#, #"["\ud83d\u0041"]"#, #""\udc00\ud800""#])
  func refusesLoneSurrogates(text: String) {
    do {
      _ = try JSONParser.parse(text)
      Issue.record("parsed \(text)")
    } catch {
      #expect(error.loneSurrogate)
      #expect(error.message.contains("lone surrogate"))
    }
    // Python's json.loads takes them, so a string holding this text must not be stored raw.
    #expect(JSONParser.pythonWouldDecode(text))
  }

  /// Issue 8.4: bytes that are not UTF-8 inside a JSON string used to become U+FFFD.
  @Test(arguments: [[0xFF], [0xC3], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] as [[UInt8]])
  func refusesInvalidUTF8InStrings(bad: [UInt8]) {
    for escaped in [false, true] {
      let bytes: [UInt8] = Array("[\"a".utf8) + (escaped ? Array("\\n".utf8) : []) + bad + Array("b\"]".utf8)
      let failure = bytes.withUnsafeBufferPointer { buffer in
        Result { () throws(JSONParser.Failure) -> JSONValue in try JSONParser.parse(buffer) }
      }
      guard case .failure(let error) = failure else {
        Issue.record("accepted \(bad)")
        continue
      }
      #expect(error.message.contains("invalid UTF-8"))
    }
    #expect(bad.withUnsafeBufferPointer { UTF8Check.firstInvalidOffset($0) } == 0)
  }

  /// Issue 12 added an eight-bytes-at-a-time ASCII skip to the UTF-8 check and lets JSON strings that
  /// are all ASCII skip it: a bad byte after, inside or before ASCII runs of any length is still found,
  /// at its own offset.
  @Test func aBadByteIsFoundWhereverTheASCIIRunsEnd() {
    for prefix in 0..<20 {
      for suffix in [0, 1, 7, 8, 9, 17] {
        for bad in [[0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80]] as [[UInt8]] {
          let lead = Array(repeating: UInt8(ascii: "a"), count: prefix) + Array("\u{E9}".utf8)
          let bytes = lead + bad + Array(repeating: UInt8(ascii: "b"), count: suffix)
          #expect(bytes.withUnsafeBufferPointer { UTF8Check.firstInvalidOffset($0) } == lead.count, "\(prefix) \(bad)")
          let json = Array("{\"k\":\"".utf8) + bytes + Array("\"}".utf8)
          let parsed = json.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParser.Failure) -> JSONValue in try JSONParser.parse(buffer) }
          }
          guard case .failure(let error) = parsed else {
            Issue.record("accepted \(bytes)")
            continue
          }
          #expect(error.message.contains("invalid UTF-8") && error.offset == 6 + lead.count, "\(error.message)")
        }
      }
      let ascii = Array(repeating: UInt8(ascii: "x"), count: prefix * 3)
      #expect(ascii.withUnsafeBufferPointer { UTF8Check.firstInvalidOffset($0) } == nil)
      let text = String(repeating: "x", count: prefix * 3)
      #expect((try? JSONParser.parse("\"" + text + "\"")) == .string(text))
    }
  }

  @Test func validUTF8OfEveryLengthIsAccepted() throws {
    let text = "a\u{E9}\u{20AC}\u{1F600}\u{10FFFF}\u{D7FF}\u{E000}"
    #expect(try JSONParser.parse("\"" + text + "\"") == .string(text))
    var copy = text
    #expect(copy.withUTF8 { UTF8Check.isValid($0) })
  }
}
