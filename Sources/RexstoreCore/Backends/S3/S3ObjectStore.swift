import Glibc

/// Objects in an S3 bucket, through the REST API with SigV4. The same names and guarantees as the
/// other stores: writes are all-or-nothing and conditional (`If-None-Match: *` to create, `If-Match:
/// ETAG` to replace), reads are verified as they stream (CRC32C from `x-amz-checksum-crc32c`, else
/// the MD5 a single-PUT ETag is).
public final class S3ObjectStore: ObjectStore {
  public let backend = "s3"
  let client: S3Client
  private let credentials: AWSCredentials?

  /// `credentials` nil: unsigned requests (a public bucket, or a test server that checks nothing).
  public init(
    settings: S3Settings, credentials: AWSCredentials?, clock: @escaping @Sendable () -> Timestamp = { .now() }
  ) throws(RexstoreError) {
    try settings.validate()
    client = try S3Client(settings: settings, credentials: credentials, clock: clock)
    self.credentials = credentials
  }

  private init(client: S3Client, credentials: AWSCredentials?) {
    self.client = client
    self.credentials = credentials
  }

  public func worker() throws(RexstoreError) -> any ObjectStore {
    S3ObjectStore(client: try client.sibling(), credentials: credentials)
  }
  public var batchWidth: Int { client.settings.parallelUploads }
  public var settings: S3Settings { client.settings }
  public var bucket: String { client.settings.bucket }

  // MARK: - Writes

  public func put(
    _ name: String, from source: ByteSource, contentType: String, overwrite: Bool
  ) throws(RexstoreError) -> ObjectInfo {
    // An overwrite is conditional on the ETag just seen, so a concurrent writer in between makes it
    // fail (conflict) instead of being silently replaced; a create is conditional on absence.
    var condition = S3Upload.Condition.absent
    if overwrite || !client.settings.conditionalWrites {
      if let existing = try stat(name) {
        guard overwrite else { throw S3Upload(client: client, name: name, contentType: contentType, condition: .absent).conflict() }
        if let etag = existing.version { condition = .etag(etag) }
      }
    }
    return try S3Upload(client: client, name: name, contentType: contentType, condition: condition).run(source)
  }

  // MARK: - Reads

  public func get(_ name: String, into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    try S3Download(client: client, name: name).run(into: sink)
  }

  public func stat(_ name: String) throws(RexstoreError) -> ObjectInfo? {
    try S3ObjectStore.head(client, name)
  }

  /// HEAD, asking for the stored checksums. S3's 404 to a HEAD has no body, so a missing bucket
  /// reads as a missing object here; listings (and `probe`) tell the two apart.
  static func head(_ client: S3Client, _ name: String) throws(RexstoreError) -> ObjectInfo? {
    let what = "read '\(name)'"
    let response = try client.send(what) {
      client.request("HEAD", key: name, headers: [("x-amz-checksum-mode", "ENABLED")])
    }
    if response.status == 404 { return nil }
    guard response.status == 200 else { throw client.failure(what, response) }
    return info(name: name, headers: response.headers)
  }

  /// An object's metadata from the headers of a HEAD or GET.
  static func info(name: String, headers: [String: String]) -> ObjectInfo {
    let etag = headers["etag"]
    return ObjectInfo(
      name: name, size: headers["content-length"].flatMap { Int64($0) } ?? 0,
      md5: etag.flatMap { md5(fromETag: $0, headers: headers) }, crc32c: fullCRC32C(headers),
      contentType: headers["content-type"], backend: "s3", updated: headers["last-modified"].flatMap(HTTPDate.parse)
    ).withETag(etag)
  }

  /// The object's whole CRC32C, when S3 has one (a `COMPOSITE` checksum of a multipart upload's
  /// parts, `BASE64-N`, is not the CRC32C of the bytes and cannot be checked as they stream).
  static func fullCRC32C(_ headers: [String: String]) -> String? {
    guard let crc = headers["x-amz-checksum-crc32c"], !crc.contains("-") else { return nil }
    if headers["x-amz-checksum-type"] == "COMPOSITE" { return nil }
    return crc
  }

  /// The MD5 (base64) an ETag stands for: only a plain 32-hex-digit ETag of an object not encrypted
  /// with KMS (or a customer key) is its MD5; a multipart upload's ETag ends in `-N`.
  static func md5(fromETag etag: String, headers: [String: String]) -> String? {
    let hex = etag.hasPrefix("W/") ? "" : etag.filter { $0 != "\"" }
    guard hex.utf8.count == 32, hex.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
    if let sse = headers["x-amz-server-side-encryption"], sse.hasPrefix("aws:kms") { return nil }
    if headers["x-amz-server-side-encryption-customer-algorithm"] != nil { return nil }
    var bytes: [UInt8] = []
    var utf8 = Array(hex.utf8)
    utf8 = utf8.map { $0 | 0x20 }
    for i in stride(from: 0, to: 32, by: 2) {
      bytes.append(UInt8(hexValue(utf8[i]) << 4 | hexValue(utf8[i + 1])))
    }
    return Base64.encode(bytes)
  }

  private static func isHexDigit(_ c: UInt8) -> Bool {
    (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c)
  }

  private static func hexValue(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }

  // MARK: - Listings

  public func list(prefix: String, pageToken: String?, pageSize: Int) throws(RexstoreError) -> ObjectPage {
    let page = try listPage(prefix: prefix, delimiter: nil, token: pageToken, pageSize: pageSize)
    return ObjectPage(items: page.items, nextPageToken: page.next)
  }

