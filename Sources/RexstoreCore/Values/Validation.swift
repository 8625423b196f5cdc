/// Input checks shared by the command line and NDJSON import, so the same value gets the same error
/// wherever it comes from.
public enum Validate {
  /// Confidence and importance are probabilities: finite and in [0, 1].
  public static func unitInterval(_ value: Double, name: String) throws(RexstoreError) -> Double {
    guard value.isFinite, value >= 0, value <= 1 else {
      throw RexstoreError.invalidInput("\(name) must be between 0 and 1, got \(value)")
    }
    return value
  }

  /// Types, keys and session ids: non-empty text without NUL (SQLite and the app's C strings stop there).
  public static func label(_ value: String, name: String) throws(RexstoreError) -> String {
    guard !value.isEmpty else { throw RexstoreError.invalidInput("\(name) must not be empty") }
    guard !value.utf8.contains(0) else { throw RexstoreError.invalidInput("\(name) must not contain NUL") }
    return value
  }
}
