import RexstoreCore

/// The `--max-delete` guard every prune shares (`audio`, `profile` and `context prune`): a run over the
/// limit deletes nothing and exits 25 (`limit_exceeded`); a dry run always lists its candidates, and
/// says whether the limit would stop the real run.
struct PruneGuard {
  var what: String
  var count: Int
  var limit: Int?
  var dryRun: Bool
  var older: String
  var cutoff: Timestamp
  /// Why the candidates were chosen, for the error message; default "are older than OLDER".
  var selection: String? = nil

  var exceeded: Bool { limit.map { count > $0 } ?? false }

  var error: RexstoreError {
    RexstoreError(
      .limitExceeded,
      "\(count) \(what) \(selection ?? "are older than \(older)"), more than --max-delete \(limit ?? 0); nothing deleted",
      hint: "raise --max-delete after checking the candidates with --dry-run")
  }

  func check() throws(RexstoreError) { if exceeded { throw error } }

  /// `deleted_count` counts the items whose `deleted` is true.
  func report(items: [JSONValue], failures: [JSONValue], freed: Int64, exit: Int32) -> CommandOutput {
    var failures = failures
    var exit = exit
    if dryRun, exceeded {
      failures.append(.record(["code": .string(error.code.rawValue), "message": .string(error.message)]))
      exit = max(exit, ExitStatus.of(.limitExceeded))
    }
    let deletedCount = items.filter { $0["deleted"] == .bool(true) }.count
    return .report(
      .record([
        "items": .array(items), "count": .int(items.count), "failures": .array(failures), "dry_run": .bool(dryRun),
        "cutoff": .string(cutoff.outputForm), "deleted_count": .int(deletedCount), "freed_bytes": .int(freed),
        "max_delete": limit.map { JSONValue.int($0) } ?? .null, "limit_exceeded": .bool(exceeded),
      ]), exit: exit)
  }
}
