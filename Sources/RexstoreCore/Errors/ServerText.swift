/// Text a server sent (a GCS error message, a token endpoint's `error_description`) on its way into an
/// error message, stderr or `health` JSON. Servers echo requests back: a token endpoint can quote the
/// signed JWT assertion or the refresh token, a proxy can quote the `Authorization` header. Every path
/// that shows server text goes through `shown(_:)`, which redacts known secret shapes and caps the rest.
public enum ServerText {
  /// Bytes of server text kept (cut on a UTF-8 boundary, then "…").
  public static let limit = 512
  static let redacted = "[redacted]"

  /// Names whose value is a secret, as form fields, JSON keys or `name: value` headers.
  static let secretKeys = [
    "client_secret", "refresh_token", "access_token", "id_token", "private_key", "private_key_id",
    "assertion", "client_assertion", "password", "x-goog-signature", "x-goog-credential",
  ]

  /// Token prefixes with their own shape: a JWT (`eyJ`, base64 of `{"`), OAuth access tokens (`ya29.`),
  /// Google refresh tokens (`1//`), OAuth client secrets (`GOCSPX-`).
  static let tokenPrefixes = ["eyJ", "ya29.", "1//", "GOCSPX-"]

  /// Redacted, then capped: what may be shown of `text`.
  public static func shown(_ text: String) -> String {
    cap(redact(text))
  }

  /// `text` with every known secret shape replaced by `[redacted]`.
  public static func redact(_ text: String) -> String {
    var bytes = Array(text.utf8)
    bytes = redactPEM(bytes)
    bytes = redactValues(bytes)
    bytes = redactTokens(bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// At most `limit` bytes, cut before a character that would cross it.
  public static func cap(_ text: String, limit: Int = limit) -> String {
    guard text.utf8.count > limit else { return text }
    var kept = 0
    var end = text.unicodeScalars.startIndex
    for index in text.unicodeScalars.indices {
      let size = UTF8.width(text.unicodeScalars[index])
      if kept + size > limit { break }
      kept += size
      end = text.unicodeScalars.index(after: index)
    }
    return String(text.unicodeScalars[..<end]) + "…"
  }

  // MARK: - Shapes

  private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }

  private static func isWordByte(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
  }

  /// Characters of base64, base64url, JWTs and OAuth tokens.
  private static func isTokenByte(_ byte: UInt8) -> Bool {
    isWordByte(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
      || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "~")
  }

  private static func matches(_ bytes: [UInt8], at index: Int, _ word: [UInt8], caseInsensitive: Bool) -> Bool {
    guard index + word.count <= bytes.count else { return false }
    for offset in 0..<word.count {
      let a = bytes[index + offset]
      if caseInsensitive ? lower(a) != lower(word[offset]) : a != word[offset] { return false }
    }
    return true
  }

  /// `-----BEGIN ... PRIVATE KEY-----` up to its END line (or the end of the text).
  private static func redactPEM(_ bytes: [UInt8]) -> [UInt8] {
    let begin = Array("-----BEGIN".utf8)
    let end = Array("-----END".utf8)
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
      guard matches(bytes, at: index, begin, caseInsensitive: false) else {
        out.append(bytes[index])
        index += 1
        continue
      }
      var close = index + begin.count
      while close < bytes.count, !matches(bytes, at: close, end, caseInsensitive: false) { close += 1 }
      // Past the END marker's own dashes and label.
      if close < bytes.count {
        close += end.count
        var dashes = 0
        while close < bytes.count, dashes < 5 {
          if bytes[close] == UInt8(ascii: "-") { dashes += 1 } else if dashes > 0 { break }
          close += 1
        }
      }
      out += redacted.utf8
      index = close
    }
    return out
  }

  /// `key=value`, `"key":"value"`, `key: value`, `Bearer value`: the value goes, the name stays.
  private static func redactValues(_ bytes: [UInt8]) -> [UInt8] {
    let keys = secretKeys.map { Array($0.utf8) } + [Array("bearer".utf8), Array("basic".utf8)]
    var out: [UInt8] = []
    var index = 0
    outer: while index < bytes.count {
      if index == 0 || !isWordByte(bytes[index - 1]) {
        for key in keys where matches(bytes, at: index, key, caseInsensitive: true) {
          var cursor = index + key.count
          guard cursor == bytes.count || !isWordByte(bytes[cursor]) else { continue }
          let isScheme = key == Array("bearer".utf8) || key == Array("basic".utf8)
          if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") || bytes[cursor] == UInt8(ascii: "'") { cursor += 1 }
          while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09 { cursor += 1 }
          if !isScheme {
            // A separator must follow the name, or it is just a word in a sentence.
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "=") || bytes[cursor] == UInt8(ascii: ":")
            else { continue }
            cursor += 1
            while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09 { cursor += 1 }
          } else if cursor == index + key.count {
            continue  // "Bearer" needs a space before its token
          }
          var valueEnd = cursor
          if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") || bytes[cursor] == UInt8(ascii: "'") {
            // A quoted value: up to the closing quote (backslash escapes skipped).
            let quote = bytes[cursor]
            valueEnd = cursor + 1
            while valueEnd < bytes.count, bytes[valueEnd] != quote {
              valueEnd += bytes[valueEnd] == UInt8(ascii: "\\") ? 2 : 1
            }
            valueEnd = min(valueEnd + 1, bytes.count)
          } else {
            let stops: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0x26, 0x2C, 0x3B, 0x22, 0x27, 0x7D, 0x29, 0x5D]
            while valueEnd < bytes.count, !stops.contains(bytes[valueEnd]) { valueEnd += 1 }
          }
          guard valueEnd > cursor else { continue }
          out += bytes[index..<cursor]
          out += redacted.utf8
          index = valueEnd
          continue outer
        }
      }
      out.append(bytes[index])
      index += 1
    }
    return out
  }

  /// Tokens recognisable by their prefix wherever they stand.
  private static func redactTokens(_ bytes: [UInt8]) -> [UInt8] {
    let prefixes = tokenPrefixes.map { Array($0.utf8) }
    var out: [UInt8] = []
    var index = 0
    outer: while index < bytes.count {
      if index == 0 || !isTokenByte(bytes[index - 1]) {
        for prefix in prefixes where matches(bytes, at: index, prefix, caseInsensitive: false) {
          var end = index + prefix.count
          while end < bytes.count, isTokenByte(bytes[end]) { end += 1 }
          // A few characters after the prefix make it a token rather than a word.
          guard end - index >= prefix.count + 8 else { continue }
          out += redacted.utf8
          index = end
          continue outer
        }
      }
      out.append(bytes[index])
      index += 1
    }
    return out
  }
}
