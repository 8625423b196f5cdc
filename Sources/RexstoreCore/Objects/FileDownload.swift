import Glibc

/// Writes a download to `path` so that it never leaves a partial or clobbered file: the bytes go to
/// a temporary file beside `path`, which replaces it only after the backend verified the checksums
/// and the file is fsynced. On any failure the temporary file is removed and `path` is untouched.
public enum FileDownload {
  /// `syncDirectory: false` leaves the directory's fsync to the caller (a batch syncs it once).
  public static func write(
    to path: String, syncDirectory: Bool = true, _ body: (any ByteSink) throws(RexstoreError) -> ObjectInfo?
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
      if syncDirectory { FileSystem.syncDirectory(directory) }
      return info
    } catch {
      if !closed { close(fd) }
      unlink(temp)
      throw error
    }
  }
}
