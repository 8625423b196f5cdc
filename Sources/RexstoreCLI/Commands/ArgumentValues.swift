import RexstoreCore

/// Typed reads of argument and option values; a malformed value is a usage error (exit 64), a
/// well-formed value outside its range is bad data (exit 65, the same as from an import file).
extension Invocation {
  func argument(_ index: Int) -> String { arguments[index] }

  /// A user id of `pattern`, `context` and `insight`: the app's integer `users.id`.
  func userID(at index: Int) throws(RexstoreError) -> Int64 {
    try Invocation.integer(arguments[index], name: command.arguments[index].name)
  }

  func optionalUserID(_ long: String) throws(RexstoreError) -> Int64? {
    guard let text = value(long) else { return nil }
    return try Invocation.integer(text, name: "--\(long)")
  }

  static func integer(_ text: String, name: String) throws(RexstoreError) -> Int64 {
    guard let value = Int64(text) else {
      throw RexstoreError.usage("\(name) must be an integer, got '\(text)'")
    }
    return value
  }

  func number(_ long: String, default fallback: Double) throws(RexstoreError) -> Double {
    guard let text = value(long) else { return fallback }
    guard let value = Double(text), (try? JSONParser.parse(text)) != nil else {
      throw RexstoreError.usage("--\(long) must be a number, got '\(text)'")
    }
    return value
  }

  /// `--limit`: a positive integer.
  func limit(_ long: String = "limit", default fallback: Int?) throws(RexstoreError) -> Int? {
    guard let text = value(long) else { return fallback }
    guard let value = Int(text), value > 0 else {
      throw RexstoreError.usage("--\(long) must be a positive integer, got '\(text)'")
    }
    return value
  }

  /// A non-empty option value such as `--type` or `--session`.
  func label(_ long: String) throws(RexstoreError) -> String? {
    guard let text = value(long) else { return nil }
    guard !text.isEmpty else { throw RexstoreError.usage("--\(long) must not be empty") }
    return text
  }

  func duration(_ long: String) throws(RexstoreError) -> Int64? {
    guard let text = value(long) else { return nil }
    do {
      return try DurationParser.microseconds(text)
    } catch {
      throw RexstoreError.usage("--\(long): \(error.message)", hint: error.hint)
    }
  }

  func timestamp(_ long: String) throws(RexstoreError) -> Timestamp? {
    guard let text = value(long) else { return nil }
    // On the command line a time must say which zone it is in: no bare `2026-11-28 12:00:00`.
    let hasOffset = text.count > 19 && (text.hasSuffix("Z") || text.hasSuffix("z") || text.dropFirst(19).contains("+") || text.dropFirst(19).contains("-"))
    guard hasOffset, let ts = Timestamp.parse(text) else {
      throw RexstoreError.usage("--\(long) must be an RFC 3339 time, got '\(text)'", hint: "e.g. 2026-11-28T12:00:00Z")
    }
    // Years 0001 to 9999 in UTC: outside them the four-digit form (and text ordering) breaks down.
    guard ts >= Timestamp.earliestStorable, ts <= Timestamp.latestStorable else {
      throw RexstoreError.usage(
        "--\(long) must fall within the years 0001 to 9999 (UTC), got '\(text)'", hint: "e.g. 2026-11-28T12:00:00Z")
    }
    return ts
  }

  func exclusive(_ a: String, _ b: String) throws(RexstoreError) {
    if flag(a) && flag(b) { throw RexstoreError.usage("--\(a) and --\(b) cannot be used together") }
  }
}
