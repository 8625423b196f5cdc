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

  /// A segment of a name already stored (by the app or another client): like `segment`, but a
  /// leading `.` is allowed. `whole` is the full name, for the message.
  public static func storedSegment(_ text: String, in whole: String) throws(RexstoreError) -> String {
    func reject(_ why: String) -> RexstoreError {
      RexstoreError.usage("invalid blob '\(printable(whole))': \(why)")
    }
    if text.isEmpty { throw reject("empty path segment") }
    if text == "." || text == ".." { throw reject("'.' or '..' segment") }
    if text.utf8.count > maxSegmentBytes { throw reject("a segment longer than \(maxSegmentBytes) bytes") }
    for byte in text.utf8 where byte < 0x20 || byte == 0x7F { throw reject("control characters") }
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

  /// Parses a full blob name as `audio get`/`rm`/`sign` take it. Names the app itself writes are
  /// accepted: a file name with a sub-path (`audio/u1/sub/dir.mp3`), a user id with a `/` (then
  /// `user` is only its first segment, and `file` the rest), a segment starting with `.`. Every
  /// segment must still be non-empty, not `.` or `..`, free of control characters and at most 255
  /// bytes, so a name can never lead outside `audio/`. (The local root refuses dot-segments: they
  /// are its temporary files' names.)
  public init(parsing name: String) throws(RexstoreError) {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count >= 3, parts[0] == "audio" else {
      throw RexstoreError.usage(
        "invalid blob '\(ObjectName.printable(name))': expected audio/USER/FILE")
    }
    for part in parts.dropFirst() { _ = try ObjectName.storedSegment(String(part), in: name) }
    self.user = String(parts[1])
    self.file = parts.dropFirst(2).joined(separator: "/")
  }

  /// The last segment: what a download into a directory calls the file.
  public var baseName: String { String(file.split(separator: "/").last ?? Substring(file)) }

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
