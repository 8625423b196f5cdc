import CSupport
import Glibc

/// One object upload: multipart (metadata, MD5 and CRC32C in one request) up to 8 MiB. Above that, a
/// source of known length (a file, a spooled pipe) up to `mediaLimit` goes in one media `POST`
/// carrying the whole body, streamed from the file and hashed on a second thread as it is sent
/// (memory: a ring of a few MiB, whatever the size). Should that request fail, or the file be larger,
/// a resumable session takes over: one `PUT` carrying the whole body; after a failed request the
/// session is asked what it holds (`Content-Range: bytes */N`) and the rest is sent from there, again
/// in one request. (Measured on fake-gcs-server: the media request costs the emulator less than half
/// the CPU of the session `PUT`, which it buffers three times; see bench/gcs_upload_shapes.sh.) Only a source
/// of unknown length (a pipe that could not be spooled) goes in chunks, multiples of 256 KiB, each
/// held in memory. The checksums of a single-request upload are known only once the body has gone, so
/// they are compared with the object GCS reports (a mismatch removes that generation, 74), where a
/// chunked upload's last chunk declares them (`X-Goog-Hash`) and GCS refuses a mismatch itself.
///
/// The generation precondition (`0`: create only) makes every request safe to retry, and a retried
/// upload that finds its own object already there is recognised by its checksums.
struct GCSUpload {
  let client: GCSClient
  let name: String
  let contentType: String
  let ifGenerationMatch: Int64

  static let multipartLimit = 8 << 20
  /// 16 MiB: a 256 MiB object is 16 requests, and a failed chunk costs at most 16 MiB to resend.
  static let chunkSize = 16 << 20

  var what: String { "upload '\(name)'" }

  /// Files of known size up to this go first as one media upload (`uploadType=media`); larger ones,
  /// and any whose media upload failed, as a resumable session. A broken media upload keeps nothing
  /// on the server, so this bounds what a failure can cost to resend.
  static let mediaLimit: Int64 = 1 << 30

