/// URLs in text meant for people: an endpoint may carry a password (`http://user:secret@host`), and
/// no output, message or log line ever shows it.
public enum URLText {
  /// Every `scheme://user:secret@` in `text` with the secret replaced by `REDACTED`.
  public static func maskingPasswords(in text: String) -> String {
    guard text.contains("://"), text.contains("@") else { return text }
    var out = ""
    var rest = Substring(text)
    while let scheme = rest.firstRange(of: "://") {
      out += rest[..<scheme.upperBound]
      rest = rest[scheme.upperBound...]
      let authority = rest.prefix { !"/?# \"'".contains($0) }
      if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
        out += rest[...colon] + "REDACTED"
        rest = rest[at...]
      }
    }
    return out + rest
  }
}
