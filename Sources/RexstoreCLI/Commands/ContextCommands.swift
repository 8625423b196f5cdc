import RexstoreCore

/// `rexstore context ...`: the conversation-context log.
enum ContextCommands {
  static let user = PatternCommands.user
  static let key = ArgumentSpec("KEY", help: "context key, e.g. last_hand")
  static let session = OptionSpec("session", value: "S", help: "only this session")
  static let noSession = OptionSpec("no-session", help: "only rows stored without a session")
  static let limitOption = OptionSpec("limit", value: "N", help: "at most N items (default: all)")

  static let all: [CommandSpec] = [add, get, list, clear, prune]

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
    discussion: """
      Without --session or --no-session, items of every session are listed. With --limit N the
      output adds "limit": N and "truncated" (whether more items matched).
      """,
    arguments: [user, key],
    options: [session, noSession, limitOption],
    examples: ["rexstore context get 42 last_hand --session s1 --limit 5"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let limit = try inv.limit(default: nil)
    let items = try rt.store().context(
      userID: userID, key: inv.argument(1), session: try sessionFilter(inv), limit: Listing.fetch(limit))
    return Listing.output(items.map(\.json), limit: limit, rt)
  }

  static let list = CommandSpec(
    "context", "list", summary: "List a user's context rows of every key, newest first",
    discussion: """
      Every key, ties in created_at broken by id (newest first). Expired rows, which 'context get'
      never shows, are listed only with --include-expired (until 'context prune' deletes them).
      With --limit N the output adds "limit": N and "truncated" (whether more rows matched).
      """,
    arguments: [user],
    options: [
      session, noSession, OptionSpec("include-expired", help: "also rows past their expiry"), limitOption,
    ],
    examples: ["rexstore context list 42 --session s1", "rexstore context list 42 --include-expired --ndjson"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let limit = try inv.limit(default: nil)
    let items = try rt.store().contextRows(
      userID: userID, session: try sessionFilter(inv), includeExpired: inv.flag("include-expired"),
      limit: Listing.fetch(limit))
    return Listing.output(items.map(\.json), limit: limit, rt)
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
    return .json(.record(["user_id": .int(userID), "session_id": session, "deleted_count": .int(count)]))
  }

  static let prune = CommandSpec(
    "context", "prune", summary: "Delete expired context items of every user (for cron)",
    discussion: """
      The expired rows are found and deleted in one transaction. --max-delete and --dry-run work as
      for 'audio prune': over the limit nothing is deleted and the exit status is 25
      (limit_exceeded); a dry run lists the candidates even then (and exits 25 too). Each item names
      the row (id, user_id, key, session_id, created_at, expires_at), the size_bytes of its stored
      value and whether it was deleted; deleted_count and freed_bytes (the values' bytes) sum up.
      "cutoff" is the time rows had to expire before.
      """,
    options: [
      OptionSpec("dry-run", help: "list what would be deleted, delete nothing"),
      OptionSpec("max-delete", value: "N", help: "refuse to delete more than N rows"),
    ],
    examples: ["rexstore context prune --max-delete 100000", "rexstore context prune --dry-run --ndjson"]
  ) { inv, rt throws(RexstoreError) in
    let limit = try inv.limit("max-delete", default: nil)
    let dryRun = inv.flag("dry-run")
    let now = Timestamp.now()
    let result = try rt.store().pruneContext(now: now, dryRun: dryRun, maxDelete: limit)
    let guardrail = PruneGuard(
      what: "context rows", count: result.candidates.count, limit: limit, dryRun: dryRun, older: "",
      cutoff: now, selection: "have expired")
    if !dryRun { try guardrail.check() }
    let items = result.candidates.map { row in
      JSONValue.record([
        "id": .int(row.id), "user_id": .int(row.userID), "key": .string(row.key),
        "session_id": .optional(row.sessionID), "created_at": Timestamp.outputForm(ofStored: row.createdAt),
        "expires_at": Timestamp.outputForm(ofStored: row.expiresAt), "size_bytes": .int(row.sizeBytes),
        "deleted": .bool(result.deleted),
      ])
    }
    return guardrail.report(items: items, failures: [], freed: result.freedBytes, exit: 0)
  }

  static func sessionFilter(_ inv: Invocation) throws(RexstoreError) -> Store.SessionFilter {
    try inv.exclusive("session", "no-session")
    if let id = try inv.label("session") { return .session(id) }
    return inv.flag("no-session") ? .none : .any
  }
}

/// Lists with an optional `--limit`: without it, every item in `{"items","count"}`; with it, the
/// output also states the cap (`limit`) and whether it cut the list (`truncated`), so a cap is never
/// hidden. `--ndjson` prints the items alone, one per line.
enum Listing {
  /// How many rows to read: one more than the cap, to learn whether it cut anything.
  static func fetch(_ limit: Int?) -> Int? { limit.map { $0 < Int.max ? $0 + 1 : $0 } }

  static func output(_ fetched: [JSONValue], limit: Int?, _ rt: Runtime) -> CommandOutput {
    guard let limit else { return .list(fetched) }
    let items = Array(fetched.prefix(limit))
    if rt.ndjson { return .list(items) }
    return .json(
      JSONValue.list(items).adding(["limit": .int(limit), "truncated": .bool(fetched.count > items.count)]))
  }
}
