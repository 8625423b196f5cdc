/// How pattern and context values are stored so the Python app reads back exactly what was set.
///
/// The app stores a `str` raw and anything else as `json.dumps(value)`, and reads every value with
/// `json.loads`, falling back to the raw text. A string whose raw text happens to parse (`"123"`,
/// `"null"`, `"true"`) would therefore come back as a number, null or boolean. rexstore stores such a
/// string JSON-encoded (`"\"123\""`) instead, and every other string raw as the app does.
public enum StoredValue {
  /// The text to store for `value`.
  public static func encode(_ value: JSONValue) -> String {
    if case .string(let s) = value, !JSONParser.pythonWouldDecode(s) {
      return s
    }
    return value.serialized(.python)
  }

  /// The value the app would read from stored `text`.
  public static func decode(_ text: String) -> JSONValue {
    (try? JSONParser.parse(text)) ?? .string(text)
  }

  /// A command-line VALUE: JSON when it parses as JSON, else the string itself. JSON that is valid
  /// except for a lone surrogate escape (`"\ud800"`) is refused: storing it as a string would not be
  /// what was meant, and a Swift string cannot hold the surrogate.
  public static func fromArgument(_ text: String, forceString: Bool) throws(RexstoreError) -> JSONValue {
    if forceString { return .string(text) }
    do throws(JSONParser.Failure) {
      return try JSONParser.parse(text)
    } catch {
      // Only when the whole text is JSON apart from the surrogate; `"\ud800` (unterminated) is just text.
      if error.loneSurrogate, JSONParser.pythonWouldDecode(text) {
        throw RexstoreError.invalidInput("VALUE: \(error.message)")
      }
      return .string(text)
    }
  }
}
