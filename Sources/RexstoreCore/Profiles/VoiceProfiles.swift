import Glibc

/// A voice profile's record (DESIGN.md §3 "voice profile"): an entry of the app's dossier.
public struct VoiceProfile: Sendable, Equatable {
  public var userID: String
  public var profileID: String
  public var storage: String
  public var metadata: JSONValue
  public var samples: [ObjectInfo]
  /// Samples the record names that are not where it says (the app skips them silently).
  public var missing: [String] = []
  public var createdAt: String?
  public var updatedAt: String?

  public var totalBytes: Int64 { samples.reduce(0) { $0 + $1.size } }

}

/// One dossier entry under `voice_profiles`, as the app writes it (`storage`, `sample_paths` or
/// `blob_names`, `metadata`, `created_at`) plus rexstore's own details under `rexstore`, which the
/// app never reads.
struct ProfileEntry {
  var storage: String
  /// Sample names relative to the object root (what the bucket calls blob names).
  var names: [String]
  var metadata: JSONValue
  var createdAt: String?
  var updatedAt: String?
  /// Sizes and checksums as rexstore stored them, when they still describe `names`.
  var details: [ObjectInfo]?

  /// The entry as the app's unchanged code reads it.
  var stored: JSONValue {
    var members: [JSONValue.Member] = [.init("storage", .string(storage))]
    let list = JSONValue.array(names.map(JSONValue.string))
    members.append(.init(Backends.isRemote(storage) ? "blob_names" : "sample_paths", list))
    members.append(.init("metadata", metadata))
    members.append(.init("created_at", createdAt.map(JSONValue.string) ?? .null))
    var own: [JSONValue.Member] = [.init("format", .int(1))]
    if let details { own.append(.init("samples", .array(details.map(VoiceProfiles.detailJSON)))) }
    own.append(.init("updated_at", updatedAt.map(JSONValue.string) ?? .null))
    members.append(.init(VoiceProfiles.ownKey, .object(own)))
    return .object(members)
  }
}

/// Voice profiles: samples in the object store, records in the app's dossier files.
///
/// Every change to a user's profiles happens under that user's dossier lock (the app's writer
/// lock), re-reading the dossier under it, so `store` and `delete` of one profile are serialised:
/// either the store wins (record and samples) or the delete does (neither). A store first notes its
/// intent in the dossier, swaps the new sample set in, then commits the record; a store killed in
/// between is rolled forward (or its intent dropped) by the next command that touches the user.
public struct VoiceProfiles {
  public let dossiers: DossierDirectory
  /// The configured store (GCS with its fallback, or the local root).
  public let objects: any ObjectStore
  /// The local object root: where `local` entries' samples are.
  public let local: LocalObjectStore
  /// rexstore's earlier SQLite records, moved into dossiers on first use.
  public let legacy: Store?

  static let ownKey = "rexstore"
  static let pendingKey = "rexstore_pending"

  public init(dossiers: DossierDirectory, objects: any ObjectStore, local: LocalObjectStore, legacy: Store?) {
    self.dossiers = dossiers
    self.objects = objects
    self.local = local
    self.legacy = legacy
  }

  // MARK: store

