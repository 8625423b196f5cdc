import Foundation
import Testing

/// `health` from the built binary as a monitoring system runs it: exit status and the `--nagios` line.
@Suite(.serialized) struct HealthPluginEndToEndTests {
  static let perfItem = #"('[^'=]+'|[^'= ]+)=-?[0-9]+(\.[0-9]+)?(s|ms|us|%|B|KB|MB|GB|TB|c)?(;(-?[0-9.:~@]*)){0,4}"#
  static let line = #"^REXSTORE (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| "# + perfItem + "( " + perfItem + #")*)?\n$"#

  static func matches(_ text: String, _ pattern: String) -> Bool {
    text.range(of: pattern, options: .regularExpression) != nil
  }

  /// What `make run` does on a fresh host: `db upgrade --pretty`, then `health --pretty`, with only
  /// HOME set (the default root under ~/.local/share/rexstore).
  @Test func makeRunOnAFreshHostIsOk() throws {
    let scratch = Processes.Scratch()
    var env = scratch.environment
    env["REXSTORE_ROOT"] = nil
    let upgrade = try Processes.run(Processes.binary, ["db", "upgrade", "--pretty"], environment: env, directory: scratch.path)
    #expect(upgrade.status == 0, "\(upgrade.stderr)")
    let health = try Processes.run(Processes.binary, ["health", "--pretty"], environment: env, directory: scratch.path)
    #expect(health.status == 0, "\(health.stdout)")
    let report = try jsonObject(health.stdout)
    #expect(report["status"] as? String == "ok")
    let checks = (report["checks"] as? [[String: Any]]) ?? []
    #expect(checks.map { $0["status"] as? String } == ["ok", "ok", "ok"])
    #expect(checks.first?["values"].flatMap { ($0 as? [String: Any])?["exists"] as? Bool } == true)
    let nagios = try Processes.run(Processes.binary, ["health", "--nagios"], environment: env, directory: scratch.path)
    #expect(nagios.status == 0)
    #expect(Self.matches(nagios.stdout, Self.line), "\(nagios.stdout)")
    #expect(nagios.stdout.hasPrefix("REXSTORE OK - all 3 checks ok"))
  }

  @Test func aBadConfigFileIsUnknownFromTheBinary() throws {
    let scratch = Processes.Scratch()
    var env = scratch.environment
    env["REXSTORE_CONFIG"] = scratch.path + "/bad.json"
    try Data("[1]".utf8).write(to: URL(fileURLWithPath: scratch.path + "/bad.json"))
    let r = try Processes.run(Processes.binary, ["health", "--nagios"], environment: env, directory: scratch.path)
    #expect(r.status == 3)
    #expect(Self.matches(r.stdout, Self.line), "\(r.stdout)")
    #expect(r.stdout.hasPrefix("REXSTORE UNKNOWN - config unknown: "))
    let json = try Processes.run(Processes.binary, ["health"], environment: env, directory: scratch.path)
    #expect(json.status == 3)
    #expect(try jsonObject(json.stdout)["status"] as? String == "unknown")
  }
}

/// `health` against the GCS stub: latency perfdata when it answers, an outage is a warning (critical
/// with --no-fallback), a refusal is critical.
@Suite(.serialized) struct HealthPluginGCSTests {
  let server: StorageServer
  let scratch = Processes.Scratch()

  init() throws { server = try StorageServer(.stub(arguments: [])) }

  func health(_ extra: [String] = []) throws -> Processes.Result {
    _ = try Processes.rexstore(["db", "upgrade"], environment: server.emulatorEnvironment(scratch), in: scratch)
    return try Processes.rexstore(["health"] + extra, environment: server.emulatorEnvironment(scratch), in: scratch)
  }

  @Test func reachableGCSIsOkWithItsLatency() throws {
    let r = try health()
    #expect(r.status == 0, "\(r.stdout)")
    let checks = (try jsonObject(r.stdout)["checks"] as? [[String: Any]]) ?? []
    let gcs = checks.first { $0["name"] as? String == "gcs" }
    let values = gcs?["values"] as? [String: Any]
    #expect(values?["reachable"] as? Bool == true)
    #expect(values?["latency_ms"] is NSNumber)
    #expect(!(values?["latency_ms"] is String))
    let pending = checks.first { $0["name"] as? String == "pending_migration" }?["values"] as? [String: Any]
    #expect(pending?["pending_objects"] as? Int == 0)
    let n = try health(["--nagios"])
    #expect(n.status == 0)
    #expect(HealthPluginEndToEndTests.matches(n.stdout, HealthPluginEndToEndTests.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE OK - all 5 checks ok (database, local_root, local_temporaries, gcs, pending_migration) | "))
    #expect(HealthPluginEndToEndTests.matches(n.stdout, #" gcs_latency=[0-9]+ms;;;0 pending_objects=0;0;;0 pending_bytes=0B;;;0\n$"#), "\(n.stdout)")
  }

  @Test func anOutageIsAWarningAndCriticalWithoutFallback() throws {
    try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":503}}]"#)
    let n = try health(["--nagios"])
    #expect(n.status == 1, "\(n.stdout)")
    #expect(HealthPluginEndToEndTests.matches(n.stdout, HealthPluginEndToEndTests.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE WARNING - gcs warning: "))
    #expect(!n.stdout.contains("gcs_latency="))
    let off = try health(["--nagios", "--no-fallback"])
    #expect(off.status == 2)
    #expect(off.stdout.hasPrefix("REXSTORE CRITICAL - gcs critical: "), "\(off.stdout)")
  }

  @Test func aRefusedBucketIsCriticalEvenWithFallback() throws {
    for status in [403, 404] {
      try server.faults(#"[{"path_contains":"/","times":1000,"action":{"status":\#(status)}}]"#)
      let r = try health()
      #expect(r.status == 2, "\(status): \(r.stdout)")
      let checks = (try jsonObject(r.stdout)["checks"] as? [[String: Any]]) ?? []
      #expect(checks.first { $0["name"] as? String == "gcs" }?["status"] as? String == "critical")
      try server.http("DELETE", "/_stub/faults")
    }
  }
}
