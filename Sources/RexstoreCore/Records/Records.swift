/// A behavioural pattern row, in the shape DESIGN.md §3 fixes.
public struct Pattern: Sendable, Equatable {
  public var userID: Int64
  public var type: String
  public var key: String
  public var value: JSONValue
  /// nil for a NULL column (SQLite stores the app's `float('nan')` as NULL); the app reads it as None.
  public var confidence: Double?
  public var createdAt: String?
  public var updatedAt: String?

  public init(
    userID: Int64, type: String, key: String, value: JSONValue, confidence: Double?,
    createdAt: String? = nil, updatedAt: String? = nil
  ) {
    self.userID = userID
    self.type = type
    self.key = key
    self.value = value
    self.confidence = confidence
    self.createdAt = createdAt
    self.updatedAt = updatedAt
  }

}

/// A conversation-context row.
public struct ContextItem: Sendable, Equatable {
  public var id: Int64
  public var userID: Int64
  public var key: String
  public var value: JSONValue
  public var sessionID: String?
  public var createdAt: String?
  public var expiresAt: String?

}

/// An insight row.
public struct Insight: Sendable, Equatable {
  public var id: Int64
  public var userID: Int64
  public var type: String
  public var data: JSONValue
  public var importance: Double
  public var createdAt: String?

}
