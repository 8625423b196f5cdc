/// A file-system path as the user gave it: bytes, not text (DESIGN §8: "paths are bytes passed through
/// unchanged").
///
/// Linux file names are byte strings; a Swift `String` cannot hold one that is not valid UTF-8 (it
/// would turn the bad bytes into U+FFFD and open a different file). Paths the user names on the command
/// line (`FILE`, `SAMPLE`, `-o PATH`, `DEST`, `SRC`) travel as this type from argv to the system call.
/// Paths below the data roots are built from object names, which are text, and stay `String`.
///
/// `display` (also `description`) is for messages and JSON: valid UTF-8 as it is, every other byte as
/// `\xHH`. It can be ambiguous (a real backslash), so JSON carries the exact bytes beside it as hex
/// (`hex`) when the path is not UTF-8.
public struct FilePathBytes: Hashable, Sendable, CustomStringConvertible {
  /// The path's bytes, without a terminating NUL (argv and the environment cannot hold a NUL).
  public let bytes: [UInt8]

  public init(bytes: [UInt8]) { self.bytes = bytes }

  public init(_ text: String) { self.bytes = Array(text.utf8) }

  /// The bytes of a NUL-terminated C string (`realpath`, `getcwd`), unchanged.
  public init(cString: UnsafePointer<CChar>) {
    var bytes: [UInt8] = []
    var index = 0
    while cString[index] != 0 {
      bytes.append(UInt8(bitPattern: cString[index]))
      index += 1
    }
    self.bytes = bytes
  }

  /// The path as text when it is valid UTF-8, else nil.
  public var text: String? { String(validating: bytes, as: UTF8.self) }

  public var isUTF8: Bool { text != nil }

  /// Valid UTF-8 runs as they are, every other byte as `\xHH` (upper-case hex).
  public var display: String { FilePathBytes.escaped(bytes) }

  public var description: String { display }

  /// The exact bytes as lower-case hex (`bytes.fromhex()`, `xxd -r -p`).
  public var hex: String {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0F)])
    }
    return out
  }

  /// NUL-terminated, for system calls: `open(path.cString, ...)` (an array argument converts to the
  /// `const char *` parameter).
  public var cString: [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

  public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try cString.withUnsafeBufferPointer { try body($0.baseAddress!) }
  }

  public var isEmpty: Bool { bytes.isEmpty }
  public var isAbsolute: Bool { bytes.first == UInt8(ascii: "/") }
  public var hasTrailingSlash: Bool { bytes.last == UInt8(ascii: "/") }

  /// This path made absolute against `directory` (relative paths given on the command line are
  /// relative to the working directory).
  public func absolute(in directory: FilePathBytes) -> FilePathBytes {
    if isAbsolute { return self }
    let base = directory.bytes == [UInt8(ascii: "/")] ? [] : directory.bytes
    return FilePathBytes(bytes: base + [UInt8(ascii: "/")] + bytes)
  }

  /// Everything before the last `/` (`.` without one, `/` for a file in the root), as
  /// `FileSystem.parent` does for text.
  public var parent: FilePathBytes {
    guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return FilePathBytes(".") }
    if slash == 0 { return FilePathBytes("/") }
    return FilePathBytes(bytes: Array(bytes[..<slash]))
  }

  /// Everything after the last `/`.
  public var baseName: FilePathBytes {
    guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return self }
    return FilePathBytes(bytes: Array(bytes[(slash + 1)...]))
  }

  /// `path + "/name"`: text appended as its UTF-8 bytes.
  public static func + (lhs: FilePathBytes, rhs: String) -> FilePathBytes {
    FilePathBytes(bytes: lhs.bytes + Array(rhs.utf8))
  }

  /// Valid UTF-8 runs as they are, every other byte as `\xHH`: readable, and never raw bytes in a
  /// message or JSON.
  public static func escaped(_ bytes: [UInt8]) -> String {
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    let hex = Array("0123456789ABCDEF")
    var out = ""
    var index = 0
    while index < bytes.count {
      // The longest valid sequence starting here (1 to 4 bytes).
      var taken = 0
      for length in 1...4 where index + length <= bytes.count {
        if let scalar = String(validating: bytes[index..<index + length], as: UTF8.self) {
          out += scalar
          taken = length
          break
        }
      }
      if taken == 0 {
        out += "\\x" + String(hex[Int(bytes[index] >> 4)]) + String(hex[Int(bytes[index] & 0x0F)])
        taken = 1
      }
      index += taken
    }
    return out
  }
}
