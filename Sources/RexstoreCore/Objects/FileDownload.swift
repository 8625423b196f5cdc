import CSupport
import Glibc

/// Writes a download to `path` so that it never leaves a partial or clobbered file: the bytes go to
/// a temporary file beside `path`, which replaces it only after the backend verified the checksums
/// and the file is fsynced. On any failure the temporary file is removed and `path` is untouched.
public enum FileDownload {
  public static func write(
    to path: String, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> ObjectInfo? {
    if FileSystem.isDirectory(path) { throw RexstoreError(.cannotCreate, "'\(path)' is a directory") }
    let directory = FileSystem.parent(of: path)
    guard FileSystem.isDirectory(directory) else {
      throw RexstoreError(.cannotCreate, "cannot create '\(path)': no directory '\(directory)'")
    }
    let temp = directory + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: path))
    let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: temp).asCannotCreate }
    var closed = false
    do throws(RexstoreError) {
      guard let info = try body(DescriptorSink(fd: fd, name: path)) else {
        close(fd)
        closed = true
        unlink(temp)
        return nil
      }
      guard fsync(fd) == 0 else { throw systemError("cannot sync", path: temp) }
      close(fd)
      closed = true
      guard rename(temp, path) == 0 else { throw systemError("cannot rename into", path: path).asCannotCreate }
      FileSystem.syncDirectory(directory)
      return info
    } catch {
      if !closed { close(fd) }
      unlink(temp)
      throw error
    }
  }
}

extension FileDownload {
  /// A verified download in its temporary file (still open), not yet durable nor in place.
  public struct Pending: Sendable {
    public var temporary: String
    public var path: String
    public var info: ObjectInfo
    /// Kept open until the commit, whose fsync then reports this file's own write errors.
    var fd: Int32
  }

  /// Like `write`, but stops before the fsync and the rename: a batch makes its files durable
  /// together (`commit`), instead of one journal commit per file.
  public static func writePending(
    to path: String, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> Pending? {
    if FileSystem.isDirectory(path) { throw RexstoreError(.cannotCreate, "'\(path)' is a directory") }
    let directory = FileSystem.parent(of: path)
    let temp = directory + "/" + FileSystem.temporaryName(for: FileSystem.baseName(of: path))
    let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: temp).asCannotCreate }
    do throws(RexstoreError) {
      guard let info = try body(DescriptorSink(fd: fd, name: path)) else {
        close(fd)
        unlink(temp)
        return nil
      }
      return Pending(temporary: temp, path: path, info: info, fd: fd)
    } catch {
      close(fd)
      unlink(temp)
      throw error
    }
  }

  /// Makes the pending files durable and renames each into place, then syncs `directory` once.
  /// One `syncfs` first writes them all back in a single journal commit; each file's own `fsync`
  /// (then cheap) and `close` still decide, so a write error anywhere keeps that file out. Returns,
  /// per pending file, nil or the error that kept it out.
  public static func commit(_ pending: [Pending], in directory: String) -> [RexstoreError?] {
    guard !pending.isEmpty else { return [] }
    _ = rexstore_syncfs(pending[0].fd)
    let results: [RexstoreError?] = pending.map { file in
      let synced = fsync(file.fd) == 0
      let closed = close(file.fd) == 0
      guard synced, closed else {
        unlink(file.temporary)
        return systemError("cannot write", path: file.path)
      }
      guard rename(file.temporary, file.path) == 0 else {
        let error = systemError("cannot rename into", path: file.path).asCannotCreate
        unlink(file.temporary)
        return error
      }
      return nil
    }
    FileSystem.syncDirectory(directory)
    return results
  }
}