  public func listSegments(under prefix: String) throws(RexstoreError) -> [String] {
    var segments: [String] = []
    var token: String?
    repeat {
      let page = try listPage(prefix: prefix, delimiter: "/", token: token, pageSize: 1000)
      segments += page.prefixes.map { String($0.dropFirst(prefix.count).dropLast()) }
      token = page.next
    } while token != nil
    return segments.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  /// One ListObjectsV2 page (keys come back in UTF-8 binary order, as rexstore lists).
  private func listPage(
    prefix: String, delimiter: String?, token: String?, pageSize: Int
  ) throws(RexstoreError) -> (items: [ObjectInfo], prefixes: [String], next: String?) {
    let what = "list \(client.bucketLabel)/\(prefix)"
    var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(max(1, min(pageSize, 1000))))]
    if let delimiter { query.append(("delimiter", delimiter)) }
    if let token { query.append(("continuation-token", token)) }
    let response = try client.send(what) { client.request("GET", key: "", query: query) }
    guard response.status == 200 else {
      if response.status == 404 { throw client.noBucket() }
      throw client.failure(what, response)
    }
    guard let xml = S3XML.parse(response.body), xml.name == "ListBucketResult" else {
      throw RexstoreError(.unavailable, "cannot \(what): S3 sent an unreadable listing")
    }
    let items = xml.all("Contents").compactMap { entry -> ObjectInfo? in
      guard let key = entry.value("Key") else { return nil }
      let etag = entry.value("ETag")
      return ObjectInfo(
        name: key, size: entry.value("Size").flatMap { Int64($0) } ?? 0,
        md5: etag.flatMap { S3ObjectStore.md5(fromETag: $0, headers: [:]) }, crc32c: nil, contentType: nil, backend: "s3",
        updated: entry.value("LastModified").flatMap(Timestamp.parse)
      ).withETag(etag)
    }
    let prefixes = xml.all("CommonPrefixes").compactMap { $0.value("Prefix") }
    var next: String?
    if xml.value("IsTruncated") == "true", let token = xml.value("NextContinuationToken"), !token.isEmpty { next = token }
    return (items, prefixes, next)
  }

  // MARK: - Deletes

  public func delete(_ name: String) throws(RexstoreError) -> Bool {
    // S3 answers 204 whether or not there was an object: a HEAD first tells which, and its ETag
    // makes the delete conditional on that very object.
    guard let info = try stat(name) else { return false }
    return try delete(name, etag: info.version)
  }

  public func deleteListed(_ info: ObjectInfo) throws(RexstoreError) -> Bool {
    guard let listed = info.version else { return try delete(info.name) }
    // `If-Match` on DELETE is honoured by AWS (general purpose buckets, 2025) but not by every
    // S3-compatible server, so the ETag is checked with a HEAD too; the window between the two is
    // covered where the header is honoured.
    guard let current = try stat(info.name) else { return false }
    guard current.version == listed else {
      throw RexstoreError(.conflict, "'\(info.name)' was rewritten after it was listed; the new version is kept")
    }
    do throws(RexstoreError) {
      return try delete(info.name, etag: listed)
    } catch {
      guard error.code == .conflict else { throw error }
      throw RexstoreError(.conflict, "'\(info.name)' was rewritten after it was listed; the new version is kept")
    }
  }

  /// DELETE, conditional on `etag` when given. A 404 (a server that checks `If-Match` against no
  /// object) after a lost answer means that try did the deleting.
  func delete(_ name: String, etag: String?) throws(RexstoreError) -> Bool {
    let what = "delete '\(name)'"
    let headers = etag.map { [("If-Match", $0)] } ?? []
    return try client.conditionalDelete(what) { client.request("DELETE", key: name, headers: headers) }
  }

  // MARK: - Groups (a voice profile's samples)

  /// S3 has no atomic rename: samples are overwritten in place, all or nothing (`InPlaceGroupStore`).
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
    for info in try listAll(prefix: directory + "/") where try delete(info.name, etag: info.version) { count += 1 }
    return count
  }

  /// Reachability, credentials and access in one request: a one-item listing.
  public func probe() throws(RexstoreError) {
    _ = try listPage(prefix: "audio/", delimiter: nil, token: nil, pageSize: 1)
  }

  // MARK: - Presigned URLs

  /// A presigned URL for `name`, equal to botocore's `generate_presigned_url` for the same
  /// credentials, settings and clock.
  public func signedURL(
    _ name: String, method: String, expiresSeconds: Int64, now: Timestamp, headers: [(String, String)] = [],
    query: [(String, String)] = []
  ) throws(RexstoreError) -> SignedURLRequest.Result {
    guard let credentials else {
      throw RexstoreError(
        .unavailable, "presigning needs AWS credentials and none are configured",
        hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials")
    }
    let settings = client.settings
    return try S3PresignRequest(
      bucket: settings.bucket, key: name, method: method, expiresSeconds: expiresSeconds, at: now, region: settings.region,
      headers: headers, query: query, style: settings.addressing == .path ? .path : .virtual, endpoint: settings.endpoint
    ).sign(with: credentials)
  }
}

extension ObjectInfo {
  /// The same object with S3's ETag as its version token.
  func withETag(_ etag: String?) -> ObjectInfo {
    var copy = self
    copy.version = etag
    return copy
  }
}
