/// A voice profile's record (DESIGN.md §3 "voice profile"), kept in SQLite beside the samples.
public struct VoiceProfile: Sendable, Equatable {
  public var userID: String
  public var profileID: String
  public var storage: String
  public var metadata: JSONValue
  public var samples: [ObjectInfo]
  public var createdAt: String?
  public var updatedAt: String?

  public var totalBytes: Int64 { samples.reduce(0) { $0 + $1.size } }

  public var json: JSONValue {
    .record([
      "user_id": .string(userID), "profile_id": .string(profileID), "storage": .string(storage),
      "metadata": metadata, "samples": .array(samples.map(\.json)), "sample_count": .int(samples.count),
      "total_bytes": .int(totalBytes), "created_at": Timestamp.outputForm(ofStored: createdAt),
      "updated_at": Timestamp.outputForm(ofStored: updatedAt),
    ])
  }
}

/// Voice profiles: samples in the object store, records in SQLite.
///
/// A store writes every sample first (durably, as one replaceable group) and commits the record only
/// then; if the record cannot be committed the old samples are put back. Each profile is its own
/// row, so two processes storing different profiles of one user never overwrite each other (the
/// original app's shallow JSON merge lost one of them).
public struct VoiceProfiles {
  public let records: Store
  public let objects: any ObjectStore

  public init(records: Store, objects: any ObjectStore) {
    self.records = records
    self.objects = objects
  }

  public func store(
    user: String, profile: String, samples: [ByteSource], metadata: JSONValue
  ) throws(RexstoreError) -> VoiceProfile {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    guard metadata.isObject else { throw RexstoreError.invalidInput("metadata must be a JSON object") }
    // Open the database (and create it) before any sample is written: a database problem then costs nothing.
    _ = try records.writer()
    let members = samples.enumerated().map { index, source in
      GroupMember(
        name: ProfileBlob.sample(user: user, profile: profile, index: index), source: source, contentType: "audio/wav")
    }
    let replacement = try objects.replaceGroup(
      directory: ProfileBlob.directory(user: user, profile: profile), members: members)
    let now = Timestamp.now().storedForm
    // Where the samples went: the configured backend, or the local root it fell back to.
    let storage = replacement.objects.first?.backend ?? objects.backend
    do throws(RexstoreError) {
      let stamps = try records.writing { db throws(DatabaseError) -> (String?, String?) in
        let stmt = try db.cached(
          """
          INSERT INTO voice_profiles (user_id, profile_id, storage, metadata, samples, sample_count, total_bytes, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT(user_id, profile_id) DO UPDATE SET storage = excluded.storage, metadata = excluded.metadata,
            samples = excluded.samples, sample_count = excluded.sample_count, total_bytes = excluded.total_bytes,
            updated_at = excluded.updated_at
          RETURNING created_at, updated_at
          """)
        let samplesJSON = JSONValue.array(replacement.objects.map(\.json)).serialized(.compact)
        stmt.bind(
          .text(user), .text(profile), .text(storage), .text(metadata.serialized(.compact)), .text(samplesJSON),
          .integer(Int64(replacement.objects.count)),
          .integer(replacement.objects.reduce(0) { $0 + $1.size }), .text(now), .text(now))
        defer { stmt.reset() }
        _ = try stmt.step()
        return (stmt.optionalText(0), stmt.optionalText(1))
      }
      replacement.finish()
      return VoiceProfile(
        userID: user, profileID: profile, storage: storage, metadata: metadata, samples: replacement.objects,
        createdAt: stamps.0, updatedAt: stamps.1)
    } catch {
      replacement.undo()
      throw error
    }
  }

  public func get(user: String, profile: String) throws(RexstoreError) -> VoiceProfile? {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    guard let record = try fetch(user: user, profile: profile).first else { return nil }
    // A store killed between its swap and its commit left the record's samples under a temporary
    // name: put them back before anyone reads the profile (against the record as it is under the lock).
    let changed = try objects.repairGroup(
      directory: ProfileBlob.directory(user: user, profile: profile), toMatch: record.samples
    ) { () throws(RexstoreError) -> [ObjectInfo]? in try fetch(user: user, profile: profile).first?.samples }
    return changed ? try fetch(user: user, profile: profile).first : record
  }

  public func list(user: String) throws(RexstoreError) -> [VoiceProfile] {
    try fetch(user: try ObjectName.segment(user, kind: "user"), profile: nil)
  }

