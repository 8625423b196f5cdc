import RexstoreCore

/// `rexstore user ...`: everything stored for one user, in every store (a GDPR-style export and erase).
enum UserCommands {
  static let user = ArgumentSpec("USER", help: "the user id (the app's users.id; also the object-store user unless --object-user)")
  static let objectUser = OptionSpec("object-user", value: "NAME", help: "the user's segment in audio/ and voice_profiles/ and its dossier name, if not USER")

  static let all: [CommandSpec] = [export, erase]

  static func data(_ inv: Invocation, _ rt: Runtime) throws(RexstoreError) -> UserData {
    let id = inv.argument(0)
    guard !id.isEmpty else { throw RexstoreError.usage("USER must not be empty") }
    let objectUser = try ObjectName.segment(inv.value("object-user") ?? id, kind: "user")
    let profiles = try rt.profiles()
    return UserData(store: try rt.store(), objects: profiles.objects, profiles: profiles, userID: id, objectUser: objectUser)
  }

  static let export = CommandSpec(
    "user", "export", summary: "Write everything stored for a user into a directory",
    discussion: """
      DIR (default ./rexstore-export-USER, created like mkdir -p) receives database.ndjson (every row
      of user_patterns, conversation_context, expired ones included, and user_insights, one
      {"table","row"} per line, columns as stored), objects/ (audio/USER/..., the user's voice-profile
      samples and any sample files no record names, each verified as it is written), dossier.json (the
      user's dossier as it is) and manifest.json. An existing export is never overwritten.
      """,
    arguments: [user],
    options: [
      OptionSpec("output", short: "o", value: "DIR", help: "where to write the export", completion: .directory, bytePath: true),
      objectUser,
    ],
    examples: ["rexstore user export 42 -o /srv/exports/42", "rexstore --app-dir /srv/rex user export 42 --object-user u42"]
  ) { inv, rt throws(RexstoreError) in
    let data = try data(inv, rt)
    let directory = rt.absolute(inv.path("output") ?? FilePathBytes("rexstore-export-" + data.objectUser))
    return .json(try data.export(to: directory).addingPathHex("directory", directory))
  }

  static let erase = CommandSpec(
    "user", "erase", summary: "Delete everything stored for a user, then check",
    discussion: """
      Deletes the user's rows in the three app tables (one transaction), every voice profile (record,
      then its samples), audio/USER/..., sample files under voice_profiles/USER/ that no record names,
      and the user's dossier file, in the database, the local root, the bucket and the dossiers; then
      looks again and lists anything left (exit 74 if something was). --dry-run lists what would go;
      with --max-delete N a user with more than N items is not touched (exit 25).
      """,
    arguments: [user],
    options: [
      OptionSpec("dry-run", help: "list what would be deleted, delete nothing"),
      OptionSpec("max-delete", value: "N", help: "refuse when the user has more than N items"), objectUser,
    ],
    examples: ["rexstore user erase 42 --dry-run", "rexstore user erase 42 --max-delete 10000"]
  ) { inv, rt throws(RexstoreError) in
    let data = try data(inv, rt)
    let limit = try inv.limit("max-delete", default: nil)
    let result = try data.erase(dryRun: inv.flag("dry-run"), maxDelete: limit)
    var exit: Int32 = 0
    var failures: [JSONValue] = result.failures.map { name, error in
      exit = max(exit, ExitStatus.of(error.code))
      return .record(["item": .string(name), "code": .string(error.code.rawValue), "message": .string(error.message)])
    }
    if let left = result.left, !left.isEmpty {
      exit = max(exit, ExitStatus.of(.ioError))
      failures.append(.record([
        "item": .string("verification"), "code": .string(ErrorCode.ioError.rawValue),
        "message": .string("\(left.itemCount) item(s) still stored after the erase"),
      ]))
    }
    let report = JSONValue.record([
      "user_id": .string(data.userID), "object_user": .string(data.objectUser), "dry_run": .bool(inv.flag("dry-run")),
      "found": result.found.json, "removed": .array(result.removed), "failures": .array(failures),
      "left": result.left?.json ?? .null, "verified": .bool(result.left?.isEmpty ?? false),
    ])
    return exit == 0 ? .json(report) : .report(report, exit: exit)
  }
}
