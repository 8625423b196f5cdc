import Glibc

/// An instant in UTC with microsecond precision, the precision of the app's stored timestamps.
public struct Timestamp: Sendable, Equatable, Comparable, Hashable {
  public var microseconds: Int64

  public init(microseconds: Int64) { self.microseconds = microseconds }

  public static func now() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
  }

  public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

  /// 9999-12-31T23:59:59.999999Z: later times would need five-digit years and would no longer sort
  /// correctly as text, which the app's `expires_at < now` relies on.
  public static let latestStorable = Timestamp(microseconds: 253_402_300_799_999_999)
  /// 0001-01-01T00:00:00Z: earlier times have no four-digit year (year 0 would print as `0000` or, after
  /// an offset, as a negative year).
  public static let earliestStorable = Timestamp(microseconds: -62_135_596_800_000_000)

  public func adding(microseconds delta: Int64) -> Timestamp {
    let (sum, overflow) = microseconds.addingReportingOverflow(delta)
    return Timestamp(microseconds: overflow ? Int64.max : sum)
  }

  /// The form the app stores: Python's `datetime.now(UTC).isoformat()`,
  /// `2026-01-10T14:26:46.123456+00:00`, with the fraction left out when it is zero.
  ///
  /// Matching it exactly keeps the app's lexicographic `ORDER BY created_at` and `expires_at < now`
  /// comparisons correct on rows written by either program.
  public var storedForm: String {
    let (date, micro) = civil()
    var s = date
    if micro != 0 {
      s += "." + pad(micro, 6)
    }
    return s + "+00:00"
  }

  /// RFC 3339 with a `Z` and exactly three fractional digits, the output contract's form.
  public var outputForm: String {
    let (date, micro) = civil()
    return date + "." + pad(micro / 1_000, 3) + "Z"
  }

  /// RFC 3339 with microseconds, for exports that must round-trip without loss.
  public var exactOutputForm: String {
    let (date, micro) = civil()
    return date + "." + pad(micro, 6) + "Z"
  }

  private func civil() -> (String, Int64) {
    var seconds = microseconds / 1_000_000
    var micro = microseconds % 1_000_000
    if micro < 0 {
      micro += 1_000_000
      seconds -= 1
    }
    var days = seconds / 86_400
    var secOfDay = seconds % 86_400
    if secOfDay < 0 {
      secOfDay += 86_400
      days -= 1
    }
    let (y, m, d) = Timestamp.civilFromDays(days)
    let date =
      pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(secOfDay / 3600, 2) + ":"
      + pad(secOfDay / 60 % 60, 2) + ":" + pad(secOfDay % 60, 2)
    return (date, micro)
  }

  private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }

  // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
  static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? y + 1 : y, m, d)
  }

  static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  /// Parses every form found in the app's database and RFC 3339 input:
  /// `2026-01-10T14:26:46.123456+00:00`, `...Z`, other offsets, no fraction, and SQLite's
  /// `CURRENT_TIMESTAMP` form `2026-01-10 14:26:46` (UTC, no offset).
  public static func parse(_ text: String) -> Timestamp? {
    let b = Array(text.utf8)
    func digits(_ at: Int, _ count: Int) -> Int64? {
      guard at + count <= b.count else { return nil }
      var v: Int64 = 0
      for i in at..<at + count {
        guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
        v = v * 10 + Int64(b[i] - 0x30)
      }
      return v
    }
    guard b.count >= 19, let y = digits(0, 4), b[4] == 0x2D, let mo = digits(5, 2), b[7] == 0x2D,
      let d = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == 0x20,
      let h = digits(11, 2), b[13] == 0x3A, let mi = digits(14, 2), b[16] == 0x3A,
      let s = digits(17, 2)
    else { return nil }
    guard (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y), h < 24, mi < 60, s < 61 else {
      return nil
    }
    var i = 19
    var micro: Int64 = 0
    if i < b.count, b[i] == UInt8(ascii: ".") {
      i += 1
      var count = 0
      while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
        if count < 6 { micro = micro * 10 + Int64(b[i] - 0x30) }
        count += 1
        i += 1
      }
      guard count > 0 else { return nil }
      for _ in count..<max(count, 6) { micro *= 10 }
    }
    var offsetSeconds: Int64 = 0
    if i < b.count {
      if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
        i += 1
      } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        guard let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = digits(i + 4, 2),
          oh < 24, om < 60
        else { return nil }
        offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
        i += 6
      } else {
        return nil
      }
    }
    guard i == b.count else { return nil }
    let days = daysFromCivil(y, mo, d)
    let seconds = days * 86_400 + h * 3600 + mi * 60 + min(s, 59) - offsetSeconds
    return Timestamp(microseconds: seconds * 1_000_000 + micro)
  }

  private static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  /// The output form of a stored timestamp; text that is not a timestamp is passed through unchanged
  /// rather than hidden.
  public static func outputForm(ofStored text: String?) -> JSONValue {
    guard let text else { return .null }
    guard let ts = Timestamp.parse(text) else { return .string(text) }
    return .string(ts.outputForm)
  }
}
