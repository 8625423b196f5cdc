import Foundation
import RexstoreCore
import Testing

/// Bytes a case stores: a file (stores read a `ByteSource`), with checksums worked out here, apart
/// from rexstore's own hashing: MD5 by coreutils' md5sum, CRC-32C by the table below.
struct Content: Sendable {
  let path: String
  let size: Int
  /// Base64 of the digest, as GCS's md5Hash and rexstore's JSON.
  let md5: String
  /// Base64 of the big-endian CRC-32C, as GCS's crc32c.
  let crc32c: String
  /// The bytes themselves, for small contents (nil for the big one, which is compared on disk).
  let bytes: [UInt8]?

  func source() throws -> ByteSource { try ByteSource.open(path) }

  /// `size` bytes that differ with `label` (a seeded xorshift), written under `directory`.
  static func make(in directory: String, _ label: String, size: Int) throws -> Content {
    var generator = Pattern(label)
    let bytes = generator.next(size)
    let path = directory + "/" + label
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return Content(path: path, size: size, md5: try md5(of: path), crc32c: CRC32C.base64(CRC32C.extend(0, bytes)), bytes: bytes)
  }

  /// A big content, written 1 MiB at a time (never held in memory whole).
  static func big(in directory: String, size: Int) throws -> Content {
    let path = directory + "/big"
    FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    var generator = Pattern("big")
    var crc: UInt32 = 0
    var left = size
    while left > 0 {
      let chunk = generator.next(min(left, 1 << 20))
      crc = CRC32C.extend(crc, chunk)
      try handle.write(contentsOf: chunk)
      left -= chunk.count
    }
    try handle.close()
    return Content(path: path, size: size, md5: try md5(of: path), crc32c: CRC32C.base64(crc), bytes: nil)
  }

  static func md5(of path: String) throws -> String {
    let result = try Processes.run("/usr/bin/md5sum", ["-b", path], environment: [:])
    let hex = try #require(result.stdout.split(separator: " ").first.map(String.init), "md5sum said '\(result.stdout)'")
    var digest: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      digest.append(try #require(UInt8(hex[index..<next], radix: 16)))
      index = next
    }
    return Data(digest).base64EncodedString()
  }
}

/// Deterministic filler bytes: xorshift64 seeded by the label's FNV-1a hash.
struct Pattern {
  var state: UInt64

  init(_ label: String) {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in label.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    state = hash | 1
  }

  mutating func next(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
      var offset = 0
      while offset < count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        var word = state
        for _ in 0..<8 where offset < count {
          raw[offset] = UInt8(truncatingIfNeeded: word)
          word >>= 8
          offset += 1
        }
      }
    }
    return bytes
  }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bytewise with a table.
enum CRC32C {
  static let table: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
  }

  static func extend(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
    var value = ~crc
    table.withUnsafeBufferPointer { table in
      bytes.withUnsafeBufferPointer { bytes in
        for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
      }
    }
    return ~value
  }

  static func base64(_ crc: UInt32) -> String {
    Data([UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]).base64EncodedString()
  }
}

/// Collects what a `get` streams out.
final class MemorySink: ByteSink {
  private(set) var bytes: [UInt8] = []
  func write(_ chunk: UnsafeRawBufferPointer) throws(RexstoreError) { bytes += chunk }
}

extension ConformanceContext {
  /// A small content for this test, in its scratch directory.
  func content(_ label: String, size: Int) throws -> Content {
    try Content.make(in: scratch.path + "/inputs", label, size: size)
  }
}