  public func store(
    user: String, profile: String, samples: [ByteSource], metadata: JSONValue, force: Bool = false,
    discardUnreferenced: Bool = false
  ) throws(RexstoreError) -> VoiceProfile {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    guard metadata.isObject else { throw RexstoreError.invalidInput("metadata must be a JSON object") }
    _ = try moveLegacyRecords()
    try FileSystem.makeDirectories(dossiers.path)
    let lock = try dossiers.lock(user: user, exclusive: true)
    defer { withExtendedLifetime(lock) {} }
    var document = try settled(user: user, lock: lock)
    // A store killed after its commit but before it removed the set it replaced left that set in a
    // staging directory; under the lock, no live store of this profile can own one.
    local.removeDeadStaging(user: user, profile: profile)
    var profiles = try profilesObject(document, user: user)
    let old = try entry(profiles[member: profile], user: user, profile: profile)
    if old != nil, !force {
      throw RexstoreError(
        .conflict, "voice profile '\(profile)' of user '\(user)' already exists", hint: "pass --force to replace it")
    }
    let directory = ProfileBlob.directory(user: user, profile: profile)
    let stray = try unreferenced(in: directory, claimed: old?.names ?? [])
    if !stray.isEmpty, !discardUnreferenced {
      throw RexstoreError(
        .conflict,
        "\(directory)/ holds files no record names (\(stray.prefix(5).joined(separator: ", "))\(stray.count > 5 ? ", ..." : "")); storing would replace them",
        hint: "move them away, or pass --discard-unreferenced to let this store replace them")
    }
    let now = Timestamp.now().storedForm
    let createdAt = old?.createdAt ?? now
    // The intent first: a store killed after its swap is rolled forward from it, one killed before
    // is forgotten. The directory's inode tells which happened.
    var pending = document[member: VoiceProfiles.pendingKey].flatMap { value -> [JSONValue.Member]? in
      if case .object(let members) = value { return members }
      return nil
    } ?? []
    pending.set(
      profile,
      .record([
        "directory_inode": local.directoryInode(directory).map { JSONValue.int($0) } ?? .null,
        "metadata": metadata, "created_at": .string(createdAt), "updated_at": .string(now),
        "writer": .int(Int(getpid())),
        "names": .array(samples.indices.map { .string(ProfileBlob.sample(user: user, profile: profile, index: $0)) }),
      ]))
    document.set(VoiceProfiles.pendingKey, .object(pending))
    try dossiers.write(user: user, members: document)

    let members = samples.enumerated().map { index, source in
      GroupMember(
        name: ProfileBlob.sample(user: user, profile: profile, index: index), source: source, contentType: "audio/wav")
    }
    let replacement: any GroupReplacement
    do throws(RexstoreError) {
      replacement = try objects.replaceGroup(directory: directory, members: members)
    } catch {
      try? forgetIntent(user: user, profile: profile)
      throw error
    }
    let storage = replacement.objects.first?.backend ?? objects.backend
    let record = ProfileEntry(
      storage: storage == "local" ? "local" : storage, names: replacement.objects.map(\.name), metadata: metadata,
      createdAt: createdAt, updatedAt: now, details: replacement.objects)
    profiles.set(profile, record.stored)
    document.set("voice_profiles", .object(profiles))
    pending.remove(profile)
    if pending.isEmpty { document.remove(VoiceProfiles.pendingKey) } else { document.set(VoiceProfiles.pendingKey, .object(pending)) }
    do throws(RexstoreError) {
      try dossiers.write(user: user, members: document)
    } catch {
      replacement.undo()
      try? forgetIntent(user: user, profile: profile)
      throw error
    }
    replacement.finish()
    return VoiceProfile(
      userID: user, profileID: profile, storage: record.storage, metadata: metadata, samples: replacement.objects,
      createdAt: createdAt, updatedAt: now)
  }

