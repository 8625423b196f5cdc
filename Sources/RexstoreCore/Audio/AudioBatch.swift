import Dispatch

/// Many recordings in one process: one libcurl load, kept-alive connections, and `batchWidth`
/// transfers in flight (each worker thread with its own store and connection). Per-process start-up
/// and a fresh connection per object otherwise dominate small objects.
extension Audio {
  /// One file's or blob's outcome.
  public struct BatchItem: Sendable {
    public var label: String
    public var info: ObjectInfo?
    public var fallbackReason: String?
    /// Where a download was written (the directory's bytes and the blob's file name).
    public var path: FilePathBytes?
    public var error: RexstoreError?
  }

  /// Uploads `files` (path as bytes, object file name, and the label the caller knows it by) for
  /// `user`, in parallel.
  public func putMany(
    user: String, files: [(path: FilePathBytes, name: String, label: String)], contentType: String?, overwrite: Bool
  ) -> [BatchItem] {
    Audio.inParallel(files.count, store: objects) { store, index throws(RexstoreError) -> BatchItem in
      let file = files[index]
      let source = try ByteSource.open(file.path)
      let info = try Audio(objects: store).put(
        user: user, file: file.name, from: source, contentType: contentType, overwrite: overwrite)
      return BatchItem(label: file.label, info: info, fallbackReason: store.fallbackReason, path: nil, error: nil)
    } failed: { index, error in
      BatchItem(label: files[index].label, info: nil, fallbackReason: nil, path: nil, error: error)
    }
  }

  /// Downloads `blobs` into `directory` (each as its file name), in parallel. Each is verified in
  /// its temporary file; verified files are made durable and renamed into place in waves of
  /// `commitWave` (one `syncfs` each, see `FileDownload.commit`), so nothing replaces an existing
  /// file before its bytes are on disk, and an interrupted batch leaves at most one wave behind.
  public func getMany(_ blobs: [AudioBlob], into directory: FilePathBytes) -> [BatchItem] {
    let waves = CommitWaves(directory: directory)
    var items = Audio.inParallel(blobs.count, store: objects) { store, index throws(RexstoreError) -> BatchItem in
      let blob = blobs[index]
      let path = directory + "/" + blob.baseName
      let pending = try FileDownload.writePending(to: path) { sink throws(RexstoreError) in
        try store.get(blob.name, into: sink)
      }
      guard let pending else { throw RexstoreError.notFound("no object '\(blob.name)'") }
      waves.add(index, pending)
      return BatchItem(label: blob.name, info: pending.info, fallbackReason: nil, path: path, error: nil)
    } failed: { index, error in
      BatchItem(label: blobs[index].name, info: nil, fallbackReason: nil, path: nil, error: error)
    }
    waves.flush()
    for (index, error) in waves.errors {
      items[index].error = error
      items[index].info = nil
      items[index].path = nil
    }
    return items
  }

  static let commitWave = 64

  /// Runs `body` for indices 0..<count on up to `store.batchWidth` threads; results in index order.
  static func inParallel(
    _ count: Int, store: any ObjectStore,
    _ body: @escaping (any ObjectStore, Int) throws(RexstoreError) -> BatchItem,
    failed: @escaping (Int, RexstoreError) -> BatchItem
  ) -> [BatchItem] {
    let width = max(1, min(store.batchWidth, count))
    var workers: [any ObjectStore] = [store]
    // A worker that cannot be made (no second connection) just means fewer threads.
    for _ in 1..<width {
      if let worker = try? store.worker() { workers.append(worker) }
    }
    return Threads.map(count, workers: workers) { worker, index in
      defer { Progress.tick("objects", total: count) }
      do throws(RexstoreError) {
        return try body(worker, index)
      } catch {
        return failed(index, error)
      }
    }
  }
}


/// Verified downloads waiting to be committed; whichever worker fills a wave commits it.
private final class CommitWaves: @unchecked Sendable {
  let directory: FilePathBytes
  private let lock = Mutex()
  private var waiting: [(Int, FileDownload.Pending)] = []
  private var failed: [Int: RexstoreError] = [:]

  init(directory: FilePathBytes) { self.directory = directory }

  func add(_ index: Int, _ pending: FileDownload.Pending) {
    let wave = lock.locked { () -> [(Int, FileDownload.Pending)] in
      waiting.append((index, pending))
      guard waiting.count >= Audio.commitWave else { return [] }
      defer { waiting = [] }
      return waiting
    }
    commit(wave)
  }

  func flush() {
    commit(lock.locked { () -> [(Int, FileDownload.Pending)] in
      defer { waiting = [] }
      return waiting
    })
  }

  private func commit(_ wave: [(Int, FileDownload.Pending)]) {
    guard !wave.isEmpty else { return }
    let outcomes = FileDownload.commit(wave.map(\.1), in: directory)
    lock.locked {
      for ((index, _), outcome) in zip(wave, outcomes) {
        if let outcome { failed[index] = outcome }
      }
    }
  }

  var errors: [Int: RexstoreError] { lock.locked { failed } }
}
