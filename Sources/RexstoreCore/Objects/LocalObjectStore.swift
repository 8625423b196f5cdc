import CSupport
import Glibc

/// The local object root, laid out exactly like the bucket (`ROOT/audio/u1/rec.mp3`).
///
/// Writes go to a temporary file in the target directory, are fsynced, and are then linked (no
/// overwrite) or renamed (overwrite) into place, followed by a directory fsync: a crash leaves the old
/// object or the new one, plus at most a dot-named temporary file that `health` reports. Checksums and
/// the content type ride along as `user.rexstore.*` extended attributes where the file system has them.
public final class LocalObjectStore: ObjectStore {
  public let root: String
  public let backend = "local"

  static let md5Attribute = "user.rexstore.md5"
  static let crcAttribute = "user.rexstore.crc32c"
  static let typeAttribute = "user.rexstore.content_type"

  public init(root: String) { self.root = root }

  func path(_ name: String) -> String { root + "/" + name }

  /// Names with a segment starting with `.` are the local root's own (temporary files, staging
  /// directories): another client may write such names to GCS, but here they are refused (64).
  public static func isReserved(_ name: String) -> Bool { name.split(separator: "/").contains { $0.hasPrefix(".") } }

  func refuseReserved(_ name: String) throws(RexstoreError) {
    guard LocalObjectStore.isReserved(name) else { return }
    throw RexstoreError.usage(
      "'\(ObjectName.printable(name))' cannot be held in the local root: names with a segment starting with '.' are its temporary files")
  }

