/// One object download, streamed into a sink and verified as it goes: against the object's CRC32C
/// (`x-amz-checksum-crc32c`, asked for with `x-amz-checksum-mode: ENABLED`) when it has a full-object
/// one, else against the MD5 a single-PUT ETag is; `verified: false` when neither exists (a multipart
/// upload by a client that recorded no checksum). A connection lost mid-body resumes with a Range
/// request pinned to the first answer's ETag (`If-Match`), so the bytes cannot come from two versions.
struct S3Download {
  let client: S3Client
  let name: String

  var what: String { "download '\(name)'" }

  func run(into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    let state = State()
    let writer = HashingWriter(sink)
    let response = try client.send(what, {
      var headers = [("x-amz-checksum-mode", "ENABLED")]
      if state.resume.received > 0 {
        headers.append(("Range", "bytes=\(state.resume.received)-"))
        if let etag = state.headers?["etag"] { headers.append(("If-Match", etag)) }
      }
      state.resume.skip = 0
      return client.request("GET", key: name, headers: headers)
    }, sink: { bytes throws(RexstoreError) in
      // A server that ignored the Range header resends bytes already written: only the rest is new.
      guard let bytes = state.resume.take(bytes) else { return }
      try writer.push(bytes)
    }, onHead: { status, headers in
      state.resume.answered(status)
      guard status == 200 || status == 206 else { return }
      if state.headers == nil { state.headers = headers }
    })
    if response.status == 404, state.resume.received == 0 {
      if S3Client.errorCode(response) == "NoSuchBucket" { throw client.noBucket() }
      return nil
    }
    if response.status == 412, state.resume.received > 0 {
      throw RexstoreError(.conflict, "cannot \(what): the object was replaced while it was being read")
    }
    guard response.status == 200 || response.status == 206 else { throw client.failure(what, response) }
    let sums = try writer.finish()
    let headers = state.headers ?? response.headers
    let expectedCRC = S3ObjectStore.fullCRC32C(headers)
    let expectedMD5 = headers["etag"].flatMap { S3ObjectStore.md5(fromETag: $0, headers: headers) }
    if let crc = expectedCRC, crc != sums.crc32c {
      throw RexstoreError(
        .ioError, "\(what): CRC32C \(sums.crc32c) does not match S3's \(ServerText.shown(crc)); the copy is damaged")
    }
    if let md5 = expectedMD5, md5 != sums.md5 {
      throw RexstoreError(.ioError, "\(what): MD5 \(sums.md5) does not match S3's ETag; the copy is damaged")
    }
    var info = S3ObjectStore.info(name: name, headers: headers)
    info.size = state.resume.received
    info.md5 = sums.md5
    info.crc32c = sums.crc32c
    info.verified = expectedCRC != nil || expectedMD5 != nil
    return info
  }

  private final class State {
    var resume = ResumePoint()
    var headers: [String: String]?
  }
}
