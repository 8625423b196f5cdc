import CSupport
import Foundation
import Testing

@testable import RexstoreCore

/// `DescriptorSink(direct: true)`: whole aligned blocks go with O_DIRECT, anything else through the
/// page cache, and the file always holds exactly the bytes written, in order.
@Suite struct DirectWriteTests {
  /// A fresh file on the test's temporary directory (a disk file system here, which takes O_DIRECT).
  static func file() throws -> (fd: Int32, path: String) {
    let path = NSTemporaryDirectory() + "rexstore-direct-\(UUID().uuidString)"
    let fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0o600)
    try #require(fd >= 0)
    return (fd, path)
  }

  /// `count` deterministic bytes in a 4 KiB-aligned buffer.
  static func block(_ count: Int, seed: UInt8) -> UnsafeMutableRawBufferPointer {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
    for i in 0..<count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31) &+ seed }
    return buffer
  }

  @Test func wholeBlocksGoDirectAndTheTailThroughThePageCache() throws {
    let (fd, path) = try DirectWriteTests.file()
    defer { close(fd); unlink(path) }
    let sink = DescriptorSink(fd: fd, name: path, direct: true)
    var expected: [UInt8] = []
    for seed in [UInt8(1), 2, 3] {
      let block = DirectWriteTests.block(1 << 20, seed: seed)
      defer { block.deallocate() }
      try sink.write(UnsafeRawBufferPointer(block))
      expected += block
      #expect(rexstore_is_direct(fd) == 1)
    }
    // The tail: 5 bytes at an unaligned address.
    let tail = DirectWriteTests.block(4096 + 5, seed: 9)
    defer { tail.deallocate() }
    let piece = UnsafeRawBufferPointer(rebasing: tail[4091...])
    try sink.write(piece)
    expected += piece
    #expect(rexstore_is_direct(fd) == 0)
    #expect(fsync(fd) == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(expected))
  }

  /// A sink whose first write is not a whole 1 MiB of blocks (a download's first bytes, even 16 KiB
  /// aligned ones, which would each become a synchronous device write) never turns O_DIRECT on, so a
  /// descriptor others write at any offset keeps working.
  @Test(arguments: [100, 16384])
  func aSinkThatStartsSmallNeverGoesDirect(first: Int) throws {
    let (fd, path) = try DirectWriteTests.file()
    defer { close(fd); unlink(path) }
    let sink = DescriptorSink(fd: fd, name: path, direct: true)
    let small = DirectWriteTests.block(first, seed: 5)
    let block = DirectWriteTests.block(1 << 20, seed: 6)
    defer { small.deallocate(); block.deallocate() }
    try sink.write(UnsafeRawBufferPointer(small))
    try sink.write(UnsafeRawBufferPointer(block))
    #expect(rexstore_is_direct(fd) == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(Array(small) + Array(block)))
  }

  /// A local put (whole blocks direct, then a tail; or a tail only): the object holds exactly the
  /// file's bytes, with the checksums of a one-pass hash.
  @Test(arguments: [3 << 20, (3 << 20) + 5, 4095])
  func aLocalPutStoresExactlyItsBytes(size: Int) throws {
    let root = NSTemporaryDirectory() + "rexstore-direct-root-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let (fd, path) = try DirectWriteTests.file()
    defer { close(fd); unlink(path) }
    let bytes = DirectWriteTests.block(size, seed: 7)
    defer { bytes.deallocate() }
    try FileSystem.writeAll(fd, UnsafeRawBufferPointer(bytes), name: path)
    let store = LocalObjectStore(root: root)
    let info = try store.put("audio/u1/x.wav", from: try ByteSource.open(path), contentType: "audio/wav", overwrite: false)
    var hasher = ObjectHasher()
    hasher.update(UnsafeRawBufferPointer(bytes))
    let sums = hasher.finalize()
    #expect(info.size == Int64(size))
    #expect(info.md5 == sums.md5)
    #expect(info.crc32c == sums.crc32c)
    #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/audio/u1/x.wav")) == Data(Array(bytes)))
  }
}
