import Glibc
import RexstoreCore

/// Where the CLI's bytes go: file descriptors in the binary, memory in tests.
public protocol OutputSink: AnyObject {
  func write(_ text: String) throws(RexstoreError)
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
  public private(set) var text = ""
  public init() {}
  public func write(_ text: String) throws(RexstoreError) { self.text += text }
}
