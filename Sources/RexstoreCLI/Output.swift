import Glibc
import RexstoreCore

/// Where the CLI's bytes go: file descriptors in the binary, memory in tests.
public protocol OutputSink: AnyObject {
  func write(_ text: String) throws(RexstoreError)
  /// Raw bytes (`audio get` to stdout), written through without holding more than a chunk.
  func write(bytes: UnsafeRawBufferPointer) throws(RexstoreError)
}

/// A buffered writer to a file descriptor; a failed write is `io_error` (exit 74), as git treats a
/// failed write to stdout.
public final class FileSink: OutputSink {
  let fd: Int32
  private var buffer: [UInt8] = []

  public init(fd: Int32) { self.fd = fd }

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