  private func fetch(user: String, profile: String?) throws(RexstoreError) -> [VoiceProfile] {
    // No database yet means no profiles: `get` answers not_found (1), `list` an empty list.
    guard records.exists else { return [] }
    let sql =
      "SELECT profile_id, storage, metadata, samples, created_at, updated_at FROM voice_profiles WHERE user_id = ?"
      + (profile == nil ? " ORDER BY profile_id" : " AND profile_id = ?")
    return try records.reading(emptyResult: []) { db throws(DatabaseError) -> [VoiceProfile] in
      let stmt = try db.prepare(sql)
      stmt.bind(.text(user))
      if let profile { stmt.bind(.text(profile)) }
      var rows: [VoiceProfile] = []
      while try stmt.step() {
        rows.append(
          VoiceProfile(
            userID: user, profileID: stmt.text(0), storage: stmt.text(1),
            metadata: (try? JSONParser.parse(stmt.text(2))) ?? .object([]),
            samples: VoiceProfiles.samples(stmt.text(3)), createdAt: stmt.optionalText(4),
            updatedAt: stmt.optionalText(5)))
      }
      return rows
    }
  }

  static func samples(_ text: String) -> [ObjectInfo] {
    guard case .array(let items)? = try? JSONParser.parse(text) else { return [] }
    return items.compactMap { item in
      guard case .string(let name)? = item["blob"], case .number(let size)? = item["size_bytes"] else { return nil }
      func text(_ key: String) -> String? {
        if case .string(let s)? = item[key] { return s }
        return nil
      }
      return ObjectInfo(
        name: name, size: Int64(size) ?? 0, md5: text("md5"), crc32c: text("crc32c"), contentType: text("content_type"),
        backend: text("backend") ?? "local", updated: text("updated_at").flatMap(Timestamp.parse))
    }
  }

  /// Writes every sample into `directory` as `sample_{i}.wav`, each verified against the record's
  /// checksums and renamed into place only when complete.
  public func download(
    user: String, profile: String, to directory: String
  ) throws(RexstoreError) -> (VoiceProfile, [String]) {
    guard let record = try get(user: user, profile: profile) else { throw missing(user, profile) }
    guard FileSystem.isDirectory(directory) else {
      throw RexstoreError(.cannotCreate, "'\(directory)' is not a directory")
    }
    var paths: [String] = []
    for sample in record.samples {
      let path = directory + "/" + FileSystem.baseName(of: sample.name)
      // Checked inside the download, so a sample that does not match its record never replaces a file.
      let info = try FileDownload.write(to: path) { sink throws(RexstoreError) -> ObjectInfo? in
        let info = try objects.get(sample.name, into: sink)
        if let info, let md5 = sample.md5, info.md5 != md5 {
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

  /// Deletes the record first, then the samples: a crash in between leaves unreferenced files, never a
  /// record that points at nothing.
  public func delete(user: String, profile: String) throws(RexstoreError) -> Bool {
    let user = try ObjectName.segment(user, kind: "user")
    let profile = try ObjectName.segment(profile, kind: "profile")
    var existed = false
    if records.exists {
      existed = try records.writing(create: false) { db throws(DatabaseError) -> Bool in
        try db.cached("DELETE FROM voice_profiles WHERE user_id = ? AND profile_id = ?")
          .bind(.text(user), .text(profile)).run()
        return db.changes > 0
      }
    }
    let removed = try objects.deleteGroup(directory: ProfileBlob.directory(user: user, profile: profile))
    return existed || removed > 0
  }

  public func missing(_ user: String, _ profile: String) -> RexstoreError {
    RexstoreError.notFound("no voice profile '\(profile)' for user '\(user)'")
  }
}

extension VoiceProfiles {
  /// Re-records local profiles whose every sample `migrated` now holds in GCS; returns how many.
  func adoptMigrated(_ migrated: [String: ObjectInfo]) throws(RexstoreError) -> Int {
    try records.writing { db throws(DatabaseError) -> Int in
      let select = try db.prepare("SELECT user_id, profile_id, samples FROM voice_profiles WHERE storage = 'local'")
      var updates: [(String, String, String)] = []
      while try select.step() {
        let samples = VoiceProfiles.samples(select.text(2))
        guard !samples.isEmpty else { continue }
        var moved: [ObjectInfo] = []
        for sample in samples {
          guard let remote = migrated[sample.name], remote.md5 == sample.md5 else { break }
          moved.append(remote)
        }
        guard moved.count == samples.count else { continue }
        updates.append((select.text(0), select.text(1), JSONValue.array(moved.map(\.json)).serialized(.compact)))
      }
      let update = try db.prepare(
        "UPDATE voice_profiles SET storage = 'gcs', samples = ? WHERE user_id = ? AND profile_id = ? AND storage = 'local'")
      for (user, profile, samples) in updates {
        update.bind(.text(samples), .text(user), .text(profile))
        _ = try update.step()
        update.reset()
      }
      return updates.count
    }
  }
}
