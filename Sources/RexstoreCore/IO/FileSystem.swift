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

  public static func isDirectory(_ path: String) -> Bool { isDirectory(FilePathBytes(path)) }

  public static func isDirectory(_ path: FilePathBytes) -> Bool {
    var st = stat()
    return stat(path.cString, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  public static func fileSize(_ path: String) -> Int64? { fileSize(FilePathBytes(path)) }

  public static func fileSize(_ path: FilePathBytes) -> Int64? {
    var st = stat()
    guard stat(path.cString, &st) == 0 else { return nil }
    return Int64(st.st_size)
  }

  /// `mkdir -p` with mode 0700 for every directory it creates; existing ones are left as they are.
  public static func makeDirectories(_ path: String) throws(RexstoreError) {
    try makeDirectories(FilePathBytes(path))
  }

  /// `mkdir -p` of a path given as bytes (a user's `-o DIR`).
  public static func makeDirectories(_ path: FilePathBytes) throws(RexstoreError) {
    if path.isEmpty || isDirectory(path) { return }
    let parentPath = path.parent
    if parentPath != path { try makeDirectories(parentPath) }
    if mkdir(path.cString, 0o700) != 0, errno != EEXIST {
      throw systemError("cannot create directory", path: path)
    }
  }

  /// Fsyncs a directory so a rename or create inside it survives a crash.
  public static func syncDirectory(_ path: String) { syncDirectory(FilePathBytes(path)) }

  public static func syncDirectory(_ path: FilePathBytes) {
    let fd = open(path.cString, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
  }
}

extension FileSystem {
  /// The names in a directory given as bytes, without `.` and `..`, read as text (a name that is
  /// not UTF-8 comes back with U+FFFD and so names nothing: callers only look for their own
  /// temporaries, whose names are text). Empty when the directory is missing.
  public static func entries(of directory: FilePathBytes) throws(RexstoreError) -> [String] {
    guard let dir = opendir(directory.cString) else {
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
