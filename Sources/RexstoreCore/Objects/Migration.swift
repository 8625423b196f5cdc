/// Moves objects from a local root (the fallback root, or a legacy app directory with the same
/// layout) up to GCS. Each upload is create-only, so running it twice, or beside the app, never
/// replaces an object in the bucket; an object already there with the same MD5 counts as migrated.
public struct Migration {
  public let source: LocalObjectStore
  public let gcs: GCSObjectStore
  public let records: Store?

  public init(source: LocalObjectStore, gcs: GCSObjectStore, records: Store?) {
    self.source = source
    self.gcs = gcs
    self.records = records
  }

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
    /// `uploaded`, `replaced_older` (the local copy was written later than GCS's, during an outage),
    /// `already_in_gcs`, `would_upload` or `failed`.
    public var action: String
    public var deletedLocal: Bool
    public var error: RexstoreError?
  }

  public func run(_ objects: [ObjectInfo], dryRun: Bool, deleteLocal: Bool) -> [Outcome] {
    var outcomes: [Outcome] = []
    var migrated: [String: ObjectInfo] = [:]
    for info in objects {
      guard !dryRun else {
        outcomes.append(Outcome(blob: info.name, action: "would_upload", deletedLocal: false, error: nil))
        continue
      }
      do throws(RexstoreError) {
        try Migration.checkName(info.name)
        let action = try migrate(info)
        migrated[info.name] = action.1
        var deleted = false
        if deleteLocal { deleted = try source.delete(info.name) }
        outcomes.append(Outcome(blob: info.name, action: action.0, deletedLocal: deleted, error: nil))
      } catch {
        outcomes.append(Outcome(blob: info.name, action: "failed", deletedLocal: false, error: error))
      }
    }
    if !dryRun { updateProfileRecords(migrated) }
    return outcomes
  }

  /// Uploads one object, create-only. An object already in GCS counts as migrated when it holds the
  /// same bytes, is replaced (conditionally on its generation) when the local copy was written after
  /// it, as by a `--force` put that fell back, and is a conflict otherwise.
  private func migrate(_ info: ObjectInfo) throws(RexstoreError) -> (String, ObjectInfo) {
    do throws(RexstoreError) {
      return ("uploaded", try upload(info, ifGenerationMatch: 0))
    } catch {
      guard error.code == .conflict, let remote = try gcs.stat(info.name) else { throw error }
      let local = info.md5 ?? (try? localMD5(info.name))
      if let local, remote.md5 == local { return ("already_in_gcs", remote) }
      if let here = info.updated, let there = remote.updated, here > there, let generation = remote.generation {
        return ("replaced_older", try upload(info, ifGenerationMatch: generation))
      }
      throw RexstoreError(.conflict, "'\(info.name)' is already in GCS with different, newer content; both copies are kept")
    }
  }

  private func upload(_ info: ObjectInfo, ifGenerationMatch generation: Int64) throws(RexstoreError) -> ObjectInfo {
    guard let file = try source.openForReading(info.name) else { throw RexstoreError.notFound("no object '\(info.name)'") }
    let uploaded = try gcs.put(
      info.name, from: file, contentType: info.contentType ?? ContentType.guess(info.name), ifGenerationMatch: generation)
    if let md5 = info.md5, uploaded.md5 != md5 {
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

  /// Profiles recorded as local whose samples are now all in GCS are recorded as GCS profiles.
  private func updateProfileRecords(_ migrated: [String: ObjectInfo]) {
    guard let records, records.exists, !migrated.isEmpty else { return }
    let profiles = VoiceProfiles(records: records, objects: gcs)
    _ = try? profiles.adoptMigrated(migrated)
  }
}
