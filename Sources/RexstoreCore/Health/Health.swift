import Glibc

/// Monitoring-plugin levels (https://www.monitoring-plugins.org/doc/guidelines.html): exit 0 ok,
/// 1 warning, 2 critical, 3 unknown (the check could not run: a configuration error, or a check
/// that failed itself). The overall level is the worst one, ranked critical > warning > unknown > ok.
public enum HealthLevel: String, Sendable, Comparable {
  case ok
  case warning
  case critical
  case unknown

  public var exitStatus: Int32 {
    switch self {
    case .ok: return 0
    case .warning: return 1
    case .critical: return 2
    case .unknown: return 3
    }
  }

  /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`: the service state of the plugin's one-line output.
  public var pluginState: String { rawValue.uppercased() }

  private var rank: Int {
    switch self {
    case .ok: return 0
    case .unknown: return 1
    case .warning: return 2
    case .critical: return 3
    }
  }

  public static func < (a: HealthLevel, b: HealthLevel) -> Bool { a.rank < b.rank }
}

/// One measured value of a check: a typed JSON member of the check's `values`, and, when it has a
/// `label`, one performance-data item `label=value[UOM];[warn];[crit];[min];[max]`.
public struct HealthMetric: Sendable, Equatable {
  public var key: String
  public var value: JSONValue
  public var label: String?
  /// The perfdata value, a plain decimal (no exponent), and its unit (`ms`, `B`, `%`, or none).
  public var perfValue: String
  public var unit: String
  public var warn: String
  public var min: String
  public var max: String

  public init(_ key: String, _ value: JSONValue) {
    self.key = key
    self.value = value
    label = nil
    perfValue = ""
    unit = ""
    warn = ""
    min = ""
    max = ""
  }

  /// An integer that is also a perfdata item.
  public static func count(
    _ key: String, _ value: Int64, label: String, unit: String = "", warn: String = "", max: Int64? = nil
  ) -> HealthMetric {
    var metric = HealthMetric(key, .int(value))
    metric.label = label
    metric.perfValue = String(value)
    metric.unit = unit
    metric.warn = warn
    metric.min = "0"
    metric.max = max.map(String.init) ?? ""
    return metric
  }

  /// A percentage with two decimals, also a perfdata item (min 0, max 100).
  public static func percent(_ key: String, _ value: Double, label: String) -> HealthMetric {
    let hundredths = Int64((value * 100).rounded())
    let text = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    var metric = HealthMetric(key, .number(text))
    metric.label = label
    metric.perfValue = text
    metric.unit = "%"
    metric.min = "0"
    metric.max = "100"
    return metric
  }

  /// `label=value[UOM];[warn];[crit];[min];[max]`, trailing empty fields dropped; nil without a label.
  public var perfdata: String? {
    guard let label else { return nil }
    var fields = [perfValue + unit, warn, "", min, max]
    while fields.count > 1, fields.last == "" { fields.removeLast() }
    return label + "=" + fields.joined(separator: ";")
  }
}

public struct HealthCheck: Sendable, Equatable {
  public var name: String
  public var level: HealthLevel
  public var message: String
  public var values: [HealthMetric]

  public init(name: String, level: HealthLevel, message: String, values: [HealthMetric] = []) {
    self.name = name
    self.level = level
    self.message = message
    self.values = values
  }

}

/// A whole `health` run: its checks, its level, and the monitoring-plugin one-line form.
public struct HealthReport: Sendable {
  public var checks: [HealthCheck]

  public init(checks: [HealthCheck]) { self.checks = checks }

  public var level: HealthLevel { checks.map(\.level).max() ?? .ok }

  /// `REXSTORE STATE - text | perfdata`: the text names the checks that are not ok, worst first (or
  /// says all are ok); the perfdata lists every measured value. No newline inside, and no `|` in the text.
  public var pluginLine: String {
    let bad = checks.filter { $0.level != .ok }.sorted { $0.level > $1.level }
    var text: String
    if bad.isEmpty {
      text = "all \(checks.count) checks ok (" + checks.map(\.name).joined(separator: ", ") + ")"
    } else {
      text = bad.map { "\($0.name) \($0.level.rawValue): \($0.message)" }.joined(separator: "; ")
    }
    text = String(text.map { $0 == "|" ? "/" : ($0.isNewline ? " " : $0) })
    let perf = checks.flatMap(\.values).compactMap(\.perfdata)
    return "REXSTORE \(level.pluginState) - \(text)" + (perf.isEmpty ? "" : " | " + perf.joined(separator: " "))
  }
}

/// The checks behind `rexstore health`. They never create or modify anything.
public enum Health {
  /// The database file: schema version and integrity; `values` has `exists`, `size_bytes` (the main
  /// file, perfdata `db_size`) and `schema_version` (null without a database).
  public static func database(_ store: Store, deep: Bool) -> HealthCheck {
    var values = [HealthMetric("exists", .bool(store.exists))]
    var size = stat()
    let bytes = stat(store.path, &size) == 0 ? Int64(size.st_size) : 0
    values.append(.count("size_bytes", bytes, label: "db_size", unit: "B"))
    func check(_ level: HealthLevel, _ message: String, version: Int? = nil) -> HealthCheck {
      HealthCheck(
        name: "database", level: level, message: message,
        values: values + [HealthMetric("schema_version", version.map { .int($0) } ?? .null)])
    }
    guard store.exists else {
      return check(.warning, "no database at '\(store.path)' yet; the first write creates it")
    }
    do {
      let version = try store.schemaVersion(try store.reader())
      if version > Schema.currentVersion {
        return check(.critical, "schema version \(version) is newer than this rexstore (\(Schema.currentVersion))", version: version)
      }
      if deep { _ = try store.check(quick: true) }
      if let schema = try store.schemaProblem() {
        return check(.critical, schema.message + (schema.hint.map { " (\($0))" } ?? ""), version: version)
      }
      if version < Schema.currentVersion {
        return check(.warning, "schema version \(version), \(Schema.currentVersion) available: run 'rexstore db upgrade'", version: version)
      }
      let snapshot = store.isImmutableSnapshot ? "; on a read-only file system: reads only, writes fail" : ""
      return check(.ok, "schema version \(version)" + (deep ? ", quick_check ok" : "") + snapshot, version: version)
    } catch {
      return check(.critical, error.message)
    }
  }

  /// The object root: writable (or creatable), and the free space of the file system it is on (of its
  /// first existing ancestor before it exists): `values` has `exists`, `writable`, `free_bytes`,
  /// `total_bytes`, `free_percent` (perfdata `root_free` in B and `root_free_pct` in %).
  public static func localRoot(_ path: String) -> HealthCheck {
    let exists = access(path, F_OK) == 0
    var ancestor = path
    if !exists {
      ancestor = FileSystem.parent(of: path)
      while access(ancestor, F_OK) != 0, ancestor != "/" { ancestor = FileSystem.parent(of: ancestor) }
    }
    var values = [HealthMetric("exists", .bool(exists))]
    var fs = statvfs()
    let measured = statvfs(ancestor, &fs) == 0
    if measured {
      let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
      let total = Int64(fs.f_blocks) * Int64(fs.f_frsize)
      values.append(.count("free_bytes", free, label: "root_free", unit: "B", max: total))
      values.append(HealthMetric("total_bytes", .int(total)))
      values.append(.percent("free_percent", total > 0 ? Double(free) * 100 / Double(total) : 0, label: "root_free_pct"))
    }
    func check(_ level: HealthLevel, _ message: String, writable: Bool) -> HealthCheck {
      var all = values
      all.insert(HealthMetric("writable", .bool(writable)), at: 1)
      return HealthCheck(name: "local_root", level: level, message: message, values: all)
    }
    if exists {
      guard FileSystem.isDirectory(path) else { return check(.critical, "'\(path)' is not a directory", writable: false) }
      guard access(path, W_OK | X_OK) == 0 else { return check(.critical, "'\(path)' is not writable", writable: false) }
      guard measured else {
        return check(.unknown, "'\(path)' is writable, but its free space cannot be read: \(String(cString: strerror(errno)))", writable: true)
      }
      return check(.ok, "'\(path)' is writable", writable: true)
    }
    // Not created yet: fine if the first existing ancestor lets us create it.
    guard FileSystem.isDirectory(ancestor), access(ancestor, W_OK | X_OK) == 0 else {
      return check(.critical, "'\(path)' does not exist and '\(ancestor)' is not writable", writable: false)
    }
    return check(.ok, "'\(path)' does not exist yet; the first write creates it", writable: true)
  }
}

extension Health {
  /// What killed processes left behind, by kind, with counts and bytes: temporary files in the object
  /// root (`.NAME.rexstore-tmp-*`), profile staging directories (`.PROFILE.rexstore-tmp-*` under
  /// `voice_profiles`, which may hold a profile's recorded samples), other temporary directories, and
  /// backup temporaries (`.NAME.tmp-PID`, `-journal`, `-wal`, `-shm`) in `backupDirectories`.
  /// Only those whose writer is gone count; a warning when there are any.
  public static func leftovers(_ root: String, backupDirectories: [String] = []) -> HealthCheck {
    var files: [String] = []
    var fileBytes: Int64 = 0
    var staging: [String] = []
    var stagingBytes: Int64 = 0
    var directories: [String] = []
    var directoryBytes: Int64 = 0
    func size(of path: String) -> Int64 {
      var st = stat()
      guard lstat(path, &st) == 0 else { return 0 }
      if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_size) }
      return ((try? FileSystem.entries(of: path)) ?? []).reduce(0) { total, name in
        var inner = stat()
        return total + (lstat(path + "/" + name, &inner) == 0 && (inner.st_mode & S_IFMT) == S_IFREG ? Int64(inner.st_size) : 0)
      }
    }
    func walk(_ directory: String, depth: Int) {
      guard depth < 6 else { return }
      for name in (try? FileSystem.entries(of: directory)) ?? [] {
        let path = directory + "/" + name
        var st = stat()
        guard lstat(path, &st) == 0 else { continue }
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        if name.hasPrefix("."), name.contains(FileSystem.temporaryMarker) {
          guard !FileSystem.temporaryWriterIsAlive(name) else { continue }
          if !isDirectory {
            files.append(path)
            fileBytes += size(of: path)
          } else if path.hasPrefix(root + "/voice_profiles/") {
            staging.append(path)
            stagingBytes += size(of: path)
          } else {
            directories.append(path)
            directoryBytes += size(of: path)
          }
        } else if isDirectory {  // never through a link
          walk(path, depth: depth + 1)
        }
      }
    }
    walk(root, depth: 0)
    var backups: [String] = []
    var backupBytes: Int64 = 0
    for directory in backupDirectories {
      for temporary in Store.backupTemporaries(in: directory) where !temporary.writerAlive {
        backups.append(directory + "/" + temporary.name)
        backupBytes += temporary.bytes
      }
    }
    let all = files + staging + directories + backups
    let values: [HealthMetric] = [
      .count("leftovers", Int64(all.count), label: "leftovers", warn: "0"),
      HealthMetric("leftover_bytes", .int(fileBytes + stagingBytes + directoryBytes + backupBytes)),
    ]
    guard !all.isEmpty else {
      return HealthCheck(name: "local_temporaries", level: .ok, message: "no temporary files left behind", values: values)
    }
    var kinds: [String] = []
    if !files.isEmpty { kinds.append("\(files.count) temporary file(s) of interrupted writes (\(fileBytes) bytes)") }
    if !staging.isEmpty {
      kinds.append("\(staging.count) profile staging director(ies) (\(stagingBytes) bytes)")
    }
    if !directories.isEmpty {
      kinds.append("\(directories.count) other temporary director(ies) (\(directoryBytes) bytes)")
    }
    if !backups.isEmpty { kinds.append("\(backups.count) backup temporary file(s) (\(backupBytes) bytes)") }
    let shown = all.sorted().prefix(10).joined(separator: ", ")
    var advice = "Temporary files are removed by the next write to their directory (or backup) once their writer is gone; "
    advice += "they are safe to delete, and 'rexstore fsck --repair' removes them."
    if !staging.isEmpty {
      advice += " A profile staging directory is settled by the next profile command on its user (or by fsck --repair)."
    }
    return HealthCheck(
      name: "local_temporaries", level: .warning,
      message: "left behind: " + kinds.joined(separator: ", ") + ": \(shown). " + advice, values: values)
  }
}

extension Health {
  /// The remote's reachability, credentials and bucket access, in one cheap request. The check is
  /// named after the backend (`gcs`, `s3`). A genuine outage (unreachable, timeouts, 5xx, 429) is
  /// critical when writes have nowhere else to go, else a warning (they fall back). A remote that cannot
  /// work until someone fixes it is critical even with the fallback: no bucket, no or unreadable
  /// credentials, a malformed key (errors of `store`), and refusals (credentials or bucket access
  /// denied, no such bucket). `values`: `reachable`, and `latency_ms` (perfdata `BACKEND_latency` in ms)
  /// when it answered.
  public static func remote(
    _ backend: String, _ store: () throws(RexstoreError) -> any RemoteObjectStore, fallback: Bool, describe: String
  ) -> HealthCheck {
    let name = backend.uppercased()
    let remote: any RemoteObjectStore
    do throws(RexstoreError) {
      remote = try store()
    } catch {
      return HealthCheck(
        name: backend, level: .critical,
        message: "\(name) is enabled but not usable: " + error.message + (error.hint.map { " (\($0))" } ?? "")
          + (fallback ? "; writes fall back to the local root until this is fixed" : "; fallback is off, writes fail"),
        values: [HealthMetric("reachable", .bool(false)), HealthMetric("configured", .bool(false))])
    }
    let start = Monotonic.milliseconds()
    do throws(RexstoreError) {
      try remote.probe()
      let latency = Int64(Monotonic.milliseconds() - start)
      return HealthCheck(
        name: backend, level: .ok,
        message: "\(remote.location) reachable (\(latency) ms, \(describe))",
        values: [
          HealthMetric("reachable", .bool(true)), HealthMetric("configured", .bool(true)),
          .count("latency_ms", latency, label: "\(backend)_latency", unit: "ms"),
        ])
    } catch {
      let outage = error.code == .unavailable || error.code == .rateLimited
      let level: HealthLevel = outage && fallback ? .warning : .critical
      let then = fallback ? "; writes fall back to the local root" : "; fallback is off, writes fail"
      return HealthCheck(
        name: backend, level: level, message: error.message + (error.code == .config ? "" : then),
        values: [HealthMetric("reachable", .bool(false)), HealthMetric("configured", .bool(true))])
    }
  }

  /// Objects in the local root that belong in the remote (fallback writes, or files from before it):
  /// `values` `pending_objects` and `pending_bytes` (perfdata `pending_objects`, `pending_bytes` in B).
  public static func pendingMigration(_ root: String) -> HealthCheck {
    func check(_ level: HealthLevel, _ message: String, count: Int64? = nil, bytes: Int64 = 0) -> HealthCheck {
      HealthCheck(
        name: "pending_migration", level: level, message: message,
        values: count.map {
          [.count("pending_objects", $0, label: "pending_objects", warn: "0"),
           .count("pending_bytes", bytes, label: "pending_bytes", unit: "B")]
        } ?? [])
    }
    do throws(RexstoreError) {
      let pending = try Migration.pending(in: LocalObjectStore(root: root))
      guard !pending.isEmpty else { return check(.ok, "no local objects waiting for the remote", count: 0) }
      let bytes = pending.reduce(Int64(0)) { $0 + $1.size }
      return check(.warning, "\(pending.count) local object(s), \(bytes) bytes, waiting for 'rexstore migrate'", count: Int64(pending.count), bytes: bytes)
    } catch {
      return check(.critical, error.message)
    }
  }
}
