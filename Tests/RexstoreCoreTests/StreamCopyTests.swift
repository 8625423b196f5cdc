import Testing

@testable import RexstoreCore

/// The local write pipeline (`StreamCopy.run`): the MD5 on a worker, the CRC-32C and the write on the
/// calling thread, over a ring of 1 MiB buffers.
@Suite struct StreamCopyTests {
  /// Deterministic bytes (not a repeating 256-byte pattern, so a slot hashed twice or skipped shows).
  static func bytes(_ count: Int) -> [UInt8] {
    var state: UInt32 = 0x1234_5678
    return (0..<count).map { _ in
      state = state &* 1_664_525 &+ 1_013_904_223
      return UInt8(truncatingIfNeeded: state >> 24)
    }
  }

  /// Feeds `data` in reads of at most `step` bytes; returns what `write` saw and the checksums.
  static func copy(_ data: [UInt8], step: Int) throws(RexstoreError) -> (written: [UInt8], checksums: Checksums, count: Int64) {
    var offset = 0
    var written: [UInt8] = []
    written.reserveCapacity(data.count)
    let hasher = try StreamCopy.run(
      read: { buffer in
        let n = min(step, buffer.count, data.count - offset)
        data.withUnsafeBytes { raw in buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
      },
      write: { chunk in written += chunk })
    return (written, hasher.finalize(), hasher.count)
  }

  /// More than the ring holds (the slots wrap around several times), in full, odd and tiny reads:
  /// every byte is written once, in order, and the checksums are those of a one-pass hasher.
  @Test(arguments: [FileSystem.copyBufferSize, 777_777, 4096 + 1])
  func checksumsAndBytesMatchAOnePassHash(step: Int) throws {
    let size = (StreamCopy.slots * 2 + 3) * FileSystem.copyBufferSize + 12_345
    let data = StreamCopyTests.bytes(step < 8192 ? 3 * FileSystem.copyBufferSize + 5 : size)
    var expected = ObjectHasher()
    data.withUnsafeBytes { expected.update($0) }
    let result = try StreamCopyTests.copy(data, step: step)
    #expect(result.written == data)
    #expect(result.count == Int64(data.count))
    #expect(result.checksums == expected.finalize())
  }

  @Test func anEmptyStreamHasTheEmptyChecksums() throws {
    let result = try StreamCopyTests.copy([], step: 1 << 20)
    #expect(result.written.isEmpty)
    #expect(result.count == 0)
    #expect(result.checksums == Checksums(md5: "1B2M2Y8AsgTpgAmY7PhCfg==", crc32c: "AAAAAA=="))
  }

  /// A write that fails after the ring is full, and a read that fails mid-stream: the error comes
  /// back and the worker thread is ended (the call returns instead of waiting forever).
  @Test(arguments: [0, 1, 5, 20])
  func aFailingWriteIsThrownAndEndsTheWorker(failAt: Int) {
    var calls = 0
    let failure = RexstoreError(.ioError, "disk full")
    #expect(throws: failure) {
      _ = try StreamCopy.run(
        read: { buffer in buffer.count },
        write: { _ throws(RexstoreError) in
          calls += 1
          if calls > failAt { throw failure }
        })
    }
  }

  @Test(arguments: [0, 1, 5, 20])
  func aFailingReadIsThrownAndEndsTheWorker(failAt: Int) {
    var calls = 0
    let failure = RexstoreError(.ioError, "cannot read")
    #expect(throws: failure) {
      _ = try StreamCopy.run(
        read: { buffer throws(RexstoreError) in
          calls += 1
          if calls > failAt { throw failure }
          return buffer.count
        },
        write: { _ in })
    }
  }
}
