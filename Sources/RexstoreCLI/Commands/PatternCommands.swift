import RexstoreCore

/// `rexstore pattern ...`: behavioural patterns.
enum PatternCommands {
  static let user = ArgumentSpec("USER", help: "user id (the app's integer users.id)")
  static let type = ArgumentSpec("TYPE", help: "pattern type, e.g. play_style")
  static let key = ArgumentSpec("KEY", help: "pattern key within the type")

  static let all: [CommandSpec] = [set, get, list, rm, clear, importNDJSON, export]

  static let set = CommandSpec(
    "pattern", "set", summary: "Insert or update a pattern",
    discussion: """
      VALUE is stored as JSON when it parses as JSON (42, true, {"a":1}, "quoted"), else as a string;
      --string forces a string. An update keeps created_at and moves updated_at. The Python app reads
      back exactly what was set, including strings such as "123" or "null".
      """,
    arguments: [user, type, key, ArgumentSpec("VALUE", help: "the value: JSON, or a plain string")],
    options: [
      OptionSpec("confidence", value: "X", help: "confidence in [0, 1] (default 1.0)"),
      OptionSpec("string", help: "store VALUE as a string even if it parses as JSON"),
    ],
    examples: ["rexstore pattern set 42 play_style aggression 0.8 --confidence 0.9"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let confidence = try inv.number("confidence", default: 1.0)
    let value = try StoredValue.fromArgument(inv.argument(3), forceString: inv.flag("string"))
    let pattern = try rt.store().setPattern(
      userID: userID, type: inv.argument(1), key: inv.argument(2), value: value, confidence: confidence)
    return .json(pattern.json)
  }

  static let get = CommandSpec(
    "pattern", "get", summary: "Show one pattern (exit 1 if there is none)",
    arguments: [user, type, key],
    examples: ["rexstore pattern get 42 play_style aggression"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    guard let pattern = try rt.store().pattern(userID: userID, type: inv.argument(1), key: inv.argument(2)) else {
      throw RexstoreError.notFound("no pattern \(inv.argument(1))/\(inv.argument(2)) for user \(userID)")
    }
    return .json(pattern.json)
  }

  static let list = CommandSpec(
    "pattern", "list", summary: "List a user's patterns, most recently updated first",
    arguments: [user],
    options: [OptionSpec("type", value: "T", help: "only patterns of this type")],
    examples: ["rexstore pattern list 42 --type play_style"]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    return .list(try rt.store().patterns(userID: userID, type: try inv.label("type")).map(\.json))
  }

  static let rm = CommandSpec(
    "pattern", "rm", summary: "Delete one pattern",
    arguments: [user, type, key],
    options: [OptionSpec("if-exists", help: "succeed (deleted: false) when there is no such pattern")]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let deleted = try rt.store().removePattern(userID: userID, type: inv.argument(1), key: inv.argument(2))
    if !deleted, !inv.flag("if-exists") {
      throw RexstoreError.notFound("no pattern \(inv.argument(1))/\(inv.argument(2)) for user \(userID)")
    }
    return .json(
      .record([
        "user_id": .int(userID), "type": .string(inv.argument(1)), "key": .string(inv.argument(2)),
        "deleted": .bool(deleted),
      ]))
  }

  static let clear = CommandSpec(
    "pattern", "clear", summary: "Delete all of a user's patterns",
    arguments: [user]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.userID(at: 0)
    let count = try rt.store().clearPatterns(userID: userID)
    return .json(.record(["user_id": .int(userID), "deleted_count": .int(count)]))
  }

  static let importNDJSON = CommandSpec(
    "pattern", "import", summary: "Import patterns from NDJSON in one transaction",
    discussion: """
      Each line is an object with user_id, type, key, value and optionally confidence, created_at,
      updated_at and stored (the lines 'pattern export' writes). All lines are imported or none: the
      first bad line (not valid UTF-8, invalid JSON, a lone surrogate) is named in the error. Existing
      patterns are updated, keeping their created_at. Values are kept as given, as the app would store
      them: confidence is not range-checked, and a text user_id stays text.
      """,
    arguments: [
      ArgumentSpec("FILE", help: "NDJSON file, or - for standard input (the default)", optional: true, completion: .file, bytePath: true)
    ],
    examples: ["rexstore pattern export | rexstore --db copy.sqlite3 pattern import -"]
  ) { inv, rt throws(RexstoreError) in
    let source = inv.arguments.isEmpty ? FilePathBytes("-") : inv.pathArgument(0)
    let store = try rt.store()
    let reader =
      source.isDash
      ? try LineReader.spoolingStandardInput(in: FileSystem.parent(of: store.path))
      : try LineReader.open(rt.absolute(source))
    defer { reader.close() }
    let count = try store.importPatterns(from: reader)
    return .json(JSONValue.record(["imported": .int(count)]).addingPath("source", source))
  }

  static let export = CommandSpec(
    "pattern", "export", summary: "Write patterns as NDJSON, one per line",
    discussion: """
      Timestamps keep microseconds, and a "stored" object carries a column's exact text where it
      differs from what import would write, so that export | import reproduces every row.
      """,
    options: [
      OptionSpec("user", value: "USER", help: "only this user's patterns"),
      OptionSpec("type", value: "T", help: "only patterns of this type"),
    ]
  ) { inv, rt throws(RexstoreError) in
    let userID = try inv.optionalUserID("user")
    let type = try inv.label("type")
    let out = rt.stdout
    _ = try rt.store().exportPatterns(userID: userID, type: type) { line throws(RexstoreError) in
      try out.write(line + "\n")
    }
    return .streamed
  }
}
