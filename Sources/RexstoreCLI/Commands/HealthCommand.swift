import RexstoreCore

/// `rexstore health`: a monitoring check (exit 0 ok, 1 warning, 2 critical) that always prints its report.
enum HealthCommand {
  static let spec = CommandSpec(
    "health", summary: "Check the database and local root; show the configuration",
    discussion: """
      Exit status follows the monitoring-plugin convention: 0 ok, 1 warning, 2 critical. The report is
      printed on stdout whatever the status, with each setting's value and where it came from.
      """,
    options: [OptionSpec("deep", help: "also run SQLite's quick_check")],
    examples: ["rexstore health --pretty"]
  ) { inv, rt throws(RexstoreError) in
    let config = try rt.config()
    let checks = [
      Health.database(try rt.store(), deep: inv.flag("deep")),
      Health.localRoot(config.objects.value),
      Health.leftovers(config.objects.value),
    ]
    let level = checks.map(\.level).max() ?? .ok
    return .report(
      .record(["status": .string(level.rawValue), "checks": .array(checks.map(\.json)), "config": config.json]),
      exit: level.exitStatus)
  }
}