  /// Files under a profile's directory (in either place) that `claimed` does not name.
  /// (Compared as bytes: Swift's `==` and `Set` treat NFC and NFD spellings as one name.)
  private func unreferenced(in directory: String, claimed: [String]) throws(RexstoreError) -> [String] {
    var names = try local.listAll(prefix: directory + "/").map(\.name)
    if objects.backend != "local", let remote = try? objects.listAll(prefix: directory + "/") {
      names += remote.map(\.name)
    }
    let taken = Set(claimed.map { Array($0.utf8) })
    var seen = Set<[UInt8]>()
    return names.filter { name in
      let bytes = Array(name.utf8)
      return !taken.contains(bytes) && seen.insert(bytes).inserted
    }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  private func forgetIntent(user: String, profile: String) throws(RexstoreError) {
    guard var document = try dossiers.read(user: user),
      case .object(var pending)? = document[member: VoiceProfiles.pendingKey]
    else { return }
    pending.remove(profile)
    if pending.isEmpty { document.remove(VoiceProfiles.pendingKey) } else { document.set(VoiceProfiles.pendingKey, .object(pending)) }
    try dossiers.write(user: user, members: document)
  }

  /// The dossier with every interrupted store of this user settled: rolled forward when its new
  /// sample set was swapped in (the profile directory is no longer the one it noted), forgotten
  /// otherwise. Needs the exclusive lock when there is anything to settle; a shared one is upgraded.
  private func settled(user: String, lock: DossierDirectory.Lock) throws(RexstoreError) -> [JSONValue.Member] {
    guard var document = try dossiers.read(user: user) else { return [] }
    guard case .object(let pending)? = document[member: VoiceProfiles.pendingKey] else { return document }
    if !lock.exclusive {
      try dossiers.upgrade(lock, user: user)
      return try settled(user: user, lock: lock)
    }
    var profiles = try profilesObject(document, user: user)
    for intent in pending {
      let profile = intent.key
      guard (try? ObjectName.segment(profile, kind: "profile")) != nil else { continue }
      let directory = ProfileBlob.directory(user: user, profile: profile)
      var noted: Int64?
      if case .number(let text)? = intent.value["directory_inode"] { noted = Int64(text) }
      let now = local.directoryInode(directory)
      func text(_ key: String) -> String? {
        if case .string(let s)? = intent.value[key] { return s }
        return nil
      }
      // A delete that died after removing the record: finish removing exactly the samples it
      // named, unless a record names that profile again (then those names are the new record's).
      if case .array(let doomed)? = intent.value["deleting"] {
        if (try? entry(profiles[member: profile], user: user, profile: profile)) ?? nil == nil {
          let own = directory + "/"
          for case .string(let name) in doomed where name.utf8.starts(with: own.utf8) {
            if Backends.isRemote(text("storage")) { _ = try? objects.delete(name) } else { _ = try? local.deleteSample(name) }
          }
          local.removeEmptyDirectory(directory)
        }
        continue
      }
      // Someone else (the app) stored the profile after this store died: theirs stands.
      var storedSince = false
      if let current = try? entry(profiles[member: profile], user: user, profile: profile),
        let stamp = current.updatedAt ?? current.createdAt, let mine = text("updated_at"),
        let theirs = Timestamp.parse(stamp), let noted = Timestamp.parse(mine), theirs > noted
      {
        storedSince = true
      }
      if let now, now != noted, !storedSince {
        // Swapped in: the live directory holds the complete new set (a swap is atomic).
        var samples: [ObjectInfo] = []
        var index = 0
        while let info = try local.stat(ProfileBlob.sample(user: user, profile: profile, index: index)) {
          samples.append(info)
          index += 1
        }
        // rexstore's own set carries its checksums; files written some other way are not adopted.
        let ours = samples.allSatisfy { $0.md5 != nil }
        if ours {
          let record = ProfileEntry(
          storage: "local", names: samples.map(\.name), metadata: intent.value["metadata"] ?? .object([]),
          createdAt: text("created_at"), updatedAt: text("updated_at"), details: samples)
          profiles.set(profile, record.stored)
        }
      } else if objects.backend != "local", case .array(let planned)? = intent.value["names"] {
        // Forgotten: what the dead store may already have uploaded to the bucket under names no
        // record claims goes (those names were free, or discardable, when the store began).
        let claimed = Set(((try? entry(profiles[member: profile], user: user, profile: profile)) ?? nil)?.names.map { Array($0.utf8) } ?? [])
        for case .string(let name) in planned where !claimed.contains(Array(name.utf8)) {
          _ = try? objects.delete(name)
        }
      }
      local.removeDeadStaging(user: user, profile: profile)
    }
    document.set("voice_profiles", .object(profiles))
    document.remove(VoiceProfiles.pendingKey)
    try dossiers.write(user: user, members: document)
    return document
  }

  // MARK: read

  public func get(user: String, profile: String) throws(RexstoreError) -> VoiceProfile? {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    return try reading(user: user) { document throws(RexstoreError) -> VoiceProfile? in
      try resolve(document, user: user, profile: profile, repair: true)
    }
  }

  public func list(user: String) throws(RexstoreError) -> [VoiceProfile] {
    let user = try ObjectName.segment(user, kind: "user")
    return try reading(user: user) { document throws(RexstoreError) -> [VoiceProfile] in
      var found: [VoiceProfile] = []
      for member in try profilesObject(document, user: user) {
        guard let profile = try? ObjectName.segment(member.key, kind: "profile") else { continue }
        if let record = try resolve(document, user: user, profile: profile) { found.append(record) }
      }
      return found
    }
  }

  /// Runs `body` on the user's settled dossier under the shared lock. A missing dossier directory is
  /// loud (66), like a missing database, so a mistyped --app-dir or --dossiers is not an empty answer.
  private func reading<T>(
    user: String, _ body: ([JSONValue.Member]) throws(RexstoreError) -> T
  ) throws(RexstoreError) -> T {
    _ = try moveLegacyRecords()
    guard dossiers.exists else { throw noDossiers }
    let lock = try dossiers.lock(user: user, exclusive: false)
    defer { withExtendedLifetime(lock) {} }
    return try body(try settled(user: user, lock: lock))
  }

  private func resolve(
    _ document: [JSONValue.Member], user: String, profile: String, repair: Bool = false
  ) throws(RexstoreError) -> VoiceProfile? {
    guard let entry = try entry(try profilesObject(document, user: user)[member: profile], user: user, profile: profile)
    else { return nil }
    if repair, !Backends.isRemote(entry.storage), let details = entry.details {
      // A store by rexstore 0.1, killed between its swap and its commit, left the recorded set under
      // a temporary name: put it back (no store can be between those steps now: we hold the lock).
      _ = try local.repairGroup(directory: ProfileBlob.directory(user: user, profile: profile), toMatch: details) {
        () throws(RexstoreError) -> [ObjectInfo]? in details
      }
    }
    let store = try self.store(for: entry, user: user, profile: profile)
    var samples: [ObjectInfo] = []
    var missing: [String] = []
    for (index, name) in entry.names.enumerated() {
      guard var info = try store.stat(name) else {
        missing.append(name)
        continue
      }
      if let recorded = entry.details?[index] {
        // The record's checksums are what a download is checked against.
        info.md5 = recorded.md5 ?? info.md5
        info.crc32c = recorded.crc32c ?? info.crc32c
      }
      samples.append(info)
    }
    return VoiceProfile(
      userID: user, profileID: profile, storage: entry.storage, metadata: entry.metadata, samples: samples,
      missing: missing, createdAt: entry.createdAt, updatedAt: entry.updatedAt)
  }

  /// Where an entry's samples are: the local root for `local` entries, the configured remote for
  /// `gcs` ones (69 when none is configured).
  private func store(for entry: ProfileEntry, user: String, profile: String) throws(RexstoreError) -> any ObjectStore {
    // The app reads every entry that is not "gcs" from its working directory (rexstore: not a remote).
    if !Backends.isRemote(entry.storage) { return local }
    guard objects.backend == entry.storage else {
      throw RexstoreError(
        .unavailable, "voice profile '\(profile)' of user '\(user)' is stored in \(entry.storage), which is not configured",
        hint: "set ENABLE_GCS_STORAGE=true and GCS_BUCKET_NAME, or --backend gcs --bucket NAME")
    }
    return objects
  }

  /// Writes every sample into `directory` (created like `mkdir -p`) as `sample_{i}.wav`, each
  /// verified against the record's checksums and renamed into place only when complete. The shared
  /// lock is held throughout, so a concurrent re-store cannot change the set half-way.
  public func download(
    user: String, profile: String, to directory: FilePathBytes
  ) throws(RexstoreError) -> (VoiceProfile, [FilePathBytes]) {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    return try reading(user: user) { document throws(RexstoreError) -> (VoiceProfile, [FilePathBytes]) in
      guard let record = try resolve(document, user: user, profile: profile, repair: true) else {
        throw missing(user, profile)
      }
      if let gone = record.missing.first {
        throw RexstoreError(.notFound, "sample '\(gone)' of the profile is missing (\(record.missing.count) of \(record.missing.count + record.samples.count))")
      }
      guard let entry = try entry(try profilesObject(document, user: user)[member: profile], user: user, profile: profile) else {
        throw missing(user, profile)
      }
      let store = try self.store(for: entry, user: user, profile: profile)
      do throws(RexstoreError) {
        try FileSystem.makeDirectories(directory)
      } catch {
        throw RexstoreError(.cannotCreate, error.message)
      }
      guard FileSystem.isDirectory(directory) else { throw RexstoreError(.cannotCreate, "'\(directory)' is not a directory") }
      var paths: [FilePathBytes] = []
      for (index, sample) in record.samples.enumerated() {
        let path = directory + "/" + FileSystem.baseName(of: sample.name)
        // What rexstore's own record says; the object store checks its own checksums as it reads.
        let recorded = entry.details.flatMap { index < $0.count ? $0[index].md5 : nil }
        let info = try FileDownload.write(to: path) { sink throws(RexstoreError) -> ObjectInfo? in
          let info = try store.get(sample.name, into: sink)
          if let info, let md5 = recorded, info.md5 != md5 {
            throw RexstoreError(
              .ioError, "sample '\(sample.name)' does not match its record (md5 \(info.md5 ?? "?"), recorded \(md5))")
          }
          return info
        }
        guard info != nil else { throw RexstoreError(.notFound, "sample '\(sample.name)' of the profile is missing") }
        paths.append(path)
      }
      return (record, paths)
    }
  }

  // MARK: delete

  public struct Deletion: Sendable {
    public var deleted: Bool
    public var samplesDeleted: [String] = []
    public var failures: [(String, RexstoreError)] = []
  }

  /// Removes the record first (under the lock), then exactly the samples it named: a crash in
  /// between leaves unreferenced files, never a record that points at nothing. No record, no
  /// file touched.
  public func delete(user: String, profile: String, ifStamped stamp: String? = nil) throws(RexstoreError) -> Deletion {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    _ = try moveLegacyRecords()
    guard dossiers.exists else { throw noDossiers }
    let lock = try dossiers.lock(user: user, exclusive: true)
    defer { withExtendedLifetime(lock) {} }
    var document = try settled(user: user, lock: lock)
    var profiles = try profilesObject(document, user: user)
    guard let entry = try entry(profiles[member: profile], user: user, profile: profile) else {
      return Deletion(deleted: false)
    }
    // A prune deletes exactly the version it listed: a profile stored again since is left alone.
    if let stamp, (entry.updatedAt ?? entry.createdAt) != stamp { return Deletion(deleted: false) }
    let store = try self.store(for: entry, user: user, profile: profile)
    profiles.remove(profile)
    document.set("voice_profiles", .object(profiles))
    // The record goes and the intent to delete its samples is noted in one write: a delete killed
    // half-way is finished by the next profile command on this user, so its samples never linger
    // as files no record names.
    var pending: [JSONValue.Member] = []
    if case .object(let members)? = document[member: VoiceProfiles.pendingKey] { pending = members }
    pending.set(
      profile,
      .record([
        "deleting": .array(entry.names.map(JSONValue.string)), "storage": .string(entry.storage),
        "writer": .int(Int(getpid())),
      ]))
    document.set(VoiceProfiles.pendingKey, .object(pending))
    try dossiers.write(user: user, members: document)
    defer { try? forgetIntent(user: user, profile: profile) }
    var result = Deletion(deleted: true)
    for name in entry.names {
      do throws(RexstoreError) {
        let gone = Backends.isRemote(entry.storage) ? try store.delete(name) : try local.deleteSample(name)
        if gone { result.samplesDeleted.append(name) }
      } catch {
        result.failures.append((name, error))
      }
    }
    if !Backends.isRemote(entry.storage) { local.removeEmptyDirectory(ProfileBlob.directory(user: user, profile: profile)) }
    return result
  }

  /// Profiles last stored before `cutoff` (of one user, or of every dossier), oldest first, with the
  /// stamp `delete(ifStamped:)` checks. An entry without a time (the app always writes one) is never
  /// a candidate.
  public func pruneCandidates(olderThan cutoff: Timestamp, user: String?) throws(RexstoreError) -> [(VoiceProfile, String)] {
    _ = try moveLegacyRecords()
    guard dossiers.exists else { return [] }
    let users: [String]
    if let user {
      users = [try ObjectName.segment(user, kind: "user")]
    } else {
      users = dossiers.users()
    }
    var found: [(VoiceProfile, String, Timestamp)] = []
    for user in users {
      let lock = try dossiers.lock(user: user, exclusive: false)
      defer { withExtendedLifetime(lock) {} }
      let document = try settled(user: user, lock: lock)
      for member in try profilesObject(document, user: user) {
        guard (try? ObjectName.segment(member.key, kind: "profile")) != nil,
          let entry = try entry(member.value, user: user, profile: member.key),
          let stamp = entry.updatedAt ?? entry.createdAt, let time = Timestamp.parse(stamp), time < cutoff,
          let record = try resolve(document, user: user, profile: member.key)
        else { continue }
        found.append((record, stamp, time))
      }
    }
    return found.sorted { $0.2 < $1.2 }.map { ($0.0, $0.1) }
  }

  /// No dossier directory: loud (66), like a missing database, so a mistyped --app-dir is not an
  /// empty answer.
  var noDossiers: RexstoreError {
    RexstoreError(
      .noDatabase, "no dossier directory '\(dossiers.path)'",
      hint: "check --app-dir/--dossiers; 'rexstore db upgrade' or a first 'profile store' creates it")
  }

  public func missing(_ user: String, _ profile: String) -> RexstoreError {
    RexstoreError.notFound("no voice profile '\(profile)' for user '\(user)'")
  }

  // MARK: dossier entries

  /// The `voice_profiles` object of a dossier (absent or null: none).
  func profilesObject(_ document: [JSONValue.Member], user: String) throws(RexstoreError) -> [JSONValue.Member] {
    switch document[member: "voice_profiles"] {
    case nil, .null?: return []
    case .object(let members)?: return members
    default:
      throw RexstoreError(.invalidInput, "dossier '\(dossiers.file(for: user))': voice_profiles is not a JSON object")
    }
  }

  /// Reads an entry as the app does: a missing or falsy entry is no profile; `storage` defaults to
  /// `local`. Sample paths are taken relative to the object root (the app's working directory); a
  /// path that leads elsewhere makes the entry bad data rather than a file rexstore would touch.
  func entry(_ value: JSONValue?, user: String, profile: String) throws(RexstoreError) -> ProfileEntry? {
    guard let value else { return nil }
    let where_ = "dossier '\(dossiers.file(for: user))', profile '\(profile)'"
    switch value {
    case .null, .bool(false), .string(""), .array([]), .object([]): return nil
    case .number(let n) where Double(n) == 0: return nil
    case .object: break
    default: throw RexstoreError(.invalidInput, "\(where_): the entry is not a JSON object")
    }
    var storage = "local"
    if case .string(let s)? = value["storage"] { storage = s }
    let key = Backends.isRemote(storage) ? "blob_names" : "sample_paths"
    var names: [String] = []
    switch value[key] {
    case nil, .null?: break
    case .array(let items)?:
      // Like the app's delete, which only unlinks below voice_profiles/{user}/{profile}: a record
      // naming anything else (another user's file, a dossier) is bad data, never read or deleted.
      let own = ProfileBlob.directory(user: user, profile: profile) + "/"
      for item in items {
        guard case .string(let path) = item else { throw RexstoreError(.invalidInput, "\(where_): \(key) holds a non-string") }
        let name = try blobName(path, where: where_)
        guard name.utf8.starts(with: own.utf8), name.utf8.count > own.utf8.count else {
          throw RexstoreError(
            .invalidInput, "\(where_): sample '\(ObjectName.printable(path))' is not in the profile's directory \(own)")
        }
        names.append(name)
      }
    default: throw RexstoreError(.invalidInput, "\(where_): \(key) is not a list")
    }
    var createdAt: String?
    if case .string(let s)? = value["created_at"] { createdAt = s }
    var updatedAt: String?
    var details: [ObjectInfo]?
    if case .object? = value[VoiceProfiles.ownKey], let own = value[VoiceProfiles.ownKey] {
      if case .string(let s)? = own["updated_at"] { updatedAt = s }
      if case .array(let items)? = own["samples"] {
        let parsed = items.compactMap(VoiceProfiles.detail)
        // Only while they still describe the app-visible list (the app rewrites entries whole).
        if parsed.map(\.name).sameBytes(as: names) { details = parsed }
      }
    }
    return ProfileEntry(
      storage: storage, names: names, metadata: value["metadata"] ?? .object([]), createdAt: createdAt,
      updatedAt: updatedAt, details: details)
  }

  /// A sample path as the app stores it (relative to its working directory, or absolute) as a name
  /// under the object root.
  func blobName(_ path: String, where place: String) throws(RexstoreError) -> String {
    var relative = Substring(path)
    let root = local.root.hasSuffix("/") ? local.root : local.root + "/"
    if relative.hasPrefix(root) { relative = relative.dropFirst(root.count) }
    while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
    let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
    guard !relative.hasPrefix("/"), parts.count >= 2,
      parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") })
    else {
      throw RexstoreError(
        .invalidInput, "\(place): sample '\(ObjectName.printable(path))' is not a path under the object root '\(local.root)'")
    }
    return String(relative)
  }

  static func detailJSON(_ info: ObjectInfo) -> JSONValue {
    var members: [JSONValue.Member] = [
      .init("blob", .string(info.name)), .init("size_bytes", .int(info.size)), .init("md5", .optional(info.md5)),
      .init("crc32c", .optional(info.crc32c)), .init("content_type", .optional(info.contentType)),
      .init("backend", .string(info.backend)),
    ]
    if let version = info.version { members.append(.init("version", .string(version))) }
    return .object(members)
  }

  static func detail(_ item: JSONValue) -> ObjectInfo? {
    guard case .string(let name)? = item["blob"], case .number(let size)? = item["size_bytes"] else { return nil }
    func text(_ key: String) -> String? {
      if case .string(let s)? = item[key] { return s }
      return nil
    }
    var info = ObjectInfo(
      name: name, size: Int64(size) ?? 0, md5: text("md5"), crc32c: text("crc32c"), contentType: text("content_type"),
      backend: text("backend") ?? "local", updated: text("updated_at").flatMap(Timestamp.parse))
    // rexstore 0.2 wrote GCS's generation as a number.
    if case .number(let g)? = item["generation"] { info.version = g }
    if case .string(let v)? = item["version"] { info.version = v }
    return info
  }
}

extension LocalObjectStore {
  /// The inode of a directory under the root, nil when there is none; never through a link.
  func directoryInode(_ name: String) -> Int64? {
    let (parentName, base) = LocalObjectStore.split(name)
    guard let parent = try? directory(parentName, create: false), let kind = try? parent.kind(base), kind.isDirectory else {
      return nil
    }
    return Int64(bitPattern: kind.inode)
  }

