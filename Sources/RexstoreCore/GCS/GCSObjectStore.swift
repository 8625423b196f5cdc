import Dispatch
import Glibc

/// Objects in a GCS bucket, through the JSON API. Same names and the same guarantees as the local
/// store: uploads are all-or-nothing (`ifGenerationMatch=0` unless overwriting), downloads are
/// verified against `x-goog-hash` as they stream.
public final class GCSObjectStore: ObjectStore {
  public let backend = "gcs"
  let client: GCSClient

  public init(settings: GCSSettings, tokens: TokenSource?) throws(RexstoreError) {
    client = try GCSClient(settings: settings, tokens: tokens)
  }

  private init(client: GCSClient) { self.client = client }

  public func worker() throws(RexstoreError) -> any ObjectStore { GCSObjectStore(client: try client.sibling()) }
  public var batchWidth: Int { client.settings.parallelUploads }

  public var bucket: String { client.settings.bucket }

  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    // An overwrite is conditional on the generation just seen, so it too can be retried safely, and
    // a concurrent writer in between makes it fail (conflict) instead of being silently replaced.
    let generation = overwrite ? (try stat(name)?.generation ?? 0) : 0
    return try put(name, from: source, contentType: contentType, ifGenerationMatch: generation)
  }

  /// An upload conditional on one generation (`0`: only if absent); 412 is a conflict.
  public func put(
    _ name: String, from source: ByteSource, contentType: String, ifGenerationMatch generation: Int64
  ) throws(RexstoreError) -> ObjectInfo {
    try GCSUpload(client: client, name: name, contentType: contentType, ifGenerationMatch: generation).run(source)
  }

  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    try GCSDownload(client: client, name: name).run(into: sink)
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    let what = "read '\(name)'"
    let response = try client.send(what) { HTTPRequest(method: "GET", url: client.objectURL(name)) }
    if response.status == 404 {
      if case let error = client.failure(what, response), error.code == .config { throw error }
      return nil
    }
    guard response.status == 200 else { throw client.failure(what, response) }
    return try client.objectInfo(what, response)
  }

  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    let page = try listPage(prefix: prefix, delimiter: nil, pageToken: pageToken, pageSize: pageSize)
    return ObjectPage(items: page.items, nextPageToken: page.next)
  }

  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    var segments: [String] = []
    var token: String?
    repeat {
      let page = try listPage(prefix: prefix, delimiter: "/", pageToken: token, pageSize: 1000)
      segments += page.prefixes.map { String($0.dropFirst(prefix.count).dropLast()) }
      token = page.next
    } while token != nil
    // Byte order, as the bucket and the local root list (String's `<` compares canonically: an NFD
    // name would sort as its NFC form, and two spellings as equal).
    return segments.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  private func listPage(
    prefix: String, delimiter: String?, pageToken: String?, pageSize: Int
  ) throws(RexstoreError) -> (items: [ObjectInfo], prefixes: [String], next: String?) {
    let what = "list gs://\(bucket)/\(prefix)"
    let url = client.bucketPath + "/o" + GCSClient.query([
      ("prefix", prefix), ("delimiter", delimiter), ("maxResults", String(pageSize)), ("pageToken", pageToken),
    ])
    let response = try client.send(what) { HTTPRequest(method: "GET", url: url) }
    if response.status == 404 { throw client.noBucket() }
    guard response.status == 200, let json = try? JSONParser.parse(response.text) else {
      throw response.status == 200
        ? RexstoreError(.unavailable, "cannot \(what): unreadable answer") : client.failure(what, response)
    }
    var items: [ObjectInfo] = []
    if case .array(let list)? = json["items"] { items = list.compactMap(GCSClient.objectInfo) }
    var prefixes: [String] = []
    if case .array(let list)? = json["prefixes"] {
      prefixes = list.compactMap { if case .string(let p) = $0 { return p } else { return nil } }
    }
    var next: String?
    if case .string(let token)? = json["nextPageToken"], !token.isEmpty { next = token }
    return (items.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }, prefixes, next)
  }

  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    guard let info = try stat(name), let generation = info.generation else { return false }
    return try delete(name, generation: generation, client: client)
  }

  public func deleteListed(_ info: ObjectInfo) throws(RexstoreError) -> Bool {
    guard let generation = info.generation else { return try delete(info.name) }
    do throws(RexstoreError) {
      return try delete(info.name, generation: generation, client: client)
    } catch {
      guard error.code == .conflict else { throw error }
      throw RexstoreError(.conflict, "'\(info.name)' was rewritten after it was listed; the new version is kept")
    }
  }

  /// Deletes one generation of an object. The precondition makes the retry safe; a 404 after a try
  /// whose answer was lost means that try did the deleting.
  func delete(_ name: String, generation: Int64, client: GCSClient) throws(RexstoreError) -> Bool {
    let what = "delete '\(name)'"
    let url = client.objectURL(name) + "?ifGenerationMatch=\(generation)"
    let (response, retried) = try client.sendNotingRetries(what) { HTTPRequest(method: "DELETE", url: url) }
    switch response.status {
    case 200, 204: return true
    case 404: return retried
    case 412: throw RexstoreError(.conflict, "cannot \(what): it was replaced meanwhile; nothing deleted")
    default: throw client.failure(what, response)
    }
  }

  /// GCS has no atomic rename, so samples are overwritten in place. To keep "all or nothing", every
  /// sample about to be overwritten is first copied to an unlinked file in the spool directory (a
  /// profile's samples are small); `undo` uploads those copies back, each conditional on the
  /// generation this store wrote, so a concurrent store's later write is never undone.
  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    let existing = try listAll(prefix: directory + "/")
    var generations: [String: Int64] = [:]
    var backups: [String: (ObjectInfo, ByteSource)] = [:]
    for info in existing where members.contains(where: { $0.name == info.name }) {
      let copy = try backUp(info)
      backups[info.name] = copy
      generations[info.name] = copy.0.generation ?? info.generation ?? 0
    }
    let results = try uploadInParallel(members, generations: generations)
    var uploaded: [ObjectInfo] = []
    var firstError: RexstoreError?
    for result in results {
      switch result {
      case .success(let info): uploaded.append(info)
      case .failure(let error): firstError = firstError ?? error
      }
    }
    let replacement = GCSGroupReplacement(
      store: self, objects: uploaded, backups: backups,
      stale: existing.filter { old in !members.contains { $0.name == old.name } })
    if let firstError {
      // All or nothing: what did upload is undone before the caller falls back or fails.
      replacement.undo()
      throw firstError
    }
    return replacement
  }

  /// A verified copy of one object in an unlinked spool file, and its metadata (with the generation read).
  private func backUp(_ info: ObjectInfo) throws(RexstoreError) -> (ObjectInfo, ByteSource) {
    // The spool directory in the local root, else $TMPDIR (a GCS-only host may have no writable root).
    var fd: Int32 = -1
    var path = ""
    for directory in [client.settings.spoolDirectory, client.settings.temporaryDirectory] where fd < 0 {
      guard (try? FileSystem.makeDirectories(directory)) != nil else { continue }
      path = directory + "/" + FileSystem.temporaryName(for: "backup")
      fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
    }
    guard fd >= 0 else { throw systemError("cannot create", path: path).asCannotCreate }
    unlink(path)
    let copy = ByteSource(fd: fd, name: info.name, owned: true)
    guard var read = try get(info.name, into: DescriptorSink(fd: fd, name: path)) else {
      throw RexstoreError(.conflict, "'\(info.name)' disappeared during the store; nothing changed")
    }
    read.contentType = read.contentType ?? info.contentType
    guard copy.rewind() else { throw RexstoreError(.ioError, "cannot reread the copy of '\(info.name)'") }
    return (read, copy)
  }

  /// Uploads each member on one of at most `parallelUploads` threads, each with its own connection.
  private func uploadInParallel(
    _ members: [GroupMember], generations: [String: Int64]
  ) throws(RexstoreError) -> [Result<ObjectInfo, RexstoreError>] {
    let width = max(1, min(client.settings.parallelUploads, members.count))
    var clients = [client]
    for _ in 1..<max(width, 1) { clients.append(try client.sibling()) }
    return Threads.map(members.count, workers: clients) { client, index in
      let member = members[index]
      let upload = GCSUpload(
        client: client, name: member.name, contentType: member.contentType,
        ifGenerationMatch: generations[member.name] ?? 0)
      do throws(RexstoreError) {
        return .success(try upload.run(member.source))
      } catch {
        return .failure(error)
      }
    }
  }

  public func repairGroup(
    directory: String, toMatch expected: [ObjectInfo], reread: () throws(RexstoreError) -> [ObjectInfo]?
  ) throws(RexstoreError) -> Bool {
    // Uploads land under their final names; there is no swapped-out set to put back.
    false
  }

  public func deleteGroup(directory: String) throws(RexstoreError) -> Int {
    var count = 0
    for info in try listAll(prefix: directory + "/") {
      if let generation = info.generation, try delete(info.name, generation: generation, client: client) { count += 1 }
    }
    return count
  }

  /// Reachability, credentials and access in one request: a one-item listing, which needs only the
  /// object permissions rexstore uses (a bucket-metadata read would also need storage.buckets.get).
  public func probe() throws(RexstoreError) {
    _ = try listPage(prefix: "audio/", delimiter: nil, pageToken: nil, pageSize: 1)
  }
}

/// The uploaded set of a profile store: `finish` removes old samples the new set lacks; `undo`
/// puts back the samples it overwrote (from their spooled copies) and removes the ones it added.
final class GCSGroupReplacement: GroupReplacement {
  let store: GCSObjectStore
  let objects: [ObjectInfo]
  let backups: [String: (ObjectInfo, ByteSource)]
  let stale: [ObjectInfo]

  init(store: GCSObjectStore, objects: [ObjectInfo], backups: [String: (ObjectInfo, ByteSource)], stale: [ObjectInfo]) {
    self.store = store
    self.objects = objects
    self.backups = backups
    self.stale = stale
  }

  func finish() {
    for info in stale {
      if let generation = info.generation { _ = try? store.delete(info.name, generation: generation, client: store.client) }
    }
  }

  func undo() {
    for info in objects {
      guard let generation = info.generation else { continue }
      if let (old, copy) = backups[info.name] {
        // Conditional on the generation this store wrote: a later writer's object stays.
        _ = try? GCSUpload(
          client: store.client, name: info.name, contentType: old.contentType ?? "audio/wav", ifGenerationMatch: generation
        ).run(copy)
      } else {
        _ = try? store.delete(info.name, generation: generation, client: store.client)
      }
    }
  }
}

