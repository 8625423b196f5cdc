/// Where a GET resumed with `Range: bytes=N-` stands: the bytes written so far, and how many of an
/// answer's first bytes to drop because a server that ignored the Range header (a 200 after bytes
/// were written) sent the object from its start again.
struct ResumePoint {
  var received: Int64 = 0
  var skip: Int64 = 0

  /// An answer's status: a 200 starts over from byte 0, so what was written must be skipped.
  mutating func answered(_ status: Int) {
    if status == 200 { skip = received }
  }

  /// The part of `bytes` not yet written, counted as received; nil when all of it was.
  mutating func take(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
    var bytes = bytes
    if skip > 0 {
      let drop = min(Int64(bytes.count), skip)
      skip -= drop
      bytes = UnsafeRawBufferPointer(rebasing: bytes[Int(drop)...])
      if bytes.isEmpty { return nil }
    }
    received += Int64(bytes.count)
    return bytes
  }
}
