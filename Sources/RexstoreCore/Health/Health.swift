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
      if version < Schema.currentVersion {
        return check(.warning, "schema version \(version), \(Schema.currentVersion) available: run 'rexstore db upgrade'")
      }
      return check(.ok, "schema version \(version)" + (deep ? ", quick_check ok" : ""))
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
    guard !all.isEmpty else {
      return HealthCheck(name: "local_temporaries", level: .ok, message: "no temporary files left behind")
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
      message: "left behind: " + kinds.joined(separator: ", ") + ": \(shown). " + advice)
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
