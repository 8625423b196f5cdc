import Foundation
import Testing

@testable import RexstoreCore

/// Issue 10: listings without hidden caps, `context list`, `context prune` with guards, one JSON type
/// per concept, and `--ndjson` on every list.
@Suite struct ListingTests {
  func rowCount(_ h: Harness) throws -> Int64 {
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    let s = try db.prepare("SELECT count(*) FROM conversation_context")
    _ = try s.step()
    return s.int(0)
  }

  @Test func contextListShowsEveryKeyNewestFirstWithIdTiebreak() throws {
    let h = Harness()
    h.run("context", "add", "1", "a", "one", "--session", "s1")
    h.run("context", "add", "1", "b", "two")
    h.run("context", "add", "1", "c", "three", "--session", "s2")
    h.run("context", "add", "2", "a", "other user")
    h.run("context", "add", "1", "d", "old", "--expires-at", "2020-01-01T00:00:00Z")
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    try db.execute("UPDATE conversation_context SET created_at = '2026-01-01T00:00:00+00:00'")
    let r = h.run("context", "list", "1")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(
      r.stdout
        == #"{"count":3,"items":[{"created_at":"2026-01-01T00:00:00.000Z","expires_at":null,"id":3,"key":"c","session_id":"s2","user_id":1,"value":"three"},{"created_at":"2026-01-01T00:00:00.000Z","expires_at":null,"id":2,"key":"b","session_id":null,"user_id":1,"value":"two"},{"created_at":"2026-01-01T00:00:00.000Z","expires_at":null,"id":1,"key":"a","session_id":"s1","user_id":1,"value":"one"}]}"#
        + "\n")
    func ids(_ argv: String...) -> [JSONValue] {
      guard case .array(let items)? = h.run(argv).json?["items"] else { return [] }
      return items.map { $0["id"]! }
    }
    #expect(ids("context", "list", "1", "--include-expired") == [.number("5"), .number("3"), .number("2"), .number("1")])
    #expect(ids("context", "list", "1", "--session", "s1") == [.number("1")])
    #expect(ids("context", "list", "1", "--no-session") == [.number("2")])
    #expect(ids("context", "list", "1", "--no-session", "--include-expired") == [.number("5"), .number("2")])
    #expect(ids("context", "list", "3") == [])
    #expect(h.run("context", "list", "1", "--session", "s1", "--no-session").status == 64)
    #expect(h.run("context", "list", "x").status == 64)
  }

  @Test func contextListWithLimitStatesTheCap() throws {
    let h = Harness()
    for i in 0..<3 { h.run("context", "add", "1", "k\(i)", "\(i)") }
    let capped = try #require(h.run("context", "list", "1", "--limit", "2").json)
    #expect(capped["count"] == .number("2"))
    #expect(capped["limit"] == .number("2"))
    #expect(capped["truncated"] == .bool(true))
    let whole = try #require(h.run("context", "list", "1", "--limit", "3").json)
    #expect(whole["count"] == .number("3"))
    #expect(whole["truncated"] == .bool(false))
    let got = try #require(h.run("context", "get", "1", "k0", "--limit", "1").json)
    #expect(got["truncated"] == .bool(false))
    #expect(h.run("context", "list", "1", "--limit", "0").status == 64)
    // The largest --limit does not overflow.
    #expect(h.run("context", "list", "1", "--limit", "\(Int.max)").json?["truncated"] == .bool(false))
  }

