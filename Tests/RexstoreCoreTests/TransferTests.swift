import CSupport
import Testing

@testable import RexstoreCore

/// The pieces of sliced downloads and single-request uploads that need no server.
@Suite struct TransferTests {
  func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.withUnsafeBytes { rexstore_crc32c_extend(0, $0.baseAddress, $0.count) }
  }

  /// crc(A + B) from crc(A), crc(B) and |B|, for split points that cross every bit of the length.
  @Test func crc32cCombineEqualsTheCRCOfTheWhole() {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
    for cut in [0, 1, 7, 8, 255, 4096, 65_537, 150_000, 299_999, 300_000] {
      let whole = crc(bytes[...])
      let combined = rexstore_crc32c_combine(crc(bytes[..<cut]), crc(bytes[cut...]), UInt64(bytes.count - cut))
      #expect(combined == whole, "cut at \(cut)")
    }
    // Four ranges folded left, as a sliced download does.
    let ranges = SlicedDownload.ranges(length: Int64(bytes.count), width: 4)
    var folded: UInt32 = 0
    for range in ranges {
      folded = rexstore_crc32c_combine(folded, crc(bytes[Int(range.lowerBound)...Int(range.upperBound)]), UInt64(range.count))
    }
    #expect(folded == crc(bytes[...]))
    // The known vector: "123456789" is 0xE3069283.
    let digits = Array("123456789".utf8)
    #expect(rexstore_crc32c_combine(crc(digits[..<4]), crc(digits[4...]), 5) == 0xE306_9283)
  }

  /// Ranges are 256 KiB multiples, cover the object exactly once, at most `width` of them.
  @Test func slicedDownloadRangesCoverTheObject() {
    #expect(SlicedDownload.ranges(length: 36 << 20, width: 4) == [
      0...9_437_183, 9_437_184...18_874_367, 18_874_368...28_311_551, 28_311_552...37_748_735,
    ])
    for length: Int64 in [1, 262_143, 262_144, 262_145, 33_554_433, 1 << 30] {
      let ranges = SlicedDownload.ranges(length: length, width: 4)
      #expect(ranges.count <= 4 && ranges.first?.lowerBound == 0 && ranges.last?.upperBound == length - 1)
      #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound + 1 == $1.lowerBound && $0.count % 262_144 == 0 })
    }
  }
}
