import Foundation
import RexstoreCore
import Testing

/// `health` as a monitoring plugin: exit 0/1/2/3, the `--nagios` line, typed `values` per check.
struct HealthPluginTests {
  /// One perfdata item as the Monitoring Plugins guidelines define it:
  /// `'label'=value[UOM];[warn];[crit];[min];[max]` (UOM one of s ms us % B KB MB GB TB c, or none).
  static let perfItem = #"('[^'=]+'|[^'= ]+)=-?[0-9]+(\.[0-9]+)?(s|ms|us|%|B|KB|MB|GB|TB|c)?(;(-?[0-9.:~@]*)){0,4}"#
  static let line = #"^REXSTORE (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| "# + perfItem + "( " + perfItem + #")*)?\n$"#

  static func matches(_ text: String, _ pattern: String) -> Bool {
    text.range(of: pattern, options: .regularExpression) != nil
  }

  /// The names of the checks and the keys of each check's `values`, in the report's order.
  static func shape(_ json: JSONValue?) -> [String: [String]] {
    guard case .array(let checks)? = json?["checks"] else { return [:] }
    var shape: [String: [String]] = [:]
    for check in checks {
      guard case .string(let name)? = check["name"], case .object(let members)? = check["values"] else { continue }
      shape[name] = members.map(\.key).sorted()
    }
    return shape
  }

  static func checkKeys(_ json: JSONValue?) -> Set<[String]> {
    guard case .array(let checks)? = json?["checks"] else { return [] }
    return Set(checks.compactMap { check -> [String]? in
      guard case .object(let members) = check else { return nil }
      return members.map(\.key).sorted()
    })
  }

  static func topKeys(_ json: JSONValue?) -> [String] {
    guard case .object(let members)? = json else { return [] }
    return members.map(\.key).sorted()
  }

  static func value(_ json: JSONValue?, _ check: String, _ key: String) -> JSONValue? {
    guard case .array(let checks)? = json?["checks"] else { return nil }
    return checks.first { $0["name"] == .string(check) }?["values"]?[key]
  }

  static func status(_ json: JSONValue?, _ check: String) -> JSONValue? {
    guard case .array(let checks)? = json?["checks"] else { return nil }
    return checks.first { $0["name"] == .string(check) }?["status"]
  }

  @Test func perfdataRegexFollowsTheGuidelines() {
    #expect(Self.matches("REXSTORE OK - fine | a=1B;;;0 'b c'=2.5%;;;0;100\n", Self.line))
    #expect(!Self.matches("REXSTORE OK - fine | a=1 B\n", Self.line))
    #expect(!Self.matches("REXSTORE OK - fine | a=1e5B\n", Self.line))
    #expect(!Self.matches("REXSTORE Ok - fine\n", Self.line))
  }

  @Test func freshHostAfterDbUpgradeIsOk() {
    let h = Harness()
    #expect(h.run("db", "upgrade").status == 0)
    let r = h.run("health")
    #expect(r.status == 0, "\(r.stdout)")
    #expect(r.json?["status"] == .string("ok"))
    #expect(Self.topKeys(r.json) == ["checks", "config", "status"])
    #expect(Self.checkKeys(r.json) == [["message", "name", "status", "values"]])
    #expect(
      Self.shape(r.json) == [
        "database": ["exists", "schema_version", "size_bytes"],
        "local_root": ["exists", "free_bytes", "free_percent", "total_bytes", "writable"],
        "local_temporaries": ["leftover_bytes", "leftovers"],
      ])
    // Typed: numbers are numbers, booleans are booleans.
    #expect(Self.value(r.json, "database", "exists") == .bool(true))
    #expect(Self.value(r.json, "database", "schema_version") == .int(Schema.currentVersion))
    let size = (try? FileManager.default.attributesOfItem(atPath: h.databasePath)[.size] as? Int) ?? -1
    #expect(Self.value(r.json, "database", "size_bytes") == .int(size))
    #expect(Self.value(r.json, "local_root", "writable") == .bool(true))
    #expect(Self.value(r.json, "local_temporaries", "leftovers") == .int(0))
    guard case .number(let percent)? = Self.value(r.json, "local_root", "free_percent"),
      case .number(let free)? = Self.value(r.json, "local_root", "free_bytes")
    else {
      Issue.record("free space is not numeric: \(r.stdout)")
      return
    }
    #expect(Double(percent).map { $0 >= 0 && $0 <= 100 } == true)
    #expect(Int64(free).map { $0 > 0 } == true)

