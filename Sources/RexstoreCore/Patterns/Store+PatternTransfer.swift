/// `pattern import` and `pattern export`: NDJSON, one pattern per line, the record keys of DESIGN.md §3.
extension Store {
  /// Keys an import line may carry; anything else is a typo worth failing on.
  static let importKeys: Set<String> = ["user_id", "type", "key", "value", "confidence", "created_at", "updated_at"]

  /// Imports every line in one transaction: all or nothing, the first bad line named in the error.
  /// Existing patterns are updated as `pattern set` would (their `created_at` is kept).
  public func importPatterns(from reader: LineReader) throws(RexstoreError) -> Int {
    let db = try writer()
    let now = Timestamp.now().storedForm
    return try db.write { () throws(RexstoreError) -> Int in
      let stmt: Statement
      do throws(DatabaseError) {
        stmt = try db.cached(Store.upsertPatternSQL)
      } catch {
        throw error.rexstoreError(path: path)
      }
      var count = 0
      try reader.forEachLine { line, number throws(RexstoreError) in
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        let pattern: Pattern
        do throws(RexstoreError) {
          pattern = try Store.importedPattern(line)
        } catch {
          throw RexstoreError(.invalidInput, "line \(number): \(error.message)", hint: "nothing was imported")
        }
        stmt.reset()
        stmt.bind(
          .integer(pattern.userID), .text(pattern.type), .text(pattern.key),
          .text(StoredValue.encode(pattern.value)), .real(pattern.confidence),
          .text(pattern.createdAt ?? now), .text(pattern.updatedAt ?? now))
        do throws(DatabaseError) {
          try stmt.run()
        } catch {
          throw error.rexstoreError(path: path)
        }
        count += 1
      }
      stmt.reset()
      return count
    }
  }

  static func importedPattern(_ line: UnsafeBufferPointer<UInt8>) throws(RexstoreError) -> Pattern {
    let json: JSONValue
    do {
      json = try JSONParser.parse(line)
    } catch {
      throw RexstoreError.invalidInput("invalid JSON: \(error.message)")
    }
    guard case .object(let members) = json else { throw RexstoreError.invalidInput("expected a JSON object") }
    for member in members where !importKeys.contains(member.key) {
      throw RexstoreError.invalidInput("unknown key '\(member.key)'")
    }
    guard case .number(let idText)? = json["user_id"], let userID = Int64(idText) else {
      throw RexstoreError.invalidInput("'user_id' must be an integer")
    }
    guard case .string(let type)? = json["type"] else { throw RexstoreError.invalidInput("'type' must be a string") }
    guard case .string(let key)? = json["key"] else { throw RexstoreError.invalidInput("'key' must be a string") }
    guard let value = json["value"] else { throw RexstoreError.invalidInput("'value' is missing") }
    var confidence = 1.0
    switch json["confidence"] {
    case nil, .null?: break
    case .number(let text)?:
      confidence = try Validate.unitInterval(Double(text) ?? .nan, name: "confidence")
    default: throw RexstoreError.invalidInput("'confidence' must be a number")
    }
    return Pattern(
      userID: userID, type: try Validate.label(type, name: "type"), key: try Validate.label(key, name: "key"),
      value: value, confidence: confidence, createdAt: try storedTime(json["created_at"], name: "created_at"),
      updatedAt: try storedTime(json["updated_at"], name: "updated_at"))
  }

  private static func storedTime(_ value: JSONValue?, name: String) throws(RexstoreError) -> String? {
    switch value {
    case nil, .null?: return nil
    case .string(let text)?:
      guard let ts = Timestamp.parse(text) else {
        throw RexstoreError.invalidInput("'\(name)' is not an RFC 3339 timestamp: \(text)")
      }
      return ts.storedForm
    default: throw RexstoreError.invalidInput("'\(name)' must be a timestamp string")
    }
  }

  /// Streams patterns as NDJSON lines, ordered by user, type and key. Timestamps keep microseconds so
  /// export | import loses nothing.
  public func exportPatterns(
    userID: Int64?, type: String?, _ emit: (String) throws(RexstoreError) -> Void
  ) throws(RexstoreError) -> Int {
    var filters: [String] = []
    if userID != nil { filters.append("user_id = ?") }
    if type != nil { filters.append("pattern_type = ?") }
    let sql =
      "SELECT pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at, user_id "
      + "FROM user_patterns" + (filters.isEmpty ? "" : " WHERE " + filters.joined(separator: " AND "))
      + " ORDER BY user_id, pattern_type, pattern_key"
    let db = try reader()
    return try db.read { () throws(RexstoreError) -> Int in
      var count = 0
      do {
        let stmt = try db.prepare(sql)
        if let userID { stmt.bind(.integer(userID)) }
        if let type { stmt.bind(.text(type)) }
        while try stmt.step() {
          let pattern = Store.pattern(userID: stmt.int(6), row: stmt)
          let record = JSONValue.record([
            "user_id": .int(pattern.userID), "type": .string(pattern.type), "key": .string(pattern.key),
            "value": pattern.value, "confidence": .double(pattern.confidence),
            "created_at": exactTime(pattern.createdAt), "updated_at": exactTime(pattern.updatedAt),
          ])
          try emit(record.serialized(.compact))
          count += 1
        }
      } catch let error as DatabaseError {
        if error.isMissingTable { return count }
        throw error.rexstoreError(path: path)
      } catch let error as RexstoreError {
        throw error
      } catch {
        throw RexstoreError(.internal, "\(error)")
      }
      return count
    }
  }

  private func exactTime(_ stored: String?) -> JSONValue {
    guard let stored else { return .null }
    return Timestamp.parse(stored).map { .string($0.exactOutputForm) } ?? .string(stored)
  }
}
