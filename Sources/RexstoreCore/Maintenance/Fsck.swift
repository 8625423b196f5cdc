import Glibc

/// `rexstore fsck`: finds what interrupted or foreign writers left in the stores, and with `repair`
/// removes what is safe to remove (issues 8 and 10).
///
/// - temporary files and directories of dead writers in the object root (`.NAME.rexstore-tmp-*`);
/// - profile staging directories: every profile command settles them first (an interrupted store is
///   rolled forward or forgotten; rexstore 0.1's rolled back), then what is left is removed;
/// - backup temporaries of dead backups beside the database;
/// - stale dossier lock files (no dossier, nobody holding the lock; the app never removes them);
/// - sample files no record names (reported; deleted only with `includeOrphans`);
/// - records naming samples that are gone, and symbolic links below the root (reported: only the
///   operator can say what they should be).
///
/// Nothing is ever reached through a symbolic link.
public struct Fsck {
  public let profiles: VoiceProfiles
  public let database: String

  public init(profiles: VoiceProfiles, database: String) {
    self.profiles = profiles
    self.database = database
  }

  public struct Finding {
    public var kind: String
    public var path: String
    public var bytes: Int64
    /// `reported`, `removed`, `would_remove` or `failed`.
    public var action: String
    public var error: RexstoreError?

  }

  public func run(repair: Bool, dryRun: Bool, includeOrphans: Bool) throws(RexstoreError) -> [Finding] {
    let local = profiles.local
    var findings: [Finding] = []
    let act = repair && !dryRun
    func removable(_ kind: String, _ path: String, _ bytes: Int64, _ remove: () -> Bool) {
      guard repair else { return findings.append(Finding(kind: kind, path: path, bytes: bytes, action: "reported")) }
      guard act else { return findings.append(Finding(kind: kind, path: path, bytes: bytes, action: "would_remove")) }
      let ok = remove()
      findings.append(
        Finding(
          kind: kind, path: path, bytes: bytes, action: ok ? "removed" : "failed",
          error: ok ? nil : RexstoreError(.ioError, "cannot remove '\(path)': \(String(cString: strerror(errno)))")))
    }

    // Profiles first: settling interrupted stores may remove staging directories itself.
    if act, profiles.dossiers.exists {
      for user in profiles.dossiers.users() { _ = try? profiles.list(user: user) }
    }

    // Temporaries below the object root, found without following links.
    func walk(_ relative: String, depth: Int) {
      guard depth < 8, let dir = try? local.directory(relative, create: false) else { return }
      for name in (try? dir.entries()) ?? [] {
        guard let kind = try? dir.kind(name) else { continue }
        let path = local.root + (relative.isEmpty ? "" : "/" + relative) + "/" + name
        let child = relative.isEmpty ? name : relative + "/" + name
        if name.hasPrefix("."), name.contains(FileSystem.temporaryMarker) {
          guard !FileSystem.temporaryWriterIsAlive(name) else { continue }
          if kind.isDirectory {
            let staging = relative.hasPrefix("voice_profiles/")
            let bytes = Fsck.size(dir, name)
            removable(staging ? "profile_staging_directory" : "temporary_directory", path, bytes) {
              dir.removeTree(name)
              return (try? dir.kind(name)) == nil
            }
          } else if kind.isRegular {
            removable("temporary_file", path, kind.size) { dir.unlink(name) }
          }
        } else if kind.isSymlink {
          // rexstore refuses to work through it (65); only the operator can say what it should be.
          findings.append(
            Finding(
              kind: "symlink", path: path, bytes: 0, action: "reported",
              error: FileSystem.symlinkRefused(path)))
        } else if kind.isDirectory, !name.hasPrefix(".") {
          walk(child, depth: depth + 1)
        }
      }
    }
    walk("", depth: 0)

    // Backup temporaries beside the database.
    let databaseDirectory = FileSystem.parent(of: database)
    for temporary in Store.backupTemporaries(in: databaseDirectory) where !temporary.writerAlive {
      removable("backup_temporary", databaseDirectory + "/" + temporary.name, temporary.bytes) {
        unlink(databaseDirectory + "/" + temporary.name) == 0
      }
    }

    // Dossier lock files with no dossier that nobody holds.
    if let dossiers = try? DirectoryHandle.root(profiles.dossiers.path, create: false) {
      for name in (try? dossiers.entries()) ?? [] where name.hasPrefix(".") && name.hasSuffix(".json.lock") {
        let user = String(name.dropFirst().dropLast(10))
        guard (try? dossiers.kind(user + ".json")) == nil, let kind = try? dossiers.kind(name), kind.isRegular else { continue }
        let fd = dossiers.open(name, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
        removable("stale_lock", profiles.dossiers.path + "/" + name, kind.size) { dossiers.unlink(name) }
      }
    }

    // Samples no record names, and records naming samples that are gone.
    for user in (try? local.listSegments(under: "voice_profiles/")) ?? [] {
      let records: [VoiceProfile]
      do throws(RexstoreError) {
        records = profiles.dossiers.exists ? try profiles.list(user: user) : []
      } catch {
        findings.append(Finding(kind: "unreadable_dossier", path: profiles.dossiers.file(for: user), bytes: 0, action: "failed", error: error))
        continue
      }
      let claimed = Set(records.flatMap { $0.samples.map { Array($0.name.utf8) } + $0.missing.map { Array($0.utf8) } })
      for profile in (try? local.listSegments(under: "voice_profiles/\(user)/")) ?? [] {
        for info in (try? local.listAll(prefix: "voice_profiles/\(user)/\(profile)/")) ?? []
        where !claimed.contains(Array(info.name.utf8)) {
          if includeOrphans {
            removable("unreferenced_sample", local.path(info.name), info.size) { (try? local.delete(info.name)) ?? false }
          } else {
            findings.append(Finding(kind: "unreferenced_sample", path: local.path(info.name), bytes: info.size, action: "reported"))
          }
        }
      }
      for record in records {
        for name in record.missing {
          findings.append(
            Finding(
              kind: "missing_sample", path: name, bytes: 0, action: "reported",
              error: RexstoreError(.notFound, "profile '\(record.profileID)' of user '\(user)' names '\(name)', which is not there")))
        }
      }
    }
    return findings
  }

  /// Bytes of the regular files directly in `dir/name`.
  static func size(_ dir: DirectoryHandle, _ name: String) -> Int64 {
    guard let inner = try? dir.child(name, create: false) else { return 0 }
    return ((try? inner.entries()) ?? []).reduce(Int64(0)) { total, entry in
      guard let kind = try? inner.kind(entry), kind.isRegular else { return total }
      return total + kind.size
    }
  }
}
