import RexstoreCore

/// `rexstore context ...`: the conversation-context log.
enum ContextCommands {
  static let user = PatternCommands.user
  static let key = ArgumentSpec("KEY", help: "context key, e.g. last_hand")
  static let session = OptionSpec("session", value: "S", help: "only this session")
  static let noSession = OptionSpec("no-session", help: "only rows stored without a session")

  static let all: [CommandSpec] = [add, get, clear, prune]

  static let add = CommandSpec(
    "context", "add", summary: "Append a context item",
    discussion: """
      VALUE follows the rules of 'pattern set'. Without --expires or --expires-at the item never
      expires; expired items are invisible to 'context get' and deleted by 'context prune'.
      """,
    arguments: [user, key, ArgumentSpec("VALUE", help: "the value: JSON, or a plain string")],
    options: [
      OptionSpec("session", value: "S", help: "session id"),
      OptionSpec("expires", value: "DUR", help: "expire after this long, e.g. 30m, 2h, 7d"),
      OptionSpec("expires-at", value: "TIME", help: "expire at this RFC 3339 time"),
      OptionSpec("string", help: "store VALUE as a string even if it parses as JSON"),
    ],
    examples: ["rexstore context add 42 last_hand '{\"pot\":120}' --session s1 --expires 2h"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    try inv.exclusive("expires", "expires-at")
    var expiresAt = try inv.timestamp("expires-at")
    if let micros = try inv.duration("expires") { expiresAt = Timestamp.now().adding(microseconds: micros) }
    if let expiresAt, expiresAt > Timestamp.latestStorable {
      throw RexstoreError.usage("expiry is after 9999-12-31", hint: "stored times have four-digit years")
    }
    let value = try StoredValue.fromArgument(inv.argument(2), forceString: inv.flag("string"))
    let item = try rt.store().addContext(
      userID: userID, key: inv.argument(1), value: value, sessionID: try inv.label("session"), expiresAt: expiresAt)
    return .json(item.json)
  }

  static let get = CommandSpec(
    "context", "get", summary: "List live context items, newest first",
    discussion: "Without --session or --no-session, items of every session are listed.",
    arguments: [user, key],
    options: [session, noSession, OptionSpec("limit", value: "N", help: "at most N items")],
    examples: ["rexstore context get 42 last_hand --session s1 --limit 5"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let items = try rt.store().context(
      userID: userID, key: inv.argument(1), session: try sessionFilter(inv), limit: try inv.limit(default: nil))
    return .list(items.map(\.json))
  }

  static let clear = CommandSpec(
    "context", "clear", summary: "Delete a user's context items",
    arguments: [user],
    options: [session, noSession]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let filter = try sessionFilter(inv)
    let count = try rt.store().clearContext(userID: userID, session: filter)
    var session: JSONValue = .null
    if case .session(let id) = filter { session = .string(id) }
    return .json(.record(["user_id": .int(userID), "session_id": session, "deleted": .int(count)]))
  }

  static let prune = CommandSpec(
    "context", "prune", summary: "Delete expired context items of every user (for cron)"
  ) { _, rt throws(RexstoreError) in
    .json(.record(["deleted": .int(try rt.store().pruneContext())]))
  }

  static func sessionFilter(_ inv: Invocation) throws(RexstoreError) -> Store.SessionFilter {
    try inv.exclusive("session", "no-session")
    if let id = try inv.label("session") { return .session(id) }
    return inv.flag("no-session") ? .none : .any
  }
}
