/// rexstore 0.1 kept profile records in its own SQLite table `voice_profiles`. They move into the
/// dossiers on `db upgrade` or on the first profile command, one profile at a time under its user's
/// dossier lock: the entry is written first, the row deleted after, so a crash between the two
/// leaves the row to be moved again (the entry is then recognised as the same), never nothing.
extension VoiceProfiles {
  public struct LegacyMove: Sendable {
    public var moved: [String] = []
    /// `USER/PROFILE` rows kept in SQLite because the dossier holds a different profile of that name.
    public var conflicts: [String] = []
  }

  private struct LegacyRow {
    var user: String
    var profile: String
    var storage: String
    var metadata: JSONValue
    var samples: [ObjectInfo]
    var createdAt: String?
    var updatedAt: String?
  }

  public func moveLegacyRecords() throws(RexstoreError) -> LegacyMove {
    var result = LegacyMove()
    guard let legacy, legacy.exists else { return result }
    let rows = try legacy.reading(emptyResult: []) { db throws(DatabaseError) -> [LegacyRow] in
      let stmt = try db.prepare(
        "SELECT user_id, profile_id, storage, metadata, samples, created_at, updated_at FROM voice_profiles ORDER BY user_id, profile_id")
      var rows: [LegacyRow] = []
      while try stmt.step() {
        let samples: [ObjectInfo]
        if case .array(let items)? = try? JSONParser.parse(stmt.text(4)) {
          samples = items.compactMap(VoiceProfiles.detail)
        } else {
          samples = []
        }
        rows.append(
          LegacyRow(
            user: stmt.text(0), profile: stmt.text(1), storage: stmt.text(2),
            metadata: (try? JSONParser.parse(stmt.text(3))) ?? .object([]), samples: samples,
            createdAt: stmt.optionalText(5), updatedAt: stmt.optionalText(6)))
      }
      return rows
    }
    guard !rows.isEmpty else { return result }
    try FileSystem.makeDirectories(dossiers.path)
    for row in rows {
      guard (try? ObjectName.segment(row.user, kind: "user")) != nil,
        (try? ObjectName.segment(row.profile, kind: "profile")) != nil
      else {
        result.conflicts.append(row.user + "/" + row.profile)
        continue
      }
      let lock = try dossiers.lock(user: row.user, exclusive: true)
      var document = try dossiers.read(user: row.user) ?? []
      var profiles = try profilesObject(document, user: row.user)
      let names = row.samples.map(\.name)
      if let existing = try entry(profiles[member: row.profile], user: row.user, profile: row.profile) {
        guard existing.names.sameBytes(as: names), existing.storage.utf8.elementsEqual(row.storage.utf8) else {
          result.conflicts.append(row.user + "/" + row.profile)
          continue
        }
      } else {
        let record = ProfileEntry(
          storage: row.storage, names: names, metadata: row.metadata, createdAt: row.createdAt,
          updatedAt: row.updatedAt, details: row.samples)
        profiles.set(row.profile, record.stored)
        document.set("voice_profiles", .object(profiles))
        try dossiers.write(user: row.user, members: document)
      }
      _ = lock
      try legacy.writing(create: false) { db throws(DatabaseError) in
        try db.cached("DELETE FROM voice_profiles WHERE user_id = ? AND profile_id = ?")
          .bind(.text(row.user), .text(row.profile)).run()
      }
      result.moved.append(row.user + "/" + row.profile)
    }
    return result
  }
}
