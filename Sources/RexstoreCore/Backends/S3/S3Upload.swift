/// One object upload: a single PUT up to `multipartThreshold` (Content-MD5 and CRC32C checked by the
/// server), a multipart upload above it, part by part, each part with its own CRC32C, and the
/// whole object's CRC32C (`FULL_OBJECT`) on completion, `partConcurrency` parts at a time. Any failure
/// after the upload started aborts it, so no invisible parts are left to be billed. Memory:
/// `partConcurrency` parts, whatever the object's size.
struct S3Upload {
  /// The precondition of the write.
  enum Condition: Equatable {
    /// Create only: `If-None-Match: *`.
    case absent
    /// Replace exactly this version: `If-Match: ETAG`.
    case etag(String)
  }

  let client: S3Client
  let name: String
  let contentType: String
  let condition: Condition

  var what: String { "upload '\(name)'" }

  var conditionHeaders: [(String, String)] {
    switch condition {
    case .absent: return [("If-None-Match", "*")]
    case .etag(let etag): return [("If-Match", etag)]
    }
  }

  func run(_ source: ByteSource) throws(RexstoreError) -> ObjectInfo {
    let settings = client.settings
    let capacity = max(settings.multipartThreshold, settings.partSize) + 1
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
    defer { buffer.deallocate() }
    let filled = try S3Upload.fill(buffer, from: source, at: 0, upTo: settings.multipartThreshold + 1)
    if filled <= settings.multipartThreshold {
      return try single(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
    }
    return try multipart(source, buffer: buffer, filled: filled)
  }

  static func fill(
    _ buffer: UnsafeMutableRawBufferPointer, from source: ByteSource, at start: Int, upTo limit: Int
  ) throws(RexstoreError) -> Int {
    var filled = start
    while filled < limit {
      let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<limit]))
      if n == 0 { break }
      filled += n
    }
    return filled
  }

  /// A body that streams `bytes` afresh on every try.
  static func body(_ bytes: UnsafeRawBufferPointer) -> HTTPBody {
    .stream(length: Int64(bytes.count)) {
      var sent = 0
      return { buffer in
        let n = min(buffer.count, bytes.count - sent)
        if n > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + sent, byteCount: n) }
        sent += n
        return n
      }
    }
  }

  // MARK: - Single PUT

  private func single(_ data: UnsafeRawBufferPointer) throws(RexstoreError) -> ObjectInfo {
    var hasher = ObjectHasher()
    hasher.update(data)
    let sums = hasher.finalize()
    let headers = [("Content-Type", contentType), ("Content-MD5", sums.md5), ("x-amz-checksum-crc32c", sums.crc32c)]
      + conditionHeaders
    let (response, retried) = try client.sendNotingRetries(what) {
      client.request("PUT", key: name, headers: headers, body: S3Upload.body(data))
    }
    if response.status == 412 || response.status == 409, retried, let own = try ownObject(sums) { return own }
    try check(response)
    let etag = response.header("etag")
    // The ETag of a single PUT is the MD5 (unless the server encrypts with KMS, which says so).
    if let etag, let md5 = S3ObjectStore.md5(fromETag: etag, headers: response.headers), md5 != sums.md5 {
      try damaged(etag: etag)
    }
    if let crc = response.header("x-amz-checksum-crc32c"), crc != sums.crc32c { try damaged(etag: etag) }
    return ObjectInfo(
      name: name, size: Int64(data.count), md5: sums.md5, crc32c: sums.crc32c, contentType: contentType, backend: "s3",
      updated: response.header("date").flatMap(HTTPDate.parse) ?? .now(), verified: nil
    ).withETag(etag)
  }

  /// After a try whose answer was lost, a conflict may be our own earlier try: the same bytes are there.
  private func ownObject(_ sums: Checksums) throws(RexstoreError) -> ObjectInfo? {
    guard let info = try S3ObjectStore.head(client, name) else { return nil }
    let sameMD5 = info.md5 != nil && info.md5 == sums.md5
    let sameCRC = info.crc32c != nil && info.crc32c == sums.crc32c
    return sameMD5 || sameCRC ? info : nil
  }

  private func check(_ response: HTTPResponse) throws(RexstoreError) {
    guard response.status == 200 else {
      if response.status == 412 || (response.status == 409 && S3Client.errorCode(response) == "ConditionalRequestConflict") {
        throw conflict()
      }
      if response.status == 400, S3Client.errorCode(response) == "BadDigest" || S3Client.errorCode(response) == "InvalidDigest" {
        throw RexstoreError(.ioError, "\(what): S3 received different bytes than were sent (checksum mismatch); nothing stored")
      }
      throw client.failure(what, response)
    }
  }

  func conflict() -> RexstoreError {
    condition == .absent
      ? RexstoreError(.conflict, "'\(name)' already exists in \(client.bucketLabel)", hint: "add --force to replace it")
      : RexstoreError(.conflict, "'\(name)' changed during the upload; the other writer's object is kept")
  }

  /// The server stored other bytes than were sent: the object is removed (if it is still the one
  /// this upload made) and the upload fails with 74.
  private func damaged(etag: String?) throws(RexstoreError) -> Never {
    if let etag {
      _ = try? client.send("remove the damaged '\(name)'") {
        client.request("DELETE", key: name, headers: [("If-Match", etag)])
      }
    }
    throw RexstoreError(.ioError, "\(what): S3 stored different bytes than were sent (checksum mismatch); removed")
  }

  // MARK: - Multipart

  /// Parts go up `partConcurrency` at a time, each from its own buffer on its own connection and
  /// thread; the next part is read (and its CRC32C computed) while earlier ones are on the wire.
  private func multipart(
    _ source: ByteSource, buffer: UnsafeMutableRawBufferPointer, filled initial: Int
  ) throws(RexstoreError) -> ObjectInfo {
    let uploadID = try start()
    let settings = client.settings
    let partSize = settings.partSize
    let width = max(1, settings.partConcurrency)
    // Every slot as big as the first buffer: what is left after a part always fits the next one.
    var slots = [buffer]
    var clients = [client]
    defer { for slot in slots.dropFirst() { slot.deallocate() } }
    let results = PartResults()
    var running: [(slot: Int, handle: Threads.Handle)] = []
    do throws(RexstoreError) {
      var current = 0
      var filled = initial
      var whole = ObjectHasher()
      var number = 0
      var size: Int64 = 0
      while true {
        // Top the slot up to a part and one byte more (which tells whether this part is the last).
        filled = try S3Upload.fill(slots[current], from: source, at: filled, upTo: max(filled, partSize + 1))
        let length = min(filled, partSize)
        let part = UnsafeRawBufferPointer(rebasing: slots[current][0..<length])
        var hasher = ObjectHasher()
        hasher.updateCRC(part)
        whole.updateCRC(part)
        let crc = hasher.finalize().crc32c
        number += 1
        size += Int64(length)
        let job = Unchecked((self, clients[current], part, number, crc, uploadID))
        running.append((current, Threads.spawn {
          let (upload, client, part, number, crc, uploadID) = job.value
          do throws(RexstoreError) {
            results.record(number, .success((try upload.sendPart(client, uploadID, number: number, part, crc32c: crc), crc)))
          } catch {
            results.record(number, .failure(error))
          }
        }))
        let rest = filled - length
        if rest == 0 { break }
        // The next slot: a new one while fewer than `width` exist, else the oldest once its part is sent.
        let next: Int
        if slots.count < width {
          slots.append(UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 64))
          clients.append(try client.sibling())
          next = slots.count - 1
        } else {
          let oldest = running.removeFirst()
          oldest.handle.join()
          next = oldest.slot
        }
        if let error = results.firstError { throw error }
        slots[next].baseAddress!.copyMemory(from: slots[current].baseAddress! + length, byteCount: rest)
        filled = rest
        current = next
      }
      for job in running { job.handle.join() }
      running = []
      if let error = results.firstError { throw error }
      let parts = results.parts.sorted { $0.key < $1.key }.map { (number: $0.key, etag: $0.value.etag, crc32c: $0.value.crc32c) }
      return try complete(uploadID, parts: parts, sums: whole.finalize(), size: size)
    } catch {
      for job in running { job.handle.join() }
      abort(uploadID)
      throw error
    }
  }

  /// What the part threads report, under a lock.
  private final class PartResults: @unchecked Sendable {
    private let lock = Mutex()
    private var done: [Int: (etag: String, crc32c: String)] = [:]
    private var failure: RexstoreError?

    func record(_ number: Int, _ result: Result<(String, String), RexstoreError>) {
      lock.locked {
        switch result {
        case .success(let (etag, crc)): done[number] = (etag, crc)
        case .failure(let error): if failure == nil { failure = error }
        }
      }
    }

    var firstError: RexstoreError? { lock.locked { failure } }
    var parts: [Int: (etag: String, crc32c: String)] { lock.locked { done } }
  }

  private func start() throws(RexstoreError) -> String {
    let response = try client.send(what) {
      client.request(
        "POST", key: name, query: [("uploads", "")],
        headers: [
          ("Content-Type", contentType), ("x-amz-checksum-algorithm", "CRC32C"), ("x-amz-checksum-type", "FULL_OBJECT"),
        ])
    }
    guard response.status == 200, let xml = S3XML.parse(response.body), let id = xml.value("UploadId"), !id.isEmpty else {
      if response.status == 200 { throw RexstoreError(.unavailable, "cannot \(what): S3 sent no upload id") }
      throw client.failure(what, response)
    }
    return id
  }

  private func sendPart(
    _ client: S3Client, _ uploadID: String, number: Int, _ part: UnsafeRawBufferPointer, crc32c: String
  ) throws(RexstoreError) -> String {
    let response = try client.send("\(what) (part \(number))") {
      client.request(
        "PUT", key: name, query: [("partNumber", String(number)), ("uploadId", uploadID)],
        headers: [("x-amz-checksum-crc32c", crc32c)], body: S3Upload.body(part))
    }
    guard response.status == 200, let etag = response.header("etag") else {
      if response.status == 400, S3Client.errorCode(response) == "BadDigest" {
        throw RexstoreError(.ioError, "\(what): S3 received other bytes than were sent in part \(number)")
      }
      throw client.failure("\(what) (part \(number))", response)
    }
    if let echoed = response.header("x-amz-checksum-crc32c"), echoed != crc32c {
      throw RexstoreError(.ioError, "\(what): S3 stored other bytes than were sent in part \(number) (CRC32C mismatch)")
    }
    return etag
  }

  private func complete(
    _ uploadID: String, parts: [(number: Int, etag: String, crc32c: String)], sums: Checksums, size: Int64
  ) throws(RexstoreError) -> ObjectInfo {
    var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    for part in parts {
      xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag>"
        + "<ChecksumCRC32C>\(part.crc32c)</ChecksumCRC32C></Part>"
    }
    xml += "</CompleteMultipartUpload>"
    let body = Array(xml.utf8)
    let headers = [
      ("Content-Type", "application/xml"), ("x-amz-checksum-crc32c", sums.crc32c), ("x-amz-checksum-type", "FULL_OBJECT"),
    ] + conditionHeaders
    let (response, retried) = try client.sendNotingRetries(what) {
      client.request("POST", key: name, query: [("uploadId", uploadID)], headers: headers, body: .bytes(body))
    }
    // An earlier try may have completed the upload unseen: the upload is gone, the object is there.
    if retried, response.status == 404 || response.status == 412, let own = try S3ObjectStore.head(client, name),
      own.crc32c == sums.crc32c || own.size == size
    {
      return own
    }
    try check(response)
    guard let result = S3XML.parse(response.body), result.name == "CompleteMultipartUploadResult" else {
      throw RexstoreError(.unavailable, "cannot \(what): S3 sent an unreadable completion answer")
    }
    let etag = result.value("ETag") ?? response.header("etag")
    if let crc = result.value("ChecksumCRC32C") ?? response.header("x-amz-checksum-crc32c"), !crc.contains("-"),
      crc != sums.crc32c
    {
      try damaged(etag: etag)
    }
    return ObjectInfo(
      name: name, size: size, md5: nil, crc32c: sums.crc32c, contentType: contentType, backend: "s3",
      updated: response.header("date").flatMap(HTTPDate.parse) ?? .now(), verified: nil
    ).withETag(etag)
  }

  /// AbortMultipartUpload: the parts sent so far are discarded (best effort; a lifecycle rule for
  /// incomplete uploads is the backstop the README recommends).
  private func abort(_ uploadID: String) {
    _ = try? client.send("abort \(what)") {
      client.request("DELETE", key: name, query: [("uploadId", uploadID)])
    }
  }
}
