import CSupport
import Glibc

/// The app's per-user dossier files (`dossiers/{user}.json`), read and written the way the app's
/// `Dossier` class does, so that records either program writes are the other's records.
///
/// - Writers take the app's lock: an exclusive `flock` on `dossiers/.{user}.json.lock`, re-read the
///   file under it, and replace it atomically (a `.{user}.json.*.tmp` temporary, fsynced, renamed).
/// - rexstore's readers take the same lock shared, so a reader never sees a record and a sample set
///   from two different stores. The app's own readers do not lock; atomic replace keeps them safe.
/// - Every wait for the lock is bounded by the busy timeout; past it the command fails with `busy`.
/// - The file is written as the app's `json.dump(data, indent=2, ensure_ascii=False)` writes it, and
///   numbers keep their literal text, so every key rexstore does not change comes back byte for byte.
public struct DossierDirectory: Sendable {
  public let path: String
  public let lockTimeoutMilliseconds: Int

  public init(path: String, lockTimeoutMilliseconds: Int) {
    self.path = path
    self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
  }

  /// Dossiers are named by the user id, which must be one safe path segment.
  public func file(for user: String) -> String { path + "/" + user + ".json" }
  public func lockFile(for user: String) -> String { path + "/." + user + ".json.lock" }

  public var exists: Bool { FileSystem.isDirectory(path) }

  /// The users that have a dossier (`USER.json` whose name is a valid user segment), in order.
  public func users() -> [String] {
    ((try? FileSystem.entries(of: path)) ?? [])
      .filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
      .filter { (try? ObjectName.segment($0, kind: "user")) != nil }.sorted()
  }

  /// A held lock; `release()` (or deinit) lets it go.
  public final class Lock {
    let fd: Int32
    public internal(set) var exclusive: Bool
    init(fd: Int32, exclusive: Bool) {
      self.fd = fd
      self.exclusive = exclusive
    }
    deinit { if fd >= 0 { close(fd) } }
  }

  /// Takes the user's dossier lock. `exclusive` for writers (the app's protocol); shared for readers.
  /// A reader that cannot create the lock file (a read-only directory) reads without it: nobody can
  /// be writing there either. The directory must exist for a writer.
  public func lock(user: String, exclusive: Bool) throws(RexstoreError) -> Lock {
    let path = lockFile(for: user)
    var fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
    if fd < 0 {
      let err = errno
      if !exclusive, err == EACCES || err == EROFS || err == ENOENT { return Lock(fd: -1, exclusive: false) }
      errno = err
      throw lockError(path)
    }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      fd = -1
      throw RexstoreError(.invalidInput, "dossier lock '\(path)' is not a regular file")
    }
    DossierDirectory.giveToDirectoryOwner(fd, directory: self.path)
    let lock = Lock(fd: fd, exclusive: exclusive)
    try wait(lock, operation: exclusive ? LOCK_EX : LOCK_SH, path: path)
    return lock
  }

  /// Turns a shared lock into an exclusive one (not atomically: re-read after it).
  public func upgrade(_ lock: Lock, user: String) throws(RexstoreError) {
    guard lock.fd >= 0, !lock.exclusive else { return }
    try wait(lock, operation: LOCK_EX, path: lockFile(for: user))
    lock.exclusive = true
  }

  private func wait(_ lock: Lock, operation: Int32, path: String) throws(RexstoreError) {
    let deadline = DossierDirectory.monotonicMilliseconds() + Int64(lockTimeoutMilliseconds)
    var pause: UInt32 = 2_000
    while flock(lock.fd, operation | LOCK_NB) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else { throw lockError(path) }
      if DossierDirectory.monotonicMilliseconds() >= deadline {
        throw RexstoreError(
          .busy, "dossier '\(path)' stayed locked by another writer past the busy timeout (\(lockTimeoutMilliseconds) ms)",
          hint: "retry later, or raise --busy-timeout")
      }
      usleep(pause)
      pause = min(pause * 2, 50_000)
    }
  }

  private func lockError(_ path: String) -> RexstoreError {
    if errno == ELOOP { return RexstoreError(.invalidInput, "dossier lock '\(path)' is a symbolic link; refusing to follow it") }
    return systemError("cannot lock", path: path)
  }

  static func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000 + Int64(ts.tv_nsec) / 1_000_000
  }

  /// The largest dossier rexstore reads; the app's files are a few kilobytes.
  public static let maxBytes = 64 << 20

  /// The user's dossier as a JSON object's members; nil when there is no file. A file that is not
  /// a JSON object (the app would silently read `{}` and then fail on its next save) is bad data.
  public func read(user: String) throws(RexstoreError) -> [JSONValue.Member]? {
    let path = file(for: user)
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
      if errno == ENOENT { return nil }
      if errno == ELOOP { throw RexstoreError(.invalidInput, "dossier '\(path)' is a symbolic link; refusing to follow it") }
      throw systemError("cannot read", path: path)
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      throw RexstoreError(.invalidInput, "dossier '\(path)' is not a regular file")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot read", path: path)
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
      if bytes.count > DossierDirectory.maxBytes {
        throw RexstoreError(.invalidInput, "dossier '\(path)' is larger than \(DossierDirectory.maxBytes) bytes")
      }
    }
    let parsed: JSONValue
    do throws(JSONParser.Failure) {
      parsed = try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.Failure) in
        try JSONParser.parse(buffer, allowNonFinite: true)
      }
    } catch {
      throw RexstoreError(
        .invalidInput, "dossier '\(path)' is not valid JSON: \(error.message); nothing was changed")
    }
    guard case .object(let members) = parsed else {
      throw RexstoreError(.invalidInput, "dossier '\(path)' does not hold a JSON object; nothing was changed")
    }
    return members
  }

  /// Replaces the user's dossier atomically: a temporary beside it, fsynced, renamed over it, and
  /// the directory fsynced. The caller holds the exclusive lock.
  public func write(user: String, members: [JSONValue.Member]) throws(RexstoreError) {
    try FileSystem.makeDirectories(path)
    let target = file(for: user)
    let text = PythonJSON.dump(.object(members))
    var temp = ""
    var fd: Int32 = -1
    for _ in 0..<8 {
      temp = path + "/." + user + ".json." + String(rexstore_random32(), radix: 36) + ".tmp"
      fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
      if fd >= 0 || errno != EEXIST { break }
    }
    guard fd >= 0 else { throw systemError("cannot create", path: temp).asCannotCreate }
    do throws(RexstoreError) {
      defer { close(fd) }
      let bytes = Array(text.utf8)
      let written = bytes.withUnsafeBytes { raw in
        Result { () throws(RexstoreError) in try FileSystem.writeAll(fd, raw, name: temp) }
      }
      try written.get()
      guard fsync(fd) == 0 else { throw systemError("cannot sync", path: temp) }
      DossierDirectory.giveToDirectoryOwner(fd, directory: path)
    } catch {
      unlink(temp)
      throw error
    }
    guard rename(temp, target) == 0 else {
      let failure = systemError("cannot replace", path: target)
      unlink(temp)
      throw failure
    }
    FileSystem.syncDirectory(path)
  }

  /// Files root creates in the app's directory go to whoever owns that directory, so the app, running
  /// as its own user, can still lock and replace them.
  static func giveToDirectoryOwner(_ fd: Int32, directory: String) {
    guard geteuid() == 0 else { return }
    var dir = stat()
    guard stat(directory, &dir) == 0, dir.st_uid != 0 else { return }
    _ = fchown(fd, dir.st_uid, dir.st_gid)
  }
}

