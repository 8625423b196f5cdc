import Foundation
import Testing

@testable import RexstoreCore

@Suite struct ChecksumTests {
  /// GCS's documented check values and the RFC 3720 (iSCSI) CRC-32C vectors.
  @Test(arguments: [
    (Array("123456789".utf8), "4waSgw=="), ([], "AAAAAA=="), ([UInt8](repeating: 0, count: 32), "ipE2qg=="),
    ([UInt8](repeating: 0xFF, count: 32), "YqirQw=="), (Array(0...31), "Rt15Tg=="), (Array((0...31).reversed()), "ET/bXA=="),
  ])
  func crc32cMatchesKnownVectors(bytes: [UInt8], expected: String) {
    #expect(Checksums.crc32c(bytes) == expected)
  }

  /// Many threads at once, as first users of the lazily built tables: each gets the right value. The
  /// tables are set up under pthread_once; `make tsan` runs this under the thread sanitizer, which
  /// reported the old unsynchronised "ready" flag when this was the process's first CRC (issue 11).
  @Test func crc32cFromManyThreadsAtOnce() {
    let bytes = Array("123456789".utf8)
    let lock = NSLock()
    nonisolated(unsafe) var answers: [String] = []
    DispatchQueue.concurrentPerform(iterations: 16) { _ in
      let answer = Checksums.crc32c(bytes)
      lock.lock()
      answers.append(answer)
      lock.unlock()
    }
    #expect(answers == Array(repeating: "4waSgw==", count: 16))
  }

  @Test func md5IsBase64OfTheDigest() {
    var hasher = ObjectHasher()
    Array("123456789".utf8).withUnsafeBytes { hasher.update($0) }
    #expect(hasher.finalize().md5 == "JfnnlDI7RTiF9RgfG2JNCw==")
    #expect(ObjectHasher().finalize() == Checksums(md5: "1B2M2Y8AsgTpgAmY7PhCfg==", crc32c: "AAAAAA=="))
  }

  /// Any split of a stream into chunks (odd sizes, unaligned starts) gives the one-shot result.
  @Test func streamingInChunksEqualsOneShot() {
    // bytes(range(256)) * 1000, whose MD5 Python's hashlib gives as HacIp14lEQsTQdFoFP61LQ==.
    let data = (0..<1000).flatMap { _ in (0...255).map(UInt8.init) }
    var whole = ObjectHasher()
    data.withUnsafeBytes { whole.update($0) }
    let expected = whole.finalize()
    #expect(expected.md5 == "HacIp14lEQsTQdFoFP61LQ==")
    for chunk in [1, 3, 7, 64, 1000, 4097] {
      var hasher = ObjectHasher()
      data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
          let end = min(offset + chunk, raw.count)
          hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
          offset = end
        }
      }
      #expect(hasher.finalize() == expected, "chunk \(chunk)")
      #expect(hasher.count == Int64(data.count))
    }
  }

  @Test(arguments: [([UInt8](), ""), (Array("f".utf8), "Zg=="), (Array("fo".utf8), "Zm8="), (Array("foo".utf8), "Zm9v"), (Array("foobar".utf8), "Zm9vYmFy"), ([0xFB, 0xFF], "+/8=")])
  func base64MatchesRFC4648(bytes: [UInt8], expected: String) {
    #expect(Base64.encode(bytes) == expected)
  }
}