  func run(_ source: ByteSource) throws(RexstoreError) -> ObjectInfo {
    if let length = source.knownLength, length > Int64(GCSUpload.multipartLimit) {
      let body = FileBody(source: source, length: length)
      defer { body.stop() }
      var mayHaveLanded = false
      if length <= GCSUpload.mediaLimit {
        switch try media(body, length: length) {
        case .stored(let info): return info
        case .failed(let unseen): mayHaveLanded = unseen
        }
      }
      do throws(RexstoreError) {
        return try singleRequest(body, length: length)
      } catch {
        // The media upload's answer was lost but it may have stored the object, which the
        // session's precondition now refuses: that is our own object if the bytes match.
        if error.code == .conflict, mayHaveLanded, let own = try ownObject(try body.checksums()) { return own }
        throw error
      }
    }
    // One spare byte past the chunk tells, without another read, whether this chunk is the last.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: GCSUpload.chunkSize + 1, alignment: 64)
    defer { buffer.deallocate() }
    var filled = try fill(buffer, from: source, at: 0, upTo: GCSUpload.multipartLimit + 1)
    if filled <= GCSUpload.multipartLimit {
      var hasher = ObjectHasher()
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
      return try multipart(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), hasher.finalize())
    }
    filled = try fill(buffer, from: source, at: filled, upTo: buffer.count)
    return try resumable(source, buffer: buffer, filled: filled)
  }

  /// Reads until `buffer[..<limit]` is full or the source ends; returns how many bytes it holds.
  private func fill(
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

  // MARK: - Multipart

  private func multipart(_ data: UnsafeRawBufferPointer, _ sums: Checksums) throws(RexstoreError) -> ObjectInfo {
    let boundary = "rexstore-\(String(rexstore_random32(), radix: 36))\(String(rexstore_random32(), radix: 36))"
    let metadata = JSONValue.record([
      "name": .string(name), "contentType": .string(contentType), "md5Hash": .string(sums.md5),
      "crc32c": .string(sums.crc32c),
    ]).serialized(.compact)
    var body: [UInt8] = []
    body.reserveCapacity(data.count + 512)
    body += Array("--\(boundary)\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\(metadata)\r\n".utf8)
    body += Array("--\(boundary)\r\nContent-Type: \(contentType)\r\n\r\n".utf8)
    body += data
    body += Array("\r\n--\(boundary)--\r\n".utf8)
    let url = client.uploadPath + GCSClient.query([
      ("uploadType", "multipart"), ("ifGenerationMatch", String(ifGenerationMatch)),
    ])
    let (response, retried) = try client.sendNotingRetries(what) {
      HTTPRequest(
        method: "POST", url: url, headers: [("Content-Type", "multipart/related; boundary=\(boundary)")],
        body: .bytes(body))
    }
    if response.status == 412, retried, let existing = try ownObject(sums) { return existing }
    return try finished(response, sums)
  }

  /// After a try whose answer was lost, a 412 may mean the object is ours: the same bytes arrived
  /// (whatever the precondition was, `0` or the generation an overwrite saw).
  private func ownObject(_ sums: Checksums) throws(RexstoreError) -> ObjectInfo? {
    let response = try client.send("check '\(name)'") { HTTPRequest(method: "GET", url: client.objectURL(name)) }
    guard response.status == 200, let info = try? client.objectInfo(what, response) else { return nil }
    return info.md5 == sums.md5 && info.crc32c == sums.crc32c ? info : nil
  }

  /// Why an upload's final answer is not an object (412: the name's precondition; 404: no bucket).
  private func refusal(_ response: HTTPResponse) -> RexstoreError {
    if response.status == 412 {
      return RexstoreError(
        .conflict,
        ifGenerationMatch == 0
          ? "'\(name)' already exists in gs://\(client.settings.bucket)" : "'\(name)' changed during the upload",
        hint: ifGenerationMatch == 0 ? "add --force to replace it" : nil)
    }
    if response.status == 404 { return client.noBucket() }
    return client.failure(what, response)
  }

  /// The object resource of a finished upload, checked against what was sent.
  private func finished(_ response: HTTPResponse, _ sums: Checksums) throws(RexstoreError) -> ObjectInfo {
    guard response.status == 200 || response.status == 201 else { throw refusal(response) }
    var info = try client.objectInfo(what, response)
    if (info.md5 != nil && info.md5 != sums.md5) || (info.crc32c != nil && info.crc32c != sums.crc32c) {
      if let generation = info.generation {
        _ = try? client.send("remove the damaged '\(name)'") {
          HTTPRequest(method: "DELETE", url: client.objectURL(name) + "?ifGenerationMatch=\(generation)")
        }
      }
      throw RexstoreError(.ioError, "\(what): GCS stored different bytes than were sent (checksum mismatch); removed")
    }
    info.md5 = info.md5 ?? sums.md5
    info.crc32c = info.crc32c ?? sums.crc32c
    return info
  }

  // MARK: - Resumable

  private func resumable(
    _ source: ByteSource, buffer: UnsafeMutableRawBufferPointer, filled initial: Int
  ) throws(RexstoreError) -> ObjectInfo {
    let session = try startSession()
    var filled = initial
    var offset: Int64 = 0
    let hashing = BackgroundHasher()
    do throws(RexstoreError) {
      while true {
        let isLast = filled <= GCSUpload.chunkSize
        let length = isLast ? filled : GCSUpload.chunkSize
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let total: Int64? = isLast ? offset + Int64(length) : nil
        // The last chunk carries the whole object's checksums, so it is hashed first; every other
        // chunk is hashed on a second thread while it is on the wire (MD5 costs about as much as the
        // send), and the buffer is refilled only after both are done.
        var sums: Checksums?
        if isLast {
          hashing.update(chunk)
          sums = hashing.finalize()
        } else {
          hashing.start(chunk)
        }
        let answer: HTTPResponse?
        do throws(RexstoreError) {
          answer = try sendChunk(session, chunk, at: offset, total: total, sums: sums)
        } catch {
          hashing.wait()
          throw error
        }
        hashing.wait()
        if let object = answer {
          return try finished(object, sums ?? hashing.finalize())
        }
        guard !isLast else { throw RexstoreError(.unavailable, "\(what): GCS did not finish the upload") }
        offset += Int64(length)
        // Keep the spare byte: it starts the next chunk.
        buffer[0] = buffer[GCSUpload.chunkSize]
        filled = try fill(buffer, from: source, at: 1, upTo: buffer.count)
      }
    } catch {
      cancel(session)
      throw error
    }
  }

  // MARK: - Media, one request

  enum MediaOutcome {
    case stored(ObjectInfo)
    /// No answer, or a retryable status: `unseen` when the server may have stored the object anyway.
    case failed(unseen: Bool)
  }

  /// The whole file in one `POST ?uploadType=media` (the name, content type and precondition in the
  /// URL and headers), hashed as it is sent; the object GCS reports is checked against the hashes.
  /// Not retried itself: a failure hands over to a resumable session (`singleRequest`).
  private func media(_ body: FileBody, length: Int64) throws(RexstoreError) -> MediaOutcome {
    let url = client.uploadPath + GCSClient.query([
      ("uploadType", "media"), ("name", name), ("ifGenerationMatch", String(ifGenerationMatch)),
    ])
    let exchange = try client.exchange({
      HTTPRequest(method: "POST", url: url, headers: [("Content-Type", contentType)],
        body: .stream(length: length) { body.open(at: 0) })
    }, attempt: 1)
    body.stop()
    guard case .response(let response) = exchange else { return .failed(unseen: true) }
    if GCSClient.isRetryable(response.status) { return .failed(unseen: response.status >= 500) }
    guard (200..<300).contains(response.status) else { throw refusal(response) }
    return .stored(try verified(response, length: length, body: body))
  }

  /// The object of a completed upload of `length` bytes, checked against the body's checksums.
  private func verified(_ response: HTTPResponse, length: Int64, body: FileBody) throws(RexstoreError) -> ObjectInfo {
    let sums = try body.checksums()
    if (200..<300).contains(response.status), let info = try? client.objectInfo(what, response), info.size != length {
      _ = try? finished(response, sums)  // removes it when the checksums differ too
      throw RexstoreError(.ioError, "\(what): GCS stored \(info.size) bytes of \(length)")
    }
    return try finished(response, sums)
  }

  // MARK: - Resumable, one request

  /// The whole body in one `PUT`; after a failure, what the session lacks in one more.
  private func singleRequest(_ body: FileBody, length: Int64) throws(RexstoreError) -> ObjectInfo {
    let session = try startSession(length: length)
    do throws(RexstoreError) {
      var offset: Int64 = 0
      let response = try client.settings.retry.run { _ throws(RexstoreError) -> RetryPolicy.Outcome<HTTPResponse> in
        while true {
          let range = offset < length ? "bytes \(offset)-\(length - 1)/\(length)" : "bytes */\(length)"
          let start = offset
          let exchange = try client.exchange {
            HTTPRequest(method: "PUT", url: session, headers: [("Content-Range", range)],
              body: .stream(length: length - start) { body.open(at: start) })
          }
          body.stop()
          var failure: RexstoreError
          switch try answer(exchange, chunkStart: 0) {
          case .final(let response): return .done(response)
          case .failed(let error): failure = error
          case .kept(let kept):
            // The server kept less than was sent (no failure): send the rest at once.
            if kept > offset, kept < length {
              offset = kept
              continue
            }
            failure = RexstoreError(.unavailable, "\(what): GCS kept \(kept) of \(length) bytes")
          }
          // Ask the session what it holds, and resend only the rest on the next try.
          switch try askOffset(session, total: String(length), chunkStart: 0) {
          case .complete(let response): return .done(response)
          case .holds(let count): offset = min(count, length)
          case .unknown: break
          }
          return .retry(failure, retryAfterSeconds: nil)
        }
      }
      return try verified(response, length: length, body: body)
    } catch {
      cancel(session)
      throw error
    }
  }

  private func startSession(length: Int64? = nil) throws(RexstoreError) -> String {
    let url = client.uploadPath + GCSClient.query([
      ("uploadType", "resumable"), ("name", name), ("ifGenerationMatch", String(ifGenerationMatch)),
    ])
    let metadata = Array(JSONValue.record(["name": .string(name), "contentType": .string(contentType)]).serialized(.compact).utf8)
    let response = try client.send(what) {
      HTTPRequest(
        method: "POST", url: url,
        headers: [("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Type", contentType)]
          + (length.map { [("X-Upload-Content-Length", String($0))] } ?? []),
        body: .bytes(metadata))
    }
    guard response.status == 200 || response.status == 201, let location = response.header("location") else {
      if response.status == 404 { throw client.noBucket() }
      throw client.failure(what, response)
    }
    return location
  }

  /// Sends `chunk` (the bytes at `offset`), resending from whatever the server says it kept after a
  /// failure. Returns the final answer once the upload is over (the object, or a refusal such as
  /// 412), nil while more bytes are expected.
  private func sendChunk(
    _ session: String, _ chunk: UnsafeRawBufferPointer, at offset: Int64, total: Int64?, sums: Checksums?
  ) throws(RexstoreError) -> HTTPResponse? {
    let end = offset + Int64(chunk.count)
    let totalText = total.map { String($0) } ?? "*"
    var persisted = offset
    return try client.settings.retry.run { _ throws(RexstoreError) -> RetryPolicy.Outcome<HTTPResponse?> in
      while true {
        let start = persisted
        let rest = UnsafeRawBufferPointer(rebasing: chunk[Int(start - offset)...])
        let range = rest.isEmpty ? "bytes */\(totalText)" : "bytes \(start)-\(end - 1)/\(totalText)"
        var headers = [("Content-Range", range)]
        if let sums { headers.append(("X-Goog-Hash", "crc32c=\(sums.crc32c),md5=\(sums.md5)")) }
        let exchange = try client.exchange {
          HTTPRequest(method: "PUT", url: session, headers: headers, body: .stream(length: Int64(rest.count)) {
            var sent = 0
            return { buffer in
              let n = min(buffer.count, rest.count - sent)
              buffer.baseAddress!.copyMemory(from: rest.baseAddress! + sent, byteCount: n)
              sent += n
              return n
            }
          })
        }
        var failure: RexstoreError
        switch try answer(exchange, chunkStart: offset) {
        case .final(let response): return .done(response)
        case .failed(let error): failure = error
        case .kept(let kept):
          persisted = kept
          if persisted >= end { return .done(nil) }
          // The server kept less than was sent: send the rest now; a short write is no failure.
          if persisted > start { continue }
          failure = RexstoreError(.unavailable, "\(what): GCS kept none of a chunk")
        }
        // Ask the session what it holds before trying again: it may have kept part of the chunk, or all.
        switch try askOffset(session, total: totalText, chunkStart: offset) {
        case .complete(let response): return .done(response)
        case .holds(let count):
          persisted = count
          if persisted >= end { return .done(nil) }
        case .unknown: break
        }
        return .retry(failure, retryAfterSeconds: nil)
      }
    }
  }

  /// What one session `PUT` came to: the upload's final answer (the object, or a refusal such as
  /// 412), the bytes the session holds so far (308), or a failure worth another try.
  enum SessionAnswer {
    case final(HTTPResponse)
    case kept(Int64)
    case failed(RexstoreError)
  }

  private func answer(_ exchange: RemoteExchange, chunkStart: Int64) throws(RexstoreError) -> SessionAnswer {
    let response: HTTPResponse
    switch exchange {
    case .noAnswer(let message): return .failed(client.unreachable(what, message))
    case .response(let answered): response = answered
    }
    switch response.status {
    case 308: return .kept(try GCSUpload.persisted(response, chunkStart: chunkStart, what: what))
    case let status where GCSClient.isRetryable(status): return .failed(client.failure(what, response))
    case 404, 410: throw RexstoreError(.unavailable, "\(what): the upload session is gone (HTTP \(response.status))")
    default: return .final(response)
    }
  }

  enum SessionState {
    case holds(Int64)
    case complete(HTTPResponse)
    case unknown
  }

  /// Asks the session how many bytes it holds (`PUT`, no body, `Content-Range: bytes */TOTAL`).
  private func askOffset(_ session: String, total: String, chunkStart: Int64) throws(RexstoreError) -> SessionState {
    let exchange = try client.exchange {
      HTTPRequest(method: "PUT", url: session, headers: [("Content-Range", "bytes */\(total)")])
    }
    guard case .response(let response) = exchange else { return .unknown }
    switch response.status {
    case 308: return .holds(try GCSUpload.persisted(response, chunkStart: chunkStart, what: what))
    case 200, 201: return .complete(response)
    default: return .unknown
    }
  }

  /// The end of a 308's `Range: bytes=0-N` header, plus one (no header: nothing kept). It may not fall
  /// before the chunk in hand: earlier bytes are no longer in memory to send again.
  static func persisted(_ response: HTTPResponse, chunkStart: Int64, what: String) throws(RexstoreError) -> Int64 {
    var kept: Int64 = 0
    if let range = response.header("range"), let dash = range.lastIndex(of: "-"),
      let last = Int64(range[range.index(after: dash)...])
    {
      kept = last + 1
    }
    guard kept >= chunkStart else {
      throw RexstoreError(.unavailable, "\(what): GCS lost bytes it had acknowledged (it holds \(kept), expected \(chunkStart))")
    }
    return kept
  }

  private func cancel(_ session: String) {
    _ = try? client.exchange { HTTPRequest(method: "DELETE", url: session) }
  }
}

