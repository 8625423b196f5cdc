import CSupport
import Glibc

/// One object download, streamed to a sink and verified against the `x-goog-hash` GCS sends. A
/// connection lost mid-body resumes with a `Range` request pinned to the same generation, so the
/// bytes before and after the break belong to one version of the object.
///
/// Into a file (a download's temporary file), an object above `slicedDownloadThreshold` is fetched
/// as parallel byte ranges instead (`SlicedDownload`): the first answer's headers tell the size, that
/// request is stopped before any byte is written, and the ranges follow, pinned to its generation.
struct GCSDownload {
  let client: GCSClient
  let name: String

  var what: String { "download '\(name)'" }

  func run(into sink: any ByteSink) throws(RexstoreError) -> ObjectInfo? {
    let state = State()
    let sliceable = SlicedDownload.target(sink)
    let threshold = client.settings.slicedDownloadThreshold
    let response: HTTPResponse
    do throws(RexstoreError) {
      response = try fetch(into: sink, state: state) { status, headers in
        // The stored size (fake-gcs-server sends no x-goog-stored-content-length: then the length
        // of this identity-encoded answer, which is the same).
        guard sliceable != nil, status == 200, client.settings.slicedDownloadWidth > 1, state.resume.received == 0,
          headers["content-encoding"] == nil, headers["x-goog-stored-content-encoding"] ?? "identity" == "identity",
          let length = (headers["x-goog-stored-content-length"] ?? headers["content-length"]).flatMap({ Int64($0) }),
          length > threshold, headers["x-goog-generation"].flatMap({ Int64($0) }) != nil
        else { return }
        state.sliceLength = length
        state.sliceInstead = true
      }
    } catch {
      guard state.sliceInstead, let fd = sliceable, let generation = state.generation, let length = state.sliceLength
      else { throw error }
      return try SlicedDownload(
        client: client, name: name, fd: fd, length: length, generation: generation,
        expected: GCSDownload.parseHashes(state.hashes)
      ).run(contentType: state.contentType, updated: state.updated)
    }
    return try verify(response, state: state)
  }

  /// The streamed download; `decide` sees the first answer's headers and may set `sliceInstead`,
  /// which stops the transfer before its first byte is written (thrown as `stopForSlices`).
  private func fetch(
    into sink: any ByteSink, state: State, decide: @escaping (Int, [String: String]) -> Void
  ) throws(RexstoreError) -> HTTPResponse {
    let writer = HashingWriter(sink)
    let base = client.objectURL(name) + "?alt=media"
    let response = try client.send(what, {
      var url = base
      var headers: [(String, String)] = []
      if let generation = state.generation { url += "&generation=\(generation)" }
      if state.resume.received > 0 { headers.append(("Range", "bytes=\(state.resume.received)-")) }
      state.resume.skip = 0
      return HTTPRequest(method: "GET", url: url, headers: headers)
    }, sink: { bytes throws(RexstoreError) in
      if state.sliceInstead { throw GCSDownload.stopForSlices }
      // A server that ignored the Range header resends bytes already written: only the rest is new.
      guard let bytes = state.resume.take(bytes) else { return }
      try writer.push(bytes)
    }, onHead: { status, headers in
      state.resume.answered(status)
      guard status == 200 || status == 206 else { return }
      if state.generation == nil { state.generation = headers["x-goog-generation"].flatMap { Int64($0) } }
      if state.hashes == nil { state.hashes = headers["x-goog-hash"] }
      if state.contentType == nil { state.contentType = headers["content-type"] }
      if state.updated == nil { state.updated = headers["last-modified"].flatMap(HTTPDate.parse) }
      if state.storedLength == nil { state.storedLength = headers["x-goog-stored-content-length"].flatMap { Int64($0) } }
      state.storedEncoding = headers["x-goog-stored-content-encoding"]
      state.encoding = headers["content-encoding"]
      decide(status, headers)
    })
    state.writer = writer
    return response
  }

  static let stopForSlices = RexstoreError(.internal, "stopped to fetch the object in parallel ranges")

