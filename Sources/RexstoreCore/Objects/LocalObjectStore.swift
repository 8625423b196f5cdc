import CSupport
import Glibc

/// The local object root, laid out exactly like the bucket (`ROOT/audio/u1/rec.mp3`).
///
/// The root may be a symbolic link (it is resolved once per operation); nothing below it is ever
/// reached through one: directories are opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
/// or one `O_NOFOLLOW` segment at a time, and every file operation is a `*at` call relative to the
/// directory's descriptor (see `DirectoryHandle`). A link found below the root is refused with
/// `invalid_input` (65), never followed and never deleted through; listings skip links (and other
/// files that are not regular), telling `skippedEntry` about each.
///
/// Writes go to a temporary file in the target directory, are fsynced, and are then linked (no
/// overwrite) or renamed (overwrite) into place, followed by a directory fsync: a crash leaves the old
/// object or the new one, plus at most a dot-named temporary file, which the next writer in that
/// directory removes once its writer is gone. Checksums and the content type ride along as
/// `user.rexstore.*` extended attributes where the file system has them, and the checksums also in a
/// sidecar `.NAME.rexstore-sum` written (atomically) before the object is linked into place, so they
/// cannot be lost with the attributes. Reads verify against every copy they find.
public final class LocalObjectStore: ObjectStore {
  public let root: String
  public let backend = "local"

  static let md5Attribute = "user.rexstore.md5"
  static let crcAttribute = "user.rexstore.crc32c"
  static let typeAttribute = "user.rexstore.content_type"
  /// The sidecar of `NAME` is `.NAME` + this: a dot-name, so never listed as an object.
  public static let sidecarSuffix = ".rexstore-sum"
  /// `audio get` to a stream (standard output, a device) first verifies objects up to this size, so a
  /// damaged one fails before any byte is written; larger ones are verified as they stream (exit 74
  /// after the bytes went out).
  public static let verifyFirstLimit: Int64 = 64 << 20

  /// How long a group write waits for another one on the same user directory (the busy timeout).
  public var lockTimeoutMilliseconds: Int

  /// Told (once per name) about each entry a listing leaves out because it is a link or not a regular
  /// file, with a message naming it by its object name (never the link's target); the CLI warns.
  public var skippedEntry: ((String) -> Void)?
  private var reportedSkips: Set<String> = []

  public init(root: String, lockTimeoutMilliseconds: Int = 5_000) {
    self.root = root
    self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
  }

  func path(_ name: String) -> String { root + "/" + name }

  /// Names with a segment starting with `.` are the local root's own (temporary files, sidecars,
  /// staging directories): another client may write such names to GCS, but here they are refused (64).
  public static func isReserved(_ name: String) -> Bool { name.split(separator: "/").contains { $0.hasPrefix(".") } }

  func refuseReserved(_ name: String) throws(RexstoreError) {
    guard LocalObjectStore.isReserved(name) else { return }
    throw RexstoreError.usage(
      "'\(ObjectName.printable(name))' cannot be held in the local root: names with a segment starting with '.' are its temporary files")
  }

  /// The directory holding `name` (`audio/u1` for `audio/u1/a.wav`) and the file name in it.
  static func split(_ name: String) -> (directory: String, base: String) {
    guard let slash = name.lastIndex(of: "/") else { return ("", name) }
    return (String(name[..<slash]), String(name[name.index(after: slash)...]))
  }

  /// Opens the directory `relative` below the root without following links; nil if absent.
  func directory(_ relative: String, create: Bool) throws(RexstoreError) -> DirectoryHandle? {
    guard let rootHandle = try DirectoryHandle.root(root, create: create) else { return nil }
    if relative.isEmpty { return rootHandle }
    return try rootHandle.descend(relative, create: create)
  }

