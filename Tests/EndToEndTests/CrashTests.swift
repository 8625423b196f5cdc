import Foundation
import Testing

/// SIGKILL in the middle of writes: no partial object, no half record, and `health` finds what was
/// left behind.
@Suite struct CrashTests {
  /// Starts rexstore with a pipe on stdin, feeds `megabytes` MiB, waits until `ready` says the child
  /// is mid-write, then kills it with SIGKILL.
  func killMidWrite(_ arguments: [String], scratch: Processes.Scratch, megabytes: Int, ready: () -> Bool) throws {
    let (process, input) = try Processes.startWithInput(arguments, in: scratch)
    let chunk = Data(repeating: 0x5A, count: 1 << 20)
    for _ in 0..<megabytes { input.fileHandleForWriting.write(chunk) }
    var waited = 0
    while !ready(), waited < 500 {
      usleep(10_000)
      waited += 1
    }
    #expect(ready(), "the child never got mid-write")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    try? input.fileHandleForWriting.close()
    #expect(process.terminationReason == .uncaughtSignal)
  }

  func temporaries(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.contains(".rexstore-tmp-") }
  }

  @Test func killedPutLeavesNoPartialObject() throws {
    let scratch = Processes.Scratch()
    let dir = scratch.path + "/data/objects/audio/u1"
    try killMidWrite(["audio", "put", "u1", "-", "--name", "big.wav"], scratch: scratch, megabytes: 8) {
      guard let temp = temporaries(dir).first else { return false }
      let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + temp)[.size] as? Int) ?? 0
      return size >= 4 << 20
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/big.wav"))
    #expect(try Processes.rexstore(["audio", "ls", "u1"], in: scratch).stdout == #"{"count":0,"items":[]}"# + "\n")
    let health = try Processes.rexstore(["health"], in: scratch)
    #expect(health.status == 1)
    #expect(health.stdout.contains(#""name":"local_temporaries","status":"warning""#))
    #expect(health.stdout.contains("/audio/u1/.big.wav.rexstore-tmp-"))
  }

  @Test func killedProfileStoreLeavesOldSamplesAndRecord() throws {
    let scratch = Processes.Scratch()
    let sample = scratch.path + "/a.wav"
    try Data("123456789".utf8).write(to: URL(fileURLWithPath: sample))
    #expect(try Processes.rexstore(["db", "upgrade"], in: scratch).status == 0)
    let first = try Processes.rexstore(["profile", "store", "u1", "p1", "a.wav", "a.wav"], in: scratch)
    #expect(first.status == 0, "\(first.stderr)")
    let userDir = scratch.path + "/data/objects/voice_profiles/u1"
    // Re-store p1 and store a new p2, both killed while their second sample streams from stdin.
    for profile in ["p1", "p2"] {
      try killMidWrite(["profile", "store", "u1", profile, "a.wav", "-", "--force"], scratch: scratch, megabytes: 4) {
        temporaries(userDir).contains { name in
          name.hasPrefix(".\(profile).")
            && ((try? FileManager.default.attributesOfItem(atPath: userDir + "/" + name + "/sample_1.wav")[.size] as? Int) ?? 0) > 1 << 20
        }
      }
    }
    let before = try Processes.rexstore(["health"], in: scratch)
    #expect(before.status == 1)
    // p2's store settled p1's interrupted one first (removing its staging directory); p2's is left.
    #expect(before.stdout.contains("1 profile staging director(ies)"), "\(before.stdout)")
    // p1 is exactly as first stored; p2 does not exist at all. The next profile command settles the
    // interrupted store's noted intent and removes its dead staging directory.
    let list = try Processes.rexstore(["profile", "list", "u1"], in: scratch)
    #expect(list.stdout.contains(#""count":1"#), "\(list.stdout)")
    #expect(list.stdout.contains(#""profile_id":"p1""#) && list.stdout.contains(#""sample_count":2"#))
    #expect(try FileManager.default.contentsOfDirectory(atPath: userDir + "/p1").filter { !$0.hasPrefix(".") }.sorted() == ["sample_0.wav", "sample_1.wav"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: userDir + "/p1/sample_1.wav")) == Data("123456789".utf8))
    #expect(!FileManager.default.fileExists(atPath: userDir + "/p2"))
    #expect(try Processes.rexstore(["profile", "get", "u1", "p2"], in: scratch).status == 1)
    #expect(temporaries(userDir).isEmpty)
    #expect(try Processes.rexstore(["health"], in: scratch).status == 0)
  }
}
