import CSQLite
import Glibc

/// Everything stored for one user, in every store: the app's three tables, audio under
/// `audio/{user}/`, voice profiles (dossier records and their samples), samples under
/// `voice_profiles/{user}/` that no record names, and the dossier file itself (issue 10).
///
/// The database user id (the app's `users.id`) and the object-store user segment are the same
/// string unless the caller says otherwise (`objectUser`).
public struct UserData {
  public let store: Store
  public let objects: any ObjectStore
  public let profiles: VoiceProfiles
  public let userID: String
  public let objectUser: String

  public static let tables = ["user_patterns", "conversation_context", "user_insights"]

  public init(store: Store, objects: any ObjectStore, profiles: VoiceProfiles, userID: String, objectUser: String) {
    self.store = store
    self.objects = objects
    self.profiles = profiles
    self.userID = userID
    self.objectUser = objectUser
  }

  public struct Inventory {
    /// Table name to rows, each row its columns with SQLite's own types (expired context included).
    public var rows: [(String, [JSONValue])] = []
    public var audio: [ObjectInfo] = []
    public var profiles: [VoiceProfile] = []
    /// Files under `voice_profiles/{user}/` that no record names.
    public var unreferenced: [ObjectInfo] = []
    /// The dossier file, when there is one.
    public var dossier: String?

    public var rowCount: Int { rows.reduce(0) { $0 + $1.1.count } }
    public var itemCount: Int {
      rowCount + audio.count + profiles.count + profiles.reduce(0) { $0 + $1.samples.count } + unreferenced.count
        + (dossier == nil ? 0 : 1)
    }
    public var isEmpty: Bool { itemCount == 0 }

  }

  public func inventory() throws(RexstoreError) -> Inventory {
    var found = Inventory()
    found.rows = try rows()
    found.audio = try objects.listAll(prefix: "audio/\(objectUser)/")
    if profiles.dossiers.exists {
      found.profiles = try profiles.list(user: objectUser)
      let path = profiles.dossiers.file(for: objectUser)
      if access(path, F_OK) == 0 { found.dossier = path }
    }
    let claimed = Set(found.profiles.flatMap { $0.samples.map { Array($0.name.utf8) } + $0.missing.map { Array($0.utf8) } })
    for profile in try objects.listSegments(under: "voice_profiles/\(objectUser)/") {
      for info in try objects.listAll(prefix: "voice_profiles/\(objectUser)/\(profile)/")
      where !claimed.contains(Array(info.name.utf8)) {
        found.unreferenced.append(info)
      }
    }
    return found
  }

  /// The user's rows, as stored; a missing database holds none.
  func rows() throws(RexstoreError) -> [(String, [JSONValue])] {
    guard store.exists else { return UserData.tables.map { ($0, []) } }
    var result: [(String, [JSONValue])] = []
    for table in UserData.tables {
      // A missing or foreign app table is schema_mismatch (78), never an empty export.
      let rows = try store.reading(table: table) { db throws(DatabaseError) -> [JSONValue] in
        // Bound as text: SQLite's column affinity matches integer ids, and text ids the app stored.
        let stmt = try db.prepare("SELECT * FROM \(table) WHERE user_id = ? ORDER BY rowid")
        stmt.bind(.text(userID))
        var rows: [JSONValue] = []
        while try stmt.step() { rows.append(UserData.row(stmt)) }
        return rows
      }
      result.append((table, rows))
    }
    return result
  }

  /// One row as `{column: value}`: integers and reals as numbers, text as strings, blobs as
  /// `{"base64": ...}`.
  static func row(_ stmt: Statement) -> JSONValue {
    var members: [JSONValue.Member] = []
    for i in 0..<sqlite3_column_count(stmt.handle) {
      let name = String(cString: sqlite3_column_name(stmt.handle, i))
      let value: JSONValue
      switch sqlite3_column_type(stmt.handle, i) {
      case SQLITE_INTEGER: value = .int(stmt.int(i))
      case SQLITE_FLOAT:
        let d = stmt.double(i)
        value = d.isFinite ? .double(d) : .string(String(d))
      case SQLITE_NULL: value = .null
      case SQLITE_BLOB:
        let count = Int(sqlite3_column_bytes(stmt.handle, i))
        let bytes = sqlite3_column_blob(stmt.handle, i).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
        value = .record(["base64": .string(Base64.encode(bytes))])
      default: value = .string(stmt.text(i))
      }
      members.append(.init(name, value))
    }
    return .object(members)
  }

  // MARK: export

