import Foundation
import Testing

/// Issue 8.10 with real processes: what a SIGKILLed writer leaves is removed by the next writer in
/// that directory once the writer is gone, and a FIFO planted in the root never blocks a read.
@Suite struct LeftoverTests {
  func temporaries(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.contains(".rexstore-tmp-") }
  }

  @Test func theNextPutRemovesAKilledPutsTemporary() throws {
    let scratch = Processes.Scratch()
    let dir = scratch.path + "/data/objects/audio/u1"
    let (process, input) = try Processes.startWithInput(["audio", "put", "u1", "-", "--name", "big.wav"], in: scratch)
    let chunk = Data(repeating: 0x5A, count: 1 << 20)
    for _ in 0..<4 { input.fileHandleForWriting.write(chunk) }
    var waited = 0
    while waited < 1000 {
      if let temp = temporaries(dir).first,
        ((try? FileManager.default.attributesOfItem(atPath: dir + "/" + temp)[.size] as? Int) ?? 0) >= 2 << 20
      {
        break
      }
      usleep(10_000)
      waited += 1
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    try? input.fileHandleForWriting.close()
    let left = temporaries(dir)
    #expect(left.count == 1, "\(left)")
    // Fresh, it is left alone (a writer in another PID namespace would look just as dead).
    try Data("small".utf8).write(to: URL(fileURLWithPath: scratch.path + "/small.wav"))
    #expect(try Processes.rexstore(["audio", "put", "u1", "small.wav"], in: scratch).status == 0)
    #expect(temporaries(dir) == left)
    // Once old enough, the next writer removes it.
    for name in left {
      try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: dir + "/" + name)
    }
    #expect(try Processes.rexstore(["audio", "put", "u1", "small.wav", "--name", "second.wav"], in: scratch).status == 0)
    #expect(temporaries(dir).isEmpty)
    let health = try Processes.rexstore(["health"], in: scratch)
    #expect(health.stdout.contains(#""name":"local_temporaries","status":"ok""#), "\(health.stdout)")
  }

  @Test func aFIFOPlantedInTheRootDoesNotBlockGet() throws {
    let scratch = Processes.Scratch()
    try Data("x".utf8).write(to: URL(fileURLWithPath: scratch.path + "/a.wav"))
    #expect(try Processes.rexstore(["audio", "put", "u1", "a.wav"], in: scratch).status == 0)
    let fifo = scratch.path + "/data/objects/audio/u1/trap.wav"
    #expect(mkfifo(fifo, 0o600) == 0)
    // Unblocks a reader stuck on the FIFO (the old behaviour), so a regression fails instead of hanging.
    // The flag is behind a lock: the thread sanitizer (make tsan) reports a plain one.
    final class Rescuer: @unchecked Sendable {
      private let lock = NSLock()
      private var stopped = false
      var stop: Bool {
        get { lock.withLock { stopped } }
        set { lock.withLock { stopped = newValue } }
      }
    }
    let rescuer = Rescuer()
    defer { rescuer.stop = true }
    Thread.detachNewThread {
      while !rescuer.stop {
        usleep(500_000)
        let fd = open(fifo, O_WRONLY | O_NONBLOCK)
        if fd >= 0 { close(fd) }
      }
    }
    let start = Date()
    let r = try Processes.rexstore(["audio", "get", "audio/u1/trap.wav"], in: scratch)
    #expect(r.status == 65)
    #expect(r.stderr.contains(#""code":"invalid_input""#))
    #expect(Date().timeIntervalSince(start) < 20)  // a hang guard, not a timing
  }
}
