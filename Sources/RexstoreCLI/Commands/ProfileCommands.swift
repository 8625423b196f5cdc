import RexstoreCore

/// `rexstore profile ...`: voice profiles (samples in the object store, records in SQLite).
enum ProfileCommands {
  static let user = ArgumentSpec("USER", help: "user name (one path segment)")
  static let profile = ArgumentSpec("PROFILE", help: "profile id (one path segment)")

  static let all: [CommandSpec] = [store, get, list, delete]

  static let store = CommandSpec(
    "profile", "store", summary: "Store a voice profile's samples and record",
    discussion: """
      Samples become voice_profiles/USER/PROFILE/sample_0.wav, sample_1.wav, ... Re-storing a profile
      replaces all its samples at once (fewer samples leave no stale ones behind); the record is
      committed only after every sample is durable. Metadata: --meta-json gives an object, --meta
      KEY=VALUE sets string keys on top of it.
      """,
    arguments: [
      user, profile,
      ArgumentSpec("SAMPLE", help: "sample files (one may be - for standard input)", variadic: true, completion: .file),
    ],
    options: [
      OptionSpec("meta", value: "KEY=VALUE", help: "a metadata key (repeatable)", repeatable: true),
      OptionSpec("meta-json", value: "JSON", help: "metadata as a JSON object"),
    ],
    examples: ["rexstore profile store u42 calm a.wav b.wav --meta mood=calm"]
  ) { inv, rt throws(RexstoreError) in
    let userName = try ObjectName.segment(inv.argument(0), kind: "user")
    let profileName = try ObjectName.segment(inv.argument(1), kind: "profile")
    let metadata = try metadata(inv)
    let files = Array(inv.arguments.dropFirst(2))
    if files.filter({ $0 == "-" }).count > 1 { throw RexstoreError.usage("only one SAMPLE may be -") }
    var sources: [ByteSource] = []
    for file in files { sources.append(try ByteSource.open(file == "-" ? "-" : rt.absolute(file))) }
    let objects = try rt.objects()
    let profiles = VoiceProfiles(records: try rt.store(), objects: objects)
    let record = try profiles.store(user: userName, profile: profileName, samples: sources, metadata: metadata)
    return .json(record.json.adding(["fallback_reason": .optional(objects.fallbackReason)]))
  }

  static let get = CommandSpec(
    "profile", "get", summary: "Show a profile, or write its samples to a directory",
    arguments: [user, profile],
    options: [OptionSpec("output", short: "o", value: "DIR", help: "write sample_{i}.wav files into DIR", completion: .directory)]
  ) { inv, rt throws(RexstoreError) in
    let profiles = VoiceProfiles(records: try rt.store(), objects: try rt.objects())
    guard let directory = inv.value("output") else {
      guard let record = try profiles.get(user: inv.argument(0), profile: inv.argument(1)) else {
        throw profiles.missing(inv.argument(0), inv.argument(1))
      }
      return .json(record.json)
    }
    let (record, paths) = try profiles.download(user: inv.argument(0), profile: inv.argument(1), to: rt.absolute(directory))
    return .json(record.json.adding(["files": .array(paths.map(JSONValue.string))]))
  }

  static let list = CommandSpec(
    "profile", "list", summary: "List a user's voice profiles",
    arguments: [user]
  ) { inv, rt throws(RexstoreError) in
    let profiles = VoiceProfiles(records: try rt.store(), objects: try rt.objects())
    return .list(try profiles.list(user: inv.argument(0)).map(\.json))
  }

  static let delete = CommandSpec(
    "profile", "delete", summary: "Delete a voice profile's record and samples",
    arguments: [user, profile],
    options: [OptionSpec("if-exists", help: "succeed (deleted: false) when there is no such profile")]
  ) { inv, rt throws(RexstoreError) in
    let profiles = VoiceProfiles(records: try rt.store(), objects: try rt.objects())
    let deleted = try profiles.delete(user: inv.argument(0), profile: inv.argument(1))
    if !deleted, !inv.flag("if-exists") { throw profiles.missing(inv.argument(0), inv.argument(1)) }
    return .json(
      .record(["user_id": .string(inv.argument(0)), "profile_id": .string(inv.argument(1)), "deleted": .bool(deleted)]))
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
