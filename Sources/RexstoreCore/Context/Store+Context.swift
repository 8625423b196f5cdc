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

  /// Every context row of a user, all keys, newest first (ties by id); expired rows only when
  /// `includeExpired`. `limit` caps the rows returned.
  public func contextRows(
    userID: Int64, session: SessionFilter, includeExpired: Bool, limit: Int?, now: Timestamp = .now()
  ) throws(RexstoreError) -> [ContextItem] {
    var sql =
      "SELECT id, context_key, context_value, session_id, created_at, expires_at FROM conversation_context "
      + "WHERE user_id = ?"
    switch session {
    case .any: break
    case .session: sql += " AND session_id = ?"
    case .none: sql += " AND session_id IS NULL"
    }
    if !includeExpired { sql += " AND (expires_at IS NULL OR expires_at >= ?)" }
    sql += " ORDER BY created_at DESC, id DESC"
    if limit != nil { sql += " LIMIT ?" }
    return try reading(table: "conversation_context") { db throws(DatabaseError) -> [ContextItem] in
      let stmt = try db.prepare(sql)
      stmt.bind(.integer(userID))
      if case .session(let id) = session { stmt.bind(.text(id)) }
      if !includeExpired { stmt.bind(.text(now.storedForm)) }
      if let limit { stmt.bind(.integer(Int64(limit))) }
      var items: [ContextItem] = []
      while try stmt.step() {
        items.append(
          ContextItem(
            id: stmt.int(0), userID: userID, key: stmt.text(1), value: StoredValue.decode(stmt.text(2)),
            sessionID: stmt.optionalText(3), createdAt: stmt.optionalText(4), expiresAt: stmt.optionalText(5)))
      }
      return items
    }
  }

  /// An expired row as `context prune` reports it: no value, but the size of the stored value.
  public struct ExpiredContext: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    public var key: String
    public var sessionID: String?
    public var createdAt: String?
    public var expiresAt: String?
    /// Bytes of the stored value (its UTF-8 text as in the column).
    public var sizeBytes: Int64
  }

  /// What a prune found and whether it deleted it.
  public struct ContextPrune: Sendable {
    public var candidates: [ExpiredContext]
    /// True when the candidates were deleted (not a dry run and within `maxDelete`).
    public var deleted: Bool
    public var freedBytes: Int64 { deleted ? candidates.reduce(0) { $0 + $1.sizeBytes } : 0 }
  }

  static let expiredPredicate = "expires_at IS NOT NULL AND expires_at < ?"

  /// Finds every expired row of every user and, unless `dryRun` or there are more than `maxDelete`,
  /// deletes exactly those rows in the same transaction (the app's purge without its side effect on
  /// reads). Over the limit nothing is deleted; the caller reports `limit_exceeded`.
  public func pruneContext(
    now: Timestamp = .now(), dryRun: Bool = false, maxDelete: Int? = nil
  ) throws(RexstoreError) -> ContextPrune {
    let select =
      "SELECT id, user_id, context_key, session_id, created_at, expires_at, "
      + "coalesce(length(CAST(context_value AS BLOB)), 0) FROM conversation_context WHERE "
      + Store.expiredPredicate + " ORDER BY expires_at, id"
    let cutoff = now.storedForm
    func candidates(_ db: Database) throws(DatabaseError) -> [ExpiredContext] {
      let stmt = try db.prepare(select)
      stmt.bind(.text(cutoff))
      var rows: [ExpiredContext] = []
      while try stmt.step() {
        rows.append(
          ExpiredContext(
            id: stmt.int(0), userID: stmt.int(1), key: stmt.text(2), sessionID: stmt.optionalText(3),
            createdAt: stmt.optionalText(4), expiresAt: stmt.optionalText(5), sizeBytes: stmt.int(6)))
      }
      return rows
    }
    if dryRun {
      let rows = try reading(table: "conversation_context") { db throws(DatabaseError) in try candidates(db) }
      return ContextPrune(candidates: rows, deleted: false)
    }
    return try writing(create: false, table: "conversation_context") { db throws(DatabaseError) -> ContextPrune in
      let rows = try candidates(db)
      if let maxDelete, rows.count > maxDelete { return ContextPrune(candidates: rows, deleted: false) }
      if !rows.isEmpty {
        try db.prepare("DELETE FROM conversation_context WHERE " + Store.expiredPredicate).bind(.text(cutoff)).run()
      }
      return ContextPrune(candidates: rows, deleted: true)
    }
  }
}
