import Foundation
import Testing

/// Real processes racing on one database file.
@Suite struct ConcurrencyTests {
  /// Eight workers, each a shell loop of rexstore calls (sets, context adds, imports, reads), on a database
  /// none of them has created yet. Every call must succeed and every write must be there at the end.
  @Test func eightProcessesLoseNoWrite() throws {
    let scratch = Processes.Scratch()
    let rounds = 12
    let importLines = 20
    var workers: [Process] = []
    for w in 0..<8 {
      var lines = ""
      for i in 0..<importLines { lines += #"{"user_id":\#(1000 + w),"type":"bulk","key":"k\#(i)","value":\#(i)}"# + "\n" }
      try lines.write(toFile: scratch.path + "/import-\(w).ndjson", atomically: true, encoding: .utf8)
      let script = """
        set -u
        bin=\(Processes.binary)
        fail=0
        for i in $(seq 1 \(rounds)); do
          "$bin" pattern set \(w) t "k$i" "$i" >/dev/null 2>>err-\(w) || fail=1
          "$bin" context add \(w) log "$i" --session s >/dev/null 2>>err-\(w) || fail=1
          "$bin" pattern get \(w) t "k$i" >/dev/null 2>>err-\(w) || fail=1
          "$bin" insight list \(w) >/dev/null 2>>err-\(w) || fail=1
          if [ $((i % 4)) -eq 0 ]; then "$bin" pattern import import-\(w).ndjson >/dev/null 2>>err-\(w) || fail=1; fi
        done
        exit $fail
        """
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/bash")
      process.arguments = ["-c", script]
      process.environment = scratch.environment
      process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
      process.standardOutput = FileHandle.nullDevice
      try process.run()
      workers.append(process)
    }
    for worker in workers { worker.waitUntilExit() }
    for (w, worker) in workers.enumerated() {
      let errors = (try? String(contentsOfFile: scratch.path + "/err-\(w)", encoding: .utf8)) ?? ""
      #expect(worker.terminationStatus == 0, "worker \(w): \(errors)")
      #expect(!errors.contains("locked"), "worker \(w): \(errors)")
      #expect(errors.isEmpty, "worker \(w): \(errors)")
    }
    for w in 0..<8 {
      let patterns = try Processes.rexstore(["pattern", "list", "\(w)"], in: scratch).stdout
      #expect(patterns.contains(#""count":\#(rounds)"#), "worker \(w): \(patterns.prefix(200))")
      let bulk = try Processes.rexstore(["pattern", "list", "\(1000 + w)"], in: scratch).stdout
      #expect(bulk.contains(#""count":\#(importLines)"#))
      let log = try Processes.rexstore(["context", "get", "\(w)", "log"], in: scratch).stdout
      #expect(log.contains(#""count":\#(rounds)"#))
    }
  }

  /// `db backup` while writers keep committing: every copy is a complete, consistent database.
  @Test func backupIsConsistentUnderConcurrentWrites() throws {
    let scratch = Processes.Scratch()
    #expect(try Processes.rexstore(["db", "upgrade"], in: scratch).status == 0)
    let writer = Process()
    writer.executableURL = URL(fileURLWithPath: "/bin/bash")
    // Stops when the test creates `stop`: signals are not reliable through Foundation's Process.
    writer.arguments = ["-c", "i=0; while [ ! -e stop ]; do i=$((i+1)); \"\(Processes.binary)\" pattern set 1 t \"k$i\" \"$i\" >/dev/null || exit 1; done"]
    writer.environment = scratch.environment
    writer.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
    try writer.run()
    let stop = scratch.path + "/stop"
    defer { FileManager.default.createFile(atPath: stop, contents: nil) }
    var counts: [Int] = []
    for n in 0..<4 {
      usleep(150_000)
      let dest = scratch.path + "/backup-\(n).sqlite3"
      let r = try Processes.rexstore(["db", "backup", dest], in: scratch)
      #expect(r.status == 0, "\(r.stderr)")
      let attributes = try FileManager.default.attributesOfItem(atPath: dest)
      #expect((attributes[.posixPermissions] as? Int) == 0o600)
      #expect(!FileManager.default.fileExists(atPath: dest + "-wal"))
      let check = try Processes.python(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute('PRAGMA integrity_check').fetchone()[0])\n"
          + "n, m = c.execute('SELECT count(*), max(CAST(substr(pattern_key, 2) AS INTEGER)) FROM user_patterns').fetchone()\nprint(n == (m or 0), n)",
        [dest], in: scratch)
      let lines = check.stdout.split(separator: "\n")
      #expect(lines.first == "ok")
      #expect(lines.last?.hasPrefix("True") == true, "keys must be gap-free: \(check.stdout)")
      counts.append(Int(lines.last?.split(separator: " ").last ?? "0") ?? 0)
    }
    FileManager.default.createFile(atPath: stop, contents: nil)
    writer.waitUntilExit()
    #expect(writer.terminationStatus == 0)
    #expect(counts.last! > counts.first!, "the writer was not running during the backups: \(counts)")
    let again = try Processes.rexstore(["db", "backup", scratch.path + "/backup-0.sqlite3"], in: scratch)
    #expect(again.status == 65)
  }
}
