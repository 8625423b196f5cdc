/// Serialises `JSONValue` in the three forms rexstore needs.
///
/// - `compact` and `pretty` are the output contract: keys sorted, `/` unescaped, UTF-8 kept as is.
/// - `python` is what the app's `json.dumps` writes (`", "`/`": "` separators, `ensure_ascii`, member
///   order kept), so values rexstore stores look exactly like values the app stores.
public enum JSONStyle: Sendable {
  case compact
  case pretty
  case python
}

extension JSONValue {
  public func serialized(_ style: JSONStyle = .compact) -> String {
    var out = ""
    write(to: &out, style: style, indent: 0)
    return out
  }

  public func write(to out: inout String, style: JSONStyle, indent: Int = 0) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let text): out += text
    case .string(let s): JSONValue.writeString(s, to: &out, asciiOnly: style == .python)
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += style == .python ? ", " : "," }
        if style == .pretty { JSONValue.newline(&out, indent + 1) }
        item.write(to: &out, style: style, indent: indent + 1)
      }
      if style == .pretty { JSONValue.newline(&out, indent) }
      out += "]"
    case .object(let members):
      if members.isEmpty {
        out += "{}"
        return
      }
      let ordered = style == .python ? members : JSONValue.sortedUnique(members)
      out += "{"
      for (i, member) in ordered.enumerated() {
        if i > 0 { out += style == .python ? ", " : "," }
        if style == .pretty { JSONValue.newline(&out, indent + 1) }
        JSONValue.writeString(member.key, to: &out, asciiOnly: style == .python)
        out += style == .compact ? ":" : ": "
        member.value.write(to: &out, style: style, indent: indent + 1)
      }
      if style == .pretty { JSONValue.newline(&out, indent) }
      out += "}"
    }
  }

  /// Sorted by key in code-point order (what `jq -S` and Python's `sort_keys` do); the last duplicate wins.
  private static func sortedUnique(_ members: [Member]) -> [Member] {
    var sorted: [Member] = []
    sorted.reserveCapacity(members.count)
    for member in members {
      if let at = sorted.firstIndex(where: { $0.key == member.key }) {
        sorted[at] = member
      } else {
        sorted.append(member)
      }
    }
    sorted.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
    return sorted
  }

  private static func newline(_ out: inout String, _ level: Int) {
    out += "\n"
    out += String(repeating: "  ", count: level)
  }

  private static let hexDigits: [Character] = Array("0123456789abcdef")

  /// `lineBreaks` false keeps U+0085/U+2028/U+2029 as they are, as Python's `json.dumps` does with
  /// `ensure_ascii=False` (the app's dossiers).
  static func writeString(_ s: String, to out: inout String, asciiOnly: Bool, lineBreaks: Bool = true) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      default:
        // U+0085, U+2028 and U+2029 are line breaks to many line readers (Python's splitlines,
        // JavaScript): escaped, so one JSON document stays one line to every consumer.
        if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7E)
          || (lineBreaks && (scalar.value == 0x85 || scalar.value == 0x2028 || scalar.value == 0x2029))
        {
          if scalar.value > 0xFFFF {
            let v = scalar.value - 0x10000
            appendEscape(0xD800 + (v >> 10), to: &out)
            appendEscape(0xDC00 + (v & 0x3FF), to: &out)
          } else {
            appendEscape(scalar.value, to: &out)
          }
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out += "\""
  }

  private static func appendEscape(_ value: UInt32, to out: inout String) {
    out += "\\u"
    for shift in stride(from: 12, through: 0, by: -4) {
      out.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
    }
  }
}
