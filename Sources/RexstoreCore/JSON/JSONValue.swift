/// A JSON document as rexstore reads and writes it.
///
/// Numbers keep their literal text so a value set on the command line reaches the database, and the
/// Python app, exactly as typed (`1.50` stays `1.50`, a 30-digit integer is not rounded). Objects keep
/// member order so stored values keep the caller's order; output sorts keys when it is written.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case number(String)
  case string(String)
  case array([JSONValue])
  case object([Member])

  public struct Member: Sendable, Equatable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
      self.key = key
      self.value = value
    }
  }

  public static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
  public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

  /// A finite double in its shortest round-trip form, the same digits Python's `repr` prints.
  public static func double(_ value: Double) -> JSONValue {
    value.isFinite ? .number(String(value)) : .null
  }

  public static func optional(_ value: String?) -> JSONValue {
    value.map(JSONValue.string) ?? .null
  }

  /// Builds an object from a dictionary literal; member order does not matter because output sorts keys.
  public static func record(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
    .object(members.map { Member($0.key, $0.value) })
  }

  /// A list in the `{"items":[...],"count":N}` shape of DESIGN.md §3.
  public static func list(_ items: [JSONValue]) -> JSONValue {
    .record(["items": .array(items), "count": .int(items.count)])
  }

  /// This object with more members (a command adding `path` or `files` to a record); other values
  /// are returned unchanged.
  public func adding(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
    guard case .object(let existing) = self else { return self }
    return .object(existing + members.map { Member($0.key, $0.value) })
  }

  /// Looks a key up in an object (the last occurrence wins, as in Python's `json.loads`).
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last(where: { $0.key == key })?.value
  }

  public var isObject: Bool {
    if case .object = self { return true }
    return false
  }
}
