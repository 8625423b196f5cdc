import Glibc

/// Monitoring-plugin levels: the worst check decides the exit status (0, 1, 2).
public enum HealthLevel: String, Sendable, Comparable {
  case ok
  case warning
  case critical

  public var exitStatus: Int32 {
    switch self {
    case .ok: return 0
    case .warning: return 1
    case .critical: return 2
    }
  }

  public static func < (a: HealthLevel, b: HealthLevel) -> Bool { a.exitStatus < b.exitStatus }
}

public struct HealthCheck: Sendable, Equatable {
  public var name: String
  public var level: HealthLevel
  public var message: String

  public var json: JSONValue {
    .record(["name": .string(name), "status": .string(level.rawValue), "message": .string(message)])
  }
}

/// The checks behind `rexstore health`. They never create or modify anything.
public enum Health {
  public static func database(_ store: Store, deep: Bool) -> HealthCheck {
    func check(_ level: HealthLevel, _ message: String) -> HealthCheck {
      HealthCheck(name: "database", level: level, message: message)
    }
    guard store.exists else {
      return check(.warning, "no database at '\(store.path)' yet; the first write creates it")
    }
    do {
      let version = try store.schemaVersion(try store.reader())
      if version > Schema.currentVersion {
        return check(.critical, "schema version \(version) is newer than this rexstore (\(Schema.currentVersion))")
      }
      if deep { _ = try store.check(quick: true) }
      if let schema = try store.schemaProblem() {
        return check(.critical, schema.message + (schema.hint.map { " (\($0))" } ?? ""))
      }
      if version < Schema.currentVersion {
        return check(.warning, "schema version \(version), \(Schema.currentVersion) available: run 'rexstore db upgrade'")
      }
      let snapshot = store.isImmutableSnapshot ? "; on a read-only file system: reads only, writes fail" : ""
      return check(.ok, "schema version \(version)" + (deep ? ", quick_check ok" : "") + snapshot)
    } catch {
      return check(.critical, error.message)
    }
  }

  public static func localRoot(_ path: String) -> HealthCheck {
    func check(_ level: HealthLevel, _ message: String) -> HealthCheck {
      HealthCheck(name: "local_root", level: level, message: message)
    }
    if access(path, F_OK) == 0 {
      guard FileSystem.isDirectory(path) else { return check(.critical, "'\(path)' is not a directory") }
      guard access(path, W_OK | X_OK) == 0 else { return check(.critical, "'\(path)' is not writable") }
      return check(.ok, "'\(path)' is writable")
    }
    // Not created yet: fine if the first existing ancestor lets us create it.
    var ancestor = FileSystem.parent(of: path)
    while access(ancestor, F_OK) != 0, ancestor != "/" { ancestor = FileSystem.parent(of: ancestor) }
    guard FileSystem.isDirectory(ancestor), access(ancestor, W_OK | X_OK) == 0 else {
      return check(.critical, "'\(path)' does not exist and '\(ancestor)' is not writable")
    }
    return check(.ok, "'\(path)' does not exist yet; the first write creates it")
  }
}

extension Health {
  /// Temporary files and directories a killed process left in the object root (dot-names carrying
  /// the `.rexstore-tmp-` marker); a warning listing them.
  public static func leftovers(_ root: String) -> HealthCheck {
    var found: [String] = []
    func walk(_ directory: String, depth: Int) {
      guard depth < 6 else { return }
      for name in (try? FileSystem.entries(of: directory)) ?? [] {
        let path = directory + "/" + name
        if name.hasPrefix("."), name.contains(FileSystem.temporaryMarker) {
          if !FileSystem.temporaryWriterIsAlive(name) { found.append(path) }
        } else if FileSystem.isDirectory(path) {
          walk(path, depth: depth + 1)
        }
      }
    }
    walk(root, depth: 0)
    guard !found.isEmpty else {
      return HealthCheck(name: "local_temporaries", level: .ok, message: "no temporary files left behind")
    }
    let shown = found.sorted().prefix(10).joined(separator: ", ")
    return HealthCheck(
      name: "local_temporaries", level: .warning,
      message:
        "\(found.count) temporary file(s) left by an interrupted write: \(shown). Files are safe to delete; "
        + "a directory under voice_profiles may hold a profile's recorded samples, which 'rexstore profile get' restores")
  }
}

extension Health {
  /// GCS reachability, credentials and bucket access, in one request for the bucket's metadata.
  /// Out of reach is critical when writes have nowhere else to go, else a warning (they fall back).
  public static func gcs(_ store: () throws(RexstoreError) -> GCSObjectStore, fallback: Bool, describe: String) -> HealthCheck {
    do throws(RexstoreError) {
      let gcs = try store()
      let start = Monotonic.milliseconds()
      try gcs.probe()
      return HealthCheck(
        name: "gcs", level: .ok,
        message: "gs://\(gcs.bucket) reachable (\(Monotonic.milliseconds() - start) ms, \(describe))")
    } catch {
      let level: HealthLevel = error.code == .config ? .critical : (fallback ? .warning : .critical)
      let then = fallback ? "; writes fall back to the local root" : "; fallback is off, writes fail"
      return HealthCheck(name: "gcs", level: level, message: error.message + (error.code == .config ? "" : then))
    }
  }

  /// Objects in the local root that belong in GCS (fallback writes, or files from before GCS).
  public static func pendingMigration(_ root: String) -> HealthCheck {
    func check(_ level: HealthLevel, _ message: String) -> HealthCheck {
      HealthCheck(name: "pending_migration", level: level, message: message)
    }
    do throws(RexstoreError) {
      let pending = try Migration.pending(in: LocalObjectStore(root: root))
      guard !pending.isEmpty else { return check(.ok, "no local objects waiting for GCS") }
      let bytes = pending.reduce(Int64(0)) { $0 + $1.size }
      return check(.warning, "\(pending.count) local object(s), \(bytes) bytes, waiting for 'rexstore migrate'")
    } catch {
      return check(.critical, error.message)
    }
  }
}