  // MARK: put

  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    try refuseReserved(name)
    let (directoryName, base) = LocalObjectStore.split(name)
    // Made (0700) without following links; non-nil when creating.
    guard let dir = try directory(directoryName, create: true) else { throw systemError("cannot create", path: path(directoryName)) }
    if let kind = try dir.kind(base) {
      if kind.isSymlink { throw FileSystem.symlinkRefused(path(name)) }
      if !overwrite { throw exists(name) }
      if !kind.isRegular { throw notRegular(name, kind) }
    }
    sweepLeftovers(dir, key: directoryName)
    let temp = FileSystem.temporaryName(for: base)
    do throws(RexstoreError) {
      let written = try writeFile(in: dir, temp, from: source, contentType: contentType)
      var entry = written.entry
      entry.replaces = overwrite
      // The sidecar goes in before the object: a crash never leaves the object without it.
      try writeSidecar(in: dir, for: base, adding: entry, keepOthers: true)
      if overwrite {
        // renameat replaces the name itself; a link planted since the check above is replaced, not followed.
        guard dir.rename(temp, to: base) else { throw systemError("cannot rename into", path: path(name)) }
      } else {
        // linkat(2) fails with EEXIST instead of replacing: the no-overwrite check is atomic.
        guard dir.link(temp, to: base) else {
          if errno == EEXIST { throw exists(name) }
          throw systemError("cannot link into", path: path(name))
        }
        dir.unlink(temp)
      }
      dir.sync()
      return ObjectInfo(
        name: name, size: written.entry.size, md5: written.entry.md5, crc32c: written.entry.crc32c,
        contentType: contentType, backend: backend, updated: written.modified)
    } catch {
      dir.unlink(temp)
      throw error
    }
  }

  private func exists(_ name: String) -> RexstoreError {
    RexstoreError(.conflict, "'\(name)' already exists", hint: "pass --force to replace it")
  }

  private func notRegular(_ name: String, _ kind: FileKind) -> RexstoreError {
    RexstoreError(
      .invalidInput, "'\(path(name))' is \(kind.description), not a regular file; rexstore never reads or replaces it",
      hint: "remove it from the object root")
  }

  struct Written {
    var entry: SidecarEntry
    var modified: Timestamp
  }

  /// Streams `source` into a new file `name` in `dir` (which must not exist), fsyncs it and records its
  /// checksums in its attributes; the file is complete and durable when this returns.
  func writeFile(
    in dir: DirectoryHandle, _ name: String, from source: ByteSource, contentType: String
  ) throws(RexstoreError) -> Written {
    let fd = dir.open(name, O_CREAT | O_EXCL | O_WRONLY)
    guard fd >= 0 else { throw systemError("cannot create", path: dir.path + "/" + name).asCannotCreate }
    defer { close(fd) }
    let sink = DescriptorSink(fd: fd, name: dir.path + "/" + name, direct: true)
    let hasher = try StreamCopy.run(
      read: { buffer throws(RexstoreError) in try source.read(into: buffer) },
      write: { chunk throws(RexstoreError) in try sink.write(chunk) })
    guard fsync(fd) == 0 else { throw systemError("cannot sync", path: dir.path + "/" + name) }
    let checksums = hasher.finalize()
    setAttribute(fd, LocalObjectStore.md5Attribute, checksums.md5)
    setAttribute(fd, LocalObjectStore.crcAttribute, checksums.crc32c)
    setAttribute(fd, LocalObjectStore.typeAttribute, contentType)
    var st = Glibc.stat()
    guard fstat(fd, &st) == 0 else { throw systemError("cannot stat", path: dir.path + "/" + name) }
    let kind = FileKind(st)
    return Written(
      entry: SidecarEntry(
        inode: kind.inode, size: kind.size, md5: checksums.md5, crc32c: checksums.crc32c,
        modified: kind.modified.microseconds),
      modified: kind.modified)
  }

  private func setAttribute(_ fd: Int32, _ key: String, _ value: String) {
    // Best effort: a file system without user xattrs still stores the object; the sidecar keeps its checksums.
    _ = value.withCString { rexstore_fsetxattr(fd, key, $0, strlen($0)) }
  }

  /// An attribute's whole value, whatever its length (a value that does not fit the first buffer is
  /// read again at the size the kernel reports); nil when absent or empty.
  static func attribute(fd: Int32, _ key: String) -> String? {
    var buffer = [UInt8](repeating: 0, count: 256)
    for _ in 0..<4 {
      let n = rexstore_fgetxattr(fd, key, &buffer, buffer.count)
      if n > 0 { return String(decoding: buffer[0..<n], as: UTF8.self) }
      guard n < 0, errno == ERANGE else { return nil }
      let size = rexstore_fgetxattr(fd, key, nil, 0)
      guard size > 0 else { return nil }
      buffer = [UInt8](repeating: 0, count: min(size, 65_536))
    }
    return nil
  }

  // MARK: sidecars

  /// One object's checksums in a sidecar, tied to the file by its inode (a file put in place by
  /// other means, with another inode, is not judged by a stale entry).
  struct SidecarEntry: Equatable {
    var inode: UInt64
    var size: Int64
    var md5: String
    var crc32c: String
    /// The file's modification time (microseconds) when its checksums were recorded: a file the app
    /// rewrote in place since (same inode, new mtime) has stale checksums, not damage.
    var modified: Int64?
    /// Written by a put that was allowed to replace the name (`--force`): only such a copy may later
    /// replace the remote's when `migrate` moves it up. A create-only put that fell back while the
    /// remote was out could not know the remote already held the name.
    var replaces = false

    var line: String {
      "ino=\(inode) size=\(size) md5=\(md5) crc32c=\(crc32c)" + (modified.map { " mtime=\($0)" } ?? "")
        + (replaces ? " replaces=1" : "") + "\n"
    }

    init(inode: UInt64, size: Int64, md5: String, crc32c: String, modified: Int64? = nil) {
      self.inode = inode
      self.size = size
      self.md5 = md5
      self.crc32c = crc32c
      self.modified = modified
    }

    init?(line: Substring) {
      var fields: [Substring: Substring] = [:]
      for field in line.split(separator: " ") {
        guard let eq = field.firstIndex(of: "=") else { return nil }
        fields[field[..<eq]] = field[field.index(after: eq)...]
      }
      guard let ino = fields["ino"].flatMap({ UInt64($0) }), let size = fields["size"].flatMap({ Int64($0) }),
        let md5 = fields["md5"], let crc = fields["crc32c"], !md5.isEmpty, !crc.isEmpty
      else { return nil }
      self.init(inode: ino, size: size, md5: String(md5), crc32c: String(crc), modified: fields["mtime"].flatMap { Int64($0) })
      replaces = fields["replaces"] == "1"
    }
  }

  /// Voice-profile samples, which the app rewrites in place (truncate and write, same inode) when it
  /// re-stores a profile: for them a newer mtime or another size than recorded means the checksums
  /// are stale (unverified), not that the bytes are damaged. Audio objects the app never writes
  /// locally: any mismatch there is damage.
  static func rewritable(_ name: String) -> Bool { name.hasPrefix("voice_profiles/") }

  /// `.NAME.rexstore-sum`; for a name too long for that, a shortened form carrying the name's CRC-32C.
  static func sidecarName(for base: String) -> String {
    let full = "." + base + sidecarSuffix
    if full.utf8.count <= 255 { return full }
    var short = ""
    for character in base {
      if short.utf8.count + character.utf8.count > 100 { break }
      short.append(character)
    }
    let crc = Array(base.utf8).withUnsafeBytes { rexstore_crc32c_extend(0, $0.baseAddress, $0.count) }
    return "." + short + "-" + String(crc, radix: 16) + sidecarSuffix
  }

  func readSidecar(in dir: DirectoryHandle, for base: String) -> [SidecarEntry] {
    let fd = dir.open(LocalObjectStore.sidecarName(for: base), O_RDONLY | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var st = Glibc.stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 65_536 else { return [] }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0 else { return [] }
    return String(decoding: bytes[0..<n], as: UTF8.self).split(separator: "\n").compactMap(SidecarEntry.init(line:))
  }

  /// Writes the sidecar of `base` atomically (temporary file, fsync, rename): `entry` first, then, with
  /// `keepOthers`, up to three earlier entries (the current object's among them, so a crash before the
  /// object's own rename leaves the old object still described).
  func writeSidecar(
    in dir: DirectoryHandle, for base: String, adding entry: SidecarEntry, keepOthers: Bool
  ) throws(RexstoreError) {
    var entries = [entry]
    if keepOthers { entries += readSidecar(in: dir, for: base).filter { $0.inode != entry.inode }.prefix(3) }
    let text = entries.map(\.line).joined()
    let sidecar = LocalObjectStore.sidecarName(for: base)
    let temp = FileSystem.temporaryName(for: base)
    let fd = dir.open(temp, O_CREAT | O_EXCL | O_WRONLY)
    guard fd >= 0 else { throw systemError("cannot create", path: dir.path + "/" + temp).asCannotCreate }
    do throws(RexstoreError) {
      let bytes = Array(text.utf8)
      let failed = bytes.withUnsafeBytes { raw -> RexstoreError? in
        do throws(RexstoreError) {
          try FileSystem.writeAll(fd, raw, name: dir.path + "/" + temp)
          return nil
        } catch {
          return error
        }
      }
      if let failed { throw failed }
      guard fsync(fd) == 0 else { throw systemError("cannot sync", path: dir.path + "/" + temp) }
      close(fd)
      guard dir.rename(temp, to: sidecar) else { throw systemError("cannot rename into", path: dir.path + "/" + sidecar) }
    } catch {
      close(fd)
      dir.unlink(temp)
      throw error
    }
  }

  /// The checksums recorded for the open file `fd` (`base` in `dir`): from its attributes and its
  /// sidecar entry. `disagreement` describes a conflict between the two copies (the object is then
  /// damaged: one of them no longer says what was written).
  /// A listing (`everyCopy` false) reads the sidecar only when an attribute is missing.
  func recorded(
    fd: Int32, in dir: DirectoryHandle, base: String, inode: UInt64, everyCopy: Bool = true, current: FileKind? = nil
  ) -> (md5: String?, crc32c: String?, disagreement: String?) {
    let md5 = LocalObjectStore.attribute(fd: fd, LocalObjectStore.md5Attribute)
    let crc = LocalObjectStore.attribute(fd: fd, LocalObjectStore.crcAttribute)
    if !everyCopy, md5 != nil, crc != nil { return (md5, crc, nil) }
    let side = readSidecar(in: dir, for: base).first { $0.inode == inode }
    // Rewritten in place since rexstore recorded its checksums (the app writes samples that way):
    // nothing recorded describes these bytes any more, so they are unverified rather than damaged.
    if let side, let current, let then = side.modified, then != current.modified.microseconds || side.size != current.size {
      return (nil, nil, nil)
    }
    var disagreement: String?
    if let md5, let other = side?.md5, md5 != other {
      disagreement = "md5 attribute \(md5.prefix(64)), sidecar \(other)"
    } else if let crc, let other = side?.crc32c, crc != other {
      disagreement = "crc32c attribute \(crc.prefix(64)), sidecar \(other)"
    }
    return (md5 ?? side?.md5, crc ?? side?.crc32c, disagreement)
  }

  // MARK: leftovers

  /// Removes, once per directory per process, the temporary files (never directories: a profile's
  /// staging directory may hold the set `repairGroup` restores) whose writers are gone.
  func sweepLeftovers(_ dir: DirectoryHandle, key: String) {
    guard sweptLock.locked({ swept.insert(key).inserted }) else { return }
    FileSystem.sweepAbandonedTemporaries(in: dir)
  }

  /// Directories in which this store already removed dead writers' temporaries.
  private var swept: Set<String> = []
  private let sweptLock = Mutex()

  // MARK: get, stat

  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    try refuseReserved(name)
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try directory(directoryName, create: false) else { return nil }
    guard let opened = try openObject(dir, base, name: name) else { return nil }
    let fd = opened.fd
    defer { close(fd) }
    let kind = opened.kind
    // Everything about the object comes from the open descriptor, not the path: a concurrent
    // `put --force` renaming a new file into place must not mix two objects' details.
    let recorded = recorded(fd: fd, in: dir, base: base, inode: kind.inode, current: LocalObjectStore.rewritable(name) ? kind : nil)
    if let disagreement = recorded.disagreement {
      throw RexstoreError(.ioError, "'\(name)' is damaged: its recorded checksums disagree (\(disagreement))")
    }
    var info = ObjectInfo(
      name: name, size: kind.size, md5: recorded.md5, crc32c: recorded.crc32c,
      contentType: LocalObjectStore.attribute(fd: fd, LocalObjectStore.typeAttribute), backend: backend,
      updated: kind.modified)
    let checkable = recorded.md5 != nil || recorded.crc32c != nil
    let read = { (buffer: UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int in
      while true {
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if n >= 0 { return n }
        if errno != EINTR { throw systemError("cannot read", path: self.path(name)) }
      }
    }
    // Bytes written to a stream cannot be taken back: verify a small object before sending any.
    if checkable, !sink.discardsOnFailure, kind.size <= LocalObjectStore.verifyFirstLimit {
      let first = try StreamCopy.run(read: read, write: { _ throws(RexstoreError) in })
      try verify(name, recorded.md5, recorded.crc32c, first.finalize())
      guard lseek(fd, 0, SEEK_SET) == 0 else { throw systemError("cannot read", path: path(name)) }
    }
    let hasher = try StreamCopy.run(read: read, write: { chunk throws(RexstoreError) in try sink.write(chunk) })
    let actual = hasher.finalize()
    try verify(name, recorded.md5, recorded.crc32c, actual)
    info.md5 = actual.md5
    info.crc32c = actual.crc32c
    info.size = hasher.count
    info.verified = checkable
    return info
  }

  private func verify(_ name: String, _ md5: String?, _ crc: String?, _ actual: Checksums) throws(RexstoreError) {
    if let md5, md5 != actual.md5 { throw mismatch(name, "md5", md5, actual.md5) }
    if let crc, crc != actual.crc32c { throw mismatch(name, "crc32c", crc, actual.crc32c) }
  }

  private func mismatch(_ name: String, _ kind: String, _ stored: String, _ actual: String) -> RexstoreError {
    RexstoreError(.ioError, "'\(name)' is damaged: \(kind) is \(actual), recorded \(stored.prefix(64))")
  }

  /// Opens object `base` in `dir` for reading: nil when absent or a directory; a link or any other
  /// non-regular file is refused (a FIFO would block the read, a device never end).
  func openObject(_ dir: DirectoryHandle, _ base: String, name: String) throws(RexstoreError) -> (fd: Int32, kind: FileKind)? {
    if let kind = try dir.kind(base) {
      if kind.isSymlink { throw FileSystem.symlinkRefused(path(name)) }
      if kind.isDirectory { return nil }
      if !kind.isRegular { throw notRegular(name, kind) }
    }
    let fd = dir.open(base, O_RDONLY | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else {
      let err = errno
      if err == ENOENT || err == ENOTDIR { return nil }
      if err == ELOOP { throw FileSystem.symlinkRefused(path(name)) }
      throw systemError("cannot read", path: path(name), errno: err)
    }
    var st = Glibc.stat()
    guard fstat(fd, &st) == 0 else {
      close(fd)
      throw systemError("cannot stat", path: path(name))
    }
    let kind = FileKind(st)
    guard kind.isRegular else {
      close(fd)
      if kind.isDirectory { return nil }
      throw notRegular(name, kind)
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return (fd, kind)
  }

  /// The object's bytes as a source (for `migrate`), opened without following links.
  public func openForReading(_ name: String) throws(RexstoreError) -> ByteSource? {
    try refuseReserved(name)
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try directory(directoryName, create: false), let opened = try openObject(dir, base, name: name) else {
      return nil
    }
    return ByteSource(fd: opened.fd, name: path(name), owned: true)
  }

  /// Whether the object was written by a put allowed to replace the name (`--force`), as its sidecar
  /// records; false for a create-only put and for files rexstore did not write.
  public func writtenToReplace(_ name: String) -> Bool {
    guard (try? refuseReserved(name)) != nil else { return false }
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try? directory(directoryName, create: false), let kind = try? dir.kind(base), kind.isRegular else {
      return false
    }
    return readSidecar(in: dir, for: base).first { $0.inode == kind.inode }?.replaces ?? false
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    try refuseReserved(name)
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try directory(directoryName, create: false) else { return nil }
    return try describe(dir, base, name: name, strict: true)
  }

  /// An object's details without reading it; links and other non-regular files are refused when
  /// `strict`, else skipped (listings).
  private func describe(_ dir: DirectoryHandle, _ base: String, name: String, strict: Bool) throws(RexstoreError) -> ObjectInfo? {
    let opened: (fd: Int32, kind: FileKind)?
    do throws(RexstoreError) {
      opened = try openObject(dir, base, name: name)
    } catch {
      if strict || error.code != .invalidInput { throw error }
      return nil
    }
    guard let (fd, kind) = opened else { return nil }
    defer { close(fd) }
    let recorded = recorded(
      fd: fd, in: dir, base: base, inode: kind.inode, everyCopy: strict, current: LocalObjectStore.rewritable(name) ? kind : nil)
    return ObjectInfo(
      name: name, size: kind.size, md5: recorded.md5, crc32c: recorded.crc32c,
      contentType: LocalObjectStore.attribute(fd: fd, LocalObjectStore.typeAttribute), backend: backend,
      updated: kind.modified)
  }

  // MARK: list, delete

  /// `prefix` names a directory (`audio/u1/`): the regular files below it at any depth (the app writes
  /// names such as `audio/u1/sub/take.mp3` itself), dot-names and links excluded and never descended
  /// into, in byte order of the whole name, as a bucket lists them. A page token is the last name's
  /// path below the directory.
  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    let directoryName = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    guard let dir = try directory(directoryName, create: false) else { return ObjectPage(items: [], nextPageToken: nil) }
    var paths: [String] = []
    try collect(dir, below: "", in: directoryName, into: &paths)
    paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    if let pageToken { paths = paths.filter { pageToken.utf8.lexicographicallyPrecedes($0.utf8) } }
    var items: [ObjectInfo] = []
    var last: String?
    // Consecutive names mostly share a directory: the last one opened is kept.
    var opened: (path: String, handle: DirectoryHandle)?
    for path in paths {
      if items.count == pageSize { break }
      let (subdirectory, base) = LocalObjectStore.split(path)
      var holder = dir
      if !subdirectory.isEmpty {
        if let opened, opened.path.utf8.elementsEqual(subdirectory.utf8) {
          holder = opened.handle
        } else {
          // Gone, or replaced by a link, since it was walked: skipped, as a listing skips links.
          guard let found = try? dir.descend(subdirectory, create: false) else { continue }
          opened = (subdirectory, found)
          holder = found
        }
      }
      if let info = try describe(holder, base, name: directoryName + "/" + path, strict: false) {
        items.append(info)
        last = path
      }
    }
    let more = last.map { l in paths.contains { l.utf8.lexicographicallyPrecedes($0.utf8) } } ?? false
    return ObjectPage(items: items, nextPageToken: more ? last : nil)
  }

  /// The paths (below `dir`, prefixed with `relative`) of every regular file in `dir` and its
  /// subdirectories; dot-names are left out, links are never followed, and each link or other
  /// non-regular file is reported as skipped (`directoryName` makes its object name).
  private func collect(
    _ dir: DirectoryHandle, below relative: String, in directoryName: String, into paths: inout [String]
  ) throws(RexstoreError) {
    let (names, notUTF8) = try dir.entriesSeparatingInvalidNames()
    for display in notUTF8 where !display.hasPrefix(".") {
      // Never looked up by a decoded spelling, which could name another file that really exists.
      reportSkipped(
        directoryName + "/" + (relative.isEmpty ? display : relative + "/" + display),
        "has a name that is not valid UTF-8 (shown with \\x escapes; objects are named in UTF-8)")
    }
    for name in names where !name.hasPrefix(".") {
      let path = relative.isEmpty ? name : relative + "/" + name
      guard let kind = try? dir.kind(name) else { continue }  // gone since it was read
      if kind.isDirectory {
        if let child = try? dir.child(name, create: false) { try collect(child, below: path, in: directoryName, into: &paths) }
      } else if kind.isRegular {
        paths.append(path)
      } else {
        reportSkipped(directoryName + "/" + path, kind)
      }
    }
  }

  private func reportSkipped(_ name: String, _ kind: FileKind) {
    reportSkipped(
      name, kind.isSymlink
        ? "is a symbolic link (rexstore never follows links below its roots)" : "is \(kind.description), not a regular file")
  }

  private func reportSkipped(_ name: String, _ why: String) {
    guard let skippedEntry, reportedSkips.insert(name).inserted else { return }
    skippedEntry("'\(name)' in the local object root \(why): left out of the listing")
  }

  /// Subdirectories (never links to one) under `prefix`; a link is reported as skipped.
  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    let directoryName = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    guard let dir = try directory(directoryName, create: false) else { return [] }
    let (names, notUTF8) = try dir.entriesSeparatingInvalidNames()
    for display in notUTF8 where !display.hasPrefix(".") {
      reportSkipped(directoryName + "/" + display, "has a name that is not valid UTF-8 (shown with \\x escapes; objects are named in UTF-8)")
    }
    return names
      .filter { name in
        guard !name.hasPrefix("."), let kind = try? dir.kind(name) else { return false }
        if kind.isSymlink { reportSkipped(directoryName + "/" + name, kind) }
        return kind.isDirectory
      }
      .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    try refuseReserved(name)
    let (directoryName, base) = LocalObjectStore.split(name)
    guard let dir = try directory(directoryName, create: false), let kind = try dir.kind(base) else { return false }
    if kind.isSymlink { throw FileSystem.symlinkRefused(path(name)) }
    if !kind.isRegular { throw notRegular(name, kind) }
    guard dir.unlink(base) else {
      if errno == ENOENT || errno == ENOTDIR { return false }
      throw systemError("cannot delete", path: path(name))
    }
    // The sidecar goes with the object, unless a concurrent put already linked a new one in its place.
    var replaced = true
    do throws(RexstoreError) { replaced = try dir.kind(base) != nil } catch {}
    if !replaced { dir.unlink(LocalObjectStore.sidecarName(for: base)) }
    dir.sync()
    return true
  }

  // MARK: groups

  /// Writes the new set into a dot-named staging directory, then swaps it with the live one in one
  /// `renameat2(RENAME_EXCHANGE)`; the old set stays in the staging name until `finish()`.
  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    let (parentName, liveName) = LocalObjectStore.split(directory)
    guard let parent = try self.directory(parentName, create: true) else {
      throw systemError("cannot create", path: path(parentName))
    }
    try checkGroup(parent, liveName, directory)
    let staging = FileSystem.temporaryName(for: liveName)
    guard mkdirat(parent.fd, staging, 0o700) == 0 else {
      throw systemError("cannot create", path: parent.path + "/" + staging).asCannotCreate
    }
    var infos: [ObjectInfo] = []
    do throws(RexstoreError) {
      guard let stage = try parent.child(staging, create: false) else {
        throw systemError("cannot open", path: parent.path + "/" + staging)
      }
      for member in members {
        let base = FileSystem.baseName(of: member.name)
        let written = try writeFile(in: stage, base, from: member.source, contentType: member.contentType)
        try writeSidecar(in: stage, for: base, adding: written.entry, keepOthers: false)
        infos.append(ObjectInfo(
          name: member.name, size: written.entry.size, md5: written.entry.md5, crc32c: written.entry.crc32c,
          contentType: member.contentType, backend: backend, updated: .now()))
      }
      stage.sync()
      // Held from the swap until finish() or undo(), i.e. across the caller's record commit, so two
      // stores of one profile cannot interleave swaps and commits (files of one, record of the other).
      let lock = try parent.lock(timeoutMilliseconds: lockTimeoutMilliseconds)
      let swapped: Bool
      do throws(RexstoreError) {
        swapped = try checkGroup(parent, liveName, directory)
        if swapped {
          guard parent.exchange(staging, liveName) else { throw systemError("cannot swap into", path: path(directory)) }
        } else {
          guard parent.rename(staging, to: liveName) else { throw systemError("cannot rename into", path: path(directory)) }
        }
      } catch {
        close(lock)
        throw error
      }
      parent.sync()
      return LocalGroupReplacement(
        objects: infos, parent: parent, liveName: liveName, previous: swapped ? staging : nil, lock: lock)
    } catch {
      parent.removeTree(staging)
      throw error
    }
  }

  /// Whether a group's directory exists; a link or a file in its place is refused.
  @discardableResult
  private func checkGroup(_ parent: DirectoryHandle, _ liveName: String, _ directory: String) throws(RexstoreError) -> Bool {
    guard let kind = try parent.kind(liveName) else { return false }
    if kind.isSymlink { throw FileSystem.symlinkRefused(path(directory)) }
    guard kind.isDirectory else { throw notRegular(directory, kind) }
    return true
  }

  public func repairGroup(
    directory: String, toMatch first: [ObjectInfo], reread: () throws(RexstoreError) -> [ObjectInfo]?
  ) throws(RexstoreError) -> Bool {
    let (parentName, liveName) = LocalObjectStore.split(directory)
    let parent = try self.directory(parentName, create: false)
    if holds(parent, liveName, first) { return false }
    guard let parent else { return true }
    // Stores hold this lock from their swap to their commit, so under it the record and the live
    // set are both settled: re-read the record, and repair only if they still disagree.
    let lock = try parent.lock(timeoutMilliseconds: lockTimeoutMilliseconds)
    defer { close(lock) }
    guard let expected = try reread(), !holds(parent, liveName, expected) else { return true }
    let live = try checkGroup(parent, liveName, directory)
    let prefix = FileSystem.temporaryPrefix(for: liveName)
    for name in try parent.entries() where name.hasPrefix(prefix) {
      guard (try? parent.kind(name))??.isDirectory == true, !FileSystem.temporaryWriterIsAlive(name),
        holds(parent, name, expected)
      else { continue }
      if live {
        guard parent.exchange(name, liveName) else { throw systemError("cannot swap into", path: path(directory)) }
        parent.sync()
        parent.removeTree(name)
      } else {
        guard parent.rename(name, to: liveName) else { throw systemError("cannot rename into", path: path(directory)) }
        parent.sync()
      }
      break
    }
    return true
  }

  /// Whether directory `name` in `parent` holds exactly the objects `expected` names, with their sizes
  /// and MD5s. A link in its place holds nothing.
  private func holds(_ parent: DirectoryHandle?, _ name: String, _ expected: [ObjectInfo]) -> Bool {
    guard let parent else { return expected.isEmpty }
    let found: DirectoryHandle?
    do throws(RexstoreError) {
      found = try parent.child(name, create: false)
    } catch {
      return false
    }
    guard let dir = found else { return expected.isEmpty && ((try? parent.kind(name)) ?? nil) == nil }
    guard let names = try? dir.entries().filter({ !$0.hasPrefix(".") }) else { return false }
    guard names.count == expected.count else { return false }
    for object in expected {
      let base = FileSystem.baseName(of: object.name)
      guard let opened = try? openObject(dir, base, name: object.name) else { return false }
      defer { close(opened.fd) }
      guard opened.kind.size == object.size else { return false }
      if let md5 = object.md5, let stored = recorded(fd: opened.fd, in: dir, base: base, inode: opened.kind.inode).md5,
        stored != md5
      {
        return false
      }
    }
    return true
  }

  public func deleteGroup(directory: String) throws(RexstoreError) -> Int {
    let (parentName, liveName) = LocalObjectStore.split(directory)
    guard let parent = try self.directory(parentName, create: false), try checkGroupIfPresent(parent, liveName, directory),
      let live = try parent.child(liveName, create: false)
    else { return 0 }
    let count = try live.entries().filter { !$0.hasPrefix(".") }.count
    // Move it aside first so readers never see a half-deleted set.
    let doomed = FileSystem.temporaryName(for: liveName)
    guard parent.rename(liveName, to: doomed) else { throw systemError("cannot delete", path: path(directory)) }
    parent.sync()
    parent.removeTree(doomed)
    return count
  }

  /// Like `checkGroup`, but a file in the directory's place is simply not a group (nothing to delete).
  private func checkGroupIfPresent(_ parent: DirectoryHandle, _ liveName: String, _ directory: String) throws(RexstoreError) -> Bool {
    guard let kind = try parent.kind(liveName) else { return false }
    if kind.isSymlink { throw FileSystem.symlinkRefused(path(directory)) }
    return kind.isDirectory
  }
}

final class LocalGroupReplacement: GroupReplacement {
  let objects: [ObjectInfo]
  let parent: DirectoryHandle
  let liveName: String
  /// Where the replaced set now sits, in `parent` (nil when there was none).
  let previous: String?
  /// The descriptor holding the directory lock; closing it releases the lock.
  let lock: Int32

  init(objects: [ObjectInfo], parent: DirectoryHandle, liveName: String, previous: String?, lock: Int32) {
    self.objects = objects
    self.parent = parent
    self.liveName = liveName
    self.previous = previous
    self.lock = lock
  }

  func finish() {
    defer { close(lock) }
    if let previous { parent.removeTree(previous) }
  }

  func undo() {
    defer { close(lock) }
    if let previous, parent.exchange(previous, liveName) {
      parent.sync()
      parent.removeTree(previous)
    } else {
      let doomed = FileSystem.temporaryName(for: liveName)
      if parent.rename(liveName, to: doomed) { parent.removeTree(doomed) }
      parent.sync()
    }
  }
}

extension FileSystem {
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
}
