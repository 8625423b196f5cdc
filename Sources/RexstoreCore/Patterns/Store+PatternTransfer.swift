import CSQLite

/// `pattern import` and `pattern export`: NDJSON, one pattern per line, the record keys of DESIGN.md §3.
///
/// An export of any database the app wrote re-imports to the same rows (apart from `id`): a text
/// `user_id` stays text, a confidence outside [0, 1], NULL (the app's NaN) or infinite is kept, and
/// when a column's stored text is not what import would write from the visible field (a value the app
/// stored as `NaN`, a lone surrogate, JSON spaced differently; a `CURRENT_TIMESTAMP` time; NULL), the
/// line also carries `"stored":{COLUMN: TEXT}` and import writes that text verbatim.
extension Store {
  static let storedKeys: Set<String> = ["value", "created_at", "updated_at"]

  /// One import line, ready to bind.
  struct ImportedPattern {
    var userID: SQLValue
    var type: String
    var key: String
    var storedValue: String
    var confidence: SQLValue
    /// nil: "now"; `.null`: NULL; else the text.
    var createdAt: SQLValue?
    var updatedAt: SQLValue?
  }

  /// Imports every line in one transaction: all or nothing, the first bad line named in the error.
  /// Existing patterns are updated as `pattern set` would (their `created_at` is kept).
  public func importPatterns(from reader: LineReader) throws(RexstoreError) -> Int {
    let db = try writer()
    try verify(db, table: "user_patterns")
    let now = Timestamp.now().storedForm
    return try db.write { () throws(RexstoreError) -> Int in
      let stmt: Statement
      do throws(DatabaseError) {
        stmt = try db.cached(Store.upsertPatternSQL)
      } catch {
        throw error.rexstoreError(path: path)
      }
      var count = 0
      do throws(RexstoreError) {
        try reader.forEachTextLine { line, number throws(RexstoreError) in
          if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
          if number % 1000 == 0 { Progress.report("lines", number, nil) }
          let pattern: ImportedPattern
          do throws(RexstoreError) {
            pattern = try Store.importedPattern(line)
          } catch {
            throw RexstoreError(.invalidInput, "line \(number): \(error.message)")
          }
          stmt.reset()
          stmt.bind(
            pattern.userID, .text(pattern.type), .text(pattern.key), .text(pattern.storedValue), pattern.confidence,
            pattern.createdAt ?? .text(now), pattern.updatedAt ?? .text(now))
          do throws(DatabaseError) {
            try stmt.run()
          } catch {
            var failure = error.rexstoreError(path: path)
            failure.message = "line \(number): " + failure.message
            throw failure
          }
          count += 1
        }
      } catch {
        throw RexstoreError(error.code, error.message, hint: error.hint ?? "nothing was imported")
      }
      stmt.reset()
      return count
    }
  }

  static func importedPattern(_ line: UnsafeBufferPointer<UInt8>) throws(RexstoreError) -> ImportedPattern {
    let json: JSONValue
    do {
      json = try JSONParser.parse(line)
    } catch {
      throw RexstoreError.invalidInput("invalid JSON: \(error.message)")
    }
    guard case .object(let members) = json else { throw RexstoreError.invalidInput("expected a JSON object") }
    // One pass over the members (a later duplicate wins, as in Python's json.loads); the first key
    // that is not an import key is refused before any value is looked at.
    var userIDField: JSONValue?, typeField: JSONValue?, keyField: JSONValue?, value: JSONValue?
    var confidenceField: JSONValue?, createdField: JSONValue?, updatedField: JSONValue?, storedField: JSONValue?
    for member in members {
      switch member.key {
      case "user_id": userIDField = member.value
      case "type": typeField = member.value
      case "key": keyField = member.value
      case "value": value = member.value
      case "confidence": confidenceField = member.value
      case "created_at": createdField = member.value
      case "updated_at": updatedField = member.value
      case "stored": storedField = member.value
      default: throw RexstoreError.invalidInput("unknown key '\(member.key)'")
      }
    }
    let userID: SQLValue
    switch userIDField {
    case .number(let text)?:
      if let integer = Int64(text) {
        userID = .integer(integer)
      } else if let real = Double(text), real.isFinite {
        userID = .real(real)
      } else {
        throw RexstoreError.invalidInput("'user_id' \(text) is out of range")
      }
    case .string(let text)?: userID = .text(text)
    default: throw RexstoreError.invalidInput("'user_id' must be an integer (or the text the app stored)")
    }
    guard case .string(let type)? = typeField else { throw RexstoreError.invalidInput("'type' must be a string") }
    guard case .string(let key)? = keyField else { throw RexstoreError.invalidInput("'key' must be a string") }
    guard let value else { throw RexstoreError.invalidInput("'value' is missing") }
    // No range check: import reproduces what the app stored (it never checks); `pattern set` does.
    var confidence = SQLValue.real(1.0)
    switch confidenceField {
    case nil: break
    case .null?: confidence = .null
    case .number(let text)?:
      guard let number = Double(text), number.isFinite else {
        throw RexstoreError.invalidInput("'confidence' \(text) is out of range")
      }
      confidence = .real(number)
    case .string("Infinity")?: confidence = .real(.infinity)
    case .string("-Infinity")?: confidence = .real(-.infinity)
    default: throw RexstoreError.invalidInput("'confidence' must be a number, null, \"Infinity\" or \"-Infinity\"")
    }
    var stored: [String: JSONValue] = [:]
    switch storedField {
    case nil: break
    case .object(let items)?:
      for item in items {
        guard storedKeys.contains(item.key) else { throw RexstoreError.invalidInput("unknown key 'stored.\(item.key)'") }
        stored[item.key] = item.value
      }
    default: throw RexstoreError.invalidInput("'stored' must be an object")
    }
    var storedValue = StoredValue.encode(value)
    switch stored["value"] {
    case nil: break
    case .string(let text)?:
      guard StoredValue.decode(text) == value else {
        throw RexstoreError.invalidInput("'stored.value' does not read back as 'value'")
      }
      storedValue = text
    default: throw RexstoreError.invalidInput("'stored.value' must be a string")
    }
    return ImportedPattern(
      userID: userID, type: try Validate.label(type, name: "type"), key: try Validate.label(key, name: "key"),
      storedValue: storedValue, confidence: confidence,
      createdAt: try storedTime(createdField, stored["created_at"], name: "created_at"),
      updatedAt: try storedTime(updatedField, stored["updated_at"], name: "updated_at"))
  }