/// An `ObjectHasher` that can digest one buffer on a second thread while the caller sends it.
final class BackgroundHasher: @unchecked Sendable {
  private var hasher = ObjectHasher()
  private var running: Threads.Handle?

  func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }

  /// Hashes `bytes` on a thread of its own; the caller must not change them before `wait()`.
  func start(_ bytes: UnsafeRawBufferPointer) {
    let pointer = Unchecked(bytes)
    running = Threads.spawn { self.hasher.update(pointer.value) }
  }

  func wait() {
    running?.join()
    running = nil
  }

  func finalize() -> Checksums { hasher.finalize() }
}

/// The body of a single-request upload: bytes of a file read ahead into a ring of buffers by a second
/// thread, which also hashes them (MD5 and CRC-32C) in order, while curl's thread sends from the ring.
/// A resend after a failure starts wherever the server says; bytes already hashed are not hashed
/// again, so the checksums always describe the file's bytes 0..<length exactly once.
final class FileBody: @unchecked Sendable {
  let source: ByteSource
  let length: Int64
  static let slots = 8
  static let slotSize = 1 << 20

  /// Touched by the reading thread while it runs, by the owner only after `stop()`.
  private var hasher = ObjectHasher()
  private var hashedUpTo: Int64 = 0
  private var readFailure: RexstoreError?

