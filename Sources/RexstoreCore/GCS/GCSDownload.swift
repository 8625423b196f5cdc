/// One object download, streamed to a sink and verified against the `x-goog-hash` GCS sends. A
/// connection lost mid-body resumes with a `Range` request pinned to the same generation, so the
/// bytes before and after the break belong to one version of the object.
struct GCSDownload {
  let client: GCSClient
  let name: String

  var what: String { "download '\(name)'" }

  func run(into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    let state = State()
    let writer = HashingWriter(sink)
    let base = client.objectURL(name) + "?alt=media"
    let response = try client.send(what, {
      var url = base
      var headers: [(String, String)] = []
      if let generation = state.generation { url += "&generation=\(generation)" }
      if state.received > 0 { headers.append(("Range", "bytes=\(state.received)-")) }
      state.skip = 0
      return HTTPRequest(method: "GET", url: url, headers: headers)
    }, sink: { bytes throws(RexstoreError) in
      var bytes = bytes
      if state.skip > 0 {
        // A server that ignored the Range header resent bytes already written.
        let drop = min(Int64(bytes.count), state.skip)
        state.skip -= drop
        bytes = UnsafeRawBufferPointer(rebasing: bytes[Int(drop)...])
        if bytes.isEmpty { return }
      }
      state.received += Int64(bytes.count)
      try writer.push(bytes)
    }, onHead: { status, headers in
      if status == 200 { state.skip = state.received }
      guard status == 200 || status == 206 else { return }
      if state.generation == nil { state.generation = headers["x-goog-generation"].flatMap { Int64($0) } }
      if state.hashes == nil { state.hashes = headers["x-goog-hash"] }
      if state.contentType == nil { state.contentType = headers["content-type"] }
      if state.updated == nil { state.updated = headers["last-modified"].flatMap(HTTPDate.parse) }
      if state.storedLength == nil { state.storedLength = headers["x-goog-stored-content-length"].flatMap { Int64($0) } }
      state.storedEncoding = headers["x-goog-stored-content-encoding"]
      state.encoding = headers["content-encoding"]
    })
    if response.status == 404, state.received == 0 {
      if case let error = client.failure(what, response), error.code == .config { throw error }
      return nil
    }
    // A connection lost right after the last byte: the resumed request asks for nothing more.
    let complete = response.status == 416 && state.received > 0 && state.received == state.storedLength
    guard response.status == 200 || response.status == 206 || complete else { throw client.failure(what, response) }
    let sums = try writer.finish()
    // An object stored gzip-encoded is served decompressed (rexstore does not ask for gzip), while
    // x-goog-hash describes the stored bytes: such a download cannot be checked against it.
    let transcoded = state.storedEncoding == "gzip" && state.encoding != "gzip"
    let expected = GCSDownload.parseHashes(transcoded ? nil : state.hashes)
    if let md5 = expected.md5, md5 != sums.md5 {
      throw RexstoreError(.ioError, "\(what): MD5 \(sums.md5) does not match GCS's \(ServerText.shown(md5)); the copy is damaged")
    }
    if let crc = expected.crc32c, crc != sums.crc32c {
      throw RexstoreError(.ioError, "\(what): CRC32C \(sums.crc32c) does not match GCS's \(ServerText.shown(crc)); the copy is damaged")
    }
    return ObjectInfo(
      name: name, size: state.received, md5: sums.md5, crc32c: sums.crc32c, contentType: state.contentType,
      backend: "gcs", updated: state.updated, version: state.generation.map { String($0) },
      verified: expected.md5 != nil || expected.crc32c != nil)
  }

  /// `x-goog-hash: crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==` (possibly as two headers, joined).
  static func parseHashes(_ header: String?) -> (md5: String?, crc32c: String?) {
    var md5: String?
    var crc: String?
    for part in (header ?? "").split(separator: ",") {
      let item = part.drop { $0 == " " }
      if item.hasPrefix("md5=") { md5 = String(item.dropFirst(4)) }
      if item.hasPrefix("crc32c=") { crc = String(item.dropFirst(7)) }
    }
    return (md5, crc)
  }

  private final class State {
    var received: Int64 = 0
    var skip: Int64 = 0
    var generation: Int64?
    var hashes: String?
    var contentType: String?
    var updated: Timestamp?
    var storedLength: Int64?
    var storedEncoding: String?
    var encoding: String?
  }
}

/// The IMF-fixdate of `Last-Modified` (`Sat, 28 Nov 2026 02:50:00 GMT`).
enum HTTPDate {
  static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

  static func parse(_ text: String) -> Timestamp? {
    let parts = text.split(separator: " ")
    guard parts.count == 6, let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])),
      let year = Int(parts[3])
    else { return nil }
    let clock = parts[4].split(separator: ":")
    guard clock.count == 3 else { return nil }
    let iso = "\(year)-\(month < 9 ? "0" : "")\(month + 1)-\(day < 10 ? "0" : "")\(day)T\(parts[4])Z"
    return Timestamp.parse(iso)
  }
}
