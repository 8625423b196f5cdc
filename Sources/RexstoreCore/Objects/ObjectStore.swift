/// An object as every backend reports it (DESIGN.md §3 "object").
public struct ObjectInfo: Sendable, Equatable {
  public var name: String
  public var size: Int64
  public var md5: String?
  public var crc32c: String?
  public var contentType: String?
  public var backend: String
  public var updated: Timestamp?
  /// GCS's generation number, which makes overwrites and deletes conditional; nil for local objects.
  public var generation: Int64? = nil
  /// An opaque version token that makes overwrites and deletes conditional where the backend has no
  /// generation (S3: the ETag, quotes included). The backend seam replaces `generation` with it.
  public var version: String? = nil
  /// Set by a read: whether the bytes were checked against recorded checksums (false when none were
  /// recorded anywhere, e.g. a file the app wrote itself); nil for objects that were not read.
  public var verified: Bool? = nil

  public var json: JSONValue {
    .record([
      "blob": .string(name), "size_bytes": .int(size), "md5": .optional(md5), "crc32c": .optional(crc32c),
      "content_type": .optional(contentType), "backend": .string(backend),
      "updated_at": updated.map { .string($0.outputForm) } ?? .null,
    ])
  }
}

public struct ObjectPage: Sendable {
  public var items: [ObjectInfo]
  /// Pass back to `list` for the next page; nil on the last page.
  public var nextPageToken: String?
}

/// One object of a group written together (a voice profile's samples).
public struct GroupMember {
  public var name: String
  public var source: ByteSource
  public var contentType: String

  public init(name: String, source: ByteSource, contentType: String) {
    self.name = name
    self.source = source
    self.contentType = contentType
  }
}

/// A group replacement that has happened but is not yet final: `finish()` discards what it replaced,
/// `undo()` puts it back (when the record that goes with it could not be committed).
public protocol GroupReplacement {
  var objects: [ObjectInfo] { get }
  func finish()
  func undo()
}

/// Where audio and voice-profile samples live. The commands speak only this protocol, so the local
/// file system, GCS and others are interchangeable behind it.
///
/// Every write is all-or-nothing: a reader sees the old object or the new one, never a part.
public protocol ObjectStore: AnyObject {
  /// `local`, `gcs`, ...: what the JSON's `backend` says.
  var backend: String { get }

  /// Streams `source` into `name`. Refuses to replace an existing object unless `overwrite`.
  func put(_ name: String, from source: ByteSource, contentType: String, overwrite: Bool) throws(RexstoreError)
    -> ObjectInfo

  /// Streams the object into `sink`, verifying its checksums as it goes; nil if there is none.
  func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo?

  func stat(_ name: String) throws(RexstoreError) -> ObjectInfo?

  /// Objects whose names start with `prefix`, in name order, `pageSize` at a time.
  func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage

  /// The next path segments under `prefix` that hold objects (`audio/` gives the user names), as a
  /// bucket listing with a `/` delimiter returns its prefixes.
  func listSegments(under prefix: String) throws(RexstoreError) -> [String]

  /// Deletes an object; false if there was none.
  func delete(_ name: String) throws(RexstoreError) -> Bool

  /// Deletes exactly the copy a listing returned (its backend, its generation), not whatever holds
  /// the name by now: what `audio prune` decided on is what it deletes.
  func deleteListed(_ info: ObjectInfo) throws(RexstoreError) -> Bool

  /// Replaces everything under `directory` with `members`, as one step: objects of the old set that
  /// the new one lacks (a profile re-stored with fewer samples) disappear with it.
  func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement

  /// Puts back the set under `directory` that `expected` describes, if a replacement was interrupted
  /// after swapping a new set in but before its record was committed (the record still describes the
  /// old set). Like SQLite rolling back a hot journal on open. Returns false when the live set already
  /// matched `expected` (the common case, one check); true when it did not, whether it was repaired or
  /// a concurrent store changed the record meanwhile, so the caller should read the record again.
  ///
  /// `expected` is the record as read; when it does not match, `reread` is called once the group is
  /// locked against concurrent stores, since that record may already be stale (nil: no record left).
  func repairGroup(
    directory: String, toMatch expected: [ObjectInfo], reread: () throws(RexstoreError) -> [ObjectInfo]?
  ) throws(RexstoreError) -> Bool

  /// Deletes everything under `directory`; returns how many objects.
  func deleteGroup(directory: String) throws(RexstoreError) -> Int

  /// A store for another thread: the same objects through its own connection (GCS), or this very
  /// store where calls share no state (the local root).
  func worker() throws(RexstoreError) -> any ObjectStore

  /// How many threads batch transfers should use: network stores overlap round trips, the local
  /// root is bound by the disk.
  var batchWidth: Int { get }
}

extension ObjectStore {
  public func worker() throws(RexstoreError) -> any ObjectStore { self }
  public var batchWidth: Int { 1 }

  public func deleteListed(_ info: ObjectInfo) throws(RexstoreError) -> Bool { try delete(info.name) }

  /// Why the last write landed in the local root instead of GCS; nil when it did not fall back.
  public var fallbackReason: String? { (self as? FallbackObjectStore)?.fallbackReason }

  /// Every object under `prefix`, following page tokens.
  public func listAll(prefix: String) throws(RexstoreError) -> [ObjectInfo] {
    var items: [ObjectInfo] = []
    var token: String?
    repeat {
      let page = try list(prefix: prefix, pageToken: token, pageSize: 1000)
      items += page.items
      token = page.nextPageToken
    } while token != nil
    return items
  }
}
