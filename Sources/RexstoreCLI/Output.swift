import Glibc
import RexstoreCore

/// Where the CLI's bytes go: file descriptors in the binary, memory in tests.
public protocol OutputSink: AnyObject {
  func write(_ text: String) throws(RexstoreError)
  /// Raw bytes (`audio get` to stdout), written through without holding more than a chunk.
  func write(bytes: UnsafeRawBufferPointer) throws(RexstoreError)
  /// A terminal (where a progress line may be drawn); never for pipes, files or tests.
  var isTerminal: Bool { get }
}

extension OutputSink {
  public var isTerminal: Bool { false }
}

/// A buffered writer to a file descriptor; a failed write is `io_error` (exit 74), as git treats a
/// failed write to stdout.
public final class FileSink: OutputSink {
  let fd: Int32
  private var buffer: [UInt8] = []

  public init(fd: Int32) { self.fd = fd }

  public var isTerminal: Bool { isatty(fd) == 1 }

  public func write(_ text: String) throws(RexstoreError) {
    buffer.append(contentsOf: text.utf8)
    if buffer.count >= 1 << 16 { try flush() }
  }

  public func write(bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    try flush()
    do {
      try FileSystem.writeAll(fd, bytes, name: fd == 1 ? "standard output" : "fd \(fd)")
    } catch {
      throw RexstoreError(.ioError, "write failure on standard output: \(error.message)")
    }
  }

  public func flush() throws(RexstoreError) {
    var offset = 0
    while offset < buffer.count {
      let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
      if n < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        buffer.removeAll()
        throw RexstoreError(.ioError, "write failure on \(fd == 1 ? "standard output" : "fd \(fd)"): \(reason)")
      }
      offset += n
    }
    buffer.removeAll(keepingCapacity: true)
  }
}

/// Collects output in memory (tests, and stdout before a command has succeeded).
public final class MemorySink: OutputSink {
  public private(set) var bytes: [UInt8] = []
  public var text: String { String(decoding: bytes, as: UTF8.self) }
  public init() {}
  public func write(_ text: String) throws(RexstoreError) { bytes += Array(text.utf8) }
  public func write(bytes chunk: UnsafeRawBufferPointer) throws(RexstoreError) { bytes += Array(chunk) }
}

/// Adapts stdout to the core's byte sink.
final class OutputByteSink: ByteSink {
  let out: any OutputSink
  init(_ out: any OutputSink) { self.out = out }
  func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) { try out.write(bytes: bytes) }
}

/// The progress line on a terminal's stderr: `rexstore: 12/40 objects`, redrawn at most every 100 ms
/// in place, and erased when the command ends (so the JSON lines that follow start clean).
final class ProgressLine: @unchecked Sendable {
  private let fd: Int32
  private let lock = pthreadLock()
  private var last: Int64 = 0
  private var shown = false

  init(fd: Int32) { self.fd = fd }

  func draw(_ what: String, _ done: Int, _ total: Int?) {
    lock.withLock {
      var ts = timespec()
      clock_gettime(CLOCK_MONOTONIC, &ts)
      let now = Int64(ts.tv_sec) * 1_000 + Int64(ts.tv_nsec) / 1_000_000
      guard now - last >= 100 || (total != nil && done == total) else { return }
      last = now
      let text = "\r\u{1B}[Krexstore: " + (what == "bytes" ? ProgressLine.bytes(done, total) : "\(done)" + (total.map { "/\($0)" } ?? "") + " \(what)")
      _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
      shown = true
    }
  }

  /// `12.5 MiB/512.0 MiB (2%)`, or `12.5 MiB` when the total is unknown.
  static func bytes(_ done: Int, _ total: Int?) -> String {
    func size(_ n: Int) -> String {
      let units = ["B", "KiB", "MiB", "GiB", "TiB"]
      var value = Double(n)
      var unit = 0
      while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
      }
      if unit == 0 { return "\(n) B" }
      let tenths = Int((value * 10).rounded())
      return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
    guard let total else { return size(done) }
    let percent = total > 0 ? min(100, done * 100 / total) : 100
    return "\(size(done))/\(size(total)) (\(percent)%)"
  }

  func erase() {
    lock.withLock {
      guard shown else { return }
      _ = "\r\u{1B}[K".withCString { Glibc.write(fd, $0, strlen($0)) }
      shown = false
    }
  }
}

/// A plain mutex for the CLI's few shared bits.
final class pthreadLock: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  init() { pthread_mutex_init(mutex, nil) }
  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }
  func withLock<T>(_ body: () -> T) -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }
}