  // MARK: put

  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    try refuseReserved(name)
    let target = path(name)
    let directory = FileSystem.parent(of: target)
    if !overwrite, access(target, F_OK) == 0 { throw exists(name) }
    try FileSystem.makeDirectories(directory)
    let temp = directory + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: target))
    do throws(RexstoreError) {
      let checksums = try writeFile(at: temp, from: source, contentType: contentType)
      if overwrite {
        guard rename(temp, target) == 0 else { throw systemError("cannot rename into", path: target) }
      } else {
        // link(2) fails with EEXIST instead of replacing: the no-overwrite check is atomic.
        guard link(temp, target) == 0 else {
          if errno == EEXIST { throw exists(name) }
          throw systemError("cannot link into", path: target)
        }
        unlink(temp)
      }
      FileSystem.syncDirectory(directory)
      var info = try stat(name) ?? ObjectInfo(name: name, size: 0, backend: backend)
      info.md5 = checksums.md5
      info.crc32c = checksums.crc32c
      info.contentType = contentType
      return info
    } catch {
      unlink(temp)
      throw error
    }
  }

  private func exists(_ name: String) -> RexstoreError {
    RexstoreError(.conflict, "'\(name)' already exists", hint: "pass --force to replace it")
  }

  /// Streams `source` into a new file at `path` (which must not exist), fsyncs it and records its
  /// checksums; the file is complete and durable when this returns.
  func writeFile(at path: String, from source: ByteSource, contentType: String) throws(RexstoreError) -> Checksums {
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: path).asCannotCreate }
    defer { close(fd) }
    let sink = DescriptorSink(fd: fd, name: path)
    let hasher = try StreamCopy.run(
      read: { buffer throws(RexstoreError) in try source.read(into: buffer) },
      write: { chunk throws(RexstoreError) in try sink.write(chunk) })
    guard fsync(fd) == 0 else { throw systemError("cannot sync", path: path) }
    let checksums = hasher.finalize()
    setAttribute(fd, LocalObjectStore.md5Attribute, checksums.md5)
    setAttribute(fd, LocalObjectStore.crcAttribute, checksums.crc32c)
    setAttribute(fd, LocalObjectStore.typeAttribute, contentType)
    return checksums
  }

  private func setAttribute(_ fd: Int32, _ key: String, _ value: String) {
    // Best effort: a file system without user xattrs still stores the object; its checksums then read
    // back as null and downloads are not verified.
    _ = value.withCString { rexstore_fsetxattr(fd, key, $0, strlen($0)) }
  }

  private func attribute(fd: Int32, _ key: String) -> String? {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = rexstore_fgetxattr(fd, key, &buffer, buffer.count)
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n], as: UTF8.self)
  }

  private func describe(fd: Int32, name: String) -> ObjectInfo? {
    var st = Glibc.stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let micros = Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1_000
    return ObjectInfo(
      name: name, size: Int64(st.st_size), md5: attribute(fd: fd, LocalObjectStore.md5Attribute),
      crc32c: attribute(fd: fd, LocalObjectStore.crcAttribute),
      contentType: attribute(fd: fd, LocalObjectStore.typeAttribute), backend: backend,
      updated: Timestamp(microseconds: micros))
  }

  private func attribute(_ path: String, _ key: String) -> String? {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = rexstore_getxattr(path, key, &buffer, buffer.count)
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n], as: UTF8.self)
  }

  // MARK: get, stat

  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    try refuseReserved(name)
    let source = path(name)
    let fd = open(source, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      if errno == ENOENT || errno == ENOTDIR { return nil }
      throw systemError("cannot read", path: source)
    }
    defer { close(fd) }
    // Everything about the object comes from the open descriptor, not the path: a concurrent
    // `put --force` renaming a new file into place must not mix two objects' details.
    guard var info = describe(fd: fd, name: name) else { return nil }
    let hasher = try StreamCopy.run(
      read: { buffer throws(RexstoreError) in
        while true {
          let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
          if n >= 0 { return n }
          if errno != EINTR { throw systemError("cannot read", path: source) }
        }
      },
      write: { chunk throws(RexstoreError) in try sink.write(chunk) })
    let actual = hasher.finalize()
    if let md5 = info.md5, md5 != actual.md5 { throw mismatch(name, "md5", md5, actual.md5) }
    if let crc = info.crc32c, crc != actual.crc32c { throw mismatch(name, "crc32c", crc, actual.crc32c) }
    info.md5 = actual.md5
    info.crc32c = actual.crc32c
    info.size = hasher.count
    return info
  }

  private func mismatch(_ name: String, _ kind: String, _ stored: String, _ actual: String) -> RexstoreError {
    RexstoreError(.ioError, "'\(name)' is damaged: \(kind) is \(actual), recorded \(stored)")
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    try refuseReserved(name)
    let file = path(name)
    guard let regular = try FileSystem.regularFile(file) else { return nil }
    return ObjectInfo(
      name: name, size: regular.size, md5: attribute(file, LocalObjectStore.md5Attribute),
      crc32c: attribute(file, LocalObjectStore.crcAttribute),
      contentType: attribute(file, LocalObjectStore.typeAttribute), backend: backend,
      updated: regular.modified)
  }

  // MARK: list, delete

  /// `prefix` names a directory (`audio/u1/`): its regular files, dot-files excluded, in byte order.
  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    let directory = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    var names = try FileSystem.entries(of: path(directory)).filter { !$0.hasPrefix(".") }
    names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    if let pageToken { names = names.filter { pageToken.utf8.lexicographicallyPrecedes($0.utf8) } }
    var items: [ObjectInfo] = []
    var last: String?
    for name in names {
      if items.count == pageSize { break }
      if let info = try stat(directory + "/" + name) {
        items.append(info)
        last = name
      }
    }
    let more = last.map { l in names.contains { l.utf8.lexicographicallyPrecedes($0.utf8) } } ?? false
    return ObjectPage(items: items, nextPageToken: more ? last : nil)
  }

  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    let directory = path(prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix)
    return try FileSystem.entries(of: directory)
      .filter { !$0.hasPrefix(".") && FileSystem.isDirectory(directory + "/" + $0) }
      .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    try refuseReserved(name)
    let file = path(name)
    guard unlink(file) == 0 else {
      if errno == ENOENT || errno == ENOTDIR { return false }
      throw systemError("cannot delete", path: file)
    }
    FileSystem.syncDirectory(FileSystem.parent(of: file))
    return true
  }

  // MARK: groups

  /// Writes the new set into a dot-named staging directory, then swaps it with the live one in one
  /// `renameat2(RENAME_EXCHANGE)`; the old set stays in the staging name until `finish()`.
  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    let live = path(directory)
    let parent = FileSystem.parent(of: live)
    try FileSystem.makeDirectories(parent)
    let staging = parent + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: live))
    guard mkdir(staging, 0o700) == 0 else { throw systemError("cannot create", path: staging).asCannotCreate }
    var infos: [ObjectInfo] = []
    do throws(RexstoreError) {
      for member in members {
        let base = FileSystem.baseName(of: member.name)
        let checksums = try writeFile(at: staging + "/" + base, from: member.source, contentType: member.contentType)
        var info = ObjectInfo(name: member.name, size: 0, md5: checksums.md5, crc32c: checksums.crc32c,
          contentType: member.contentType, backend: backend, updated: .now())
        info.size = FileSystem.fileSize(staging + "/" + base) ?? 0
        infos.append(info)
      }
      FileSystem.syncDirectory(staging)
      // Held from the swap until finish() or undo(), i.e. across the caller's record commit, so two
      // stores of one profile cannot interleave swaps and commits (files of one, record of the other).
      let lock = try FileSystem.lockDirectory(parent)
      let swapped: Bool
      if access(live, F_OK) == 0 {
        guard FileSystem.exchange(staging, live) else {
          close(lock)
          throw systemError("cannot swap into", path: live)
        }
        swapped = true
      } else {
        guard rename(staging, live) == 0 else {
          close(lock)
          throw systemError("cannot rename into", path: live)
        }
        swapped = false
      }
      FileSystem.syncDirectory(parent)
      return LocalGroupReplacement(
        objects: infos, live: live, previous: swapped ? staging : nil, parent: parent, lock: lock)
    } catch {
      FileSystem.removeTree(staging)
      throw error
    }
  }

  public func repairGroup(
    directory: String, toMatch first: [ObjectInfo], reread: () throws(RexstoreError) -> [ObjectInfo]?
  ) throws(RexstoreError) -> Bool {
    let live = path(directory)
    if holds(live, first) { return false }
    let parent = FileSystem.parent(of: live)
    guard FileSystem.isDirectory(parent) else { return true }
    // Stores hold this lock from their swap to their commit, so under it the record and the live
    // set are both settled: re-read the record, and repair only if they still disagree.
    let lock = try FileSystem.lockDirectory(parent)
    defer { close(lock) }
    guard let expected = try reread(), !holds(live, expected) else { return true }
    let prefix = FileSystem.temporaryPrefix(for: FileSystem.baseName(of: live))
    for name in try FileSystem.entries(of: parent) where name.hasPrefix(prefix) {
      let candidate = parent + "/" + name
      guard !FileSystem.temporaryWriterIsAlive(name), holds(candidate, expected) else { continue }
      if access(live, F_OK) == 0 {
        guard FileSystem.exchange(candidate, live) else { throw systemError("cannot swap into", path: live) }
        FileSystem.syncDirectory(parent)
        FileSystem.removeTree(candidate)
      } else {
        guard rename(candidate, live) == 0 else { throw systemError("cannot rename into", path: live) }
        FileSystem.syncDirectory(parent)
      }
      break
    }
    return true
  }

  /// Whether `directory` holds exactly the objects `expected` names, with their sizes and MD5s.
  private func holds(_ directory: String, _ expected: [ObjectInfo]) -> Bool {
    guard let names = try? FileSystem.entries(of: directory).filter({ !$0.hasPrefix(".") }) else { return false }
    guard names.count == expected.count, FileSystem.isDirectory(directory) || expected.isEmpty else { return false }
    for object in expected {
      let file = directory + "/" + FileSystem.baseName(of: object.name)
      guard let found = try? FileSystem.regularFile(file), found.size == object.size else { return false }
      if let md5 = object.md5, let stored = attribute(file, LocalObjectStore.md5Attribute), stored != md5 { return false }
    }
    return true
  }

  public func deleteGroup(directory: String) throws(RexstoreError) -> Int {
    let live = path(directory)
    guard FileSystem.isDirectory(live) else { return 0 }
    let count = try FileSystem.entries(of: live).filter { !$0.hasPrefix(".") }.count
    // Move it aside first so readers never see a half-deleted set.
    let parent = FileSystem.parent(of: live)
    let doomed = parent + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: live))
    guard rename(live, doomed) == 0 else { throw systemError("cannot delete", path: live) }
    FileSystem.syncDirectory(parent)
    FileSystem.removeTree(doomed)
    return count
  }
}

