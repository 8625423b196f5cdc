import CSupport
import Crypto

/// MD5 and CRC-32C of a byte stream, in the base64 forms GCS writes (`md5Hash`, `crc32c`), computed
/// in one pass as the bytes go by so no object is ever read twice or held in memory.
public struct ObjectHasher {
  private var md5 = Insecure.MD5()
  private var crc: UInt32 = 0
  public private(set) var count: Int64 = 0

  public init() {}

  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard !bytes.isEmpty else { return }
    md5.update(bufferPointer: bytes)
    crc = rexstore_crc32c_extend(crc, bytes.baseAddress, bytes.count)
    count += Int64(bytes.count)
  }

  /// The MD5 half of `update` alone (the byte count too), for a pipeline that computes the CRC-32C on
  /// another thread; `combined(crcFrom:)` puts the two halves together.
  mutating func updateMD5(_ bytes: UnsafeRawBufferPointer) {
    guard !bytes.isEmpty else { return }
    md5.update(bufferPointer: bytes)
    count += Int64(bytes.count)
  }

  /// The CRC-32C half of `update` alone (no byte count: the MD5 half keeps it).
  mutating func updateCRC(_ bytes: UnsafeRawBufferPointer) {
    guard !bytes.isEmpty else { return }
    crc = rexstore_crc32c_extend(crc, bytes.baseAddress, bytes.count)
  }

  /// This hasher's MD5 and count with `other`'s CRC-32C (the two halves of one stream).
  func combined(crcFrom other: ObjectHasher) -> ObjectHasher {
    var result = self
    result.crc = other.crc
    return result
  }

  public func finalize() -> Checksums {
    let digest = Array(md5.finalize())
    let crcBytes: [UInt8] = [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
    return Checksums(md5: Base64.encode(digest), crc32c: Base64.encode(crcBytes))
  }
}

public struct Checksums: Sendable, Equatable {
  public var md5: String
  public var crc32c: String

  public init(md5: String, crc32c: String) {
    self.md5 = md5
    self.crc32c = crc32c
  }

  /// CRC-32C of a byte array, in GCS's base64 form (`"123456789"` gives `4waSgw==`).
  public static func crc32c(_ bytes: [UInt8]) -> String {
    var hasher = ObjectHasher()
    bytes.withUnsafeBytes { hasher.update($0) }
    return hasher.finalize().crc32c
  }
}

/// Standard base64 with padding (RFC 4648 §4), the alphabet GCS uses for checksums.
public enum Base64 {
  private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  public static func encode(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 3 <= bytes.count {
      let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
      out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
      i += 3
    }
    let rest = bytes.count - i
    if rest == 1 {
      let n = UInt32(bytes[i]) << 16
      out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
    } else if rest == 2 {
      let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
      out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
    }
    return String(decoding: out, as: UTF8.self)
  }
}
