import CSupport
import Glibc

/// Writes a download to `path` so that it never leaves a partial or clobbered file: the bytes go to
/// a temporary file beside `path`, which replaces it only after the backend verified the checksums
/// and the file is fsynced. On any failure the temporary file is removed and `path` is untouched.
///
/// Only regular files are ever replaced. An existing character device or FIFO at `path` (`/dev/null`,
/// `/dev/stdout`, a named pipe) is written into instead, like a shell redirection: those bytes are
/// gone once written, so a damaged object is reported (74) after them unless the backend could
/// verify first. A symbolic link to a regular file is followed: the file it names is replaced
/// atomically and the link stays. A directory, a block device, a socket or a dangling link is
/// refused (73). `path` is the user's, as bytes: it reaches the file system unchanged.
public enum FileDownload {
  /// What writing to a path means.
  enum Destination: Equatable {
    /// Replace (or create) this regular file atomically: the path itself, or what its link names.
    case replace(FilePathBytes)
    /// Stream into the existing device or FIFO.
    case stream
  }

  static func destination(_ path: FilePathBytes) throws(RexstoreError) -> Destination {
    var st = stat()
    guard lstat(path.cString, &st) == 0 else {
      if errno == ENOENT { return .replace(path) }
      throw systemError("cannot create", path: path).asCannotCreate
    }
    var kind = FileKind(st)
    if kind.isRegular { return .replace(path) }
    if kind.isSymlink {
      guard stat(path.cString, &st) == 0 else {
        throw RexstoreError(.cannotCreate, "cannot create '\(path)': it is a symbolic link to nothing; not replaced")
      }
      kind = FileKind(st)
      if kind.isRegular {
        guard let resolved = realpath(path.cString, nil) else { throw systemError("cannot resolve", path: path).asCannotCreate }
        defer { free(resolved) }
        return .replace(FilePathBytes(cString: resolved))
      }
    }
    switch kind.mode {
    case S_IFCHR, S_IFIFO: return .stream
    case S_IFDIR: throw RexstoreError(.cannotCreate, "'\(path)' is a directory")
    default:
      throw RexstoreError(
        .cannotCreate, "cannot write to '\(path)': it is \(kind.description); only regular files are replaced, "
          + "and only character devices and FIFOs are written into")
    }
  }

  /// Re-checked just before a rename: something other than a regular file put at `path` meanwhile is
  /// never replaced.
  static func stillReplaceable(_ path: FilePathBytes) -> Bool {
    var st = stat()
    return lstat(path.cString, &st) != 0 ? errno == ENOENT : FileKind(st).isRegular
  }

  public static func write(
    to path: FilePathBytes, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> ObjectInfo? {
    guard case .replace(let target) = try destination(path) else { return try stream(into: path, body) }
    let directory = target.parent
    guard FileSystem.isDirectory(directory) else {
      throw RexstoreError(.cannotCreate, "cannot create '\(path)': no directory '\(directory)'")
    }
    sweep(directory)
    let temp = directory + "/" + FileSystem.temporaryName(for: target.baseName.display)
    let fd = open(temp.cString, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: temp).asCannotCreate }
    var closed = false
    do throws(RexstoreError) {
      guard let info = try body(DescriptorSink(fd: fd, name: path.display, direct: true)) else {
        close(fd)
        closed = true
        unlink(temp.cString)
        return nil
      }
      guard fsync(fd) == 0 else { throw systemError("cannot sync", path: temp) }
      close(fd)
      closed = true
      guard stillReplaceable(target) else {
        throw RexstoreError(.cannotCreate, "'\(path)' is no longer a regular file; not replaced")
      }
      guard rename(temp.cString, target.cString) == 0 else { throw systemError("cannot rename into", path: path).asCannotCreate }
      FileSystem.syncDirectory(directory)
      return info
    } catch {
      if !closed { close(fd) }
      unlink(temp.cString)
      throw error
    }
  }

  /// Removes dead downloads' temporaries from `directory` (once per process), as the next writer there.
  static func sweep(_ directory: FilePathBytes) {
    guard sweptLock.locked({ swept.insert(directory).inserted }),
      let handle = try? DirectoryHandle.root(directory, create: false)
    else { return }
    FileSystem.sweepAbandonedTemporaries(in: handle)
  }

  nonisolated(unsafe) private static var swept: Set<FilePathBytes> = []
  private static let sweptLock = Mutex()

