/// Keeps the man page's text lines within 80 bytes, as `mandoc -T lint` asks ("input text line longer
/// than 80 bytes"). A filled text line may break at any space; the generator writes prose as long lines
/// and this pass folds them, so every section (hand-written or generated) obeys the rule.
enum RoffWrap {
  static let width = 80

  /// Folds every text line outside literal displays (`.Bd -literal` ... `.Ed`, where a break would show)
  /// and leaves macro lines (`.`), and lines no space can shorten, as they are.
  static func fold(_ page: String) -> String {
    var out: [Substring] = []
    var literal = false
    for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix(".Bd") && line.contains("-literal") { literal = true }
      if line.hasPrefix(".Ed") { literal = false }
      if literal || line.hasPrefix(".") || line.hasPrefix("'") || line.utf8.count <= width {
        out.append(line)
        continue
      }
      out.append(contentsOf: foldLine(String(line)).map { Substring($0) })
    }
    return out.joined(separator: "\n")
  }

  /// Breaks at the last usable space within the width (or the first one past it). A space is not usable
  /// after a word that ends a sentence to roff (`.`, `?`, `!`, optionally closed by `)]"'`): a line end
  /// there would add sentence spacing to `e.g.`. A continuation line that would start with `.` or `'`
  /// (a request) gets `\&` in front.
  static func foldLine(_ text: String) -> [String] {
    var lines: [String] = []
    var rest = Array(text.utf8)
    while rest.count > width {
      var candidates: [Int] = []
      for i in rest.indices where rest[i] == UInt8(ascii: " ") && i > 0 && usable(rest, before: i) {
        candidates.append(i)
      }
      guard let cut = candidates.last(where: { $0 <= width }) ?? candidates.first else { break }
      lines.append(String(decoding: rest[..<cut], as: UTF8.self))
      var next = cut
      while next < rest.count, rest[next] == UInt8(ascii: " ") { next += 1 }
      rest = Array(rest[next...])
      if let first = rest.first, first == UInt8(ascii: ".") || first == UInt8(ascii: "'") {
        rest = Array("\\&".utf8) + rest
      }
    }
    lines.append(String(decoding: rest, as: UTF8.self))
    return lines
  }

  /// Whether a line may end at the space at `space`: not inside a run of spaces (a trailing space is a
  /// lint warning too), not an escaped space (`\ `), not after a sentence end.
  private static func usable(_ bytes: [UInt8], before space: Int) -> Bool {
    var i = space - 1
    if bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\\") { return false }
    while i > 0, ")]\"'".utf8.contains(bytes[i]) { i -= 1 }
    return !".?!".utf8.contains(bytes[i])
  }
}
