/// Just enough XML for S3's answers (ListObjectsV2, multipart results, errors): elements, text,
/// the five named entities and numeric references, CDATA; attributes, comments, declarations skipped.
struct S3XML: Sendable {
  var name: String
  var text: String = ""
  var children: [S3XML] = []

  /// The first child named `name`.
  subscript(_ name: String) -> S3XML? { children.first { $0.name == name } }

  func all(_ name: String) -> [S3XML] { children.filter { $0.name == name } }

  /// The text of the first child named `name`.
  func value(_ name: String) -> String? { self[name]?.text }

  static func parse(_ bytes: [UInt8]) -> S3XML? {
    var parser = Parser(bytes: bytes)
    return parser.document()
  }

  /// Text with `&`, `<`, `>` escaped (keys and ETags in a request body).
  static func escape(_ text: String) -> String {
    var out = ""
    for c in text.unicodeScalars {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default: out.unicodeScalars.append(c)
      }
    }
    return out
  }

  private struct Parser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> S3XML? {
      while i < bytes.count {
        guard let lt = next(UInt8(ascii: "<")) else { return nil }
        i = lt
        if starts("<?") || starts("<!") {
          skipMarkup()
          continue
        }
        return element()
      }
      return nil
    }

    func starts(_ s: String) -> Bool {
      let u = Array(s.utf8)
      return i + u.count <= bytes.count && Array(bytes[i..<(i + u.count)]) == u
    }

    func next(_ byte: UInt8, from start: Int? = nil) -> Int? {
      var j = start ?? i
      while j < bytes.count {
        if bytes[j] == byte { return j }
        j += 1
      }
      return nil
    }

    mutating func skipMarkup() {
      if starts("<!--") {
        while i < bytes.count, !starts("-->") { i += 1 }
        i += 3
      } else {
        i = (next(UInt8(ascii: ">")) ?? bytes.count) + 1
      }
    }

    /// At `<name ...>`: the element and everything in it, up to its end tag.
    mutating func element() -> S3XML? {
      i += 1
      let start = i
      while i < bytes.count, !" \t\r\n/>".utf8.contains(bytes[i]) { i += 1 }
      var node = S3XML(name: String(decoding: bytes[start..<i], as: UTF8.self))
      guard let gt = next(UInt8(ascii: ">")) else { return nil }
      let selfClosing = bytes[gt - 1] == UInt8(ascii: "/")
      i = gt + 1
      if selfClosing { return node }
      var text: [UInt8] = []
      while i < bytes.count {
        if bytes[i] != UInt8(ascii: "<") {
          text.append(bytes[i])
          i += 1
          continue
        }
        if starts("<![CDATA[") {
          // Raw text, escaped here so the one unescape at the end gives it back unchanged.
          i += 9
          let start = i
          while i < bytes.count, !starts("]]>") { i += 1 }
          text += Array(S3XML.escape(String(decoding: bytes[start..<i], as: UTF8.self)).utf8)
          i += 3
        } else if starts("</") {
          i = (next(UInt8(ascii: ">")) ?? bytes.count) + 1
          node.text = S3XML.unescape(text)
          return node
        } else if starts("<?") || starts("<!") {
          skipMarkup()
        } else {
          guard let child = element() else { return nil }
          node.children.append(child)
        }
      }
      return nil
    }
  }

  static func unescape(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
      guard bytes[i] == UInt8(ascii: "&"), let semi = bytes[i...].firstIndex(of: UInt8(ascii: ";")), semi - i <= 10 else {
        out.append(bytes[i])
        i += 1
        continue
      }
      let entity = String(decoding: bytes[(i + 1)..<semi], as: UTF8.self)
      var scalar: Unicode.Scalar?
      switch entity {
      case "amp": scalar = "&"
      case "lt": scalar = "<"
      case "gt": scalar = ">"
      case "quot": scalar = "\""
      case "apos": scalar = "'"
      default:
        if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
          scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
        } else if entity.hasPrefix("#") {
          scalar = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init)
        }
      }
      if let scalar {
        out += Array(String(scalar).utf8)
        i = semi + 1
      } else {
        out.append(bytes[i])
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
}
