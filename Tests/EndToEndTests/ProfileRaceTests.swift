import Foundation
import Testing

/// Two processes storing different profiles of one user at the same time: both survive (the original
/// app's dossier merge lost one).
@Suite struct ProfileRaceTests {
  @Test func concurrentStoresOfOneUserAllSurvive() throws {
    let scratch = Processes.Scratch()
    try Data("abc".utf8).write(to: URL(fileURLWithPath: scratch.path + "/a.wav"))
    try Data("defgh".utf8).write(to: URL(fileURLWithPath: scratch.path + "/b.wav"))
    var workers: [Process] = []
    for worker in ["x", "y"] {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/bash")
      process.arguments = [
        "-c",
        "for i in $(seq 1 10); do \"\(Processes.binary)\" profile store u1 \(worker)$i a.wav b.wav --meta w=\(worker) >/dev/null 2>>err-\(worker) || exit 1; done",
      ]
      process.environment = scratch.environment
      process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
      try process.run()
      workers.append(process)
    }
    for process in workers { process.waitUntilExit() }
    for (i, process) in workers.enumerated() {
      #expect(process.terminationStatus == 0, "worker \(i)")
    }
    let list = try Processes.rexstore(["profile", "list", "u1"], in: scratch)
    #expect(list.stdout.contains(#""count":20"#), "\(list.stdout.prefix(300))")
    let dirs = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/data/objects/voice_profiles/u1")
    #expect(dirs.count == 20)
    #expect(dirs.allSatisfy { !$0.hasPrefix(".") })
  }
}
