import Foundation
import Testing

/// `pattern import -` used to hold the write lock while it waited on a slow pipe, so every other
/// writer failed with db_locked after the busy timeout.
@Suite struct ImportLockTests {
  @Test func aSlowImportPipeDoesNotBlockOtherWriters() throws {
    let scratch = Processes.Scratch()
    #expect(try Processes.rexstore(["db", "upgrade"], in: scratch).status == 0)
    let (importer, input) = try Processes.startWithInput(["pattern", "import", "-"], in: scratch)
    input.fileHandleForWriting.write(Data(#"{"user_id":1,"type":"t","key":"slow","value":1}"#.utf8 + [0x0A]))
    usleep(300_000)
    let writer = try Processes.rexstore(["--busy-timeout", "200ms", "pattern", "set", "2", "t", "k", "v"], in: scratch)
    #expect(writer.status == 0, "\(writer.stderr)")
    try input.fileHandleForWriting.close()
    importer.waitUntilExit()
    #expect(importer.terminationStatus == 0)
    #expect(try Processes.rexstore(["pattern", "get", "1", "t", "slow"], in: scratch).status == 0)
  }
}

/// With stdin closed, the import's spool file became descriptor 0 and "imported" nothing, exit 0.
@Suite struct ClosedStdinTests {
  @Test func importFromAClosedStdinFails() throws {
    let scratch = Processes.Scratch()
    let r = try Processes.run("/bin/bash", ["-c", "\"\(Processes.binary)\" pattern import - <&-"], environment: scratch.environment)
    #expect(r.status == 66, "\(r.stdout) \(r.stderr)")
    #expect(r.stdout.isEmpty)
  }
}
