/// Moves objects from a local root (the fallback root, or a legacy app directory with the same
/// layout) up to the remote (any registered backend). Each upload is create-only, so running it twice,
/// or beside the app, never replaces an object in the bucket; an object already there with the same
/// MD5 counts as migrated.
public struct Migration {
  public let source: LocalObjectStore
  public let remote: any RemoteObjectStore
  /// The dossiers whose local profile entries are re-pointed to the bucket (nil: none).
  public let profiles: VoiceProfiles?
  /// The outage that stopped this run, if one did.
  private let outage = StopSignal()
  /// How a name held in both places with different bytes is resolved (nil: the newer local copy
  /// replaces an older remote one, anything else is a conflict keeping both).
  public var prefer: Preference?

  public enum Preference: String, Sendable, CaseIterable {
    /// The local copy replaces the remote's, whichever is newer.
    case local
    /// The remote's copy stays; the local one counts as migrated (and goes with `--delete-local`).
    case remote
    /// Whichever was written last.
    case newer
  }

  final class StopSignal: @unchecked Sendable { var error: RexstoreError? }

  public init(source: LocalObjectStore, remote: any RemoteObjectStore, dossiers: DossierDirectory?, legacy: Store?) {
    self.source = source
    self.remote = remote
    self.profiles = dossiers.map { VoiceProfiles(dossiers: $0, objects: remote, local: source, legacy: legacy) }
  }

  /// `already_in_gcs`, `already_in_s3`: an object the bucket already holds with the same bytes.
  var alreadyThere: String { "already_in_" + remote.backend }

  /// The local objects under `audio/USER/` and `voice_profiles/USER/PROFILE/`, in name order.
  public static func pending(in source: LocalObjectStore) throws(RexstoreError) -> [ObjectInfo] {
    var all: [ObjectInfo] = []
    for user in try source.listSegments(under: "audio/") {
      all += try source.listAll(prefix: "audio/\(user)/")
    }
    for user in try source.listSegments(under: "voice_profiles/") {
      for profile in try source.listSegments(under: "voice_profiles/\(user)/") {
        all += try source.listAll(prefix: "voice_profiles/\(user)/\(profile)/")
      }
    }
    return all
  }

  public struct Outcome: Sendable {
    public var blob: String
    /// `uploaded`, `replaced_older` (the local copy was written later than the remote's, during an outage),
    /// `already_in_BACKEND`, `would_upload`, `unreferenced` (a sample file no record names: reported,
    /// not uploaded without `includeUnreferenced`), `failed`, or `skipped` (not tried: the remote was out);
    /// `replaced_remote` and `kept_remote` where `prefer` settled a conflict; in a dry run `would_upload`,
    /// `would_replace`, `would_keep_remote`, `already_in_BACKEND` or `would_conflict`.
    public var action: String
    public var deletedLocal: Bool
    public var error: RexstoreError?
  }

  public struct Report: Sendable {
    public var outcomes: [Outcome] = []
    /// `USER/PROFILE` records now pointing at the bucket.
    public var repointed: [String] = []
  }

  /// Audio objects go up one by one. Voice-profile samples go up per record: every sample a local
  /// dossier entry names is uploaded (create-only) and verified, then the entry is re-pointed to
  /// the remote's name with its `blob_names` in one write under the dossier lock, and only after that are the
  /// local copies deleted (`deleteLocal`). Sample files no record names are reported, and uploaded
  /// (never deleted) only with `includeUnreferenced`.
  public func run(
    _ objects: [ObjectInfo], dryRun: Bool, deleteLocal: Bool, includeUnreferenced: Bool = false
  ) throws(RexstoreError) -> Report {
    var report = Report()
    outage.error = nil
    var referenced: Set<String> = []
    if let profiles {
      referenced = try migrateProfiles(profiles, available: objects, dryRun: dryRun, deleteLocal: deleteLocal, into: &report)
    }
    for info in objects where !referenced.contains(info.name) {
      Progress.tick("objects", total: objects.count)
      let isSample = info.name.hasPrefix("voice_profiles/")
      if isSample, !includeUnreferenced {
        report.outcomes.append(Outcome(blob: info.name, action: "unreferenced", deletedLocal: false, error: nil))
        continue
      }
      guard !dryRun else {
        report.outcomes.append(predict(info))
        continue
      }
      if let stop = outage.error {
        report.outcomes.append(Outcome(blob: info.name, action: "skipped", deletedLocal: false, error: stop))
        continue
      }
      do throws(RexstoreError) {
        try Migration.checkName(info.name)
        let action = try migrate(info)
        var deleted = false
        // A sample no record names has nothing pointing at its remote copy: the local one stays.
        if deleteLocal, !isSample { deleted = try source.delete(info.name) }
        report.outcomes.append(Outcome(blob: info.name, action: action.0, deletedLocal: deleted, error: nil))
      } catch {
        report.outcomes.append(Outcome(blob: info.name, action: "failed", deletedLocal: false, error: error))
      }
    }
    report.outcomes.sort { $0.blob < $1.blob }
    return report
  }