  private func verify(_ response: HTTPResponse, state: State) throws(RexstoreError) -> ObjectInfo? {
    let writer = state.writer!
    if response.status == 404, state.resume.received == 0 {
      if case let error = client.failure(what, response), error.code == .config { throw error }
      return nil
    }
    // A connection lost right after the last byte: the resumed request asks for nothing more.
    let complete = response.status == 416 && state.resume.received > 0 && state.resume.received == state.storedLength
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
      name: name, size: state.resume.received, md5: sums.md5, crc32c: sums.crc32c, contentType: state.contentType,
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
    var resume = ResumePoint()
    var generation: Int64?
    var hashes: String?
    var contentType: String?
    var updated: Timestamp?
    var storedLength: Int64?
    var storedEncoding: String?
    var encoding: String?
    var sliceInstead = false
    var sliceLength: Int64?
    var writer: HashingWriter?
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

/// An object fetched as `slicedDownloadWidth` byte ranges at once, each on its own connection, each
/// written where it belongs in the file (`pwrite`) and checksummed (CRC-32C) as it arrives. The
/// ranges' CRCs combined must equal the object's `crc32c` before the caller may rename the file into
/// place. A range whose connection breaks resumes where it stopped, and a 5xx is retried, like any
/// request; every range is pinned to the generation the first answer named, so all bytes belong to
/// one version. MD5 is not computed (it cannot be computed out of order, and reading the file back
/// would cost more than the parallel ranges gain); the `md5` reported is the one GCS holds. An object
/// without a `crc32c` (none of GCS's own) is refused as unverifiable only if it has no MD5 either:
/// with an MD5 alone, the file is read back once and hashed.
struct SlicedDownload {
  let client: GCSClient
  let name: String
  let fd: Int32
  let length: Int64
  let generation: Int64
  let expected: (md5: String?, crc32c: String?)

  var what: String { "download '\(name)'" }

  /// The descriptor of a sink that may be written at any offset: a fresh regular file (a download's
  /// temporary, whose bytes are thrown away on failure).
  static func target(_ sink: any ByteSink) -> Int32? {
    guard let file = sink as? DescriptorSink, file.discardsOnFailure else { return nil }
    var st = stat()
    guard fstat(file.fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size == 0, lseek(file.fd, 0, SEEK_CUR) == 0
    else { return nil }
    return file.fd
  }

  /// Ranges of one 256 KiB-aligned size (the last one shorter).
  static func ranges(length: Int64, width: Int) -> [ClosedRange<Int64>] {
    let unit: Int64 = 256 * 1024
    let each = max(unit, (length + Int64(width) - 1) / Int64(width) + unit - 1) / unit * unit
    return stride(from: Int64(0), to: length, by: Int(each)).map { $0...min(length, $0 + each) - 1 }
  }

  func run(contentType: String?, updated: Timestamp?) throws(RexstoreError) -> ObjectInfo {
    let ranges = SlicedDownload.ranges(length: length, width: client.settings.slicedDownloadWidth)
    var clients = [client]
    for _ in 1..<max(ranges.count, 1) { clients.append(try client.sibling()) }
    // The same file opened a second time with O_DIRECT: whole 1 MiB blocks go from each range's
    // staging buffer straight to the device, with no page-cache copy and no dirty pages for the
    // fsync before the rename to wait on; a range's tail (and everything, where the file system
    // refuses O_DIRECT) goes through `fd` as before.
    let direct = rexstore_reopen_direct(fd)
    defer { if direct >= 0 { close(direct) } }
    let results = Threads.map(ranges.count, workers: clients) { client, index -> Result<UInt32, RexstoreError> in
      do throws(RexstoreError) {
        return .success(try self.fetch(ranges[index], client: client, direct: direct))
      } catch {
        return .failure(error)
      }
    }
    var crc: UInt32 = 0
    for (range, result) in zip(ranges, results) {
      switch result {
      case .success(let part): crc = rexstore_crc32c_combine(crc, part, UInt64(range.count))
      case .failure(let error): throw error
      }
    }
    let crcText = Base64.encode([UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
    var md5 = expected.md5
    if let wanted = expected.crc32c {
      guard wanted == crcText else {
        throw RexstoreError(
          .ioError, "\(what): CRC32C \(crcText) does not match GCS's \(ServerText.shown(wanted)); the copy is damaged")
      }
    } else if let wanted = expected.md5 {
      let sums = try readBack()
      guard sums.md5 == wanted else {
        throw RexstoreError(.ioError, "\(what): MD5 \(sums.md5) does not match GCS's \(ServerText.shown(wanted)); the copy is damaged")
      }
      md5 = sums.md5
    }
    return ObjectInfo(
      name: name, size: length, md5: md5, crc32c: crcText, contentType: contentType, backend: "gcs", updated: updated,
      version: String(generation), verified: expected.md5 != nil || expected.crc32c != nil)
  }

  private final class Progress {
    var received: Int64 = 0
    var crc: UInt32 = 0
    var ignoredRange = false
    var writtenBack: Int64 = 0
  }

  /// Received bytes of one range gathered into an aligned block for `O_DIRECT` writes.
  private final class Staging {
    static let size = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Staging.size, alignment: DescriptorSink.directAlignment)
    var filled = 0
    /// Bytes of the range already written to the file.
    var written: Int64 = 0
    /// The direct descriptor, until a direct write fails (then everything goes through the page cache).
    var direct: Int32

    init(direct: Int32) { self.direct = direct }
    deinit { buffer.deallocate() }
  }

  /// Writes `bytes` at `offset` through `descriptor`, all of them.
  private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(RexstoreError) {
    var done = 0
    while done < bytes.count {
      let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot write", path: name)
      }
      done += n
    }
  }

  /// Writes the staged bytes of the range starting at `start`: whole blocks directly when possible;
  /// with `final`, the tail too (through the page cache).
  private func flush(_ staging: Staging, rangeStart start: Int64, final: Bool) throws(RexstoreError) {
    guard staging.filled > 0 else { return }
    let offset = start + staging.written
    let whole = staging.filled / DescriptorSink.directAlignment * DescriptorSink.directAlignment
    var done = 0
    if staging.direct >= 0, whole > 0 {
      let n = pwrite(staging.direct, staging.buffer.baseAddress, whole, off_t(offset))
      if n > 0 { done = n } else { staging.direct = -1 }
    }
    if done < staging.filled, final || staging.direct < 0 {
      try writeAll(fd, UnsafeRawBufferPointer(rebasing: staging.buffer[done..<staging.filled]), at: offset + Int64(done))
      done = staging.filled
    }
    if done > 0, done < staging.filled {
      // A short direct write: keep the rest for the next flush.
      let rest = staging.filled - done
      staging.buffer.baseAddress!.copyMemory(from: staging.buffer.baseAddress! + done, byteCount: rest)
    }
    staging.written += Int64(done)
    staging.filled -= done
  }

  /// One range into its place in the file; returns its CRC-32C.
  private func fetch(_ range: ClosedRange<Int64>, client: GCSClient, direct: Int32) throws(RexstoreError) -> UInt32 {
    let progress = Progress()
    let url = client.objectURL(name) + "?alt=media&generation=\(generation)"
    let size = Int64(range.count)
    let staging: Staging? = direct >= 0 && range.lowerBound % Int64(DescriptorSink.directAlignment) == 0 ? Staging(direct: direct) : nil
    let response = try client.send(what, {
      HTTPRequest(method: "GET", url: url, headers: [("Range", "bytes=\(range.lowerBound + progress.received)-\(range.upperBound)")])
    }, sink: { bytes throws(RexstoreError) in
      if progress.ignoredRange { throw RexstoreError(.unavailable, "cannot \(what): GCS ignored the byte range asked for") }
      guard Int64(bytes.count) <= size - progress.received else {
        throw RexstoreError(.unavailable, "cannot \(what): GCS sent more than the range asked for")
      }
      if let staging, staging.direct >= 0 {
        var taken = 0
        while taken < bytes.count {
          let n = min(Staging.size - staging.filled, bytes.count - taken)
          (staging.buffer.baseAddress! + staging.filled).copyMemory(from: bytes.baseAddress! + taken, byteCount: n)
          staging.filled += n
          taken += n
          if staging.filled == Staging.size { try flush(staging, rangeStart: range.lowerBound, final: false) }
        }
        progress.crc = rexstore_crc32c_extend(progress.crc, bytes.baseAddress, bytes.count)
        progress.received += Int64(bytes.count)
        return
      }
      if let staging, staging.filled > 0 { try flush(staging, rangeStart: range.lowerBound, final: true) }
      try writeAll(fd, bytes, at: range.lowerBound + progress.received)
      progress.crc = rexstore_crc32c_extend(progress.crc, bytes.baseAddress, bytes.count)
      progress.received += Int64(bytes.count)
      // Start writeback of each 8 MiB as it lands, as a streamed download does: the fsync before
      // the rename then finds little left to write (256 MiB all dirty at once cost seconds).
      if progress.received - progress.writtenBack >= DescriptorSink.writebackStep {
        rexstore_start_writeback(fd, range.lowerBound + progress.writtenBack, progress.received - progress.writtenBack)
        progress.writtenBack = progress.received
      }
    }, onHead: { status, headers in
      progress.ignoredRange = status == 200
    })
    guard response.status == 206 else {
      if response.status == 200 {
        throw RexstoreError(.unavailable, "cannot \(what): GCS ignored the byte range asked for")
      }
      throw client.failure(what, response)
    }
    guard progress.received == size else {
      throw RexstoreError(.unavailable, "cannot \(what): GCS sent \(progress.received) of \(size) bytes of a range")
    }
    if let staging { try flush(staging, rangeStart: range.lowerBound, final: true) }
    return progress.crc
  }

  /// The file's checksums, read back (an object with an MD5 but no CRC32C).
  private func readBack() throws(RexstoreError) -> Checksums {
    var hasher = ObjectHasher()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileSystem.copyBufferSize, alignment: 64)
    defer { buffer.deallocate() }
    var offset: Int64 = 0
    while offset < length {
      let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
      if n < 0 {
        if errno == EINTR { continue }
        throw systemError("cannot read", path: name)
      }
      if n == 0 { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      offset += Int64(n)
    }
    return hasher.finalize()
  }
}