  private var ring: StreamCopy.Ring?
  private var reader: Threads.Handle?
  private let stopping = Mutex()
  private var stopRequested = false

  init(source: ByteSource, length: Int64) {
    self.source = source
    self.length = length
  }

  /// A reader of bytes `start..<length` for one request (the previous one is stopped first).
  func open(at start: Int64) -> (UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int {
    stop()
    let ring = StreamCopy.Ring(slots: FileBody.slots, size: FileBody.slotSize)
    self.ring = ring
    stopping.locked { stopRequested = false }
    reader = Threads.spawn { self.readAhead(ring, from: start) }
    var position = start
    var slot = 0
    var used = 0
    var available = -1  // bytes in the current slot; -1: none taken yet
    return { buffer throws(RexstoreError) -> Int in
      guard position < self.length else { return 0 }
      if available < 0 || used == available {
        if available >= 0 {
          ring.free.signal()
          slot = (slot + 1) % FileBody.slots
        }
        ring.filled.wait()
        available = ring.lengths[slot]
        used = 0
        if available <= 0 {
          available = -1
          ring.filled.signal()  // stays at the end: a second call sees it again
          throw self.readFailure
            ?? RexstoreError(.ioError, "cannot upload '\(self.source.name)': it became shorter while it was sent")
        }
      }
      let n = min(buffer.count, available - used)
      buffer.baseAddress!.copyMemory(from: ring.buffers[slot].baseAddress! + used, byteCount: n)
      used += n
      position += Int64(n)
      return n
    }
  }

  /// The reading thread: fills slots in order until the end, a failure (length 0) or `stop()`.
  private func readAhead(_ ring: StreamCopy.Ring, from start: Int64) {
    var offset = start
    var slot = 0
    while offset < length {
      ring.free.wait()
      if stopping.locked({ stopRequested }) { return }
      let buffer = ring.buffers[slot]
      let want = Int(min(Int64(buffer.count), length - offset))
      var got = 0
      while got < want {
        let n: Int
        do throws(RexstoreError) {
          n = try source.read(at: offset + Int64(got), into: UnsafeMutableRawBufferPointer(rebasing: buffer[got..<want]))
        } catch {
          readFailure = error
          n = 0
        }
        if n == 0 { break }
        got += n
      }
      if got < want {
        ring.lengths[slot] = 0
        ring.filled.signal()
        return
      }
      let end = offset + Int64(want)
      if end > hashedUpTo {
        let skip = Int(max(0, hashedUpTo - offset))
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[skip..<want]))
        hashedUpTo = end
      }
      ring.lengths[slot] = want
      ring.filled.signal()
      offset = end
      slot = (slot + 1) % FileBody.slots
    }
  }

  /// Stops the reading thread of the last request and frees its ring.
  func stop() {
    guard let ring, let reader else { return }
    stopping.locked { stopRequested = true }
    for _ in 0...FileBody.slots { ring.free.signal() }
    reader.join()
    ring.deallocate()
    self.ring = nil
    self.reader = nil
  }

  /// The checksums of the whole file, hashing whatever the requests did not read.
  func checksums() throws(RexstoreError) -> Checksums {
    stop()
    if hashedUpTo < length {
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileBody.slotSize, alignment: 64)
      defer { buffer.deallocate() }
      while hashedUpTo < length {
        let want = Int(min(Int64(buffer.count), length - hashedUpTo))
        let n = try source.read(at: hashedUpTo, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        guard n > 0 else {
          throw RexstoreError(.ioError, "cannot upload '\(source.name)': it became shorter while it was sent")
        }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        hashedUpTo += Int64(n)
      }
    }
    return hasher.finalize()
  }
}
