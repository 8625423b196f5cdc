import Foundation
import Testing

/// `db restore SRC` (issue 10): a sound backup goes back in, the old database is kept aside, a damaged
/// source changes nothing, and a database another process holds is refused (75), restoring nothing.
@Suite struct RestoreTests {
  @Test func restoresSafely() throws {
    let scratch = Processes.Scratch()
    func run(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, in: scratch) }
    #expect(try run(["pattern", "set", "1", "t", "k", "v1"]).status == 0)
    let backup = scratch.path + "/b1.sqlite3"
    #expect(try run(["db", "backup", backup]).status == 0)
    #expect(try run(["pattern", "set", "1", "t", "k", "v2"]).status == 0)

    try "garbage".write(toFile: scratch.path + "/bad.sqlite3", atomically: true, encoding: .utf8)
    let bad = try run(["db", "restore", scratch.path + "/bad.sqlite3"])
    #expect(bad.status == 65)
    #expect(try jsonObject(try run(["pattern", "get", "1", "t", "k"]).stdout)["value"] as? String == "v2")
    #expect(try run(["db", "restore", scratch.database]).status == 65)

    // Another process in a write transaction: refused after the busy timeout, nothing restored.
    // It says when it holds the lock (a marker file): a fixed sleep lost the race on a loaded machine.
    let ready = scratch.path + "/holder-ready"
    let holder = try Processes.start(
      "/usr/bin/env",
      ["python3", "-c", "import sqlite3,time; c=sqlite3.connect('\(scratch.database)'); c.execute('BEGIN IMMEDIATE'); open('\(ready)','w').close(); time.sleep(60)"],
      environment: scratch.environment)
    for _ in 0..<600 where !FileManager.default.fileExists(atPath: ready) { Thread.sleep(forTimeInterval: 0.05) }
    let busy = try run(["--busy-timeout", "500ms", "db", "restore", backup])
    kill(holder.processIdentifier, SIGKILL)
    holder.waitUntilExit()
    #expect(busy.status == 75, "\(busy.stderr)")
    #expect(try jsonObject(try run(["pattern", "get", "1", "t", "k"]).stdout)["value"] as? String == "v2")

    let restored = try run(["db", "restore", backup])
    #expect(restored.status == 0, "\(restored.stderr)")
    #expect(try jsonObject(try run(["pattern", "get", "1", "t", "k"]).stdout)["value"] as? String == "v1")
    let previous = try #require(try jsonObject(restored.stdout)["previous"] as? String)
    let kept = try Processes.run("/usr/bin/sqlite3", [previous, "SELECT pattern_value FROM user_patterns"], environment: scratch.environment)
    #expect(kept.stdout == "v2\n")
  }
}
