import RexstoreCore

/// `rexstore health`: a monitoring check (exit 0 ok, 1 warning, 2 critical) that always prints its report.
enum HealthCommand {
  static let spec = CommandSpec(
    "health", summary: "Check database, local root and GCS; show the configuration",
    discussion: """
      Exit status follows the monitoring-plugin convention: 0 ok, 1 warning, 2 critical. The report is
      printed on stdout whatever the status, with each setting's value and where it came from. With
      GCS configured it also checks that the bucket answers (a warning while writes can fall back, else
      critical) and counts local objects waiting for 'rexstore migrate' (a warning).
      """,
    options: [OptionSpec("deep", help: "also run SQLite's quick_check")],
    examples: ["rexstore health --pretty"]
  ) { inv, rt throws(RexstoreError) in
    let config = try rt.config()
    var checks = [
      Health.database(try rt.store(), deep: inv.flag("deep")),
      Health.localRoot(config.objects.value),
      Health.leftovers(config.objects.value, backupDirectories: [FileSystem.parent(of: config.database.value)]),
    ]
    if config.effectiveBackend == "gcs" {
      // A monitoring probe answers within seconds: two tries, short timeouts.
      checks.append(
        Health.gcs({ () throws(RexstoreError) in try rt.gcsStore(probe: true) },
          fallback: config.noFallback.value != "true", describe: "credentials: \(config.credentialsSource)"))
      checks.append(Health.pendingMigration(config.objects.value))
    }
    let level = checks.map(\.level).max() ?? .ok
    return .report(
      .record(["status": .string(level.rawValue), "checks": .array(checks.map(\.json)), "config": config.json]),
      exit: level.exitStatus)
  }
}
