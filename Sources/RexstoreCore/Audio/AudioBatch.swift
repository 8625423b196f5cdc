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
    public var path: String?
    public var error: RexstoreError?
    /// A verified download still in its temporary file, waiting for the batch's commit.
    var temporary: String? = nil
  }

  /// Uploads `files` (path, object file name, and the label the caller knows it by) for `user`, in parallel.
  public func putMany(
    user: String, files: [(path: String, name: String, label: String)], contentType: String?, overwrite: Bool
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
  /// its temporary file; once all have arrived, one `syncfs` makes them durable and they are renamed
  /// into place, so nothing replaces an existing file before its bytes are on disk.
  public func getMany(_ blobs: [AudioBlob], into directory: String) -> [BatchItem] {
    var items = Audio.inParallel(blobs.count, store: objects) { store, index throws(RexstoreError) -> BatchItem in
      let blob = blobs[index]
      let path = directory + "/" + blob.file
      let pending = try FileDownload.writePending(to: path) { sink throws(RexstoreError) in
        try store.get(blob.name, into: sink)
      }
      guard let pending else { throw RexstoreError.notFound("no object '\(blob.name)'") }
      return BatchItem(
        label: blob.name, info: pending.info, fallbackReason: nil, path: path, error: nil, temporary: pending.temporary)
    } failed: { index, error in
      BatchItem(label: blobs[index].name, info: nil, fallbackReason: nil, path: nil, error: error)
    }
    var arrived: [Int] = []
    var pending: [FileDownload.Pending] = []
    for (index, item) in items.enumerated() {
      guard let temporary = item.temporary, let path = item.path, let info = item.info else { continue }
      arrived.append(index)
      pending.append(FileDownload.Pending(temporary: temporary, path: path, info: info))
    }
    for (index, outcome) in zip(arrived, FileDownload.commit(pending, in: directory)) {
      items[index].temporary = nil
      if let outcome {
        items[index].error = outcome
        items[index].info = nil
        items[index].path = nil
      }
    }
    return items
  }

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
    let results = Slots<Audio.BatchItem>(count: count)
    let next = Tickets()
    // Each worker thread uses only its own store; the counter and slots are locked.
    let shared = Unchecked((workers, body, failed))
    Threads.run(workers.count) { worker in
      let (workers, body, failed) = shared.value
      while let index = next.take(below: count) {
        do throws(RexstoreError) {
          results.set(index, try body(workers[worker], index))
        } catch {
          results.set(index, failed(index, error))
        }
      }
    }
    return results.values.enumerated().map { $0.element ?? failed($0.offset, RexstoreError(.internal, "not run")) }
  }
}

