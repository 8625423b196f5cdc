import Testing

@testable import RexstoreCore

@Suite struct TimestampTests {
  @Test func storedFormIsPythonsIsoformat() {
    let ts = Timestamp(microseconds: 1_768_055_206_123_456)
    #expect(ts.storedForm == "2026-01-10T14:26:46.123456+00:00")
    #expect(ts.outputForm == "2026-01-10T14:26:46.123Z")
    #expect(ts.exactOutputForm == "2026-01-10T14:26:46.123456Z")
    // Python leaves the fraction out when it is zero.
    #expect(Timestamp(microseconds: 1_768_046_400_000_000).storedForm == "2026-01-10T12:00:00+00:00")
  }

  @Test(arguments: [
    ("2026-01-10T14:26:46.123456+00:00", Int64(1_768_055_206_123_456)),
    ("2026-01-10T14:26:46+00:00", 1_768_055_206_000_000), ("2026-01-10 14:26:46", 1_768_055_206_000_000),
    ("2026-01-10T14:26:46.1Z", 1_768_055_206_100_000), ("2026-01-10T16:26:46.123456789+02:00", 1_768_055_206_123_456),
    ("1970-01-01T00:00:00Z", 0), ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
  ])
  func parsesStoredAndRFC3339Forms(text: String, micros: Int64) {
    #expect(Timestamp.parse(text)?.microseconds == micros)
  }

  @Test(arguments: ["", "2026-01-10", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-10T14:26:46+0000", "2026-01-10T14:26:46.Z", "x"])
  func rejectsMalformedTimes(text: String) {
    #expect(Timestamp.parse(text) == nil)
  }

  @Test func storedFormsSortLikeTime() {
    let a = Timestamp(microseconds: 1_768_046_400_000_000)
    let b = a.adding(microseconds: 1)
    #expect(a.storedForm < b.storedForm)
    #expect(Timestamp(microseconds: -1).outputForm == "1969-12-31T23:59:59.999Z")
  }
}