  private static func storedTime(
    _ value: JSONValue?, _ raw: JSONValue?, name: String
  ) throws(RexstoreError) -> SQLValue? {
    switch raw {
    case nil: break
    case .null?:
      guard value == nil || value == .null else {
        throw RexstoreError.invalidInput("'stored.\(name)' is null but '\(name)' is not")
      }
      return .null
    case .string(let text)?:
      guard exactTime(text) == value ?? .null else {
        throw RexstoreError.invalidInput("'stored.\(name)' does not match '\(name)'")
      }
      return .text(text)
    default: throw RexstoreError.invalidInput("'stored.\(name)' must be a string or null")
    }
    switch value {
    case nil, .null?: return nil
    case .string(let text)?:
      guard let ts = Timestamp.parse(text) else {
        throw RexstoreError.invalidInput("'\(name)' is not an RFC 3339 timestamp: \(text)")
      }
      return .text(ts.storedForm)
    default: throw RexstoreError.invalidInput("'\(name)' must be a timestamp string")
    }
  }

  /// Streams patterns as NDJSON lines, ordered by user, type and key. Timestamps keep microseconds so
  /// export | import loses nothing; see the type's comment for `stored`.
  public func exportPatterns(
    userID: Int64?, type: String?, _ emit: (String) throws(RexstoreError) -> Void
  ) throws(RexstoreError) -> Int {
    var filters: [String] = []
    if userID != nil { filters.append("user_id = ?") }
    if type != nil { filters.append("pattern_type = ?") }
    let sql =
      "SELECT pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at, user_id, id "
      + "FROM user_patterns" + (filters.isEmpty ? "" : " WHERE " + filters.joined(separator: " AND "))
      + " ORDER BY user_id, pattern_type, pattern_key"
    let db = try reader()
    try verify(db, table: "user_patterns")
    let count = try db.read { () throws(RexstoreError) -> Int in
      var count = 0
      do {
        let stmt = try db.prepare(sql)
        if let userID { stmt.bind(.integer(userID)) }
        if let type { stmt.bind(.text(type)) }
        while try stmt.step() {
          try emit(try exportedLine(stmt).serialized(.compact))
          count += 1
        }
      } catch let error as DatabaseError {
        throw error.rexstoreError(path: path)
      } catch let error as RexstoreError {
        throw error
      } catch {
        throw RexstoreError(.internal, "\(error)")
      }
      return count
    }
    try confirmSnapshot()
    return count
  }

  private func exportedLine(_ stmt: Statement) throws(RexstoreError) -> JSONValue {
    let rowID = stmt.int(7)
    func refuse(_ what: String) -> RexstoreError {
      RexstoreError(
        .invalidInput, "row id \(rowID) of user_patterns: \(what); it cannot be exported exactly",
        hint: "fix the row with sqlite3, or export with --user/--type to leave it out")
    }
    let userID: JSONValue
    switch stmt.columnType(6) {
    case SQLITE_INTEGER: userID = .int(stmt.int(6))
    case SQLITE_TEXT: userID = .string(stmt.text(6))
    case SQLITE_FLOAT where stmt.double(6).isFinite: userID = .double(stmt.double(6))
    default: throw refuse("user_id is not an integer, text or finite number")
    }
    let confidence: JSONValue
    switch stmt.columnType(3) {
    case SQLITE_NULL: confidence = .null
    case SQLITE_INTEGER, SQLITE_FLOAT:
      let number = stmt.double(3)
      confidence = number.isFinite ? .double(number) : .string(number > 0 ? "Infinity" : "-Infinity")
    default: throw refuse("confidence is not a number")
    }
    let raw = stmt.text(2)
    let value = StoredValue.decode(raw)
    var stored: [JSONValue.Member] = []
    if StoredValue.encode(value) != raw { stored.append(.init("value", .string(raw))) }
    var times: [JSONValue] = []
    for (column, name) in [(Int32(4), "created_at"), (Int32(5), "updated_at")] {
      let text = stmt.optionalText(column)
      let visible = text.map(Store.exactTime) ?? .null
      times.append(visible)
      // What import would store from the visible field; keep the original where that differs.
      let reimported: String? =
        if case .string(let shown) = visible { Timestamp.parse(shown)?.storedForm } else { nil }
      if text == nil || reimported != text { stored.append(.init(name, .optional(text))) }
    }
    var record = JSONValue.record([
      "user_id": userID, "type": .string(stmt.text(0)), "key": .string(stmt.text(1)), "value": value,
      "confidence": confidence, "created_at": times[0], "updated_at": times[1],
    ])
    if !stored.isEmpty { record = record.adding(["stored": .object(stored)]) }
    return record
  }

  static func exactTime(_ stored: String) -> JSONValue {
    Timestamp.parse(stored).map { .string($0.exactOutputForm) } ?? .string(stored)
  }
}
