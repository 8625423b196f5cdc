/// RFC 3986 percent-encoding as GCS's V4 signing wants it: UTF-8, upper-case hex, only
/// `A-Z a-z 0-9 - _ . ~` left as they are (and `/` too where a path keeps its slashes).
enum PercentEncoding {
  static func encode(_ text: String, keepSlash: Bool = false) -> String {
    var out = ""
    let hex = Array("0123456789ABCDEF")
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
        UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      case UInt8(ascii: "/") where keepSlash:
        out += "/"
      default:
        out += "%"
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      }
    }
    return out
  }
}