  @Test func ndjsonOnEveryListInPatternContextInsight() throws {
    let h = Harness()
    h.run("pattern", "set", "1", "style", "a", "1")
    h.run("pattern", "set", "1", "style", "b", "2")
    h.run("context", "add", "1", "k", "x")
    h.run("context", "add", "1", "k", "y")
    h.run("insight", "add", "1", "tilt", "[1]")
    h.run("insight", "add", "1", "tilt", "[2]")
    let db = try Database(path: h.databasePath, mode: .readWrite, busyTimeoutMilliseconds: 1000)
    try db.execute("UPDATE conversation_context SET created_at = '2026-01-01T00:00:00+00:00'")
    try db.execute("UPDATE user_insights SET created_at = '2026-01-01T00:00:00+00:00'")
    try db.execute("UPDATE user_patterns SET created_at = '2026-01-01T00:00:00+00:00', updated_at = '2026-01-01T00:00:00+00:00'")
    let ctx2 = #"{"created_at":"2026-01-01T00:00:00.000Z","expires_at":null,"id":2,"key":"k","session_id":null,"user_id":1,"value":"y"}"#
    let ctx1 = #"{"created_at":"2026-01-01T00:00:00.000Z","expires_at":null,"id":1,"key":"k","session_id":null,"user_id":1,"value":"x"}"#
    let ins2 = #"{"created_at":"2026-01-01T00:00:00.000Z","data":[2],"id":2,"importance":0.5,"type":"tilt","user_id":1}"#
    let ins1 = #"{"created_at":"2026-01-01T00:00:00.000Z","data":[1],"id":1,"importance":0.5,"type":"tilt","user_id":1}"#
    let pat = { (k: String, v: String) in
      #"{"confidence":1.0,"created_at":"2026-01-01T00:00:00.000Z","key":"\#(k)","type":"style","updated_at":"2026-01-01T00:00:00.000Z","user_id":1,"value":\#(v)}"#
    }
    let cases: [([String], String)] = [
      (["pattern", "list", "1", "--ndjson"], pat("b", "2") + "\n" + pat("a", "1") + "\n"),
      (["context", "get", "1", "k", "--ndjson"], ctx2 + "\n" + ctx1 + "\n"),
      (["context", "list", "1", "--ndjson"], ctx2 + "\n" + ctx1 + "\n"),
      (["insight", "list", "1", "--ndjson"], ins2 + "\n" + ins1 + "\n"),
      // With --limit, NDJSON is still the items alone, one per line.
      (["context", "get", "1", "k", "--limit", "1", "--ndjson"], ctx2 + "\n"),
      (["context", "list", "1", "--limit", "1", "--ndjson"], ctx2 + "\n"),
      (["insight", "list", "1", "--limit", "1", "--ndjson"], ins2 + "\n"),
      (["pattern", "list", "9", "--ndjson"], ""),
      (["context", "list", "9", "--ndjson"], ""),
    ]
    for (argv, expected) in cases {
      let r = h.run(argv)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
      #expect(r.stdout == expected, "\(argv)")
    }
  }

  /// Three expired rows (4, 6 and 1 bytes: UTF-8 bytes, not characters), one live one.
  func seedExpired(_ h: Harness) {
    h.run("context", "add", "1", "k", "gone", "--expires-at", "2020-01-01T00:00:00Z")
    h.run("context", "add", "1", "k", "héllo", "--expires-at", "2020-01-02T00:00:00Z", "--session", "s1")
    h.run("context", "add", "2", "j", "x", "--expires-at", "2020-01-03T00:00:00Z")
    h.run("context", "add", "1", "k", "live")
  }

  @Test func contextPruneDryRunListsCandidatesAndChangesNothing() throws {
    let h = Harness()
    seedExpired(h)
    let before = try Data(contentsOf: URL(fileURLWithPath: h.databasePath))
    let dry = h.run("context", "prune", "--dry-run")
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect(
      Harness.normalized(dry.stdout)
        == #"{"count":3,"cutoff":"<TIME>","deleted_count":0,"dry_run":true,"failures":[],"freed_bytes":0,"items":[{"created_at":"<TIME>","deleted":false,"expires_at":"<TIME>","id":1,"key":"k","session_id":null,"size_bytes":4,"user_id":1},{"created_at":"<TIME>","deleted":false,"expires_at":"<TIME>","id":2,"key":"k","session_id":"s1","size_bytes":6,"user_id":1},{"created_at":"<TIME>","deleted":false,"expires_at":"<TIME>","id":3,"key":"j","session_id":null,"size_bytes":1,"user_id":2}],"limit_exceeded":false,"max_delete":null}"#
        + "\n")
    #expect(try Data(contentsOf: URL(fileURLWithPath: h.databasePath)) == before)
    #expect(try rowCount(h) == 4)
  }

