/// Names that end up in object paths, checked before any I/O.
///
/// A user, profile or file name is one path segment: non-empty, at most 255 bytes (a file-name limit
/// on every Linux file system), no `/`, no NUL or other control character, not `.` or `..`, and not
/// starting with `.` (the local store's temporary files and rexstore's own entries start with a dot,
/// so a caller's name can never collide with them). Nothing a caller passes can reach outside the
/// object root.
public enum ObjectName {
  public static let maxSegmentBytes = 255

  public static func segment(_ text: String, kind: String) throws(RexstoreError) -> String {
    func reject(_ why: String) -> RexstoreError {
      RexstoreError.usage("invalid \(kind) '\(printable(text))': \(why)")
    }
    if text.isEmpty { throw reject("must not be empty") }
    if text == "." || text == ".." { throw reject("must not be '.' or '..'") }
    if text.hasPrefix(".") { throw reject("must not start with '.'") }
    if text.utf8.count > maxSegmentBytes { throw reject("longer than \(maxSegmentBytes) bytes") }
    for byte in text.utf8 {
      if byte == UInt8(ascii: "/") { throw reject("must not contain '/'") }
      if byte < 0x20 || byte == 0x7F { throw reject("must not contain control characters") }
    }
    if text.unicodeScalars.contains("\u{FFFD}") { throw reject("must be valid UTF-8") }
    return text
  }

  /// Control characters shown escaped in error messages, so the message stays one line.
  static func printable(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      if scalar.value < 0x20 || scalar.value == 0x7F {
        out += "\\x" + String(scalar.value, radix: 16)
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out.count > 80 ? String(out.prefix(80)) + "..." : out
  }
}

/// `audio/{user}/{file}`.
public struct AudioBlob: Sendable, Equatable {
  public var user: String
  public var file: String

  public init(user: String, file: String) throws(RexstoreError) {
    self.user = try ObjectName.segment(user, kind: "user")
    self.file = try ObjectName.segment(file, kind: "file name")
  }

  /// Parses a full blob name as `audio get`/`rm` take it.
  public init(parsing name: String) throws(RexstoreError) {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == "audio" else {
      throw RexstoreError.usage(
        "invalid blob '\(ObjectName.printable(name))': expected audio/USER/FILE")
    }
    try self.init(user: String(parts[1]), file: String(parts[2]))
  }

  public var name: String { "audio/\(user)/\(file)" }
  public static func prefix(user: String) -> String { "audio/\(user)/" }
}

/// `voice_profiles/{user}/{profile}/sample_{i}.wav`.
public enum ProfileBlob {
  public static func directory(user: String, profile: String) -> String { "voice_profiles/\(user)/\(profile)" }
  public static func sample(user: String, profile: String, index: Int) -> String {
    directory(user: user, profile: profile) + "/sample_\(index).wav"
  }
}
