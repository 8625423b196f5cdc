import Dispatch

/// Copies a stream while hashing it, with the MD5 on a second thread.
///
/// MD5 (~0.5 GB/s) is the slowest step of a local copy, so it gets a thread to itself and everything
/// else is arranged to overlap with it: the calling thread reads a buffer, hands it to the MD5 worker
/// at once, computes the CRC-32C (SSE4.2, several GB/s, while the bytes are still in cache) and
/// writes the same buffer while the worker digests it. Both only read the buffer; it is reused only
/// after the worker has released it, and the calling thread's own write of it finished long before.
/// No byte is copied besides the read and the write, and the checksums describe exactly the bytes
/// written. Memory is `slots` buffers of `FileSystem.copyBufferSize`, whatever the stream's length;
/// the ring absorbs a stall of either thread (a write waiting for writeback, a preempted worker on a
/// busy machine) of up to `slots` MiB.
enum StreamCopy {
  static let slots = 8

  /// Calls `read` until it returns 0, passing each chunk to `write` and to the hasher.
  static func run(
    read: (UnsafeMutableRawBufferPointer) throws(RexstoreError) -> Int,
    write: (UnsafeRawBufferPointer) throws(RexstoreError) -> Void
  ) throws(RexstoreError) -> ObjectHasher {
    let ring = Ring(slots: slots, size: FileSystem.copyBufferSize, crcInWorker: false)
    defer { ring.deallocate() }
    // A thread of its own: libdispatch's pool stops at the CPU count, and batch workers each need one.
    let hasher = Threads.spawn { ring.hashUntilEnd() }
    var crc = ObjectHasher()
    var slot = 0
    /// Ends the worker: a zero length in the next slot it will look at (taken first, so that slot's
    /// previous contents are digested), then waits for it.
    func end() {
      ring.free.wait()
      ring.lengths[slot] = 0
      ring.filled.signal()
      hasher.join()
    }
    do throws(RexstoreError) {
      while true {
        ring.free.wait()
        let n: Int
        do throws(RexstoreError) {
          n = try read(ring.buffers[slot])
        } catch {
          ring.free.signal()  // the slot taken for this read stays unused
          throw error
        }
        if n == 0 {
          ring.free.signal()
          break
        }
        let chunk = UnsafeRawBufferPointer(rebasing: ring.buffers[slot][0..<n])
        ring.lengths[slot] = n
        ring.filled.signal()
        slot = (slot + 1) % slots
        crc.updateCRC(chunk)
        try write(chunk)
      }
    } catch {
      end()
      throw error
    }
    end()
    return ring.hasher.combined(crcFrom: crc)
  }

  /// Buffers handed between the two threads. Each slot is touched by one thread at a time, ordered by
  /// the two semaphores, which is what makes the unchecked sendability sound.
  final class Ring: @unchecked Sendable {
    let buffers: [UnsafeMutableRawBufferPointer]
    /// Raw memory rather than an Array: the two threads write and read different elements at the
    /// same time, which an Array's copy-on-write bookkeeping does not allow.
    let lengths: UnsafeMutablePointer<Int>
    let free = DispatchSemaphore(value: 0)
    let filled = DispatchSemaphore(value: 0)
    var hasher = ObjectHasher()
    /// Whether the worker computes the CRC-32C too (else only the MD5: the producer does the CRC).
    let crcInWorker: Bool

    init(slots: Int, size: Int, crcInWorker: Bool = true) {
      self.crcInWorker = crcInWorker
      buffers = (0..<slots).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096) }
      lengths = UnsafeMutablePointer<Int>.allocate(capacity: slots)
      lengths.initialize(repeating: 0, count: slots)
      // Start from 0 and signal up: libdispatch traps if a semaphore is released holding less than
      // its initial value, which `free` does when the copy ends with slots still taken.
      for _ in 0..<slots { free.signal() }
    }

    /// The worker: hashes slots in order until a zero length marks the end.
    func hashUntilEnd() {
      var slot = 0
      while true {
        filled.wait()
        let n = lengths[slot]
        if n == 0 { return }
        let chunk = UnsafeRawBufferPointer(rebasing: buffers[slot][0..<n])
        if crcInWorker { hasher.update(chunk) } else { hasher.updateMD5(chunk) }
        free.signal()
        slot = (slot + 1) % buffers.count
      }
    }

    func deallocate() {
      buffers.forEach { $0.deallocate() }
      lengths.deallocate()
    }
  }
}

/// The push form of `StreamCopy`, for bytes that arrive in callbacks (a download). The first MiB is
/// hashed and written as it comes, so a small object costs no thread and no buffers; past that, bytes
/// are gathered into 1 MiB buffers, each written to `sink` on the calling thread and hashed on a
/// second one. Every pushed byte reaches the sink by `finish()`, so a resumed download can count
/// pushed bytes.
final class HashingWriter {
  private let sink: any ByteSink
  private var inline = ObjectHasher()
  private var pipeline: Pipeline?

  init(_ sink: any ByteSink) { self.sink = sink }

  func push(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
    if pipeline == nil {
      if inline.count + Int64(bytes.count) <= Int64(FileSystem.copyBufferSize) {
        inline.update(bytes)
        try sink.write(bytes)
        return
      }
      pipeline = Pipeline(sink: sink, hasher: inline)
    }
    try pipeline!.push(bytes)
  }

  /// Writes what is left and returns the checksums of everything pushed.
  func finish() throws(RexstoreError) -> Checksums {
    guard let pipeline else { return inline.finalize() }
    return try pipeline.finish()
  }

  /// The two-thread part: a ring of buffers between the writing and the hashing thread.
  private final class Pipeline {
    private let sink: any ByteSink
    private let ring = StreamCopy.Ring(slots: StreamCopy.slots, size: FileSystem.copyBufferSize)
    private let hashing: Threads.Handle
    private var slot = 0
    private var fill = 0
    private var ended = false
    /// A failed write leaves the buffers in an unknown state: nothing more may be written.
    private var failed: RexstoreError?

    init(sink: any ByteSink, hasher: ObjectHasher) {
      self.sink = sink
      ring.hasher = hasher
      let ring = self.ring
      ring.free.wait()  // the first slot
      hashing = Threads.spawn { ring.hashUntilEnd() }
    }

    deinit {
      end()
      ring.deallocate()
    }

    func push(_ bytes: UnsafeRawBufferPointer) throws(RexstoreError) {
      if let failed { throw failed }
      var offset = 0
      while offset < bytes.count {
        let buffer = ring.buffers[slot]
        let n = min(buffer.count - fill, bytes.count - offset)
        (buffer.baseAddress! + fill).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
        fill += n
        offset += n
        if fill == buffer.count { try flush() }
      }
    }

    private func flush() throws(RexstoreError) {
      guard fill > 0 else { return }
      do throws(RexstoreError) {
        try sink.write(UnsafeRawBufferPointer(rebasing: ring.buffers[slot][0..<fill]))
      } catch {
        failed = error
        throw error
      }
      ring.lengths[slot] = fill
      ring.filled.signal()
      slot = (slot + 1) % ring.buffers.count
      fill = 0
      ring.free.wait()
    }

    func finish() throws(RexstoreError) -> Checksums {
      if let failed { throw failed }
      try flush()
      end()
      return ring.hasher.finalize()
    }

    /// Stops the hashing thread (a zero length marks the end) and waits for it.
    private func end() {
      guard !ended else { return }
      ended = true
      ring.lengths[slot] = 0
      ring.filled.signal()
      hashing.join()
    }
  }
}
