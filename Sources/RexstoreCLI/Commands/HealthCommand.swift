import RexstoreCore

/// `rexstore health`: a monitoring plugin (exit 0 ok, 1 warning, 2 critical, 3 unknown) that always
/// prints its report, as JSON or (`--nagios`) as the plugin one-line form.
enum HealthCommand {
  static let spec = CommandSpec(
    "health", summary: "Check database, local root and remote; show the settings",
    discussion: """
      Exit status follows the monitoring-plugin guidelines: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the
      check could not run: a bad config file, setting or option, or a check that failed itself). The report is
      printed on stdout whatever the status: JSON with each check's status, message and typed values,
      and each setting's value and where it came from; with --nagios one line
      'REXSTORE STATE - text | perfdata' (perfdata: db_size B, root_free B, root_free_pct %, leftovers,
      and with a remote BACKEND_latency ms, pending_objects, pending_bytes B). With a remote backend
      (gcs, s3) configured it also checks that the bucket answers (an outage is a warning while writes can
      fall back, else critical; a remote that
      is enabled but unusable, e.g. no bucket, no credentials or a malformed key, is critical) and counts
      local objects waiting for 'rexstore migrate' (a warning). Leftovers of killed writers are a warning
      ('rexstore fsck --repair' removes them).
      """,
    options: [
      OptionSpec("deep", help: "also run SQLite's quick_check"),
      OptionSpec("nagios", help: "print the monitoring-plugin line 'REXSTORE STATE - text | perfdata' instead of JSON"),
    ],
    examples: ["rexstore health --pretty", "rexstore health --nagios"]
  ) { inv, rt throws(RexstoreError) in
    let nagios = inv.flag("nagios")
    let config: Config
    let report: HealthReport
    do throws(RexstoreError) {
      config = try rt.config()
      report = HealthReport(checks: try checks(config, deep: inv.flag("deep"), rt))
    } catch {
      // The check could not run: UNKNOWN (3), and the report still says why.
      let check = HealthCheck(
        name: error.code == .config || error.code == .usage ? "config" : "health", level: .unknown,
        message: error.message + (error.hint.map { " (\($0))" } ?? ""))
      let failed = HealthReport(checks: [check])
      if nagios { return .reportText(failed.pluginLine + "\n", exit: HealthLevel.unknown.exitStatus) }
      var members: [JSONValue.Member] = [
        .init("code", .string(error.code.rawValue)), .init("message", .string(error.message)),
      ]
      if let hint = error.hint { members.append(.init("hint", .string(hint))) }
      return .report(
        .record([
          "status": .string(HealthLevel.unknown.rawValue), "checks": .array([check.json]), "config": .null,
          "error": .object(members),
        ]),
        exit: HealthLevel.unknown.exitStatus)
    }
    if nagios { return .reportText(report.pluginLine + "\n", exit: report.level.exitStatus) }
    return .report(
      .record(["status": .string(report.level.rawValue), "checks": .array(report.checks.map(\.json)), "config": config.json]),
      exit: report.level.exitStatus)
  }

  /// A command line naming `health` that cannot be parsed (`health --bogus`, `health extra`): the
  /// monitoring-plugin guidelines want 3 UNKNOWN for it, not 64, so a monitor does not read a typo in
  /// its check definition as a problem of the host. The usual JSON error goes to stderr (with `"exit":3`);
  /// with `--nagios` the plugin line also goes to stdout. Nil for every other command.
  static func refusedLine(_ argv: [String]) -> (exit: Int32, line: (RexstoreError) -> String?)? {
    guard Parser.groupName(in: argv) == spec.group else { return nil }
    let options = argv[..<(argv.firstIndex(of: "--") ?? argv.count)]
    let nagios = options.contains("--nagios")
    return (HealthLevel.unknown.exitStatus, { error in
      guard nagios else { return nil }
      let check = HealthCheck(
        name: "usage", level: .unknown, message: error.message + (error.hint.map { " (\($0))" } ?? ""))
      return HealthReport(checks: [check]).pluginLine + "\n"
    })
  }

  private static func checks(_ config: Config, deep: Bool, _ rt: Runtime) throws(RexstoreError) -> [HealthCheck] {
    var checks = [
      Health.database(try rt.store(), deep: deep),
      Health.localRoot(config.objects.value),
      Health.leftovers(config.objects.value, backupDirectories: [FileSystem.parent(of: config.database.value)]),
    ]
    if let remote = config.remote {
      // A monitoring probe answers within seconds: two tries, short timeouts.
      let context = rt.backendContext(config, purpose: .probe)
      checks.append(
        Health.remote(
          remote.name, { () throws(RexstoreError) in try remote.open(context) }, fallback: !config.noFallback,
          describe: "credentials: \(remote.describeCredentials(context))"))
      checks.append(Health.pendingMigration(config.objects.value))
    }
    return checks
  }
}