  @Test func contextPruneOverTheLimitDeletesNothingAndExits25() throws {
    let h = Harness()
    seedExpired(h)
    let refused = h.run("context", "prune", "--max-delete", "2")
    #expect(refused.status == 25)
    #expect(refused.errorCode == "limit_exceeded")
    #expect(refused.stdout.isEmpty)
    #expect(refused.stderr.contains("3 context rows have expired, more than --max-delete 2; nothing deleted"))
    #expect(try rowCount(h) == 4)
    // A dry run over the limit still lists every candidate, and exits 25 too.
    let preview = h.run("context", "prune", "--max-delete", "2", "--dry-run")
    #expect(preview.status == 25)
    let report = try #require(preview.json)
    #expect(report["count"] == .number("3"))
    #expect(report["limit_exceeded"] == .bool(true))
    #expect(report["max_delete"] == .number("2"))
    #expect(report["deleted_count"] == .number("0"))
    guard case .array(let failures)? = report["failures"] else { Issue.record("no failures"); return }
    #expect(failures.first?["code"] == .string("limit_exceeded"))
    #expect(try rowCount(h) == 4)
    #expect(h.run("context", "prune", "--max-delete", "0").status == 64)
    #expect(h.run("context", "prune", "--max-delete", "x").status == 64)
  }

  @Test func contextPruneReportsDeletedCountAndFreedBytes() throws {
    let h = Harness()
    seedExpired(h)
    let real = h.run("context", "prune", "--max-delete", "3")
    #expect(real.status == 0, "\(real.stderr)")
    let report = try #require(real.json)
    #expect(report["deleted_count"] == .number("3"))
    #expect(report["freed_bytes"] == .number("11"))
    #expect(report["dry_run"] == .bool(false))
    #expect(report["limit_exceeded"] == .bool(false))
    guard case .array(let items)? = report["items"] else { Issue.record("no items"); return }
    #expect(items.map { $0["deleted"] } == [.bool(true), .bool(true), .bool(true)])
    #expect(items.map { $0["size_bytes"] } == [.number("4"), .number("6"), .number("1")])
    #expect(try rowCount(h) == 1)
    #expect(h.run("context", "list", "1", "--include-expired").json?["count"] == .number("1"))
    let again = try #require(h.run("context", "prune").json)
    #expect(again["deleted_count"] == .number("0"))
    #expect(again["items"] == .array([]))
  }

  @Test func contextPruneOnAMissingDatabaseIs66() {
    let h = Harness()
    #expect(h.run("context", "prune").status == 66)
    #expect(h.run("context", "prune", "--dry-run").status == 66)
    #expect(h.run("context", "list", "1").status == 66)
  }

  /// A deleted flag is a boolean and a count of deleted rows is `deleted_count`, in every command of
  /// the pattern, context and insight groups (clear used to print `"deleted": N`).
  @Test func deletedIsAlwaysABooleanAndCountsAreDeletedCount() throws {
    let h = Harness()
    h.run("pattern", "set", "1", "t", "k", "1")
    h.run("pattern", "set", "1", "t", "k2", "1")
    h.run("context", "add", "1", "k", "v", "--session", "s")
    h.run("context", "add", "1", "k", "v", "--expires-at", "2020-01-01T00:00:00Z")
    h.run("insight", "add", "1", "t", "{}")
    let cases: [([String], String)] = [
      (["pattern", "rm", "1", "t", "k"], #"{"deleted":true,"key":"k","type":"t","user_id":1}"#),
      (["pattern", "rm", "1", "t", "k", "--if-exists"], #"{"deleted":false,"key":"k","type":"t","user_id":1}"#),
      (["pattern", "clear", "1"], #"{"deleted_count":1,"user_id":1}"#),
      (["context", "clear", "1", "--session", "s"], #"{"deleted_count":1,"session_id":"s","user_id":1}"#),
      (["context", "clear", "1"], #"{"deleted_count":1,"session_id":null,"user_id":1}"#),
      (["insight", "clear", "1"], #"{"deleted_count":1,"type":null,"user_id":1}"#),
      (["insight", "clear", "1", "--type", "t"], #"{"deleted_count":0,"type":"t","user_id":1}"#),
    ]
    for (argv, expected) in cases {
      let r = h.run(argv)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
      #expect(r.stdout == expected + "\n", "\(argv)")
    }
  }
}