  /// Staging directories of dead writers for `profile` of `user` (flat sample sets), removed
  /// without following links.
  func removeDeadStaging(user: String, profile: String) {
    guard let parent = try? directory("voice_profiles/" + user, create: false) else { return }
    let prefix = FileSystem.temporaryPrefix(for: profile)
    for name in (try? parent.entries()) ?? [] where name.hasPrefix(prefix) {
      guard !FileSystem.temporaryWriterIsAlive(name), let kind = try? parent.kind(name), kind.isDirectory else { continue }
      parent.removeTree(name)
    }
  }

  /// Deletes a sample a record names: a regular file (with its sidecar), or a link planted in its
  /// place, removed as a link and never followed. False if there is none.
  func deleteSample(_ name: String) throws(RexstoreError) -> Bool {
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try directory(directoryName, create: false), let kind = try dir.kind(base) else { return false }
    guard kind.isSymlink else { return try delete(name) }
    guard dir.unlink(base) else { throw systemError("cannot delete", path: path(name)) }
    dir.sync()
    return true
  }

  /// Best effort, like the app's `rmdir`: a profile directory left empty by a delete goes too.
  func removeEmptyDirectory(_ name: String) {
    let (parentName, base) = LocalObjectStore.split(name)
    guard let parent = try? directory(parentName, create: false) else { return }
    _ = parent.unlink(base, directory: true)
  }
}

extension [String] {
  /// Equal element by element as UTF-8 bytes (not by Unicode canonical equivalence).
  func sameBytes(as other: [String]) -> Bool {
    count == other.count && zip(self, other).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
  }
}
