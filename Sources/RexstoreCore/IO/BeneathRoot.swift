import CSupport
import Glibc

/// An open directory at or below a root, reached without following any symbolic link below the root.
///
/// The root itself is opened by path (it may be a link, resolved once); everything under it is reached
/// through `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has it, else one
/// `openat(O_NOFOLLOW | O_DIRECTORY)` per path segment, and every operation on a name inside is a
/// `*at` call relative to this descriptor. A link met on the way is refused (`symlinkRefused`), never
/// followed, never deleted through.
public final class DirectoryHandle {
  public let fd: Int32
  /// The path this handle was reached by, for messages only.
  public let path: String

  init(fd: Int32, path: String) {
    self.fd = fd
    self.path = path
  }

  deinit { close(fd) }

  /// Opens a root directory (following links: the root may be one); nil when absent and not `create`.
  public static func root(_ path: String, create: Bool) throws(RexstoreError) -> DirectoryHandle? {
    try root(FilePathBytes(path), create: create)
  }

  /// The same for a directory given as bytes (a user's `-o DIR`); `path` keeps its display form.
  public static func root(_ bytes: FilePathBytes, create: Bool) throws(RexstoreError) -> DirectoryHandle? {
    let path = bytes.display
    var fd = Glibc.open(bytes.cString, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd < 0, errno == ENOENT, create {
      try FileSystem.makeDirectories(bytes)
      fd = Glibc.open(bytes.cString, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
    guard fd >= 0 else {
      if errno == ENOENT && !create { return nil }
      if errno == ENOTDIR { throw RexstoreError(create ? .cannotCreate : .noInput, "'\(path)' is not a directory") }
      throw create ? systemError("cannot create directory", path: path).asCannotCreate : systemError("cannot open", path: path)
    }
    return DirectoryHandle(fd: fd, path: path)
  }

  /// Whether openat2 is worth trying (cleared after the first ENOSYS or a seccomp refusal; tests
  /// clear it to exercise the per-segment walk).
  nonisolated(unsafe) static var openat2Works = true

  /// Opens `relative` (segments joined by `/`, no `.`/`..`) below this directory; nil when a segment is
  /// absent (or not a directory) and not `create`. With `create`, missing segments are made 0700.
  public func descend(_ relative: String, create: Bool) throws(RexstoreError) -> DirectoryHandle? {
    let segments = relative.split(separator: "/").map(String.init)
    if segments.isEmpty { return try child(".", create: false) }
    if DirectoryHandle.openat2Works {
      let fd = rexstore_openat2_beneath(self.fd, relative, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
      if fd >= 0 { return DirectoryHandle(fd: fd, path: path + "/" + relative) }
      if errno == ENOSYS || errno == EPERM || errno == EINVAL || errno == E2BIG { DirectoryHandle.openat2Works = false }
      // Any other failure: the walk below names the segment and decides (create, refuse, absent).
    }
    var current = self
    for segment in segments {
      guard let next = try current.child(segment, create: create) else { return nil }
      current = next
    }
    return current
  }

  /// Opens the directory `name` inside this one without following a link; nil when absent (or not a
  /// directory) and not `create`.
  public func child(_ name: String, create: Bool) throws(RexstoreError) -> DirectoryHandle? {
    let full = name == "." ? path : path + "/" + name
    var fd = rexstore_openat(self.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
    if fd < 0, errno == ENOENT, create {
      if mkdirat(self.fd, name, 0o700) != 0, errno != EEXIST {
        throw systemError("cannot create directory", path: full).asCannotCreate
      }
      fd = rexstore_openat(self.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
    }
    guard fd >= 0 else {
      let err = errno
      if err == ELOOP || ((err == ENOTDIR) && rexstore_is_symlink_at(self.fd, name) == 1) {
        throw FileSystem.symlinkRefused(full)
      }
      if err == ENOENT || err == ENOTDIR {
        if !create { return nil }
        throw RexstoreError(.cannotCreate, "cannot create directory '\(full)': a file of that name is in the way")
      }
      throw create ? systemError("cannot create directory", path: full, errno: err).asCannotCreate
        : systemError("cannot open", path: full, errno: err)
    }
    return DirectoryHandle(fd: fd, path: full)
  }

  /// What `name` is, without following a link; nil when absent.
  public func kind(_ name: String) throws(RexstoreError) -> FileKind? {
    var st = stat()
    guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
      if errno == ENOENT || errno == ENOTDIR { return nil }
      throw systemError("cannot stat", path: path + "/" + name)
    }
    return FileKind(st)
  }

  /// Opens a file inside, never following a link (`O_NOFOLLOW` is always added).
  public func open(_ name: String, _ flags: Int32, mode: mode_t = 0o600) -> Int32 {
    rexstore_openat(fd, name, flags | O_NOFOLLOW | O_CLOEXEC, UInt32(mode))
  }

  /// The names inside (without `.` and `..`).
  public func entries() throws(RexstoreError) -> [String] {
    try readEntries().map(\.name)
  }

  /// The entries whose names are valid UTF-8 (the only ones an object or profile can be named by),
  /// and apart from them the display form (`\xFF`) of each name that is not: such a name, decoded
  /// with U+FFFD, could spell another entry that really exists under that name.
  public func entriesSeparatingInvalidNames() throws(RexstoreError) -> (names: [String], notUTF8: [String]) {
    var names: [String] = []
    var notUTF8: [String] = []
    for entry in try readEntries() {
      if entry.valid { names.append(entry.name) } else { notUTF8.append(entry.display) }
    }
    return (names, notUTF8)
  }

  private func readEntries() throws(RexstoreError) -> [(name: String, valid: Bool, display: String)] {
    let copy = dup(fd)
    guard copy >= 0, let dir = fdopendir(copy) else {
      if copy >= 0 { close(copy) }
      throw systemError("cannot list", path: path)
    }
    defer { closedir(dir) }
    rewinddir(dir)
    var names: [(name: String, valid: Bool, display: String)] = []
    while let entry = readdir(dir) {
      let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
      if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
      if let name = String(validating: bytes, as: UTF8.self) {
        names.append((name, true, name))
      } else {
        names.append((String(decoding: bytes, as: UTF8.self), false, FilePathBytes(bytes: bytes).display))
      }
    }
    return names
  }

  @discardableResult
  public func unlink(_ name: String, directory: Bool = false) -> Bool {
    unlinkat(fd, name, directory ? AT_REMOVEDIR : 0) == 0
  }

  public func rename(_ from: String, to: String) -> Bool { renameat(fd, from, fd, to) == 0 }

  /// link(2) inside this directory: fails with EEXIST rather than replace, never follows `from`.
  public func link(_ from: String, to: String) -> Bool { linkat(fd, from, fd, to, 0) == 0 }

  /// Swaps two names atomically (`renameat2(RENAME_EXCHANGE)`).
  public func exchange(_ a: String, _ b: String) -> Bool { rexstore_exchangeat(fd, a, b) == 0 }

  public func sync() { fsync(fd) }

  /// An exclusive `flock` on this directory through a descriptor of its own; close it to release.
  /// Waits at most `timeoutMilliseconds`, then fails with `busy` (75).
  public func lock(timeoutMilliseconds: Int) throws(RexstoreError) -> Int32 {
    let own = rexstore_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    guard own >= 0 else { throw systemError("cannot lock", path: path) }
    let deadline = DossierDirectory.monotonicMilliseconds() + Int64(timeoutMilliseconds)
    var pause: UInt32 = 2_000
    while flock(own, LOCK_EX | LOCK_NB) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else {
        close(own)
        throw systemError("cannot lock", path: path)
      }
      if DossierDirectory.monotonicMilliseconds() >= deadline {
        close(own)
        throw RexstoreError(
          .busy, "'\(path)' stayed locked by another writer past the busy timeout (\(timeoutMilliseconds) ms)",
          hint: "retry later, or raise --busy-timeout")
      }
      usleep(pause)
      pause = min(pause * 2, 50_000)
    }
    return own
  }

  /// Removes the directory `name` inside and the entries in it, one level (sample sets are flat),
  /// without following any link: a link inside is removed as a link, never through.
  public func removeTree(_ name: String) {
    if let inner = try? child(name, create: false) {
      for entry in (try? inner.entries()) ?? [] where !inner.unlink(entry) {
        if errno == EISDIR { inner.unlink(entry, directory: true) }
      }
    }
    unlink(name, directory: true)
  }
}

/// What a directory entry is, as `fstatat(AT_SYMLINK_NOFOLLOW)` says.
public struct FileKind {
  public var mode: mode_t
  public var size: Int64
  public var inode: UInt64
  public var modified: Timestamp

  init(_ st: stat) {
    mode = st.st_mode & S_IFMT
    size = Int64(st.st_size)
    inode = UInt64(st.st_ino)
    modified = Timestamp(microseconds: Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1_000)
  }

  public var isRegular: Bool { mode == S_IFREG }
  public var isDirectory: Bool { mode == S_IFDIR }
  public var isSymlink: Bool { mode == S_IFLNK }

  /// "a FIFO", "a character device", ... for messages.
  public var description: String {
    switch mode {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a directory"
    case S_IFLNK: return "a symbolic link"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "not a regular file"
    }
  }
}

extension FileSystem {
  /// Removes the temporary files in `dir` whose writers are gone (`temporaryIsAbandoned`). Never
  /// directories: a profile's staging directory may hold the set `repairGroup` restores, so those are
  /// left to it (and to `fsck`).
  public static func sweepAbandonedTemporaries(in dir: DirectoryHandle) {
    for name in (try? dir.entries()) ?? [] where name.hasPrefix(".") && name.contains(temporaryMarker) {
      guard let kind = try? dir.kind(name), kind.isRegular else { continue }
      if temporaryIsAbandoned(name, modified: kind.modified) { dir.unlink(name) }
    }
  }

  /// The refusal for a link met below a root (exit 65, `invalid_input`).
  public static func symlinkRefused(_ path: String) -> RexstoreError {
    RexstoreError(
      .invalidInput, "'\(path)' is a symbolic link inside the object root; rexstore never follows links below its roots",
      hint: "remove the link or replace it with a real directory or file (the root itself may be a link)")
  }

  /// Opens an input file for reading: `path` must be a regular file (a FIFO, device, socket or
  /// directory is refused with `no_input` before anything is read, and opening never blocks).
  public static func openRegularInput(_ path: String) throws(RexstoreError) -> Int32 {
    try openRegularInput(FilePathBytes(path))
  }

  /// The same for a path given as bytes (a user's FILE or SAMPLE, passed through unchanged).
  public static func openRegularInput(_ path: FilePathBytes) throws(RexstoreError) -> Int32 {
    var st = stat()
    if stat(path.cString, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
      throw notRegular(path, FileKind(st))
    }
    let fd = open(path.cString, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError("cannot read", path: path) }
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw notRegular(path, FileKind(st))
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
  }

  static func notRegular(_ path: FilePathBytes, _ kind: FileKind) -> RexstoreError {
    if kind.isDirectory { return RexstoreError(.noInput, "cannot read '\(path)': is a directory") }
    return RexstoreError(
      .noInput, "cannot read '\(path)': is not a regular file (\(kind.description))",
      hint: "input files must be regular files; use - to read standard input")
  }
}
