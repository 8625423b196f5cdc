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
    return try client.conditionalDelete(what) { HTTPRequest(method: "DELETE", url: url) }
  }

  /// GCS has no atomic rename: samples are overwritten in place, all or nothing (`InPlaceGroupStore`).
  public func replaceGroup(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    try replaceGroupInPlace(directory: directory, members: members)
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
