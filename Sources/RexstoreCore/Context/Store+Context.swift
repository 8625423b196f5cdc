/// Conversation context: an append log per (user, key), optionally per session, with optional expiry.
extension Store {
  /// Which sessions a context read or clear covers.
  public enum SessionFilter: Sendable, Equatable {
    /// Every row, with or without a session (the app's behaviour when no session is given).
    case any
    /// Only rows of this session.
    case session(String)
    /// Only rows stored without a session, which the app could not select.
    case none
  }

  public func addContext(
    userID: Int64, key: String, value: JSONValue, sessionID: String?, expiresAt: Timestamp?
  ) throws(RexstoreError) -> ContextItem {
    let key = try Validate.label(key, name: "key")
    if let sessionID { _ = try Validate.label(sessionID, name: "session") }
    let now = Timestamp.now().storedForm
    let expires = expiresAt?.storedForm
    let id = try writing(table: "conversation_context") { db throws(DatabaseError) -> Int64 in
      let stmt = try db.cached(
        "INSERT INTO conversation_context (user_id, context_key, context_value, session_id, created_at, expires_at) "
          + "VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
      stmt.bind(.integer(userID), .text(key), .text(StoredValue.encode(value)), .optional(sessionID), .text(now), .optional(expires))
      defer { stmt.reset() }
      _ = try stmt.step()
      return stmt.int(0)
    }
    return ContextItem(
      id: id, userID: userID, key: key, value: value, sessionID: sessionID, createdAt: now, expiresAt: expires)
  }

  /// Live (unexpired) items, newest first, ties broken by id so order never depends on the clock's
  /// resolution. Reading never deletes; `pruneContext` does.
  public func context(
    userID: Int64, key: String, session: SessionFilter, limit: Int?
  ) throws(RexstoreError) -> [ContextItem] {
    var sql =
      "SELECT id, context_value, session_id, created_at, expires_at FROM conversation_context "
      + "WHERE user_id = ? AND context_key = ?"
    switch session {
    case .any: break
    case .session: sql += " AND session_id = ?"
    case .none: sql += " AND session_id IS NULL"
    }
    sql += " AND (expires_at IS NULL OR expires_at >= ?) ORDER BY created_at DESC, id DESC"
    if limit != nil { sql += " LIMIT ?" }
    let now = Timestamp.now().storedForm
    return try reading(table: "conversation_context") { db throws(DatabaseError) -> [ContextItem] in
      let stmt = try db.prepare(sql)
      stmt.bind(.integer(userID), .text(key))
      if case .session(let id) = session { stmt.bind(.text(id)) }
      stmt.bind(.text(now))
      if let limit { stmt.bind(.integer(Int64(limit))) }
      var items: [ContextItem] = []
      while try stmt.step() {
        items.append(
          ContextItem(
            id: stmt.int(0), userID: userID, key: key, value: StoredValue.decode(stmt.text(1)),
            sessionID: stmt.optionalText(2), createdAt: stmt.optionalText(3), expiresAt: stmt.optionalText(4)))
      }
      return items
    }
  }

  /// Deletes a user's context, all of it or one session's; returns how many rows.
  public func clearContext(userID: Int64, session: SessionFilter) throws(RexstoreError) -> Int {
    var sql = "DELETE FROM conversation_context WHERE user_id = ?"
    switch session {
    case .any: break
    case .session: sql += " AND session_id = ?"
    case .none: sql += " AND session_id IS NULL"
    }
    return try writing(create: false, table: "conversation_context") { db throws(DatabaseError) -> Int in
      let stmt = try db.prepare(sql)
      stmt.bind(.integer(userID))
      if case .session(let id) = session { stmt.bind(.text(id)) }
      try stmt.run()
      return db.changes
    }
  }

  /// Deletes every expired row of every user, the app's purge without its side effect on reads.
  public func pruneContext(now: Timestamp = .now()) throws(RexstoreError) -> Int {
    try writing(create: false, table: "conversation_context") { db throws(DatabaseError) -> Int in
      try db.prepare("DELETE FROM conversation_context WHERE expires_at IS NOT NULL AND expires_at < ?")
        .bind(.text(now.storedForm)).run()
      return db.changes
    }
  }
}
