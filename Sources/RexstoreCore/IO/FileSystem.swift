import Glibc

/// Small POSIX helpers; the core stays free of Foundation to keep start-up short.
public enum FileSystem {
  public static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
  }

  /// `path` made absolute against `directory` (a relative path given on the command line or in the
  /// environment is relative to the working directory).
  public static func absolute(_ path: String, in directory: String) -> String {
    path.hasPrefix("/") ? path : (directory == "/" ? "" : directory) + "/" + path
  }

  public static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  public static func fileSize(_ path: String) -> Int64? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Int64(st.st_size)
  }

  /// `mkdir -p` with mode 0700 for every directory it creates; existing ones are left as they are.
  public static func makeDirectories(_ path: String) throws(RexstoreError) {
    if path.isEmpty || isDirectory(path) { return }
    let parentPath = parent(of: path)
    if parentPath != path { try makeDirectories(parentPath) }
    if mkdir(path, 0o700) != 0, errno != EEXIST {
      throw systemError("cannot create directory", path: path)
    }
  }

  /// Fsyncs a directory so a rename or create inside it survives a crash.
  public static func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
  }
}

extension FileSystem {
  /// Reads a small text file (a config file) whole; refuses anything over `limit` bytes.
  public static func readSmallFile(_ path: String, limit: Int) throws(RexstoreError) -> String {
    // A FIFO or device given as a config file would block or never end: regular files only.
    let fd = try openRegularInput(path)
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot read", path: path)
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
      if bytes.count > limit { throw RexstoreError(.invalidInput, "'\(path)' is larger than \(limit) bytes") }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
