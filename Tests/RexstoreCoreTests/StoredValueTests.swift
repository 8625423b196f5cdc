import Testing

@testable import RexstoreCore

@Suite struct StoredValueTests {
  /// What the app's `json.loads`-with-fallback reader must get back is exactly what was set.
  @Test(arguments: [
    (JSONValue.string("hello"), "hello"), (.string("123"), #""123""#), (.string("null"), #""null""#),
    (.string("true"), #""true""#), (.string(#""x""#), #""\"x\"""#), (.string("NaN"), #""NaN""#),
    (.string(" 7 "), #"" 7 ""#), (.number("1.50"), "1.50"), (.bool(false), "false"), (.null, "null"),
    (.object([.init("k", .string("é"))]), #"{"k": "\u00e9"}"#),
  ])
  func encodesSoThePythonReaderGetsTheValueBack(value: JSONValue, stored: String) {
    #expect(StoredValue.encode(value) == stored)
    #expect(StoredValue.decode(stored) == value)
  }

  @Test func argumentIsJSONWhenItParsesElseAString() throws {
    #expect(try StoredValue.fromArgument("42", forceString: false) == .number("42"))
    #expect(try StoredValue.fromArgument("42", forceString: true) == .string("42"))
    #expect(try StoredValue.fromArgument("aggressive", forceString: false) == .string("aggressive"))
    #expect(try StoredValue.fromArgument(#""quoted""#, forceString: false) == .string("quoted"))
  }

  /// Issue 8.4: JSON with a lone surrogate is refused, not stored with U+FFFD; text that is not JSON
  /// anyway (here unterminated) stays a plain string.
  @Test func aLoneSurrogateInJSONIsRefusedButBrokenJSONIsText() throws {
    #expect(throws: RexstoreError.self) { try StoredValue.fromArgument(#""\ud800""#, forceString: false) }
    #expect(throws: RexstoreError.self) { try StoredValue.fromArgument(#"{"a":["\udc00"]}"#, forceString: false) }
    #expect(try StoredValue.fromArgument(#""\ud800"#, forceString: false) == .string(#""\ud800"#))
    #expect(try StoredValue.fromArgument(#""\ud800""#, forceString: true) == .string(#""\ud800""#))
  }

  @Test func rawTextThatIsNotJSONReadsAsAString() {
    #expect(StoredValue.decode("{broken") == .string("{broken"))
  }
}
