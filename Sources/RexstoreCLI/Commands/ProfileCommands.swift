import RexstoreCore

/// `rexstore profile ...`: voice profiles (samples in the object store, records in the app's dossiers).
enum ProfileCommands {
  static let user = ArgumentSpec("USER", help: "user name (one path segment)")
  static let profile = ArgumentSpec("PROFILE", help: "profile id (one path segment)")

  static let all: [CommandSpec] = [store, get, list, delete, prune]

  static let store = CommandSpec(
    "profile", "store", summary: "Store a voice profile's samples and record",
    discussion: """
      Samples become voice_profiles/USER/PROFILE/sample_0.wav, sample_1.wav, ... and the record an
      entry of the app's dossier DOSSIERS/USER.json (key voice_profiles), written under the app's lock
      after every sample is durable. A profile that exists is a conflict unless --force, which
      replaces all its samples at once. Files in the profile's directory that no record names are
      never replaced silently: the store is refused unless --discard-unreferenced. Metadata:
      --meta-json gives an object, --meta KEY=VALUE sets string keys on top of it.
      """,
    arguments: [
      user, profile,
      ArgumentSpec("SAMPLE", help: "sample files (one may be - for standard input)", variadic: true, completion: .file, bytePath: true),
    ],
    options: [
      OptionSpec("meta", value: "KEY=VALUE", help: "a metadata key (repeatable)", repeatable: true),
      OptionSpec("meta-json", value: "JSON", help: "metadata as a JSON object"),
      OptionSpec("force", help: "replace an existing profile"),
      OptionSpec("discard-unreferenced", help: "let the store replace files in the directory that no record names"),
    ],
    examples: ["rexstore profile store u42 calm a.wav b.wav --meta mood=calm"]
  ) { inv, rt throws(RexstoreError) in
    let userName = try ObjectName.segment(inv.argument(0), kind: "user")
    let profileName = try ObjectName.segment(inv.argument(1), kind: "profile")
    let metadata = try metadata(inv)
    let files = (2..<inv.arguments.count).map(inv.pathArgument)
    if files.filter(\.isDash).count > 1 { throw RexstoreError.usage("only one SAMPLE may be -") }
    var sources: [ByteSource] = []
    for file in files { sources.append(try ByteSource.open(file.isDash ? file : rt.absolute(file))) }
    let profiles = try rt.profiles()
    let record = try profiles.store(
      user: userName, profile: profileName, samples: sources, metadata: metadata, force: inv.flag("force"),
      discardUnreferenced: inv.flag("discard-unreferenced"))
    return .json(record.json.adding(["fallback_reason": .optional(profiles.objects.fallbackReason)]))
  }

  static let get = CommandSpec(
    "profile", "get", summary: "Show a profile, or write its samples to a directory",
    arguments: [user, profile],
    options: [
      OptionSpec(
        "output", short: "o", value: "DIR", help: "write sample_{i}.wav files into DIR (created if missing)", completion: .directory,
        bytePath: true)
    ]
  ) { inv, rt throws(RexstoreError) in
    let profiles = try rt.profiles()
    guard let directory = inv.path("output") else {
      guard let record = try profiles.get(user: inv.argument(0), profile: inv.argument(1)) else {
        throw profiles.missing(inv.argument(0), inv.argument(1))
      }
      return .json(record.json)
    }
    let (record, paths) = try profiles.download(user: inv.argument(0), profile: inv.argument(1), to: rt.absolute(directory))
    return .json(record.json.addingPaths("files", paths))
  }

  static let list = CommandSpec(
    "profile", "list", summary: "List a user's voice profiles",
    arguments: [user]
  ) { inv, rt throws(RexstoreError) in
    let profiles = try rt.profiles()
    return .list(try profiles.list(user: inv.argument(0)).map(\.json))
  }

  static let delete = CommandSpec(
    "profile", "delete", summary: "Delete a voice profile's record, then the samples it names",
    discussion: """
      The record goes first (under the dossier lock), then exactly the samples it names; other files
      in the directory are left alone. A profile with no record is not found (exit 1) and no file is
      touched. A sample that cannot be deleted is listed under failures (the record is gone already).
      """,
    arguments: [user, profile],
    options: [OptionSpec("if-exists", help: "succeed (deleted: false) when there is no such profile")]
  ) { inv, rt throws(RexstoreError) in
    let profiles = try rt.profiles()
    let result = try profiles.delete(user: inv.argument(0), profile: inv.argument(1))
    if !result.deleted, !inv.flag("if-exists") { throw profiles.missing(inv.argument(0), inv.argument(1)) }
    var exit: Int32 = 0
    let failures = result.failures.map { name, error -> JSONValue in
      exit = max(exit, ExitStatus.of(error.code))
      return .record(["blob": .string(name), "code": .string(error.code.rawValue), "message": .string(error.message)])
    }
    let value = JSONValue.record([
      "user_id": .string(inv.argument(0)), "profile_id": .string(inv.argument(1)), "deleted": .bool(result.deleted),
      "samples_deleted": .array(result.samplesDeleted.map(JSONValue.string)), "failures": .array(failures),
    ])
    return exit == 0 ? .json(value) : .report(value, exit: exit)
  }

