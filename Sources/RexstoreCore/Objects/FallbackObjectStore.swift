/// A remote first, the local object root when the remote cannot be used: the arrangement the app was
/// designed around with GCS (DESIGN.md §5), over any registered remote. Writes the remote refuses for
/// reasons of its own (unreachable, 5xx or 429 after retries, credentials rejected) land locally and
/// say so; reads look in the remote, then locally.
///
/// Errors that are the caller's (an existing object, bad input) never fall back: storing locally
/// would only hide them.
public final class FallbackObjectStore: ObjectStore {
  /// The remote's name (`gcs`, `s3`), also when it could not be set up.
  public let backend: String
  /// nil when the remote could not even be set up (libcurl missing, say); `setupError` says why.
  public let remote: (any RemoteObjectStore)?
  let setupError: RexstoreError?
  public let local: LocalObjectStore
  public let fallbackEnabled: Bool
  /// Called with each warning (the CLI prints it on stderr unless --quiet), one at a time even
  /// when batch workers share it.
  let warn: (String) -> Void
  static let warnings = Mutex()
  /// Why the last write went to the local root, if it did.
  public private(set) var fallbackReason: String?
  /// The first outage a batch met, shared by its workers: later items go straight to the local
  /// root instead of each waiting out the whole retry budget again.
  private let outage: OutageLatch
  /// An outage an earlier invocation met, remembered in the local root for a while.
  public var window: OutageWindow?

  public convenience init(
    backend: String, remote: Result<any RemoteObjectStore, RexstoreError>, local: LocalObjectStore,
    fallbackEnabled: Bool, warn: @escaping (String) -> Void
  ) {
    self.init(
      backend: backend, remote: remote, local: local, fallbackEnabled: fallbackEnabled, warn: warn, outage: OutageLatch())
  }

  init(
    backend: String, remote: Result<any RemoteObjectStore, RexstoreError>, local: LocalObjectStore,
    fallbackEnabled: Bool, warn: @escaping (String) -> Void, outage: OutageLatch
  ) {
    self.backend = backend
    self.outage = outage
    switch remote {
    case .success(let store):
      self.remote = store
      self.setupError = nil
    case .failure(let error):
      self.remote = nil
      self.setupError = error
    }
    self.local = local
    self.fallbackEnabled = fallbackEnabled
    self.warn = warn
  }

  public func worker() throws(RexstoreError) -> any ObjectStore {
    let remote: Result<any RemoteObjectStore, RexstoreError>
    if let primary = self.remote, let copy = try primary.worker() as? any RemoteObjectStore {
      remote = .success(copy)
    } else {
      remote = .failure(notSetUp)
    }
    let copy = FallbackObjectStore(
      backend: backend, remote: remote, local: local, fallbackEnabled: fallbackEnabled, warn: warn, outage: outage)
    copy.window = window
    return copy
  }

  public var batchWidth: Int { remote?.batchWidth ?? 1 }

  /// Why there is no remote to ask.
  private var notSetUp: RexstoreError { setupError ?? RexstoreError(.unavailable, "\(backend) is not set up") }

  /// `GCS`, `S3`: how warnings name the remote.
  private var remoteName: String { backend.uppercased() }

  /// The errors that mean "the remote cannot be used now", as opposed to "this request is wrong".
  public static func isOutage(_ error: RexstoreError) -> Bool {
    [.unavailable, .rateLimited, .permissionDenied].contains(error.code)
  }

  private var spoolDirectory: String { local.root + "/.rexstore-spool" }

  /// Runs a write against the remote; on an outage, runs `fallback` against the local root (or, with
  /// fallback off, fails with `unavailable`).
  private func write<T>(
    _ what: String, remote attempt: (any RemoteObjectStore) throws(RexstoreError) -> T,
    local fallback: () throws(RexstoreError) -> T
  ) throws(RexstoreError) -> T {
    fallbackReason = nil
    let outage: RexstoreError
    if let earlier = self.outage.error {
      outage = earlier
    } else if let remembered = window?.recent() {
      outage = remembered
      self.outage.record(remembered)
    } else if let remote {
      do throws(RexstoreError) {
        let result = try attempt(remote)
        window?.clear()
        return result
      } catch {
        guard FallbackObjectStore.isOutage(error) else { throw error }
        outage = error
        self.outage.record(error)
        window?.record(error)
      }
    } else {
      outage = notSetUp
    }
    guard fallbackEnabled else {
      throw RexstoreError(.unavailable, outage.message, hint: "fallback to the local root is off (--no-fallback)")
    }
    let result = try fallback()
    fallbackReason = outage.message
    FallbackObjectStore.warnings.locked { warn("\(remoteName) unavailable, \(what) stored locally: \(outage.message)") }
    return result
  }

