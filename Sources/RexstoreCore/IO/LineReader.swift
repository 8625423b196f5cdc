import Glibc

/// Reads a file descriptor line by line with one reusable buffer, so memory stays flat however long
/// the input is. Lines are handed out as byte buffers valid only during the callback.
public struct LineReader {
  private let fd: Int32
  private let name: String

  public init(fd: Int32, name: String) {
    self.fd = fd
    self.name = name
  }

  /// Opens `path` for reading, or standard input for `-`.
  public static func open(_ path: String) throws(RexstoreError) -> LineReader {
    if path == "-" { return LineReader(fd: 0, name: "<stdin>") }
    return LineReader(fd: try FileSystem.openRegularInput(path), name: path)
  }

  /// The same for a path given as bytes (passed to the file system unchanged).
  public static func open(_ path: FilePathBytes) throws(RexstoreError) -> LineReader {
    if path.bytes == [UInt8(ascii: "-")] { return LineReader(fd: 0, name: "<stdin>") }
    return LineReader(fd: try FileSystem.openRegularInput(path), name: path.display)
  }

  /// Copies standard input into an unlinked temporary file in `directory` and reads from that, so a
  /// slow pipe is drained before the import takes the database's write lock, not while holding it.
  public static func spoolingStandardInput(in directory: String) throws(RexstoreError) -> LineReader {
    // With stdin closed, the spool file itself would become descriptor 0 and read back as empty input.
    guard fcntl(0, F_GETFD) != -1 else { throw RexstoreError(.noInput, "standard input is closed") }
    try FileSystem.makeDirectories(directory)
    let path = directory + "/" + FileSystem.temporaryName(for: "import")
    let fd = Glibc.open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw systemError("cannot create", path: path).asCannotCreate }
    unlink(path)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileSystem.copyBufferSize, alignment: 4096)
    defer { buffer.deallocate() }
    let input = ByteSource(fd: 0, name: "<stdin>", owned: false)
    do throws(RexstoreError) {
      while true {
        let n = try input.read(into: buffer)
        if n == 0 { break }
        try FileSystem.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), name: path)
      }
    } catch {
      Glibc.close(fd)
      throw error
    }
    lseek(fd, 0, SEEK_SET)
    return LineReader(fd: fd, name: "<stdin>")
  }

  public func close() {
    if fd != 0 { Glibc.close(fd) }
  }

  /// Calls `body` with each line (without its `\n` or a trailing `\r`) and its 1-based number.
  public func forEachLine(
    _ body: (UnsafeBufferPointer<UInt8>, Int) throws(RexstoreError) -> Void
  ) throws(RexstoreError) {
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var filled = 0
    var lineNumber = 0
    func emit(_ all: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) throws(RexstoreError) {
      var lineEnd = end
      if lineEnd > start, all[lineEnd - 1] == 0x0D { lineEnd -= 1 }
      lineNumber += 1
      try body(UnsafeBufferPointer(rebasing: all[start..<lineEnd]), lineNumber)
    }
    while true {
      if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
      let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + filled, raw.count - filled) }
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot read", path: name)
      }
      if n == 0 {
        // A last line without a newline still counts.
        if filled > 0 {
          try buffer.withUnsafeBufferPointer { all throws(RexstoreError) in try emit(all, 0, filled) }
        }
        return
      }
      let scanFrom = filled
      filled += n
      var consumed = 0
      try buffer.withUnsafeBufferPointer { all throws(RexstoreError) in
        var start = 0
        var cursor = scanFrom
        while let newline = UnsafeBufferPointer(rebasing: all[cursor..<filled]).firstIndex(of: 0x0A) {
          let end = cursor + newline
          try emit(all, start, end)
          start = end + 1
          cursor = start
        }
        consumed = start
      }
      if consumed > 0 {
        buffer.withUnsafeMutableBytes { raw in
          let base = raw.baseAddress!
          memmove(base, base + consumed, filled - consumed)
        }
        filled -= consumed
      }
    }
  }

  /// `forEachLine` for text: a line that is not valid UTF-8 is refused (`invalid_input`, naming the line
  /// and the byte offset) before `body` sees it, never decoded with U+FFFD replacements.
  public func forEachTextLine(
    _ body: (UnsafeBufferPointer<UInt8>, Int) throws(RexstoreError) -> Void
  ) throws(RexstoreError) {
    try forEachLine { line, number throws(RexstoreError) in
      if let bad = UTF8Check.firstInvalidOffset(line) {
        throw RexstoreError.invalidInput("line \(number): not valid UTF-8 (byte \(bad + 1) of the line)")
      }
      try body(line, number)
    }
  }
}