final class LocalGroupReplacement: GroupReplacement {
  let objects: [ObjectInfo]
  let live: String
  /// Where the replaced set now sits (nil when there was none).
  let previous: String?
  let parent: String
  /// The descriptor holding the directory lock; closing it releases the lock.
  let lock: Int32

  init(objects: [ObjectInfo], live: String, previous: String?, parent: String, lock: Int32) {
    self.objects = objects
    self.live = live
    self.previous = previous
    self.parent = parent
    self.lock = lock
  }

  func finish() {
    defer { close(lock) }
    if let previous { FileSystem.removeTree(previous) }
  }

  func undo() {
    defer { close(lock) }
    if let previous, FileSystem.exchange(previous, live) {
      FileSystem.syncDirectory(parent)
      FileSystem.removeTree(previous)
    } else {
      let doomed = parent + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: live))
      if rename(live, doomed) == 0 { FileSystem.removeTree(doomed) }
      FileSystem.syncDirectory(parent)
    }
  }
}

extension FileSystem {
  /// Size and modification time of a regular file; nil if absent or not a regular file.
  static func regularFile(_ path: String) throws(RexstoreError) -> (size: Int64, modified: Timestamp)? {
    var st = stat()
    guard stat(path, &st) == 0 else {
      if errno == ENOENT || errno == ENOTDIR { return nil }
      throw systemError("cannot stat", path: path)
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let micros = Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1_000
    return (Int64(st.st_size), Timestamp(microseconds: micros))
  }

  /// Names in a directory (without `.` and `..`); an absent directory has none.
  public static func entries(of directory: String) throws(RexstoreError) -> [String] {
    guard let dir = opendir(directory) else {
      if errno == ENOENT || errno == ENOTDIR { return [] }
      throw systemError("cannot list", path: directory)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// An exclusive `flock` on a directory; close the returned descriptor to release it.
  static func lockDirectory(_ path: String) throws(RexstoreError) -> Int32 {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError("cannot lock", path: path) }
    while flock(fd, LOCK_EX) != 0 {
      if errno != EINTR {
        close(fd)
        throw systemError("cannot lock", path: path)
      }
    }
    return fd
  }

  /// Swaps two paths atomically (`renameat2(RENAME_EXCHANGE)`, Linux 3.15+).
  static func exchange(_ a: String, _ b: String) -> Bool {
    rexstore_exchange(a, b) == 0
  }

  /// Removes a directory rexstore created and the files in it (one level: sample sets are flat).
  static func removeTree(_ directory: String) {
    for name in (try? entries(of: directory)) ?? [] { unlink(directory + "/" + name) }
    rmdir(directory)
  }
}