  /// A name held in either place exists: without `overwrite`, a fallback copy waiting for
  /// `migrate` blocks a new upload just as a remote object does. After an upload, a local copy of the
  /// name is superseded and removed, so the two places never disagree about what is current.
  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    let reserved = LocalObjectStore.isReserved(name)
    if !overwrite, !reserved, try local.stat(name) != nil {
      throw RexstoreError(
        .conflict, "'\(name)' already exists in the local root (stored while \(remoteName) was unavailable)",
        hint: "run 'rexstore migrate', or add --force to replace it")
    }
    // Without a spool (an unwritable local root) the upload still goes ahead; only a fallback after
    // part of a pipe was sent becomes impossible, and says so.
    let source = fallbackEnabled ? (try source.spooled(in: spoolDirectory) ?? source) : source
    return try write(
      "'\(name)'", remote: { remote throws(RexstoreError) in
        let info = try remote.put(name, from: source, contentType: contentType, overwrite: overwrite)
        if !reserved { _ = try? local.delete(name) }
        return info
      },
      local: { () throws(RexstoreError) in
        guard source.rewind() else {
          throw RexstoreError(.unavailable, "cannot store '\(name)' locally: the input cannot be read again")
        }
        return try local.put(name, from: source, contentType: contentType, overwrite: overwrite)
      })
  }

  /// Reads the current copy: the remote's, unless a local copy exists and is newer (a write that fell
  /// back while the remote held an older version). The local check is one stat, so the common case,
  /// no local copy, costs the remote one request. An outage falls through to the local copy (with a warning) only
  /// while nothing has been written to the sink.
  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    guard let remote else { return try local.get(name, into: sink) }
    // Within an outage window a local copy is read without asking the remote; without one, the remote is asked
    // (the CLI builds the store with a single attempt then, so the call fails fast if it is still out).
    if let remembered = self.outage.error ?? window?.recent(), !LocalObjectStore.isReserved(name),
      try local.stat(name) != nil
    {
      FallbackObjectStore.warnings.locked { warn("\(remoteName) unavailable, read '\(name)' from the local root: \(remembered.message)") }
      return try local.get(name, into: sink)
    }
    if !LocalObjectStore.isReserved(name), let here = try local.stat(name) {
      let counting = CountingSink(sink)
      do throws(RexstoreError) {
        if let there = try remote.stat(name), remoteIsNewer(there, than: here) { return try remote.get(name, into: counting) }
      } catch {
        // Bytes already in the sink would be followed by the local copy's: no fallback then.
        if FallbackObjectStore.isOutage(error) { window?.record(error) }
        guard FallbackObjectStore.isOutage(error), counting.count == 0 else { throw error }
        FallbackObjectStore.warnings.locked { warn("\(remoteName) unavailable, read '\(name)' from the local root: \(error.message)") }
      }
      return try local.get(name, into: sink)
    }
    // Not held locally (checked above), so an outage here leaves no answer to fall back on.
    do throws(RexstoreError) {
      return try remote.get(name, into: sink)
    } catch {
      if FallbackObjectStore.isOutage(error) { window?.record(error) }
      throw error
    }
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    guard let remote else { return try local.stat(name) }
    let here = LocalObjectStore.isReserved(name) ? nil : try local.stat(name)
    do throws(RexstoreError) {
      let there = try remote.stat(name)
      guard let here else { return there }
      guard let there, remoteIsNewer(there, than: here) else { return here }
      return there
    } catch {
      guard FallbackObjectStore.isOutage(error), let here else { throw error }
      FallbackObjectStore.warnings.locked { warn("\(remoteName) unavailable, read '\(name)' from the local root: \(error.message)") }
      return here
    }
  }

  /// Whether the remote's copy is the current one; a tie goes to the remote.
  private func remoteIsNewer(_ there: ObjectInfo, than here: ObjectInfo) -> Bool {
    guard let remote = there.updated, let mine = here.updated else { return true }
    return remote >= mine
  }

  /// Both stores' objects in byte order of their names (the remote's first for a name held in both),
  /// `pageSize` at a time. The remote must answer: a listing that silently left out the bucket would
  /// mislead a script. The token is the last item listed (its name's bytes and its place), so a page
  /// continues after it even when objects come and go in between.
  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    var items = try local.listAll(prefix: prefix)
    guard let remote else { throw notSetUp }
    items += try remote.listAll(prefix: prefix)
    func key(_ info: ObjectInfo) -> [UInt8] { Array(info.name.utf8) + [0, info.backend == "local" ? 1 : 0] }
    items.sort { key($0).lexicographicallyPrecedes(key($1)) }
    if let pageToken {
      guard let after = Hex.decode(pageToken) else { throw RexstoreError.usage("invalid page token '\(pageToken)'") }
      items = items.filter { after.lexicographicallyPrecedes(key($0)) }
    }
    let page = Array(items.prefix(max(1, pageSize)))
    let next = items.count > page.count ? page.last.map { Hex.lower(key($0)) } : nil
    return ObjectPage(items: page, nextPageToken: next)
  }

  /// Segments of both places, as bytes: `josé` written in NFC and in NFD are two users, as they are
  /// two directories and two bucket prefixes.
  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    var segments = Set(try local.listSegments(under: prefix).map { Array($0.utf8) })
    guard let remote else { throw notSetUp }
    segments.formUnion(try remote.listSegments(under: prefix).map { Array($0.utf8) })
    return segments.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
  }

  public func deleteListed(_ info: ObjectInfo) throws(RexstoreError) -> Bool {
    if info.backend == "local" { return try local.deleteListed(info) }
    guard let remote else { throw notSetUp }
    return try remote.deleteListed(info)
  }

  /// Deletes the object wherever it is. The remote must answer: deleting only the local copy while
  /// it is out would report a deletion that did not happen.
  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    guard let remote else { throw notSetUp }
    let there = try remote.delete(name)
    let here = LocalObjectStore.isReserved(name) ? false : try local.delete(name)
    return there || here
  }

  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    var members = members
    if fallbackEnabled {
      for index in members.indices {
        members[index].source = try members[index].source.spooled(in: spoolDirectory) ?? members[index].source
      }
    }
    return try write(
      "'\(directory)/'", remote: { remote throws(RexstoreError) -> any GroupReplacement in
        let replacement = try remote.replaceGroup(directory: directory, members: members)
        // A set stored locally earlier (while the remote was out) is superseded once the record names this one.
        return ThenRemoving(replacement) { [local] in _ = try? local.deleteGroup(directory: directory) }
      },
      local: { () throws(RexstoreError) in
        for member in members where !member.source.rewind() {
          throw RexstoreError(.unavailable, "cannot store '\(member.name)' locally: the input cannot be read again")
        }
        return try local.replaceGroup(directory: directory, members: members)
      })
  }

  public func repairGroup(
    directory: String, toMatch expected: [ObjectInfo], reread: () throws(RexstoreError) -> [ObjectInfo]?
  ) throws(RexstoreError) -> Bool {
    // Only the local store swaps sets in and out; a set recorded in the remote has nothing to repair.
    guard expected.contains(where: { $0.backend == "local" }) else { return false }
    return try local.repairGroup(directory: directory, toMatch: expected, reread: reread)
  }

  public func deleteGroup(directory: String) throws(RexstoreError) -> Int {
    guard let remote else { throw notSetUp }
    return try remote.deleteGroup(directory: directory) + (try local.deleteGroup(directory: directory))
  }
}

/// A group replacement that also runs `cleanup` when it is finished (never when undone).
final class ThenRemoving: GroupReplacement {
  let inner: any GroupReplacement
  let cleanup: () -> Void

  init(_ inner: any GroupReplacement, cleanup: @escaping () -> Void) {
    self.inner = inner
    self.cleanup = cleanup
  }

  var objects: [ObjectInfo] { inner.objects }

  func finish() {
    inner.finish()
    cleanup()
  }

  func undo() { inner.undo() }
}

/// Counts what passes through, so a fallback can tell whether a reader already got bytes.
final class CountingSink: ByteSink {
  let inner: any ByteSink
  private(set) var count: Int64 = 0

  init(_ inner: any ByteSink) { self.inner = inner }

  func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    count += Int64(bytes.count)
    try inner.write(bytes)
  }
}

/// The first outage seen by any worker of one batch.
final class OutageLatch: @unchecked Sendable {
  private let lock = Mutex()
  private var first: RexstoreError?

  var error: RexstoreError? { lock.locked { first } }
  func record(_ error: RexstoreError) { lock.locked { if first == nil { first = error } } }
}
