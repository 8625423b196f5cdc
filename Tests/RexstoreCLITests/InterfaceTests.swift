import Foundation
import RexstoreCore
import Testing

@testable import RexstoreCLI

/// The consistent-interface bullets of issue 10: verb aliases, a bare `rexstore`, config values that
/// are numbers or booleans, `~` in paths, `config show`.
@Suite struct InterfaceTests {
  @Test func listAndDeleteAliasesWorkInEveryGroup() throws {
    let h = Harness()
    _ = try Data([1, 2]).write(to: URL(fileURLWithPath: h.root + "/a.wav"))
    #expect(h.run("audio", "put", "u1", "a.wav").status == 0)
    #expect(h.run("audio", "list", "u1").json?["count"] == .number("1"))
    #expect(h.run("audio", "delete", "audio/u1/a.wav").status == 0)
    #expect(h.run("profile", "store", "u1", "p", "a.wav").status == 0)
    #expect(h.run("profile", "ls", "u1").json?["count"] == .number("1"))
    #expect(h.run("profile", "rm", "u1", "p").json?["deleted"] == .bool(true))
    #expect(h.run("pattern", "set", "1", "t", "k", "v").status == 0)
    #expect(h.run("pattern", "ls", "1").json?["count"] == .number("1"))
    #expect(h.run("pattern", "delete", "1", "t", "k").status == 0)
    #expect(h.run("insight", "ls", "1").status == 0)
    // An alias never hides a verb the group really has, and a typo still gets a suggestion.
    #expect(h.run("pattern", "lst", "1").errorCode == "unknown_command")
  }

  @Test func bareRexstorePrintsUsageOnStdoutAndExits64() {
    let h = Harness()
    let r = h.run([])
    #expect(r.status == 64)
    #expect(r.stdout.contains("Usage") || r.stdout.contains("usage") || r.stdout.contains("rexstore"))
    #expect(r.stdout.contains("profile"))
    #expect(r.stderr.isEmpty)
  }

  @Test func configFileNumbersBooleansAndTilde() throws {
    let h = Harness()
    let config = h.root + "/config.json"
    try #"{"gcs_retries": 3, "no_fallback": true, "db": "~/rex.db", "busy_timeout": "2s"}"#
      .write(toFile: config, atomically: true, encoding: .utf8)
    let shown = h.run(["--config", config, "config", "show"], env: ["HOME": h.root + "/home"])
    #expect(shown.status == 0, "\(shown.stderr)")
    // `gcs_retries` is the older name of `retries`; numbers and switches are shown typed.
    #expect(shown.json?["retries"] == .int(3))
    #expect(shown.json?["no_fallback"] == .bool(true))
    #expect(shown.json?["db"] == .string(h.root + "/home/rex.db"))
    let origin = h.run(["--config", config, "config", "show", "--origin"], env: ["HOME": h.root + "/home"])
    #expect(origin.json?["busy_timeout"] == .record(["source": .string("file:" + config), "value": .string("2s")]))
    try #"{"gcs_retries": [3]}"#.write(toFile: config, atomically: true, encoding: .utf8)
    #expect(h.run(["--config", config, "config", "show"]).status == 78)
  }

  /// Torture findings: a config value with a NUL opened a path cut short at it (66 instead of 78);
  /// a name with U+2028 split the one-line JSON error for line readers such as Python's splitlines.
  @Test func nulInConfigValuesAndLineSeparatorsInOutput() throws {
    let h = Harness()
    let config = h.root + "/config.json"
    try #"{"db": "/tmp/a\u0000b"}"#.write(toFile: config, atomically: true, encoding: .utf8)
    let r = h.run(["--config", config, "pattern", "list", "1"])
    #expect(r.status == 78, "\(r.stderr)")
    #expect(h.run("db", "upgrade").status == 0)
    let named = h.run("profile", "get", "u1", "a\u{2028}b\u{85}c")
    #expect(named.stderr.contains("a\\u2028b\\u0085c"), "\(named.stderr)")
    #expect(!named.stderr.unicodeScalars.contains { $0.value == 0x2028 || $0.value == 0x85 })
  }
}