  /// Every local entry of every dossier, one user at a time under that user's lock; returns the
  /// sample names the records claim (handled here, whatever happened to them).
  private func migrateProfiles(
    _ profiles: VoiceProfiles, available: [ObjectInfo], dryRun: Bool, deleteLocal: Bool, into report: inout Report
  ) throws(RexstoreError) -> Set<String> {
    _ = try profiles.moveLegacyRecords()
    let local = Dictionary(available.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var claimed: Set<String> = []
    let dossiers = profiles.dossiers
    for user in dossiers.users() {
      let lock = try dossiers.lock(user: user, exclusive: !dryRun)
      defer { withExtendedLifetime(lock) {} }
      guard var document = try dossiers.read(user: user) else { continue }
      var entries = try profiles.profilesObject(document, user: user)
      var changed = false
      var deletions: [String] = []
      for member in entries {
        let entry: ProfileEntry?
        do throws(RexstoreError) {
          entry = try profiles.entry(member.value, user: user, profile: member.key)
        } catch {
          report.outcomes.append(Outcome(blob: dossiers.file(for: user), action: "failed", deletedLocal: false, error: error))
          continue
        }
        guard let entry else { continue }
        claimed.formUnion(entry.names)
        guard entry.storage == "local" else { continue }
        if dryRun {
          for name in entry.names {
            if let info = local[name] ?? (try? source.stat(name)) ?? nil {
              report.outcomes.append(predict(info))
            } else {
              report.outcomes.append(
                Outcome(blob: name, action: "failed", deletedLocal: false, error: RexstoreError(.notFound, "'\(name)' is named by a record but is not in '\(source.root)'")))
            }
          }
          continue
        }
        var uploaded: [ObjectInfo] = []
        var actions: [String] = []
        for name in entry.names {
          Progress.tick("objects", total: available.count)
          if let stop = outage.error {
            report.outcomes.append(Outcome(blob: name, action: "skipped", deletedLocal: false, error: stop))
            continue
          }
          do throws(RexstoreError) {
            var found = local[name]
            if found == nil { found = try source.stat(name) }
            guard let info = found else {
              throw RexstoreError(.notFound, "'\(name)' is named by profile '\(member.key)' of user '\(user)' but is not in '\(source.root)'")
            }
            try Migration.checkName(name)
            let result = try migrate(info)
            uploaded.append(result.1)
            actions.append(result.0)
          } catch {
            report.outcomes.append(Outcome(blob: name, action: "failed", deletedLocal: false, error: error))
          }
        }
        // Re-point only a record whose every sample is verified in the bucket.
        guard uploaded.count == entry.names.count else {
          for (name, action) in zip(entry.names, actions) {
            report.outcomes.append(Outcome(blob: name, action: action, deletedLocal: false, error: nil))
          }
          continue
        }
        var moved = entry
        moved.storage = remote.backend
        moved.details = uploaded
        moved.updatedAt = Timestamp.now().storedForm
        entries.set(member.key, moved.stored)
        changed = true
        report.repointed.append(user + "/" + member.key)
        for (name, action) in zip(entry.names, actions) {
          report.outcomes.append(Outcome(blob: name, action: action, deletedLocal: deleteLocal, error: nil))
        }
        if deleteLocal { deletions += entry.names }
      }
      guard changed else { continue }
      document.set("voice_profiles", .object(entries))
      do throws(RexstoreError) {
        try dossiers.write(user: user, members: document)
      } catch {
        // Nothing re-pointed, so nothing local may go.
        report.repointed.removeAll { $0.hasPrefix(user + "/") }
        for index in report.outcomes.indices where deletions.contains(report.outcomes[index].blob) {
          report.outcomes[index].deletedLocal = false
          report.outcomes[index].action = "failed"
          report.outcomes[index].error = error
        }
        continue
      }
      for name in deletions {
        let gone = (try? source.delete(name)) ?? false
        if !gone, let index = report.outcomes.lastIndex(where: { $0.blob == name }) { report.outcomes[index].deletedLocal = false }
        if let slash = name.lastIndex(of: "/") { source.removeEmptyDirectory(String(name[..<slash])) }
      }
    }
    return claimed
  }

  /// Uploads one object, create-only. An object already in the bucket counts as migrated when it holds the
  /// same bytes, is replaced (conditionally on its version) when the local copy was written after
  /// it, as by a `--force` put that fell back, and is a conflict otherwise.
  private func migrate(_ info: ObjectInfo) throws(RexstoreError) -> (String, ObjectInfo) {
    do throws(RexstoreError) {
      return try attempt(info)
    } catch {
      // After the retry budget of one object is spent on an outage, the rest are not tried.
      if FallbackObjectStore.isOutage(error) { outage.error = error }
      throw error
    }
  }

  private func attempt(_ info: ObjectInfo) throws(RexstoreError) -> (String, ObjectInfo) {
    do throws(RexstoreError) {
      return ("uploaded", try upload(info, condition: .absent))
    } catch {
      guard error.code == .conflict, let there = try remote.stat(info.name) else { throw error }
      let local = info.md5 ?? (try? localMD5(info.name))
      if let local, there.md5 == local { return (alreadyThere, there) }
      switch resolve(info, there) {
      case .replace(let action):
        guard let version = there.version else { throw conflict(info) }
        return (action, try upload(info, condition: .matches(version)))
      case .keepRemote: return ("kept_remote", there)
      case .conflict: throw conflict(info)
      }
    }
  }

  private enum Resolution { case replace(String), keepRemote, conflict }

  /// A name in both places with different bytes: what `prefer` (or, without it, the default) says.
  private func resolve(_ info: ObjectInfo, _ remote: ObjectInfo) -> Resolution {
    let localIsNewer: Bool = {
      guard let here = info.updated, let there = remote.updated else { return false }
      return here > there
    }()
    switch prefer {
    case .local?: return .replace(localIsNewer ? "replaced_older" : "replaced_remote")
    case .remote?: return .keepRemote
    case .newer?: return localIsNewer ? .replace("replaced_older") : .keepRemote
    // Without a preference only a local copy written to replace the name (`--force`, fallen back
    // while the remote was out) replaces an older remote one: a create-only put that fell back never
    // meant to replace anything, so that is a conflict keeping both.
    case nil: return localIsNewer && source.writtenToReplace(info.name) ? .replace("replaced_older") : .conflict
    }
  }

  private func conflict(_ info: ObjectInfo) -> RexstoreError {
    RexstoreError(
      .conflict, "'\(info.name)' is already in \(remote.location) with different, newer content; both copies are kept",
      hint: "choose with --prefer local|remote|newer")
  }

  /// What a real run would do with one object, asking the bucket but changing nothing.
  private func predict(_ info: ObjectInfo) -> Outcome {
    do throws(RexstoreError) {
      try Migration.checkName(info.name)
      guard let there = try remote.stat(info.name) else {
        return Outcome(blob: info.name, action: "would_upload", deletedLocal: false, error: nil)
      }
      let local = info.md5 ?? (try? localMD5(info.name))
      if let local, there.md5 == local {
        return Outcome(blob: info.name, action: alreadyThere, deletedLocal: false, error: nil)
      }
      switch resolve(info, there) {
      case .replace: return Outcome(blob: info.name, action: "would_replace", deletedLocal: false, error: nil)
      case .keepRemote: return Outcome(blob: info.name, action: "would_keep_remote", deletedLocal: false, error: nil)
      case .conflict: return Outcome(blob: info.name, action: "would_conflict", deletedLocal: false, error: conflict(info))
      }
    } catch {
      return Outcome(blob: info.name, action: "failed", deletedLocal: false, error: error)
    }
  }

  private func upload(_ info: ObjectInfo, condition: WriteCondition) throws(RexstoreError) -> ObjectInfo {
    // A file the app wrote has no recorded checksum: hash it first, so the upload is still verified.
    // (Asked again, every recorded copy checked: a listing's checksums may be stale for a file the app
    // rewrote in place since rexstore stored it.)
    var md5 = try source.stat(info.name)?.md5
    if md5 == nil { md5 = try localMD5(info.name) }
    guard let file = try source.openForReading(info.name) else { throw RexstoreError.notFound("no object '\(info.name)'") }
    let uploaded = try remote.put(
      info.name, from: file, contentType: info.contentType ?? ContentType.guess(info.name), condition: condition)
    if uploaded.md5 != md5 {
      throw RexstoreError(.ioError, "'\(info.name)' changed while it was uploaded; the local copy is kept")
    }
    return uploaded
  }

  private func localMD5(_ name: String) throws(RexstoreError) -> String {
    guard let file = try source.openForReading(name) else { throw RexstoreError.notFound("no object '\(name)'") }
    var hasher = ObjectHasher()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileSystem.copyBufferSize, alignment: 64)
    defer { buffer.deallocate() }
    while true {
      let n = try file.read(into: buffer)
      if n == 0 { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
    return hasher.finalize().md5
  }

  /// A legacy directory may hold names rexstore would never write; they are reported, not uploaded.
  static func checkName(_ name: String) throws(RexstoreError) {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    for part in parts.dropFirst() { _ = try ObjectName.segment(part, kind: "name") }
  }
}