  /// Writes everything into `directory` (created like `mkdir -p`): `database.ndjson` (one
  /// `{"table","row"}` per line), the objects under `objects/` with their bucket names, the dossier
  /// as `dossier.json` (its bytes as they are) and `manifest.json`. Every object is verified as it
  /// is written; an existing export is never overwritten.
  /// `directory` is the user's, as bytes (passed to the file system unchanged; `directory` in the
  /// result is its display form).
  public func export(to directory: FilePathBytes) throws(RexstoreError) -> JSONValue {
    let found = try inventory()
    do throws(RexstoreError) {
      try FileSystem.makeDirectories(directory)
    } catch {
      throw RexstoreError(.cannotCreate, error.message)
    }
    guard FileSystem.isDirectory(directory) else { throw RexstoreError(.cannotCreate, "'\(directory)' is not a directory") }
    let manifestPath = directory + "/manifest.json"
    if access(manifestPath.cString, F_OK) == 0 {
      throw RexstoreError(.conflict, "'\(directory)' already holds an export", hint: "choose another -o DIR")
    }
    var lines = ""
    for (table, rows) in found.rows {
      for row in rows {
        JSONValue.record(["table": .string(table), "row": row]).write(to: &lines, style: .compact)
        lines += "\n"
      }
    }
    try UserData.writeNew(directory + "/database.ndjson", Array(lines.utf8))
    var files: [JSONValue] = []
    let samples = found.profiles.flatMap(\.samples)
    let all = found.audio + samples + found.unreferenced
    for info in all {
      Progress.tick("objects", total: all.count)
      let relative = "objects/" + info.name
      let path = directory + "/" + relative
      do throws(RexstoreError) {
        try FileSystem.makeDirectories(path.parent)
      } catch {
        throw RexstoreError(.cannotCreate, error.message)
      }
      let store = info.backend == "local" ? profiles.local : objects
      guard let got = try FileDownload.write(to: path, { sink throws(RexstoreError) -> ObjectInfo? in try store.get(info.name, into: sink) })
      else { throw RexstoreError(.notFound, "'\(info.name)' disappeared during the export") }
      files.append(.record(["blob": .string(info.name), "path": .string(relative), "size_bytes": .int(got.size), "md5": .optional(got.md5)]))
    }
    if let dossier = found.dossier {
      let text = try FileSystem.readSmallFile(dossier, limit: DossierDirectory.maxBytes)
      try UserData.writeNew(directory + "/dossier.json", Array(text.utf8))
    }
    // A stored format with its own version, independent of the command's output.
    let manifest = JSONValue.record([
      "format": .int(1), "user_id": .string(userID), "object_user": .string(objectUser), "exported_at": .string(Timestamp.now().outputForm),
      "database": .object(found.rows.map { JSONValue.Member($0.0, .int($0.1.count)) }),
      "files": .array(files), "profiles": .array(found.profiles.map { .string($0.profileID) }),
      "dossier": found.dossier == nil ? .null : .string("dossier.json"), "item_count": .int(found.itemCount),
    ])
    try UserData.writeNew(manifestPath, Array(manifest.serialized(.pretty).utf8) + [10])
    return manifest.adding(["directory": .string(directory.display)])
  }

  static func writeNew(_ path: FilePathBytes, _ bytes: [UInt8]) throws(RexstoreError) {
    let fd = open(path.cString, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      if errno == EEXIST { throw RexstoreError(.conflict, "'\(path)' already exists", hint: "choose another -o DIR") }
      throw systemError("cannot create", path: path).asCannotCreate
    }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { raw in Result { () throws(RexstoreError) in try FileSystem.writeAll(fd, raw, name: path.display) } }
    try written.get()
    guard fsync(fd) == 0 else { throw systemError("cannot sync", path: path) }
  }

  // MARK: erase

  public struct Erasure {
    public var found: Inventory
    public var removed: [JSONValue] = []
    public var failures: [(String, RexstoreError)] = []
    /// What was still there when it looked again afterwards (nil: not checked, a dry run).
    public var left: Inventory?
  }

  /// Deletes everything `inventory()` finds: each profile as `profile delete` does (record, then
  /// samples), the audio objects and unreferenced samples exactly as listed, the dossier file, and
  /// the rows in one transaction; then looks again. Nothing is done past `maxDelete` items.
  public func erase(dryRun: Bool, maxDelete: Int?) throws(RexstoreError) -> Erasure {
    let found = try inventory()
    var result = Erasure(found: found)
    if let maxDelete, found.itemCount > maxDelete {
      throw RexstoreError(
        .limitExceeded, "user \(userID) has \(found.itemCount) items, more than --max-delete \(maxDelete); nothing deleted",
        hint: "check with --dry-run, then raise --max-delete")
    }
    guard !dryRun else { return result }
    for profile in found.profiles {
      do throws(RexstoreError) {
        let deletion = try profiles.delete(user: objectUser, profile: profile.profileID)
        result.removed.append(.record(["profile": .string(profile.profileID), "samples": .array(deletion.samplesDeleted.map(JSONValue.string))]))
        for (name, error) in deletion.failures { result.failures.append((name, error)) }
      } catch {
        result.failures.append(("profile " + profile.profileID, error))
      }
    }
    for info in found.audio + found.unreferenced {
      Progress.tick("objects", total: found.audio.count + found.unreferenced.count)
      do throws(RexstoreError) {
        if try objects.deleteListed(info) { result.removed.append(.record(["blob": .string(info.name), "backend": .string(info.backend)])) }
      } catch {
        result.failures.append((info.name, error))
      }
    }
    if let dossier = found.dossier {
      do throws(RexstoreError) {
        let lock = try profiles.dossiers.lock(user: objectUser, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        if unlink(dossier) == 0 || errno == ENOENT {
          FileSystem.syncDirectory(profiles.dossiers.path)
          result.removed.append(.record(["dossier": .string(dossier)]))
        } else {
          throw systemError("cannot delete", path: dossier)
        }
      } catch {
        result.failures.append((dossier, error))
      }
      unlink(profiles.dossiers.lockFile(for: objectUser))
    }
    if found.rowCount > 0 {
      do throws(RexstoreError) {
        let counts = try store.writing(create: false) { db throws(DatabaseError) -> [JSONValue.Member] in
          var counts: [JSONValue.Member] = []
          for table in UserData.tables {
            try db.prepare("DELETE FROM \(table) WHERE user_id = ?").bind(.text(userID)).run()
            counts.append(.init(table, .int(db.changes)))
          }
          return counts
        }
        result.removed.append(.record(["database": .object(counts)]))
      } catch {
        result.failures.append(("database", error))
      }
    }
    result.left = try inventory()
    return result
  }
}
