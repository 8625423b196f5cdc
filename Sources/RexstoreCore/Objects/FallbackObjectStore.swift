/// GCS first, the local object root when GCS cannot be used: the arrangement the app was designed
/// around (DESIGN.md §5). Writes that GCS refuses for reasons of its own (unreachable, 5xx or 429
/// after retries, credentials rejected) land locally and say so; reads look in GCS, then locally.
///
/// Errors that are the caller's (an existing object, bad input) never fall back: storing locally
/// would only hide them.
public final class FallbackObjectStore: ObjectStore {
  public let backend = "gcs"
  /// nil when GCS could not even be set up (libcurl missing, say); `setupError` says why.
  public let gcs: GCSObjectStore?
  let setupError: RexstoreError?
  public let local: LocalObjectStore
  public let fallbackEnabled: Bool
  /// Called with each warning (the CLI prints it on stderr unless --quiet).
  let warn: (String) -> Void
  /// Why the last write went to the local root, if it did.
  public private(set) var fallbackReason: String?

  public init(
    gcs: Result<GCSObjectStore, RexstoreError>, local: LocalObjectStore, fallbackEnabled: Bool,
    warn: @escaping (String) -> Void
  ) {
    switch gcs {
    case .success(let store):
      self.gcs = store
      self.setupError = nil
    case .failure(let error):
      self.gcs = nil
      self.setupError = error
    }
    self.local = local
    self.fallbackEnabled = fallbackEnabled
    self.warn = warn
  }

  /// The errors that mean "GCS cannot be used now", as opposed to "this request is wrong".
  public static func isOutage(_ error: RexstoreError) -> Bool {
    [.unavailable, .rateLimited, .permissionDenied].contains(error.code)
  }

  private var spoolDirectory: String { local.root + "/.rexstore-spool" }

  /// Runs a write against GCS; on an outage, runs `fallback` against the local root (or, with
  /// fallback off, fails with `unavailable`).
  private func write<T>(
    _ what: String, gcs attempt: (GCSObjectStore) throws(RexstoreError) -> T,
    local fallback: () throws(RexstoreError) -> T
  ) throws(RexstoreError) -> T {
    fallbackReason = nil
    let outage: RexstoreError
    if let gcs {
      do throws(RexstoreError) {
        return try attempt(gcs)
      } catch {
        guard FallbackObjectStore.isOutage(error) else { throw error }
        outage = error
      }
    } else {
      outage = setupError ?? RexstoreError(.unavailable, "GCS is not set up")
    }
    guard fallbackEnabled else {
      throw RexstoreError(.unavailable, outage.message, hint: "fallback to the local root is off (--no-fallback)")
    }
    let result = try fallback()
    fallbackReason = outage.message
    warn("GCS unavailable, \(what) stored locally: \(outage.message)")
    return result
  }

  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    let source = fallbackEnabled ? try source.spooled(in: spoolDirectory) : source
    return try write(
      "'\(name)'", gcs: { gcs throws(RexstoreError) in
        try gcs.put(name, from: source, contentType: contentType, overwrite: overwrite)
      },
      local: { () throws(RexstoreError) in
        guard source.rewind() else {
          throw RexstoreError(.unavailable, "cannot store '\(name)' locally: the input cannot be read again")
        }
        return try local.put(name, from: source, contentType: contentType, overwrite: overwrite)
      })
  }

  /// Reads from GCS, then the local root. An outage falls through to the local copy (with a
  /// warning) only while nothing has been written to the sink.
  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    let counting = CountingSink(sink)
    if let gcs {
      do throws(RexstoreError) {
        if let info = try gcs.get(name, into: counting) { return info }
      } catch {
        guard FallbackObjectStore.isOutage(error), counting.count == 0 else { throw error }
        return try localRead(name, outage: error) { () throws(RexstoreError) in try local.get(name, into: sink) }
      }
    }
    return try local.get(name, into: sink)
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    if let gcs {
      do throws(RexstoreError) {
        if let info = try gcs.stat(name) { return info }
      } catch {
        guard FallbackObjectStore.isOutage(error) else { throw error }
        return try localRead(name, outage: error) { () throws(RexstoreError) in try local.stat(name) }
      }
    }
    return try local.stat(name)
  }

  /// A local answer while GCS is out: found locally is an answer; not found is not (GCS may hold it).
  private func localRead(
    _ name: String, outage: RexstoreError, _ read: () throws(RexstoreError) -> ObjectInfo?
  ) throws(RexstoreError) -> ObjectInfo? {
    guard let info = try read() else { throw outage }
    warn("GCS unavailable, read '\(name)' from the local root: \(outage.message)")
    return info
  }

  /// Both stores' objects, in name order (GCS first for a name held in both); one page.
  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    var items = try local.listAll(prefix: prefix)
    if let gcs {
      do throws(RexstoreError) {
        items += try gcs.listAll(prefix: prefix)
      } catch {
        guard FallbackObjectStore.isOutage(error) else { throw error }
        warn("GCS unavailable, listing local objects only: \(error.message)")
      }
    }
    items.sort { $0.name != $1.name ? $0.name < $1.name : $0.backend == "gcs" && $1.backend != "gcs" }
    return ObjectPage(items: items, nextPageToken: nil)
  }

  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    var segments = Set(try local.listSegments(under: prefix))
    if let gcs {
      do throws(RexstoreError) {
        segments.formUnion(try gcs.listSegments(under: prefix))
      } catch {
        guard FallbackObjectStore.isOutage(error) else { throw error }
        warn("GCS unavailable, listing local objects only: \(error.message)")
      }
    }
    return segments.sorted()
  }

  /// Deletes the object wherever it is. GCS must answer: deleting only the local copy while GCS is
  /// out would report a deletion that did not happen.
  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    guard let gcs else { throw setupError ?? RexstoreError(.unavailable, "GCS is not set up") }
    let remote = try gcs.delete(name)
    let here = try local.delete(name)
    return remote || here
  }

  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    var members = members
    if fallbackEnabled {
      for index in members.indices { members[index].source = try members[index].source.spooled(in: spoolDirectory) }
    }
    return try write(
      "'\(directory)/'", gcs: { gcs throws(RexstoreError) in try gcs.replaceGroup(directory: directory, members: members) },
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
    // Only the local store swaps sets in and out; a set recorded in GCS has nothing to repair.
    guard expected.contains(where: { $0.backend == "local" }) else { return false }
    return try local.repairGroup(directory: directory, toMatch: expected, reread: reread)
  }

  public func deleteGroup(directory: String) throws(RexstoreError) -> Int {
    guard let gcs else { throw setupError ?? RexstoreError(.unavailable, "GCS is not set up") }
    return try gcs.deleteGroup(directory: directory) + (try local.deleteGroup(directory: directory))
  }
}

/// Counts what passes through, so a fallback can tell whether a reader already saw bytes.
final class CountingSink: ByteSink {
  let inner: any ByteSink
  private(set) var count: Int64 = 0

  init(_ inner: any ByteSink) { self.inner = inner }

  func write(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    try inner.write(bytes)
    count += Int64(bytes.count)
  }
}