/// JSON text exactly as Python's `json.dumps(value, indent=2, ensure_ascii=False)` writes it: two
/// spaces per level, `", "`-free item separators (a newline), `": "` after keys, non-ASCII kept as
/// it is, control characters as `\u00XX`, and no trailing newline. Numbers keep their literal text.
public enum PythonJSON {
  public static func dump(_ value: JSONValue) -> String {
    var out = ""
    write(value, level: 0, to: &out)
    return out
  }

  static func write(_ value: JSONValue, level: Int, to out: inout String) {
    switch value {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let text): out += text
    case .string(let s): string(s, to: &out)
    case .array(let items):
      guard !items.isEmpty else { out += "[]"; return }
      out += "["
      for (i, item) in items.enumerated() {
        out += (i == 0 ? "\n" : ",\n") + String(repeating: "  ", count: level + 1)
        write(item, level: level + 1, to: &out)
      }
      out += "\n" + String(repeating: "  ", count: level) + "]"
    case .object(let members):
      guard !members.isEmpty else { out += "{}"; return }
      out += "{"
      for (i, member) in members.enumerated() {
        out += (i == 0 ? "\n" : ",\n") + String(repeating: "  ", count: level + 1)
        string(member.key, to: &out)
        out += ": "
        write(member.value, level: level + 1, to: &out)
      }
      out += "\n" + String(repeating: "  ", count: level) + "}"
    }
  }

  static func string(_ s: String, to out: inout String) {
    JSONValue.writeString(s, to: &out, asciiOnly: false, lineBreaks: false)
  }
}

extension [JSONValue.Member] {
  /// The value of `key` (the last one, as Python's `json.loads` keeps). Keys are compared as bytes:
  /// Swift's `==` would take an NFC and an NFD spelling, two keys to Python, for one.
  subscript(member key: String) -> JSONValue? { last(where: { $0.key.utf8.elementsEqual(key.utf8) })?.value }

  /// Sets `key`, keeping its position when it exists (as a Python dict does), else appending it.
  mutating func set(_ key: String, _ value: JSONValue) {
    if let index = lastIndex(where: { $0.key.utf8.elementsEqual(key.utf8) }) {
      self[index].value = value
      // Python keeps the last of duplicate keys, at the first one's place; one copy is enough.
      var kept = false
      for i in indices.reversed() where self[i].key.utf8.elementsEqual(key.utf8) {
        if kept { remove(at: i) } else { kept = true }
      }
    } else {
      append(JSONValue.Member(key, value))
    }
  }

  mutating func remove(_ key: String) { removeAll { $0.key.utf8.elementsEqual(key.utf8) } }
}
