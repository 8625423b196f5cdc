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

  /// Downloads `blobs` into `directory` (each as its file name), in parallel, each verified before
  /// it replaces anything.
  /// Each file is fsynced before its rename; the directory, once, after the last.
  public func getMany(_ blobs: [AudioBlob], into directory: String) -> [BatchItem] {
    let items = Audio.inParallel(blobs.count, store: objects) { store, index throws(RexstoreError) -> BatchItem in
      let blob = blobs[index]
      let path = directory + "/" + blob.file
      let info = try Audio(objects: store).download(blob, to: path, syncDirectory: false)
      return BatchItem(label: blob.name, info: info, fallbackReason: nil, path: path, error: nil)
    } failed: { index, error in
      BatchItem(label: blobs[index].name, info: nil, fallbackReason: nil, path: nil, error: error)
    }
    FileSystem.syncDirectory(directory)
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

