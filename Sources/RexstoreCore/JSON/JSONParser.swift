/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Written by hand rather than with Foundation so the binary can stay free of Foundation (start-up time)
/// and so it can answer one extra question exactly: would Python's `json.loads` accept this text
/// (`allowNonFinite` adds the `NaN`/`Infinity` literals Python takes).
public struct JSONParser {
  public struct Failure: Error, Sendable, Equatable {
    public var message: String
    public var offset: Int
    /// The text is JSON except for a `\uD800`-style escape with no partner: Python would take it,
    /// a Swift string cannot hold it, and rexstore refuses it rather than store U+FFFD.
    public var loneSurrogate = false
  }

  /// Deep enough for any real document, shallow enough that recursion cannot exhaust the stack.
  public static let maxDepth = 2_000

  public static func parse(
    _ text: String, allowNonFinite: Bool = false, allowLoneSurrogates: Bool = false
  ) throws(Failure) -> JSONValue {
    var copy = text
    let result = copy.withUTF8 { bytes in
      Result { () throws(Failure) -> JSONValue in
        try parse(bytes, allowNonFinite: allowNonFinite, allowLoneSurrogates: allowLoneSurrogates)
      }
    }
    return try result.get()
  }

  /// Parses UTF-8 bytes. Bytes that are not valid UTF-8 inside a string are refused (never replaced by
  /// U+FFFD), and so is a lone surrogate escape unless `allowLoneSurrogates` (only for
  /// `pythonWouldDecode`, which answers yes or no and keeps no value).
  public static func parse(
    _ bytes: UnsafeBufferPointer<UInt8>, allowNonFinite: Bool = false, allowLoneSurrogates: Bool = false
  ) throws(Failure) -> JSONValue {
    var parser = JSONParser(bytes: bytes, allowNonFinite: allowNonFinite, allowLoneSurrogates: allowLoneSurrogates)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    guard parser.index == bytes.count else { throw parser.failure("extra data after the JSON value") }
    return value
  }

  /// True when Python's `json.loads` would decode `text` instead of raising, so a string stored raw
  /// would come back to the app as something else.
  public static func pythonWouldDecode(_ text: String) -> Bool {
    (try? parse(text, allowNonFinite: true, allowLoneSurrogates: true)) != nil
  }

  private let bytes: UnsafeBufferPointer<UInt8>
  private let allowNonFinite: Bool
  private let allowLoneSurrogates: Bool
  private var index = 0

  private init(bytes: UnsafeBufferPointer<UInt8>, allowNonFinite: Bool, allowLoneSurrogates: Bool) {
    self.bytes = bytes
    self.allowNonFinite = allowNonFinite
    self.allowLoneSurrogates = allowLoneSurrogates
  }

  private func failure(_ message: String) -> Failure {
    Failure(message: "\(message) at offset \(index)", offset: index)
  }

  private mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  private mutating func expect(_ literal: StaticString) throws(Failure) {
    let count = literal.utf8CodeUnitCount
    guard index + count <= bytes.count else { throw failure("invalid literal") }
    let start = literal.utf8Start
    for i in 0..<count where bytes[index + i] != start[i] {
      throw failure("invalid literal")
    }
    index += count
  }

