import CSupport
import Glibc

/// Bytes read from a file descriptor (a file, or standard input) in bounded chunks.
public final class ByteSource {
  public let fd: Int32
  public let name: String
  private let owned: Bool

  /// Where reading began: stdin may be a file some earlier command already read part of.
  private let start: off_t

  /// Set for the one source of a single transfer on a terminal: each read reports the bytes read since
  /// `start` (`Progress.bytes`), against the file's size when it is a regular file.
  public var reportsProgress = false
  private var consumed: Int64 = 0

  public init(fd: Int32, name: String, owned: Bool) {
    self.fd = fd
    self.name = name
    self.owned = owned
    self.start = max(0, lseek(fd, 0, SEEK_CUR))
  }

  /// Opens a regular file (anything else is `no_input`, see `FileSystem.openRegularInput`), or
  /// standard input for `-`.
  public static func open(_ path: String) throws(RexstoreError) -> ByteSource {
    if path == "-" { return ByteSource(fd: 0, name: "<stdin>", owned: false) }
    return ByteSource(fd: try FileSystem.openRegularInput(path), name: path, owned: true)
  }

  /// The same for a path given as bytes (passed to the file system unchanged; `name` is its display form).
  public static func open(_ path: FilePathBytes) throws(RexstoreError) -> ByteSource {
    if path.bytes == [UInt8(ascii: "-")] { return ByteSource(fd: 0, name: "<stdin>", owned: false) }
    return ByteSource(fd: try FileSystem.openRegularInput(path), name: path.display, owned: true)
  }

  deinit { if owned { Glibc.close(fd) } }

  /// Back to where reading began, for a second try elsewhere; false for a pipe or terminal.
  public func rewind() -> Bool {
    consumed = 0
    return lseek(fd, start, SEEK_SET) == start
  }

  /// The bytes left from `start` in a regular file; nil for a pipe or terminal.
  public var remainingSize: Int64? {
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int64(st.st_size) - Int64(start)
  }

  /// A seekable copy of a stream that cannot be rewound (a pipe), in an unlinked file under
  /// `directory`, so an upload that fails half-way can still be stored locally. Returns nil, having
  /// read nothing, when no spool file can be made there; a failure while copying is thrown, since
  /// the bytes read so far are gone from the stream.
  public func spooled(in directory: String) throws(RexstoreError) -> ByteSource? {
    if lseek(fd, 0, SEEK_CUR) >= 0 { return self }
    // The spool directory sits below a root: made and entered without following a link.
    guard let parent = try? DirectoryHandle.root(FileSystem.parent(of: directory), create: true),
      let spoolDirectory = try? parent.child(FileSystem.baseName(of: directory), create: true)
    else { return nil }
    let name = FileSystem.temporaryName(for: "spool")
    let path = directory + "/" + name
    let copy = spoolDirectory.open(name, O_CREAT | O_EXCL | O_RDWR)
    guard copy >= 0 else { return nil }
    spoolDirectory.unlink(name)
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

  /// How many bytes the source holds from where reading began, when that is known in advance: a
  /// regular file (or an unlinked spool), which can also be read at any offset (`read(at:)`). Nil for
  /// a pipe or terminal, whose length shows only at its end.
  public var knownLength: Int64? {
    var st = stat()
    guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, lseek(fd, 0, SEEK_CUR) >= 0 else { return nil }
    return max(0, Int64(st.st_size) - Int64(start))
  }

  /// Reads up to `buffer.count` bytes at `offset` from where reading began, without moving the file
  /// offset (several readers may share the descriptor); 0 at the end.
  public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int {
    while true {
      let n = pread(fd, buffer.baseAddress, buffer.count, off_t(Int64(start) + offset))
      if n >= 0 { return n }
      if errno != EINTR { throw systemError("cannot read", path: name) }
    }
  }

  /// Reads up to `buffer.count` bytes; 0 at the end.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int {
    while true {
      let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
      if n >= 0 {
        if reportsProgress, n > 0 {
          consumed += Int64(n)
          Progress.bytes(consumed, of: remainingSize)
        }
        return n
      }
      if errno != EINTR { throw systemError("cannot read", path: name) }
    }
  }
}

/// Where downloaded bytes go.
public protocol ByteSink: AnyObject {
  func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError)
  /// True when bytes written are thrown away if the read fails (a temporary file); false for a stream
  /// (standard output, a device, a FIFO) that already passed them on, where a reader should verify
  /// before it writes if it can.
  var discardsOnFailure: Bool { get }
}

extension ByteSink {
  public var discardsOnFailure: Bool { false }
}

