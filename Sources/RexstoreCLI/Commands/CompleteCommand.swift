import CSQLite
import Glibc
import RexstoreCore

/// `rexstore [LOCATION OPTIONS] __complete KIND -- PREFIX [WORD...]`: the hidden helper behind the
/// completion scripts. It prints the names of KIND that start with PREFIX, one per line, sorted; WORD
/// is the operands typed so far (the first one is the user, for `profiles` and the `*-types`).
///
/// It must be safe and quick on every TAB: it opens the database read-only (never creating, migrating
/// or waiting long for it), lists the local object root and the dossiers without following symlinks,
/// never asks a remote store, prints nothing on stderr and exits 0 whatever goes wrong (a broken store
/// just offers nothing). Not in help, the man page or the completions.
enum CompleteCommand {
  static let name = "__complete"
  /// Enough for any menu; a prefix narrows it.
  static let limit = 2_000

  static let spec = CommandSpec(
    name, summary: "List completion candidates from the store",
    arguments: [
      ArgumentSpec("KIND", help: DataKind.allCases.map(\.rawValue).joined(separator: ", ")),
      ArgumentSpec("PREFIX", help: "what the word being completed starts with", optional: true),
      ArgumentSpec("WORD", help: "the operands typed before it", optional: true, variadic: true),
    ]
  ) { inv, rt throws(RexstoreError) in
    guard let kind = DataKind(rawValue: inv.argument(0)), let config = try? rt.config() else { return .text("") }
    let prefix = inv.arguments.count > 1 ? inv.argument(1) : ""
    let words = Array(inv.arguments.dropFirst(2))
    let found = candidates(kind, prefix: prefix, user: words.first, config: config)
    let shown = found.filter { $0.hasPrefix(prefix) && !$0.contains("\n") }.sorted().prefix(limit)
    return .text(shown.map { $0 + "\n" }.joined())
  }

  static func candidates(_ kind: DataKind, prefix: String, user: String?, config: Config) -> Set<String> {
    let objects = config.objects.value
    let dossiers = config.dossiers.value
    switch kind {
    case .userIDs:
      return databaseUsers(config)
    case .objectUsers:
      return objectUsers(objects: objects, dossiers: dossiers)
    case .users:
      return databaseUsers(config).union(objectUsers(objects: objects, dossiers: dossiers))
    case .profiles:
      guard let user, isSegment(user) else { return [] }
      var names = Set(entries(objects + "/voice_profiles/" + user, directories: true))
      names.formUnion(dossierProfiles(dossiers + "/" + user + ".json"))
      return names
    case .patternTypes:
      return distinct("pattern_type", from: "user_patterns", user: user, config)
    case .insightTypes:
      return distinct("insight_type", from: "user_insights", user: user, config)
    case .blobs:
      return blobs(prefix: prefix, objects: objects)
    }
  }

  // MARK: Database

  /// The database opened read-only, only when it is a regular file (nothing is created), with a short
  /// busy timeout: a TAB must not hang behind a writer.
  static func database(_ config: Config) -> Database? {
    var st = stat()
    guard stat(config.database.value, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return try? Database(path: config.database.value, mode: .readOnly, busyTimeoutMilliseconds: 200)
  }

  static func databaseUsers(_ config: Config) -> Set<String> {
    guard let db = database(config) else { return [] }
    var users = Set<String>()
    for table in ["user_patterns", "conversation_context", "user_insights"] {
      users.formUnion(column("SELECT DISTINCT user_id FROM \(table)", db))
    }
    return users
  }

  static func distinct(_ column: String, from table: String, user: String?, _ config: Config) -> Set<String> {
    guard let db = database(config) else { return [] }
    if let user, let id = Int64(user) {
      return Self.column("SELECT DISTINCT \(column) FROM \(table) WHERE user_id = ?", db, bind: .integer(id))
    }
    return Self.column("SELECT DISTINCT \(column) FROM \(table)", db)
  }

  /// The first column of every row as text; nothing when the table is missing or anything fails.
  static func column(_ sql: String, _ db: Database, bind: SQLValue? = nil) -> Set<String> {
    guard let statement = try? db.prepare(sql) else { return [] }
    if let bind { _ = statement.bind(bind) }
    var values = Set<String>()
    while values.count < limit * 4, (try? statement.step()) == true {
      if !statement.isNull(0) { values.insert(statement.text(0)) }
    }
    return values
  }

  // MARK: Local object root and dossiers

  static func objectUsers(objects: String, dossiers: String) -> Set<String> {
    var users = Set(entries(objects + "/audio", directories: true))
    users.formUnion(entries(objects + "/voice_profiles", directories: true))
    for file in entries(dossiers, directories: false) where file.hasSuffix(".json") && file.count > 5 {
      users.insert(String(file.dropLast(5)))
    }
    return users
  }

  /// The profile ids of a dossier's `voice_profiles` record.
  static func dossierProfiles(_ path: String) -> [String] {
    guard let text = try? FileSystem.readSmallFile(path, limit: 4 << 20), let document = try? JSONParser.parse(text),
      case .object(let profiles)? = document["voice_profiles"]
    else { return [] }
    return profiles.map(\.key)
  }

  /// Blob names one level below what PREFIX names: `au` offers `audio/`, `audio/u1/r` offers the
  /// objects (and deeper directories, with a trailing `/`) in `audio/u1/`.
  static func blobs(prefix: String, objects: String) -> Set<String> {
    let directory = prefix.lastIndex(of: "/").map { String(prefix[...$0]) } ?? ""
    let segments = directory.split(separator: "/").map(String.init)
    guard segments.allSatisfy(isSegment), directory.isEmpty || segments.count == directory.filter({ $0 == "/" }).count
    else { return [] }
    var names = Set<String>()
    for name in entries(objects + "/" + directory, directories: true) { names.insert(directory + name + "/") }
    if !directory.isEmpty {
      for name in entries(objects + "/" + directory, directories: false) { names.insert(directory + name) }
    }
    return names
  }

  /// A single path segment a caller could name (no `/`, not `.`/`..`, not one of the root's own
  /// dot-named files).
  static func isSegment(_ name: String) -> Bool {
    !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.utf8.contains { $0 < 0x20 }
  }

  /// Names in `path` that are directories (or regular files), symlinks and dot-names left out. The
  /// directory is opened with O_NOFOLLOW: nothing below the roots is reached through a symlink.
  static func entries(_ path: String, directories: Bool) -> [String] {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0, let dir = fdopendir(fd) else {
      if fd >= 0 { close(fd) }
      return []
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir), names.count < limit * 4 {
      let type = entry.pointee.d_type
      var nameBuffer = entry.pointee.d_name
      let name = withUnsafeBytes(of: &nameBuffer) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard isSegment(name) else { continue }
      var kind = type
      if kind == UInt8(DT_UNKNOWN) {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
        kind = (st.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (st.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : 0
      }
      if kind == UInt8(directories ? DT_DIR : DT_REG) { names.append(name) }
    }
    return names
  }
}