    let n = h.run("health", "--nagios")
    #expect(n.status == 0)
    #expect(Self.matches(n.stdout, Self.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE OK - all 3 checks ok (database, local_root, local_temporaries) | db_size=\(size)B;;;0 root_free="))
    #expect(Self.matches(n.stdout, #" root_free=[0-9]+B;;;0;[0-9]+ root_free_pct=[0-9]+\.[0-9]+%;;;0;100 leftovers=0;0;;0\n$"#), "\(n.stdout)")
    #expect(n.stderr.isEmpty)
  }

  @Test func noDatabaseYetIsAWarning() {
    let h = Harness()
    let r = h.run("health")
    #expect(r.status == 1)
    #expect(r.json?["status"] == .string("warning"))
    #expect(Self.value(r.json, "database", "exists") == .bool(false))
    #expect(Self.value(r.json, "database", "schema_version") == .null)
    #expect(Self.value(r.json, "database", "size_bytes") == .int(0))
    let n = h.run("health", "--nagios")
    #expect(n.status == 1)
    #expect(Self.matches(n.stdout, Self.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE WARNING - database warning: no database at '\(h.databasePath)' yet; the first write creates it | db_size=0B;;;0 "))
  }

  @Test func leftoversAreAWarningWithTheirCount() throws {
    let h = Harness()
    h.run("db", "upgrade")
    try FileManager.default.createDirectory(atPath: h.root + "/data/objects/audio/u1", withIntermediateDirectories: true)
    try Data("abc".utf8).write(to: URL(fileURLWithPath: h.root + "/data/objects/audio/u1/.x.wav.rexstore-tmp-999999999-1"))
    let r = h.run("health")
    #expect(r.status == 1, "\(r.stdout)")
    #expect(Self.value(r.json, "local_temporaries", "leftovers") == .int(1))
    #expect(Self.value(r.json, "local_temporaries", "leftover_bytes") == .int(3))
    let n = h.run("health", "--nagios")
    #expect(Self.matches(n.stdout, Self.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE WARNING - local_temporaries warning: left behind: 1 temporary file(s)"))
    #expect(n.stdout.hasSuffix(" leftovers=1;0;;0\n"))
  }

  static let gcs = ["REXSTORE_BACKEND": "gcs", "GCS_BUCKET_NAME": "bucket"]

  func expectCriticalGCS(_ h: Harness, _ env: [String: String], _ fragment: String) {
    h.run("db", "upgrade")
    let r = h.run(["health"], env: env)
    #expect(r.status == 2, "\(r.stdout)")
    #expect(r.json?["status"] == .string("critical"))
    #expect(Self.status(r.json, "gcs") == .string("critical"))
    #expect(Self.value(r.json, "gcs", "configured") == .bool(false))
    #expect(Self.value(r.json, "gcs", "reachable") == .bool(false))
    #expect(Self.shape(r.json)["pending_migration"] == ["pending_bytes", "pending_objects"])
    #expect(Self.value(r.json, "pending_migration", "pending_objects") == .int(0))
    #expect(r.stdout.contains(fragment), "\(r.stdout)")
    let n = h.run(["health", "--nagios"], env: env)
    #expect(n.status == 2)
    #expect(Self.matches(n.stdout, Self.line), "\(n.stdout)")
    #expect(n.stdout.hasPrefix("REXSTORE CRITICAL - gcs critical: GCS is enabled but not usable: "), "\(n.stdout)")
    #expect(n.stdout.contains(" pending_objects=0;0;;0 pending_bytes=0B;;;0\n"))
  }

  @Test func gcsWithoutABucketIsCritical() {
    let h = Harness()
    expectCriticalGCS(h, ["REXSTORE_BACKEND": "gcs"], "GCS needs a bucket")
  }

  @Test func gcsWithoutCredentialsIsCriticalEvenWithFallback() {
    let h = Harness()
    expectCriticalGCS(h, Self.gcs, "no GCS credentials")
  }

  @Test func gcsWithAMissingCredentialsFileIsCritical() {
    let h = Harness()
    expectCriticalGCS(
      h, Self.gcs.merging(["GOOGLE_APPLICATION_CREDENTIALS": h.root + "/missing.json"]) { $1 }, "cannot read credentials file")
  }

  @Test func gcsWithAMalformedKeyIsCritical() throws {
    let h = Harness()
    let key = h.root + "/key.json"
    try Data(#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#.utf8)
      .write(to: URL(fileURLWithPath: key))
    expectCriticalGCS(h, Self.gcs.merging(["GOOGLE_APPLICATION_CREDENTIALS": key]) { $1 }, "private_key is not a usable RSA key")
    try Data("not json".utf8).write(to: URL(fileURLWithPath: key))
    expectCriticalGCS(h, Self.gcs.merging(["GOOGLE_APPLICATION_CREDENTIALS": key]) { $1 }, "is not a JSON object")
  }

  @Test func aBadConfigFileIsUnknownWithItsReason() throws {
    let h = Harness()
    try FileManager.default.createDirectory(atPath: h.root + "/config/rexstore", withIntermediateDirectories: true)
    try Data("{bad".utf8).write(to: URL(fileURLWithPath: h.root + "/config/rexstore/config.json"))
    let r = h.run("health")
    #expect(r.status == 3)
    #expect(r.stderr.isEmpty)
    #expect(Self.topKeys(r.json) == ["checks", "config", "error", "status"])
    #expect(r.json?["status"] == .string("unknown"))
    #expect(r.json?["config"] == .null)
    #expect(r.json?["error"]?["code"] == .string("config"))
    #expect(Self.checkKeys(r.json) == [["message", "name", "status", "values"]])
    #expect(Self.status(r.json, "config") == .string("unknown"))
    let n = h.run("health", "--nagios")
    #expect(n.status == 3)
    #expect(Self.matches(n.stdout, Self.line), "\(n.stdout)")
    #expect(n.stdout == "REXSTORE UNKNOWN - config unknown: config file '\(h.root)/config/rexstore/config.json' is not valid JSON: expected a string key at offset 1\n")
    // Other commands keep exit 78 for the same file.
    #expect(h.run("pattern", "list", "1").status == 78)
  }

  @Test func aBadSettingIsUnknown() {
    let h = Harness()
    let r = h.run(["health", "--nagios"], env: ["REXSTORE_BUSY_TIMEOUT": "abc"])
    #expect(r.status == 3)
    #expect(Self.matches(r.stdout, Self.line), "\(r.stdout)")
    #expect(r.stdout.hasPrefix("REXSTORE UNKNOWN - config unknown: busy timeout (env:REXSTORE_BUSY_TIMEOUT): invalid duration 'abc'"))
    #expect(h.run(["--busy-timeout", "abc", "health"]).status == 3)
  }

  @Test func theOneLineNeverCarriesAPipeOrNewlineInItsText() {
    let report = HealthReport(checks: [
      HealthCheck(name: "a", level: .warning, message: "x | y\nz", values: [.count("n", 2, label: "n")]),
      HealthCheck(name: "b", level: .unknown, message: "?"),
    ])
    #expect(report.level == .warning)
    #expect(report.pluginLine == "REXSTORE WARNING - a warning: x / y z; b unknown: ? | n=2;;;0")
  }

  @Test func levelsRankCriticalOverWarningOverUnknownOverOk() {
    #expect([HealthLevel.ok, .unknown].max() == .unknown)
    #expect([HealthLevel.unknown, .warning].max() == .warning)
    #expect([HealthLevel.warning, .critical, .unknown].max() == .critical)
    #expect(HealthLevel.unknown.exitStatus == 3)
  }
}
