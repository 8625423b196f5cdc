/// Audio recordings: `audio/{user}/{file}` in whichever object store is configured.
public struct Audio {
  public let objects: any ObjectStore

  public init(objects: any ObjectStore) { self.objects = objects }

  public func put(
    user: String, file: String, from source: ByteSource, contentType: String?, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    let blob = try AudioBlob(user: user, file: file)
    return try objects.put(
      blob.name, from: source, contentType: contentType ?? ContentType.guess(file), overwrite: overwrite)
  }

  /// Streams an object to `sink` (standard output); not found is `not_found`.
  public func get(_ blob: AudioBlob, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo {
    guard let info = try objects.get(blob.name, into: sink) else { throw missing(blob.name) }
    return info
  }

  /// Downloads an object to `path` (the user's bytes) atomically.
  /// `progressTotal` (set on a terminal only) reports the bytes written against that size.
  public func download(_ blob: AudioBlob, to path: FilePathBytes, progressTotal: Int64?? = nil) throws(RexstoreError) -> ObjectInfo {
    // No stat first: a missing object leaves only a temporary file, removed at once, and PATH as it was.
    let result = try FileDownload.write(to: path) { sink throws(RexstoreError) in
      try objects.get(blob.name, into: progressTotal.map { ProgressSink(sink, total: $0) } ?? sink)
    }
    guard let info = result else { throw missing(blob.name) }
    return info
  }

  public func list(user: String) throws(RexstoreError) -> [ObjectInfo] {
    let user = try ObjectName.segment(user, kind: "user")
    return try objects.listAll(prefix: AudioBlob.prefix(user: user))
  }

  /// Recordings across users (`user` nil), optionally only names under `audio/` + `prefix`, in byte
  /// order, at most `limit` after `pageToken` (the last name of the previous page). Returns the page
  /// and the token of the next one (nil on the last page).
  public func listAll(
    user: String?, prefix: String?, limit: Int?, pageToken: String?
  ) throws(RexstoreError) -> ([ObjectInfo], String?) {
    var users: [String]
    if let user {
      users = [try ObjectName.segment(user, kind: "user")]
    } else {
      users = try objects.listSegments(under: "audio/")
    }
    let wanted = prefix.map { "audio/" + $0 }
    if let wanted {
      // Only users whose directory can hold a name with that prefix.
      users = users.filter { user in
        let dir = "audio/\(user)/"
        return dir.utf8.starts(with: wanted.utf8) || wanted.utf8.starts(with: dir.utf8)
      }
    }
    // The token is the last name listed; when a page ends between the two copies of a name (the
    // remote's, then the local one of a fallback write), it also says which copy: NAME\u{1}PLACE.
    // A name never holds a control character, so the two forms cannot be confused.
    let scope = wanted ?? (user.map { AudioBlob.prefix(user: $0) } ?? "audio/")
    var after: [UInt8]?
    if let pageToken {
      let parts = pageToken.split(separator: "\u{1}", maxSplits: 1, omittingEmptySubsequences: false)
      let name = String(parts[0])
      guard pageToken.utf8.count <= 2048, name.utf8.starts(with: scope.utf8) || scope.utf8.starts(with: name.utf8),
        parts.count == 1 || parts[1] == "remote"
      else {
        throw RexstoreError.usage("invalid page token: pass back the next_page_token of the same listing")
      }
      after = Audio.key(name, local: parts.count == 1)
    }
    var items: [ObjectInfo] = []
    for user in users { items += try objects.listAll(prefix: AudioBlob.prefix(user: user)) }
    if let wanted { items = items.filter { $0.name.utf8.starts(with: wanted.utf8) } }
    items.sort { Audio.key($0).lexicographicallyPrecedes(Audio.key($1)) }
    if let after { items = items.filter { after.lexicographicallyPrecedes(Audio.key($0)) } }
    guard let limit, items.count > limit else { return (items, nil) }
    let page = Array(items.prefix(limit))
    guard let last = page.last else { return (page, nil) }
    let split = items[page.count].name == last.name && last.backend != "local"
    return (page, split ? last.name + "\u{1}remote" : last.name)
  }

  /// Listing order: the name's bytes, then the remote's copy before the local one. A plain name token
  /// means "after every copy of this name".
  static func key(_ name: String, local: Bool) -> [UInt8] { Array(name.utf8) + [0, local ? 1 : 0] }
  static func key(_ info: ObjectInfo) -> [UInt8] { key(info.name, local: info.backend == "local") }

  private func missing(_ name: String) -> RexstoreError { RexstoreError.notFound("no object '\(name)'") }

  /// The outcome of deleting one blob of several.
  public struct Deletion: Sendable {
    public var blob: String
    public var deleted: Bool
    public var error: RexstoreError?
  }

  /// Deletes every blob it can; a missing one is a failure unless `ifExists`.
  public func remove(_ blobs: [AudioBlob], ifExists: Bool) -> [Deletion] {
    blobs.map { blob in
      do throws(RexstoreError) {
        let deleted = try objects.delete(blob.name)
        if !deleted, !ifExists { return Deletion(blob: blob.name, deleted: false, error: missing(blob.name)) }
        return Deletion(blob: blob.name, deleted: deleted, error: nil)
      } catch {
        return Deletion(blob: blob.name, deleted: false, error: error)
      }
    }
  }

  /// Deletes exactly the listed copies (`prune`): a newer object written under the same name since
  /// the listing, or a copy in the other backend, is left alone.
  public func removeListed(_ infos: [ObjectInfo]) -> [Deletion] {
    infos.map { info in
      do throws(RexstoreError) {
        return Deletion(blob: info.name, deleted: try objects.deleteListed(info), error: nil)
      } catch {
        return Deletion(blob: info.name, deleted: false, error: error)
      }
    }
  }

  /// Audio objects older than `cutoff` (of one user, or all), oldest first.
  public func pruneCandidates(olderThan cutoff: Timestamp, user: String?) throws(RexstoreError) -> [ObjectInfo] {
    let users: [String]
    if let user {
      users = [try ObjectName.segment(user, kind: "user")]
    } else {
      users = try objects.listSegments(under: "audio/")
    }
    var old: [ObjectInfo] = []
    for user in users {
      old += try objects.listAll(prefix: AudioBlob.prefix(user: user)).filter { ($0.updated ?? cutoff) < cutoff }
    }
    return old.sorted { ($0.updated ?? cutoff) < ($1.updated ?? cutoff) }
  }
}

/// Content types by file extension; what `audio put` records when `--content-type` is not given.
public enum ContentType {
  static let byExtension: [String: String] = [
    "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/opus",
    "m4a": "audio/mp4", "mp4": "audio/mp4", "aac": "audio/aac", "flac": "audio/flac", "webm": "audio/webm",
    "json": "application/json", "txt": "text/plain",
  ]

  public static func guess(_ fileName: String) -> String {
    guard let dot = fileName.lastIndex(of: ".") else { return "application/octet-stream" }
    let ext = String(fileName[fileName.index(after: dot)...]).lowercased()
    return byExtension[ext] ?? "application/octet-stream"
  }
}
