import CSupport
import Glibc

/// Bytes read from a file descriptor (a file, or standard input) in bounded chunks.
public final class ByteSource {
  public let fd: Int32
  public let name: String
  private let owned: Bool

  /// Where reading began: stdin may be a file some earlier command already read part of.
  private let start: off_t

  public init(fd: Int32, name: String, owned: Bool) {
    self.fd = fd
    self.name = name
    self.owned = owned
    self.start = max(0, lseek(fd, 0, SEEK_CUR))
  }

  /// Opens a regular file, or standard input for `-`.
  public static func open(_ path: String) throws(RexstoreError) -> ByteSource {
    if path == "-" { return ByteSource(fd: 0, name: "<stdin>", owned: false) }
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError("cannot read", path: path) }
    if FileSystem.isDirectory(path) {
      Glibc.close(fd)
      throw RexstoreError(.noInput, "cannot read '\(path)': is a directory")
    }
    return ByteSource(fd: fd, name: path, owned: true)
  }

  deinit { if owned { Glibc.close(fd) } }

  /// Back to where reading began, for a second try elsewhere; false for a pipe or terminal.
  public func rewind() -> Bool { lseek(fd, start, SEEK_SET) == start }

  /// A seekable copy of a stream that cannot be rewound (a pipe), in an unlinked file under
  /// `directory`, so an upload that fails half-way can still be stored locally. Returns nil, having
  /// read nothing, when no spool file can be made there; a failure while copying is thrown, since
  /// the bytes read so far are gone from the stream.
  public func spooled(in directory: String) throws(RexstoreError) -> ByteSource? {
    if lseek(fd, 0, SEEK_CUR) >= 0 { return self }
    guard (try? FileSystem.makeDirectories(directory)) != nil else { return nil }
    let path = directory + "/" + FileSystem.temporaryName(for: "spool")
    let copy = Glibc.open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
    guard copy >= 0 else { return nil }
    unlink(path)
    let spool = ByteSource(fd: copy, name: name, owned: true)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileSystem.copyBufferSize, alignment: 4096)
    defer { buffer.deallocate() }
    while true {
      let n = try read(into: buffer)
      if n == 0 { break }
      try FileSystem.writeAll(copy, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), name: path)
    }
    lseek(copy, 0, SEEK_SET)
    return spool
  }

  /// Reads up to `buffer.count` bytes; 0 at the end.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int {
    while true {
      let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
      if n >= 0 { return n }
      if errno != EINTR { throw systemError("cannot read", path: name) }
    }
  }
}

/// Where downloaded bytes go.
public protocol ByteSink: AnyObject {
  func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError)
}

/// Writes every byte to a file that will be fsynced, retrying short writes and starting writeback of
/// each 8 MiB as it is written, so disk writes overlap the copy instead of all waiting for the fsync.
public final class DescriptorSink: ByteSink {
  public let fd: Int32
  public let name: String
  private var written: Int64 = 0
  private var started: Int64 = 0
  static let writebackStep: Int64 = 8 << 20

  public init(fd: Int32, name: String) {
    self.fd = fd
    self.name = name
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    try FileSystem.writeAll(fd, bytes, name: name)
    written += Int64(bytes.count)
    if written - started >= DescriptorSink.writebackStep {
      rexstore_start_writeback(fd, started, written - started)
      started = written
    }
  }
}

extension FileSystem {
  /// The size of the buffer every stream copy uses: large enough for full-speed I/O, small enough
  /// that a 1 GiB object moves in a few MiB of memory.
  public static let copyBufferSize = 1 << 20

  public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, name: String) throws(RexstoreError) {
    var offset = 0
    while offset < bytes.count {
      let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot write", path: name)
      }
      offset += n
    }
  }

  /// A name no other process or call will pick: `.{base}.rexstore-tmp-{pid}-{n}`. The marker lets
  /// `health` find what a killed process left behind.
  public static func temporaryName(for base: String) -> String {
    // Batch workers name temporaries concurrently: the counter is taken under a lock.
    let n = counterLock.locked { () -> Int in
      counter += 1
      return counter
    }
    let random = rexstore_random32()
    return temporaryPrefix(for: base) + "\(getpid())-\(n)-\(String(random, radix: 36))"
  }

  /// `.{base}.rexstore-tmp-`, the base cut to 100 bytes (on a character boundary) so that a 255-byte
  /// name still leaves a temporary name under the file system's 255-byte limit.
  public static func temporaryPrefix(for base: String) -> String {
    var short = ""
    for character in base {
      if short.utf8.count + character.utf8.count > 100 { break }
      short.append(character)
    }
    return ".\(short)\(temporaryMarker)"
  }

  /// Whether the process that named a temporary file is still running (its pid follows the marker):
  /// a live writer's temporary file is work in progress, not a leftover.
  public static func temporaryWriterIsAlive(_ name: String) -> Bool {
    var rest = Substring(name)
    while !rest.isEmpty, !rest.hasPrefix(temporaryMarker) { rest = rest.dropFirst() }
    guard !rest.isEmpty else { return false }
    let digits = rest.dropFirst(temporaryMarker.count).prefix { $0 != "-" }
    guard let pid = Int32(digits), pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
  }

  public static let temporaryMarker = ".rexstore-tmp-"
  nonisolated(unsafe) private static var counter = 0
  private static let counterLock = Mutex()

  public static func baseName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }
}