/// Writes every byte to a file that will be fsynced, retrying short writes and starting writeback of
/// each 8 MiB as it is written, so disk writes overlap the copy instead of all waiting for the fsync.
///
/// With `direct`, whole aligned blocks go with `O_DIRECT` straight from the caller's buffer to the
/// device: no copy into the page cache, no dirty pages for the kernel to write back and for the final
/// fsync to wait on (a local put's buffers are 4 KiB-aligned 1 MiB slots). The first write that is
/// not whole 4 KiB blocks from an aligned address (the tail of a file, a pipe's short reads), or that
/// the file system refuses with `EINVAL`, turns `O_DIRECT` off for the rest. Durability is the
/// caller's fsync either way: `O_DIRECT` does not flush the device's cache or the file's metadata.
public final class DescriptorSink: ByteSink {
  public let fd: Int32
  public let name: String
  private var written: Int64 = 0
  private var started: Int64 = 0
  private var direct = false
  /// Set until the first write, which turns `O_DIRECT` on if it is whole aligned blocks of at least
  /// `FileSystem.copyBufferSize` (a put's first buffer): a sink whose writes start small (a download's
  /// first bytes as they arrive, which would each become a synchronous device write) never uses it,
  /// and a descriptor that others write with `pwrite` (a sliced download's) never gets the flag.
  private var mayGoDirect: Bool
  static let writebackStep: Int64 = 8 << 20
  static let directAlignment = 4096

  public let discardsOnFailure: Bool

  public init(fd: Int32, name: String, discardsOnFailure: Bool = true, direct: Bool = false) {
    self.fd = fd
    self.name = name
    self.discardsOnFailure = discardsOnFailure
    self.mayGoDirect = direct
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    var rest = bytes
    let alignment = DescriptorSink.directAlignment
    let aligned = bytes.count % alignment == 0 && Int(bitPattern: bytes.baseAddress) % alignment == 0
    if mayGoDirect {
      mayGoDirect = false
      direct = aligned && bytes.count >= FileSystem.copyBufferSize && written == 0 && rexstore_set_direct(fd, 1) == 0
    }
    if direct {
      if aligned {
        let n = writeDirect(bytes)
        if n == bytes.count {
          written += Int64(n)
          started = written
          return
        }
        // Refused (nothing written), or cut short: the rest goes through the page cache.
        if n > 0 {
          written += Int64(n)
          started = written
          rest = UnsafeRawBufferPointer(rebasing: bytes[n...])
        }
      }
      stopDirect()
    }
    try FileSystem.writeAll(fd, rest, name: name)
    written += Int64(rest.count)
    if written - started >= DescriptorSink.writebackStep {
      rexstore_start_writeback(fd, started, written - started)
      started = written
    }
  }

  /// One direct write of whole blocks: how many bytes it wrote (0 when the file system refused it,
  /// or on any error, which the buffered write that follows meets again and reports).
  private func writeDirect(_ bytes: UnsafeRawBufferPointer) -> Int {
    while true {
      let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
      if n >= 0 { return n }
      if errno != EINTR { return 0 }
    }
  }

  private func stopDirect() {
    direct = false
    _ = rexstore_set_direct(fd, 0)
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

  /// How old a dead writer's temporary must be before another process removes it: a writer in another
  /// PID namespace (a container sharing the directory) looks dead from here, but keeps touching its file.
  public static let abandonedAfterMicroseconds: Int64 = 5 * 60 * 1_000_000

  /// Whether a temporary named by `temporaryName` (or a backup's `.NAME.tmp-PID`) was left by a writer
  /// that is gone: its PID is not running, or runs a process started after the file was last written
  /// (the PID was reused), and the file has not been touched for `abandonedAfterMicroseconds`.
  public static func temporaryIsAbandoned(_ name: String, marker: String = temporaryMarker, modified: Timestamp) -> Bool {
    guard let pid = writerPID(name, marker: marker) else { return false }
    guard Timestamp.now().microseconds - modified.microseconds >= abandonedAfterMicroseconds else { return false }
    return !processIsAlive(pid, writingAt: modified)
  }

  /// The PID that follows `marker` in a temporary's name.
  static func writerPID(_ name: String, marker: String) -> Int32? {
    var rest = Substring(name)
    while !rest.isEmpty, !rest.hasPrefix(marker) { rest = rest.dropFirst() }
    guard !rest.isEmpty else { return nil }
    let digits = rest.dropFirst(marker.count).prefix { $0.isASCII && $0.isNumber }
    guard let pid = Int32(digits), pid > 0 else { return nil }
    return pid
  }

  /// Whether `pid` runs a process that could have written a file at `modified`: one started after
  /// that (by more than the second /proc's boot time is rounded to) is a reused PID, not the writer.
  static func processIsAlive(_ pid: Int32, writingAt modified: Timestamp) -> Bool {
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let started = processStart(pid) else { return true }
    return started.microseconds <= modified.microseconds + 2_000_000
  }

  /// When a process started (from /proc/PID/stat and /proc/stat's btime); nil if unknown.
  static func processStart(_ pid: Int32) -> Timestamp? {
    guard let stat = try? readSmallFile("/proc/\(pid)/stat", limit: 4096),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3, starttime field 22.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 19, let ticks = Int64(fields[19]) else { return nil }
    guard let global = try? readSmallFile("/proc/stat", limit: 1 << 20),
      let line = global.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
      let last = line.split(separator: " ").last, let boot = Int64(last)
    else { return nil }
    let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
    guard hz > 0 else { return nil }
    return Timestamp(microseconds: boot * 1_000_000 + ticks * 1_000_000 / hz)
  }

  public static let temporaryMarker = ".rexstore-tmp-"
  nonisolated(unsafe) private static var counter = 0
  private static let counterLock = Mutex()

  public static func baseName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }
}