  private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
    guard depth < JSONParser.maxDepth else { throw failure("nesting deeper than \(JSONParser.maxDepth)") }
    guard index < bytes.count else { throw failure("unexpected end of input") }
    switch bytes[index] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth)
    case UInt8(ascii: "["): return try parseArray(depth: depth)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try expect("true"); return .bool(true)
    case UInt8(ascii: "f"): try expect("false"); return .bool(false)
    case UInt8(ascii: "n"): try expect("null"); return .null
    case UInt8(ascii: "N") where allowNonFinite: try expect("NaN"); return .number("NaN")
    case UInt8(ascii: "I") where allowNonFinite: try expect("Infinity"); return .number("Infinity")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw failure("unexpected character")
    }
  }

  private mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
    index += 1
    var members: [JSONValue.Member] = []
    // One allocation for a typical record (an import line has five to eight members), not four.
    members.reserveCapacity(8)
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
      index += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
        throw failure("expected a string key")
      }
      let key = try parseString()
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
      index += 1
      skipWhitespace()
      let value = try parseValue(depth: depth + 1)
      members.append(.init(key, value))
      skipWhitespace()
      guard index < bytes.count else { throw failure("unterminated object") }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
        continue
      }
      guard bytes[index] == UInt8(ascii: "}") else { throw failure("expected ',' or '}'") }
      index += 1
      return .object(members)
    }
  }

  private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
    index += 1
    var items: [JSONValue] = []
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
      index += 1
      return .array(items)
    }
    while true {
      skipWhitespace()
      items.append(try parseValue(depth: depth + 1))
      skipWhitespace()
      guard index < bytes.count else { throw failure("unterminated array") }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
        continue
      }
      guard bytes[index] == UInt8(ascii: "]") else { throw failure("expected ',' or ']'") }
      index += 1
      return .array(items)
    }
  }

  private mutating func parseNumber() throws(Failure) -> JSONValue {
    let start = index
    if bytes[index] == UInt8(ascii: "-") {
      index += 1
      if allowNonFinite, index < bytes.count, bytes[index] == UInt8(ascii: "I") {
        try expect("Infinity")
        return .number("-Infinity")
      }
    }
    guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
    if bytes[index] == UInt8(ascii: "0") {
      index += 1
    } else {
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
      index += 1
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
        index += 1
      }
      guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
  }

  private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

  private mutating func parseString() throws(Failure) -> String {
    index += 1
    let start = index
    var ascii = true
    // Fast path: no escapes. ASCII needs no UTF-8 check.
    while index < bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if !ascii, let bad = UTF8Check.firstInvalidOffset(raw) {
          index = start + bad
          throw failure("invalid UTF-8 in string")
        }
        index += 1
        return String(decoding: raw, as: UTF8.self)
      }
      if byte == UInt8(ascii: "\\") { break }
      if byte < 0x20 { throw failure("control character in string") }
      if byte >= 0x80 { ascii = false }
      index += 1
    }
    var scalars: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
    while index < bytes.count {
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "\""):
        let bad = scalars.withUnsafeBufferPointer { UTF8Check.firstInvalidOffset($0) }
        if bad != nil { throw failure("invalid UTF-8 in string") }
        index += 1
        return String(decoding: scalars, as: UTF8.self)
      case UInt8(ascii: "\\"):
        index += 1
        guard index < bytes.count else { throw failure("unterminated string") }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "\""): scalars.append(0x22)
        case UInt8(ascii: "\\"): scalars.append(0x5C)
        case UInt8(ascii: "/"): scalars.append(0x2F)
        case UInt8(ascii: "b"): scalars.append(0x08)
        case UInt8(ascii: "f"): scalars.append(0x0C)
        case UInt8(ascii: "n"): scalars.append(0x0A)
        case UInt8(ascii: "r"): scalars.append(0x0D)
        case UInt8(ascii: "t"): scalars.append(0x09)
        case UInt8(ascii: "u"):
          var code = try parseHex4()
          if (0xD800..<0xDC00).contains(code), index + 6 <= bytes.count,
            bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
          {
            let save = index
            index += 2
            let low = try parseHex4()
            if (0xDC00..<0xE000).contains(low) {
              code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else {
              index = save
            }
          }
          // Lone surrogates cannot live in a Swift String. Python keeps them; rexstore refuses them
          // (U+FFFD would be a silent change), except when only asked whether Python would decode.
          guard let scalar = Unicode.Scalar(code) ?? (allowLoneSurrogates ? "\u{FFFD}" : nil) else {
            index -= 6
            var failure = failure(
              "lone surrogate \\u" + String(code, radix: 16, uppercase: true) + " in string (not valid Unicode)")
            failure.loneSurrogate = true
            throw failure
          }
          scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
          throw failure("invalid escape")
        }
      default:
        if byte < 0x20 { throw failure("control character in string") }
        scalars.append(byte)
        index += 1
      }
    }
    throw failure("unterminated string")
  }

  private mutating func parseHex4() throws(Failure) -> UInt32 {
    guard index + 4 <= bytes.count else { throw failure("invalid \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[index]
      let digit: UInt8
      switch byte {
      case 0x30...0x39: digit = byte - 0x30
      case 0x41...0x46: digit = byte - 0x41 + 10
      case 0x61...0x66: digit = byte - 0x61 + 10
      default: throw failure("invalid \\u escape")
      }
      value = value << 4 | UInt32(digit)
      index += 1
    }
    return value
  }
}
