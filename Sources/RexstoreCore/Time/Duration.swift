/// Parses the durations of the command line: `90s`, `15m`, `2h`, `7d`, `1w`, `500ms`, `1h30m`.
///
/// A bare number is refused: `--expires 30` could mean seconds or minutes (the app used minutes), and
/// guessing wrong silently expires or keeps data.
public enum DurationParser {
  public static func microseconds(_ text: String) throws(RexstoreError) -> Int64 {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { throw RexstoreError.usage("empty duration", hint: "write e.g. 90s, 15m, 2h, 7d") }
    if bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
      throw RexstoreError.usage(
        "duration '\(text)' has no unit", hint: "add a unit: \(text)s, \(text)m, \(text)h or \(text)d")
    }
    var total: Int64 = 0
    var i = 0
    while i < bytes.count {
      var value: Int64 = 0
      let start = i
      while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
        guard !o1, !o2 else { throw tooLong(text) }
        value = a
        i += 1
      }
      guard i > start else { throw invalid(text) }
      let unitStart = i
      while i < bytes.count, !(bytes[i] >= 0x30 && bytes[i] <= 0x39) { i += 1 }
      let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
      let scale: Int64
      switch unit {
      case "ms": scale = 1_000
      case "s": scale = 1_000_000
      case "m": scale = 60_000_000
      case "h": scale = 3_600_000_000
      case "d": scale = 86_400_000_000
      case "w": scale = 604_800_000_000
      default: throw invalid(text)
      }
      let (part, o1) = value.multipliedReportingOverflow(by: scale)
      let (sum, o2) = total.addingReportingOverflow(part)
      guard !o1, !o2 else { throw tooLong(text) }
      total = sum
    }
    return total
  }

  private static func invalid(_ text: String) -> RexstoreError {
    RexstoreError.usage("invalid duration '\(text)'", hint: "units are ms, s, m, h, d, w; e.g. 90s, 15m, 1h30m, 7d")
  }

  private static func tooLong(_ text: String) -> RexstoreError {
    RexstoreError.usage("duration '\(text)' is too long")
  }
}
