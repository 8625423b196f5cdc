import RexstoreCore

/// `rexstore insight ...`: insights about a user.
enum InsightCommands {
  static let user = PatternCommands.user
  static let type = OptionSpec("type", value: "T", help: "only insights of this type")

  static let all: [CommandSpec] = [add, list, clear]

  static let add = CommandSpec(
    "insight", "add", summary: "Record an insight",
    arguments: [
      user, ArgumentSpec("TYPE", help: "insight type, e.g. tilt_risk"),
      ArgumentSpec("JSON", help: "the insight data: any JSON value, usually an object"),
    ],
    options: [OptionSpec("importance", value: "X", help: "importance in [0, 1] (default 0.5)")],
    examples: ["rexstore insight add 42 tilt_risk '{\"level\":\"high\"}' --importance 0.9"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let importance = try inv.number("importance", default: 0.5)
    let data: JSONValue
    do throws(JSONParser.Failure) {
      data = try JSONParser.parse(inv.argument(2))
    } catch {
      throw RexstoreError.invalidInput("JSON is not valid JSON: \(error.message)")
    }
    let insight = try rt.store().addInsight(
      userID: userID, type: inv.argument(1), data: data, importance: importance)
    return .json(insight.json)
  }

  static let list = CommandSpec(
    "insight", "list", summary: "List a user's insights, newest first",
    discussion: """
      Every matching insight unless --limit is given (the app's own get_insights stops at 50; this
      command has no hidden cap). With --limit N the output adds "limit": N and "truncated": true
      when more insights matched.
      """,
    arguments: [user],
    options: [
      type,
      OptionSpec("min-importance", value: "X", help: "only insights at least this important (inclusive)"),
      OptionSpec("limit", value: "N", help: "at most N insights (default: all)"),
    ],
    examples: ["rexstore insight list 42 --min-importance 0.7 --limit 10"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let minimum = try Validate.unitInterval(try inv.number("min-importance", default: 0), name: "--min-importance")
    let limit = try inv.limit(default: nil)
    let items = try rt.store().insights(
      userID: userID, type: try inv.label("type"), minImportance: minimum, limit: Listing.fetch(limit))
    return Listing.output(items.map(\.json), limit: limit, rt)
  }

  static let clear = CommandSpec(
    "insight", "clear", summary: "Delete a user's insights",
    arguments: [user],
    options: [type]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let type = try inv.label("type")
    let count = try rt.store().clearInsights(userID: userID, type: type)
    return .json(.record(["user_id": .int(userID), "type": .optional(type), "deleted_count": .int(count)]))
  }
}
