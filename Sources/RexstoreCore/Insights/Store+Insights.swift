/// Insights: any JSON value per user and type (the app stores `json.dumps` of whatever it is given), with an importance in [0, 1]; never expire.
extension Store {
  public func addInsight(
    userID: Int64, type: String, data: JSONValue, importance: Double
  ) throws(RexstoreError) -> Insight {
    let type = try Validate.label(type, name: "type")
    let importance = try Validate.unitInterval(importance, name: "importance")
    let now = Timestamp.now().storedForm
    let id = try writing(table: "user_insights") { db throws(DatabaseError) -> Int64 in
      let stmt = try db.cached(
        "INSERT INTO user_insights (user_id, insight_type, insight_data, importance, created_at) "
          + "VALUES (?, ?, ?, ?, ?) RETURNING id")
      stmt.bind(.integer(userID), .text(type), .text(data.serialized(.python)), .real(importance), .text(now))
      defer { stmt.reset() }
      _ = try stmt.step()
      return stmt.int(0)
    }
    return Insight(id: id, userID: userID, type: type, data: data, importance: importance, createdAt: now)
  }

  /// Newest first, ties broken by id; `minImportance` is inclusive, as in the app. `limit` nil means
  /// every insight (the app's own reader defaults to 50; rexstore has no hidden cap).
  public func insights(
    userID: Int64, type: String?, minImportance: Double, limit: Int?
  ) throws(RexstoreError) -> [Insight] {
    let sql =
      "SELECT id, insight_type, insight_data, importance, created_at FROM user_insights WHERE user_id = ?"
      + (type == nil ? "" : " AND insight_type = ?")
      + " AND importance >= ? ORDER BY created_at DESC, id DESC" + (limit == nil ? "" : " LIMIT ?")
    return try reading(table: "user_insights") { db throws(DatabaseError) -> [Insight] in
      let stmt = try db.prepare(sql)
      stmt.bind(.integer(userID))
      if let type { stmt.bind(.text(type)) }
      stmt.bind(.real(minImportance))
      if let limit { stmt.bind(.integer(Int64(limit))) }
      var items: [Insight] = []
      while try stmt.step() {
        items.append(
          Insight(
            id: stmt.int(0), userID: userID, type: stmt.text(1), data: StoredValue.decode(stmt.text(2)),
            importance: stmt.isNull(3) ? 0.5 : stmt.double(3), createdAt: stmt.optionalText(4)))
      }
      return items
    }
  }

  /// Deletes a user's insights, all or one type's; returns how many.
  public func clearInsights(userID: Int64, type: String?) throws(RexstoreError) -> Int {
    try writing(create: false, table: "user_insights") { db throws(DatabaseError) -> Int in
      let stmt = try db.prepare(
        "DELETE FROM user_insights WHERE user_id = ?" + (type == nil ? "" : " AND insight_type = ?"))
      stmt.bind(.integer(userID))
      if let type { stmt.bind(.text(type)) }
      try stmt.run()
      return db.changes
    }
  }
}