  /// Writes into an existing device or FIFO: opened for writing without creating or truncating.
  static func stream(
    into path: FilePathBytes, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> ObjectInfo? {
    let fd = open(path.cString, O_WRONLY | O_NOCTTY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError("cannot write to", path: path).asCannotCreate }
    var st = stat()
    guard fstat(fd, &st) == 0, FileKind(st).mode == S_IFCHR || FileKind(st).mode == S_IFIFO else {
      close(fd)
      throw RexstoreError(.cannotCreate, "'\(path)' changed while it was opened; nothing written")
    }
    do throws(RexstoreError) {
      let info = try body(DescriptorSink(fd: fd, name: path.display, discardsOnFailure: false))
      guard close(fd) == 0 || errno == EINTR else { throw systemError("cannot write to", path: path) }
      return info
    } catch {
      close(fd)
      throw error
    }
  }
}

extension FileDownload {
  /// A verified download in its temporary file (still open), not yet durable nor in place.
  public struct Pending: Sendable {
    public var temporary: FilePathBytes
    public var path: FilePathBytes
    public var info: ObjectInfo
    /// Kept open until the commit, whose fsync then reports this file's own write errors.
    var fd: Int32
    /// When it was opened, in this process's order: the commit syncs through the earliest.
    var opened: Int = 0
  }

  nonisolated(unsafe) private static var openedCount = 0
  private static let openedLock = Mutex()

  /// Whether `syncfs` reports writeback errors (Linux 5.8 and later: every error on the file system
  /// since the descriptor it is given was opened); before that it reports nothing.
  static let syncfsReportsErrors: Bool = {
    var names = utsname()
    guard uname(&names) == 0 else { return false }
    let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
    guard parts.count == 2 else { return false }
    return parts[0] > 5 || (parts[0] == 5 && parts[1] >= 8)
  }()

  /// Like `write`, but stops before the fsync and the rename: a batch makes its files durable
  /// together (`commit`), instead of one journal commit per file. Only an absent path or a regular
  /// file is written (a link, device or FIFO of the same name in the directory is refused, 73).
  public static func writePending(
    to path: FilePathBytes, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> Pending? {
    var st = stat()
    if lstat(path.cString, &st) == 0, !FileKind(st).isRegular {
      throw RexstoreError(
        .cannotCreate, "'\(path)' is \(FileKind(st).description); a batch get only replaces regular files")
    }
    let directory = path.parent
    sweep(directory)
    let temp = directory + "/" + FileSystem.temporaryName(for: path.baseName.display)
    let fd = open(temp.cString, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: temp).asCannotCreate }
    do throws(RexstoreError) {
      guard let info = try body(DescriptorSink(fd: fd, name: path.display, direct: true)) else {
        close(fd)
        unlink(temp.cString)
        return nil
      }
      let opened = openedLock.locked { () -> Int in
        openedCount += 1
        return openedCount
      }
      return Pending(temporary: temp, path: path, info: info, fd: fd, opened: opened)
    } catch {
      close(fd)
      unlink(temp.cString)
      throw error
    }
  }

  /// Makes the pending files durable and renames each into place, then syncs `directory` once.
  /// One `syncfs` writes them all back in a single journal commit. It is called on the descriptor
  /// opened first, so on Linux 5.8 and later its success means no file of the wave met a writeback
  /// error (each was opened, hence written, after that descriptor sampled the file system's error
  /// state), and no file needs an `fsync` of its own: on ext4 each such fsync still costs a journal
  /// round trip (about 1 ms; 1 s of a 1000-file batch, measured with strace). When `syncfs` fails,
  /// or on an older kernel, each file's own `fsync` decides, so a write error keeps only that file
  /// out. `close` is checked either way. Returns, per pending file, nil or the error that kept it out.
  public static func commit(_ pending: [Pending], in directory: FilePathBytes) -> [RexstoreError?] {
    guard !pending.isEmpty else { return [] }
    let earliest = pending.min { $0.opened < $1.opened }!
    let syncedAll = rexstore_syncfs(earliest.fd) == 0 && syncfsReportsErrors
    let results: [RexstoreError?] = pending.map { file in
      let synced = syncedAll || fsync(file.fd) == 0
      let closed = close(file.fd) == 0
      guard synced, closed else {
        unlink(file.temporary.cString)
        return systemError("cannot write", path: file.path)
      }
      guard stillReplaceable(file.path) else {
        unlink(file.temporary.cString)
        return RexstoreError(.cannotCreate, "'\(file.path)' is no longer a regular file; not replaced")
      }
      guard rename(file.temporary.cString, file.path.cString) == 0 else {
        let error = systemError("cannot rename into", path: file.path).asCannotCreate
        unlink(file.temporary.cString)
        return error
      }
      return nil
    }
    FileSystem.syncDirectory(directory)
    return results
  }
}
