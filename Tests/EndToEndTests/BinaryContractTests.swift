import Foundation
import Testing

/// The process-level contract: file modes, streams, stdin, permissions.
@Suite struct BinaryContractTests {
  @Test func newDatabaseIs0600InA0700Directory() throws {
    let scratch = Processes.Scratch()
    let r = try Processes.rexstore(["--db", scratch.path + "/a/b/store.sqlite3", "pattern", "set", "1", "t", "k", "v"], in: scratch)
    #expect(r.status == 0, "\(r.stderr)")
    let fm = FileManager.default
    #expect((try fm.attributesOfItem(atPath: scratch.path + "/a/b/store.sqlite3")[.posixPermissions] as? Int) == 0o600)
    #expect((try fm.attributesOfItem(atPath: scratch.path + "/a/b")[.posixPermissions] as? Int) == 0o700)
    #expect((try fm.attributesOfItem(atPath: scratch.path + "/a")[.posixPermissions] as? Int) == 0o700)
  }

  @Test func failureLeavesStdoutEmptyAndOneJSONLineOnStderr() throws {
    let scratch = Processes.Scratch()
    let r = try Processes.rexstore(["pattern", "set", "1", "t", "k", "v", "--confidence", "7"], in: scratch)
    #expect(r.status == 65)
    #expect(r.stdout.isEmpty)
    #expect(r.stderr == #"{"error":{"code":"invalid_input","exit":65,"message":"confidence must be between 0 and 1, got 7.0"}}"# + "\n")
  }

  @Test func importReadsStandardInput() throws {
    let scratch = Processes.Scratch()
    let lines = (0..<3000).map { #"{"user_id":1,"type":"t","key":"k\#($0)","value":\#($0)}"# }.joined(separator: "\n")
    let r = try Processes.rexstore(["pattern", "import", "-"], in: scratch, stdin: lines)
    #expect(r.stdout == #"{"imported":3000,"source":"-"}"# + "\n", "\(r.stderr)")
    let export = try Processes.rexstore(["pattern", "export"], in: scratch)
    #expect(export.stdout.split(separator: "\n").count == 3000)
  }

  @Test func aReadOnlyDatabaseRefusesWritesButAnswersReads() throws {
    let scratch = Processes.Scratch()
    #expect(try Processes.rexstore(["pattern", "set", "1", "t", "k", "v"], in: scratch).status == 0)
    let fm = FileManager.default
    try fm.setAttributes([.posixPermissions: 0o444], ofItemAtPath: scratch.database)
    // The directory stays open to everyone (as /tmp is) so SQLite can place its -shm beside the file.
    try fm.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.path + "/data")
    try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path)
    // Root ignores permission bits, so run as nobody when we are root, from a copy of the binary that
    // nobody can reach (the checkout may sit in a 0700 directory).
    let asNobody = getuid() == 0
    let binary = scratch.path + "/rexstore"
    try fm.copyItem(atPath: Processes.binary, toPath: binary)
    func run(_ argv: [String]) throws -> Processes.Result {
      let env = scratch.environment.merging(["REXSTORE_DB": scratch.database]) { $1 }
      if asNobody {
        return try Processes.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + argv, environment: env)
      }
      return try Processes.run(binary, argv, environment: env)
    }
    let version = try run(["--version"])
    try #require(version.status == 0, "cannot run the binary as nobody: \(version.stderr)")
    let write = try run(["pattern", "set", "1", "t", "k", "w"])
    #expect(write.status == 77, "\(write.stderr)")
    #expect(write.stderr.contains(#""code":"permission_denied""#))
    let read = try run(["pattern", "get", "1", "t", "k"])
    #expect(read.status == 0, "\(read.stderr)")
    #expect(read.stdout.contains(#""value":"v""#))
  }

  @Test func exportIntoAClosedPipeDoesNotHang() throws {
    let scratch = Processes.Scratch()
    let lines = (0..<20000).map { #"{"user_id":1,"type":"t","key":"k\#($0)","value":\#($0)}"# }.joined(separator: "\n")
    #expect(try Processes.rexstore(["pattern", "import", "-"], in: scratch, stdin: lines).status == 0)
    let r = try Processes.run(
      "/bin/bash", ["-c", "\"\(Processes.binary)\" pattern export | head -n 1"], environment: scratch.environment)
    #expect(r.status == 0)
    #expect(r.stdout.hasPrefix(#"{"confidence":1.0"#))
  }
}
