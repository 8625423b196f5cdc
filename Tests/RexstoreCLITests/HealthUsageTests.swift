import Foundation
import RexstoreCore
import Testing

/// `health` with a command line it cannot parse exits 3 UNKNOWN, as the monitoring-plugin guidelines
/// ask, with the usual JSON error on stderr; `--nagios` also prints the UNKNOWN line on stdout. Every
/// other command keeps 64 (issue 10).
struct HealthUsageTests {
  @Test(arguments: [
    ["health", "--bogus"], ["health", "extra"], ["health", "--deep=1"], ["health", "--busy-timeout"],
    ["--bogus", "health"], ["--db", "x.sqlite3", "health", "--bogus"],
  ])
  func unparsableHealthLineIsUnknown(_ argv: [String]) throws {
    let h = Harness()
    let r = h.run(argv)
    #expect(r.status == 3, "\(argv): \(r.stderr)")
    #expect(r.stdout == "")
    let error = try #require(try? JSONParser.parse(r.stderr), "\(r.stderr)")
    #expect(error["error"]?["exit"] == .int(3))
    #expect(r.stderr.hasSuffix("}\n") && r.stderr.split(separator: "\n").count == 1)
    #expect(!FileManager.default.fileExists(atPath: h.databasePath))
  }

  @Test func unknownOptionErrorIsTheUsualOne() {
    let r = Harness().run("health", "--bogus")
    #expect(
      r.stderr
        == #"{"error":{"code":"unknown_option","exit":3,"hint":"run 'rexstore health --help'","message":"unknown option '--bogus' for 'health'"}}"# + "\n")
  }

  @Test func nagiosPrintsTheUnknownLine() {
    let r = Harness().run("health", "--nagios", "--bogus")
    #expect(r.status == 3)
    #expect(r.stdout == "REXSTORE UNKNOWN - usage unknown: unknown option '--bogus' for 'health' (run 'rexstore health --help')\n")
    #expect(r.stdout.range(of: HealthPluginTests.line, options: .regularExpression) != nil)
    #expect(r.stderr.contains(#""exit":3"#))
    // After `--` it is an argument, not the switch: the JSON error alone.
    let after = Harness().run("health", "--bogus", "--", "--nagios")
    #expect(after.status == 3 && after.stdout.isEmpty)
  }

  @Test func badValueIsUnknownToo() {
    let r = Harness().run("health", "--nagios", "--busy-timeout", "soon")
    #expect(r.status == 3)
    #expect(r.stdout.hasPrefix("REXSTORE UNKNOWN - config unknown: busy timeout"))
  }

  @Test(arguments: [["pattern", "--bogus"], ["db", "status", "extra"], ["--bogus"], ["healthy"], ["help", "health", "--bogus"]])
  func otherCommandsKeep64(_ argv: [String]) {
    let r = Harness().run(argv)
    #expect(r.status == 64, "\(argv)")
    #expect(r.stderr.contains(#""exit":64"#))
  }
}
