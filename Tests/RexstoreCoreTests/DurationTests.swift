import Testing

@testable import RexstoreCore

@Suite struct DurationTests {
  @Test(arguments: [
    ("90s", Int64(90_000_000)), ("15m", 900_000_000), ("2h", 7_200_000_000), ("7d", 604_800_000_000),
    ("1h30m", 5_400_000_000), ("500ms", 500_000), ("1w", 604_800_000_000),
  ])
  func parsesUnits(text: String, micros: Int64) throws {
    #expect(try DurationParser.microseconds(text) == micros)
  }

  @Test(arguments: ["30", "", "5x", "h", "1.5h", "-5m", "99999999999999999999d"])
  func rejectsWithUsageError(text: String) {
    #expect(throws: RexstoreError.self) { try DurationParser.microseconds(text) }
    #expect((try? DurationParser.microseconds(text)) == nil)
  }

  @Test func bareNumberHintsAtUnits() {
    do {
      _ = try DurationParser.microseconds("30")
      Issue.record("expected an error")
    } catch {
      #expect(error.code == .usage)
      #expect(error.hint?.contains("30m") == true)
    }
  }
}
