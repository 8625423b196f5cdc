import Dispatch
import Glibc

/// Results written by worker threads, each to its own slot.
final class Slots<Value>: @unchecked Sendable {
  private let lock = Mutex()
  private var slots: [Value?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ index: Int, _ value: Value) { lock.locked { slots[index] = value } }
  var values: [Value?] { lock.locked { slots } }
}

/// Hands out the indices 0, 1, 2, ... to worker threads, each index once.
final class Tickets: @unchecked Sendable {
  private let lock = Mutex()
  private var next = 0

  func take(below limit: Int) -> Int? {
    lock.locked { () -> Int? in
      guard next < limit else { return nil }
      next += 1
      return next - 1
    }
  }
}

/// Hands values to worker threads that use them without sharing (see each call site's comment).
final class Unchecked<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

/// A pthread mutex for the few places threads share state.
final class Mutex: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

  init() { pthread_mutex_init(mutex, nil) }
  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }
}

/// Runs `body(0..<count)` on that many threads at once and waits for all of them. Unlike
/// `DispatchQueue.concurrentPerform`, which stops at the number of CPUs, every worker gets a thread:
/// transfers spend their time waiting on the network, not computing.
enum Threads {
  static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 1 else {
      if count == 1 { body(0) }
      return
    }
    final class Job {
      let body: @Sendable (Int) -> Void
      let index: Int
      init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
        self.body = body
        self.index = index
      }
    }
    var threads: [pthread_t] = []
    for index in 1..<count {
      var thread = pthread_t()
      let job = Unmanaged.passRetained(Job(body, index)).toOpaque()
      let started = pthread_create(&thread, nil, { raw in
        let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
        job.body(job.index)
        return nil
      }, job)
      if started == 0 {
        threads.append(thread)
      } else {
        // No thread to be had: do that share of the work here.
        Unmanaged<Job>.fromOpaque(job).release()
        body(index)
      }
    }
    body(0)
    for thread in threads { pthread_join(thread, nil) }
  }
}

extension Threads {
  /// A started thread, to be joined exactly once.
  final class Handle: @unchecked Sendable {
    fileprivate var thread = pthread_t()
    fileprivate var started = false
    fileprivate var pooled: DispatchSemaphore?

    func join() {
      if started {
        pthread_join(thread, nil)
        started = false
      } else if let pooled {
        self.pooled = nil
        pooled.wait()
      }
    }
  }

  /// Runs `body` on a new thread (not libdispatch's pool, which stops at the CPU count).
  static func spawn(_ body: @escaping @Sendable () -> Void) -> Handle {
    final class Job {
      let body: @Sendable () -> Void
      init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let handle = Handle()
    let job = Unmanaged.passRetained(Job(body)).toOpaque()
    let result = pthread_create(&handle.thread, nil, { raw in
      Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
      return nil
    }, job)
    if result == 0 {
      handle.started = true
    } else {
      // No thread to be had: libdispatch's pool is the next best place.
      Unmanaged<Job>.fromOpaque(job).release()
      let done = DispatchSemaphore(value: 0)
      handle.pooled = done
      DispatchQueue.global().async {
        body()
        done.signal()
      }
    }
    return handle
  }
}

extension Threads {
  /// Runs `body(worker, index)` for every index in 0..<count, one thread per worker (each worker is
  /// used by its thread alone), indices handed out in order; results come back in index order.
  static func map<Worker, Value>(
    _ count: Int, workers: [Worker], _ body: @escaping (Worker, Int) -> Value
  ) -> [Value] {
    let results = Slots<Value>(count: count)
    let next = Tickets()
    let shared = Unchecked((workers, body))
    run(workers.count) { worker in
      let (workers, body) = shared.value
      while let index = next.take(below: count) { results.set(index, body(workers[worker], index)) }
    }
    return results.values.map { $0! }
  }
}