  static let prune = CommandSpec(
    "profile", "prune", summary: "Delete profiles not stored again for a while (cron)",
    discussion: """
      Age is the time since the profile was last stored (rexstore's updated_at, else the app's
      created_at). Each profile goes as with 'profile delete': the record first, then the samples it
      names; one stored again since it was listed is left alone. --max-delete and --dry-run work as
      for 'audio prune' (over the limit: nothing deleted, exit 25).
      """,
    options: [
      OptionSpec("older-than", value: "DUR", help: "minimum age, e.g. 180d (required)"),
      OptionSpec("user", value: "USER", help: "only this user's profiles"),
      OptionSpec("dry-run", help: "list what would be deleted, delete nothing"),
      OptionSpec("max-delete", value: "N", help: "refuse to delete more than N profiles"),
    ],
    examples: ["rexstore profile prune --older-than 365d --max-delete 100 --dry-run"]
  ) { inv, rt throws(RexstoreError) in
    guard let age = try inv.duration("older-than") else {
      throw RexstoreError.usage("--older-than is required", hint: "e.g. --older-than 365d")
    }
    let limit = try inv.limit("max-delete", default: nil)
    let cutoff = Timestamp.now().adding(microseconds: -age)
    let profiles = try rt.profiles()
    let candidates = try profiles.pruneCandidates(olderThan: cutoff, user: inv.value("user"))
    let guardrail = PruneGuard(
      what: "profiles", count: candidates.count, limit: limit, dryRun: inv.flag("dry-run"),
      older: inv.value("older-than")!, cutoff: cutoff)
    func item(_ record: VoiceProfile, deleted: Bool) -> JSONValue {
      .record([
        "user_id": .string(record.userID), "profile_id": .string(record.profileID), "deleted": .bool(deleted),
        "size_bytes": .int(record.totalBytes), "updated_at": Timestamp.outputForm(ofStored: record.updatedAt ?? record.createdAt),
      ])
    }
    if inv.flag("dry-run") {
      return guardrail.report(items: candidates.map { item($0.0, deleted: false) }, failures: [], freed: 0, exit: 0)
    }
    try guardrail.check()
    var items: [JSONValue] = []
    var failures: [JSONValue] = []
    var freed: Int64 = 0
    var exit: Int32 = 0
    for (record, stamp) in candidates {
      do throws(RexstoreError) {
        let result = try profiles.delete(user: record.userID, profile: record.profileID, ifStamped: stamp)
        items.append(item(record, deleted: result.deleted))
        if result.deleted { freed += record.totalBytes }
        for (name, error) in result.failures {
          failures.append(.record(["blob": .string(name), "code": .string(error.code.rawValue), "message": .string(error.message)]))
          exit = max(exit, ExitStatus.of(error.code))
        }
      } catch {
        items.append(item(record, deleted: false))
        failures.append(.record([
          "user_id": .string(record.userID), "profile_id": .string(record.profileID), "code": .string(error.code.rawValue),
          "message": .string(error.message),
        ]))
        exit = max(exit, ExitStatus.of(error.code))
      }
    }
    return guardrail.report(items: items, failures: failures, freed: freed, exit: exit)
  }

  static func metadata(_ inv: Invocation) throws(RexstoreError) -> JSONValue {
    var members: [JSONValue.Member] = []
    if let text = inv.value("meta-json") {
      let parsed: JSONValue
      do throws(JSONParser.Failure) {
        parsed = try JSONParser.parse(text)
      } catch {
        throw RexstoreError.invalidInput("--meta-json is not valid JSON: \(error.message)")
      }
      guard case .object(let given) = parsed else { throw RexstoreError.invalidInput("--meta-json must be a JSON object") }
      members = given
    }
    for pair in inv.values("meta") {
      guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
        throw RexstoreError.usage("--meta takes KEY=VALUE, got '\(pair)'")
      }
      let key = String(pair[..<eq])
      members.removeAll { $0.key == key }
      members.append(.init(key, .string(String(pair[pair.index(after: eq)...]))))
    }
    return .object(members)
  }
}
