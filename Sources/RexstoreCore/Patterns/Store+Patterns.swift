/// Behavioural patterns: one value per (user, type, key), upserted.
extension Store {
  /// The app's upsert, with `created_at` set explicitly (the app leaves it to `CURRENT_TIMESTAMP`).
  static let upsertPatternSQL = """
    INSERT INTO user_patterns (user_id, pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(user_id, pattern_type, pattern_key) DO UPDATE SET
      pattern_value = excluded.pattern_value, confidence = excluded.confidence, updated_at = excluded.updated_at
    """

  /// `pattern set` reports the row as stored. Import must not use this form: a `RETURNING` statement
  /// materialises its rows in a temporary table per execution, which tripled the WAL writes of a
  /// million-row import.
  static let upsertPatternReturningSQL = upsertPatternSQL + " RETURNING created_at, updated_at"

  /// Inserts or updates a pattern; an update keeps `created_at` and moves `updated_at`, as the app does.
  public func setPattern(
    userID: Int64, type: String, key: String, value: JSONValue, confidence: Double
  ) throws(RexstoreError) -> Pattern {
    let type = try Validate.label(type, name: "type")
    let key = try Validate.label(key, name: "key")
    let confidence = try Validate.unitInterval(confidence, name: "confidence")
    let now = Timestamp.now().storedForm
    return try writing(table: "user_patterns") { db throws(DatabaseError) -> Pattern in
      let stmt = try db.cached(Store.upsertPatternReturningSQL)
      stmt.bind(
        .integer(userID), .text(type), .text(key), .text(StoredValue.encode(value)), .real(confidence),
        .text(now), .text(now))
      _ = try stmt.step()
      let pattern = Pattern(
        userID: userID, type: type, key: key, value: value, confidence: confidence,
        createdAt: stmt.optionalText(0), updatedAt: stmt.optionalText(1))
      stmt.reset()
      return pattern
    }
  }

  public func pattern(userID: Int64, type: String, key: String) throws(RexstoreError) -> Pattern? {
    try reading(table: "user_patterns") { db throws(DatabaseError) -> Pattern? in
        let stmt = try db.cached(
          "SELECT pattern_value, confidence, created_at, updated_at FROM user_patterns "
            + "WHERE user_id = ? AND pattern_type = ? AND pattern_key = ?")
        stmt.bind(.integer(userID), .text(type), .text(key))
        defer { stmt.reset() }
        guard try stmt.step() else { return nil }
        return Pattern(
          userID: userID, type: type, key: key, value: StoredValue.decode(stmt.text(0)),
          confidence: stmt.isNull(1) ? nil : stmt.double(1), createdAt: stmt.optionalText(2),
          updatedAt: stmt.optionalText(3))
    }
  }

  /// A user's patterns, most recently updated first (the app's order), ties broken by id.
  public func patterns(userID: Int64, type: String?) throws(RexstoreError) -> [Pattern] {
    try reading(table: "user_patterns") { db throws(DatabaseError) -> [Pattern] in
        let stmt = try db.prepare(
          "SELECT pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at "
            + "FROM user_patterns WHERE user_id = ?" + (type == nil ? "" : " AND pattern_type = ?")
            + " ORDER BY updated_at DESC, id DESC")
        stmt.bind(.integer(userID))
        if let type { stmt.bind(.text(type)) }
        var rows: [Pattern] = []
        while try stmt.step() {
          rows.append(Store.pattern(userID: userID, row: stmt))
        }
        return rows
    }
  }

  static func pattern(userID: Int64, row stmt: Statement) -> Pattern {
    Pattern(
      userID: userID, type: stmt.text(0), key: stmt.text(1), value: StoredValue.decode(stmt.text(2)),
      confidence: stmt.isNull(3) ? nil : stmt.double(3), createdAt: stmt.optionalText(4),
      updatedAt: stmt.optionalText(5))
  }

  /// Deletes one pattern; returns whether it existed.
  public func removePattern(userID: Int64, type: String, key: String) throws(RexstoreError) -> Bool {
    try writing(create: false, table: "user_patterns") { db throws(DatabaseError) -> Bool in
      try db.cached("DELETE FROM user_patterns WHERE user_id = ? AND pattern_type = ? AND pattern_key = ?")
        .bind(.integer(userID), .text(type), .text(key)).run()
      return db.changes > 0
    }
  }

  /// Deletes all of a user's patterns; returns how many.
  public func clearPatterns(userID: Int64) throws(RexstoreError) -> Int {
    try writing(create: false, table: "user_patterns") { db throws(DatabaseError) -> Int in
      try db.cached("DELETE FROM user_patterns WHERE user_id = ?").bind(.integer(userID)).run()
      return db.changes
    }
  }
}
