import Foundation
import Testing

@testable import RexstoreCore

/// The exact JSON shape of every command's output, timestamps masked as `<TIME>`.
@Suite struct GoldenOutputTests {
  /// Runs each argv in turn on one root and compares its whole stdout.
  func expectGolden(_ h: Harness, _ cases: [([String], String)], sourceLocation: SourceLocation = #_sourceLocation) {
    for (argv, expected) in cases {
      let r = h.run(argv)
      #expect(r.status == 0, "\(argv): \(r.stderr)", sourceLocation: sourceLocation)
      #expect(Harness.normalized(r.stdout) == expected + "\n", "\(argv)", sourceLocation: sourceLocation)
    }
  }

  @Test func patternCommands() {
    let h = Harness()
    let cases: [([String], String)] = [
      (["pattern", "set", "7", "style", "aggr", "0.8", "--confidence", "0.9"],
       #"{"confidence":0.9,"created_at":"<TIME>","key":"aggr","type":"style","updated_at":"<TIME>","user_id":7,"value":0.8}"#),
      (["pattern", "set", "7", "style", "name", "123", "--string"],
       #"{"confidence":1.0,"created_at":"<TIME>","key":"name","type":"style","updated_at":"<TIME>","user_id":7,"value":"123"}"#),
      (["pattern", "get", "7", "style", "aggr"],
       #"{"confidence":0.9,"created_at":"<TIME>","key":"aggr","type":"style","updated_at":"<TIME>","user_id":7,"value":0.8}"#),
      (["pattern", "list", "7", "--type", "style"],
       #"{"count":2,"items":[{"confidence":1.0,"created_at":"<TIME>","key":"name","type":"style","updated_at":"<TIME>","user_id":7,"value":"123"},{"confidence":0.9,"created_at":"<TIME>","key":"aggr","type":"style","updated_at":"<TIME>","user_id":7,"value":0.8}]}"#),
      (["pattern", "list", "8"], #"{"count":0,"items":[]}"#),
      (["pattern", "rm", "7", "style", "name"], #"{"deleted":true,"key":"name","type":"style","user_id":7}"#),
      (["pattern", "export"],
       #"{"confidence":0.9,"created_at":"<TIME>","key":"aggr","type":"style","updated_at":"<TIME>","user_id":7,"value":0.8}"#),
      (["pattern", "clear", "7"], #"{"deleted_count":1,"user_id":7}"#),
    ]
    expectGolden(h, cases)
  }

  @Test func contextCommands() {
    let h = Harness()
    let cases: [([String], String)] = [
      (["context", "add", "7", "hand", #"{"pot":120}"#, "--session", "s1", "--expires", "2h"],
       #"{"created_at":"<TIME>","expires_at":"<TIME>","id":1,"key":"hand","session_id":"s1","user_id":7,"value":{"pot":120}}"#),
      (["context", "add", "7", "hand", "fold"],
       #"{"created_at":"<TIME>","expires_at":null,"id":2,"key":"hand","session_id":null,"user_id":7,"value":"fold"}"#),
      (["context", "get", "7", "hand", "--no-session"],
       #"{"count":1,"items":[{"created_at":"<TIME>","expires_at":null,"id":2,"key":"hand","session_id":null,"user_id":7,"value":"fold"}]}"#),
      (["context", "prune"],
       #"{"count":0,"cutoff":"<TIME>","deleted_count":0,"dry_run":false,"failures":[],"freed_bytes":0,"items":[],"limit_exceeded":false,"max_delete":null}"#),
      (["context", "clear", "7", "--session", "s1"], #"{"deleted_count":1,"session_id":"s1","user_id":7}"#),
    ]
    expectGolden(h, cases)
  }

  @Test func insightCommands() {
    let h = Harness()
    let cases: [([String], String)] = [
      (["insight", "add", "7", "tilt", #"{"level":"high","n":[1,2]}"#, "--importance", "0.9"],
       #"{"created_at":"<TIME>","data":{"level":"high","n":[1,2]},"id":1,"importance":0.9,"type":"tilt","user_id":7}"#),
      (["insight", "list", "7"],
       #"{"count":1,"items":[{"created_at":"<TIME>","data":{"level":"high","n":[1,2]},"id":1,"importance":0.9,"type":"tilt","user_id":7}]}"#),
      (["insight", "clear", "7", "--type", "tilt"], #"{"deleted_count":1,"type":"tilt","user_id":7}"#),
    ]
    expectGolden(h, cases)
  }

  @Test func databaseCommands() {
    let h = Harness()
    let db = h.databasePath
    let data = h.root + "/data"
    let cases: [([String], String)] = [
      (["db", "status"],
       #"{"binary_schema_version":1,"exists":false,"journal_mode":null,"path":"\#(db)","schema_version":null,"size_bytes":null,"tables":{},"upgrade_needed":true}"#),
      (["db", "upgrade"],
       #"{"applied":[{"summary":"app tables; rexstore_meta; voice_profiles","version":1}],"created_tables":["user_patterns","conversation_context","user_insights"],"dossiers":"\#(h.root)/data/dossiers","from_version":0,"path":"\#(db)","profile_conflicts":[],"profiles_moved":[],"to_version":1}"#),
      (["db", "upgrade"], #"{"applied":[],"created_tables":[],"dossiers":"\#(h.root)/data/dossiers","from_version":1,"path":"\#(db)","profile_conflicts":[],"profiles_moved":[],"to_version":1}"#),
      (["db", "check"], #"{"check":"integrity_check","ok":true,"path":"\#(db)"}"#),
      (["db", "check", "--quick"], #"{"check":"quick_check","ok":true,"path":"\#(db)"}"#),
    ]
    for (argv, expected) in cases {
      let r = h.run(argv)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
      #expect(r.stdout == expected + "\n", "\(argv)")
    }
    let status = h.run("db", "status").stdout
    #expect(status.hasPrefix(#"{"binary_schema_version":1,"exists":true,"journal_mode":"wal","path":"\#(db)","schema_version":1,"size_bytes":"#))
    #expect(status.hasSuffix(#","tables":{"conversation_context":{"exists":true,"rows":0},"rexstore_meta":{"exists":true,"rows":1},"user_insights":{"exists":true,"rows":0},"user_patterns":{"exists":true,"rows":0},"voice_profiles":{"exists":true,"rows":0}},"upgrade_needed":false}"# + "\n"))
    let backup = h.run("db", "backup", "copy.sqlite3")
    #expect(backup.stdout.hasPrefix(#"{"destination":"\#(h.root)/copy.sqlite3","pages":"#), "\(backup.stderr)")
    #expect(backup.stdout.contains(#""source":"\#(db)""#))
    let vacuum = h.run("db", "vacuum")
    #expect(vacuum.stdout.hasPrefix(#"{"path":"\#(db)","size_after_bytes":"#))
    _ = data
  }

  @Test func healthReportsConfigurationSources() {
    let h = Harness()
    h.run("db", "upgrade")
    let r = h.run(["--busy-timeout", "2s", "health"], env: ["REXSTORE_OBJECTS": h.root + "/objects"])
    #expect(r.status == 0)
    let measured = r.stdout.replacingOccurrences(
      of: #""(size_bytes|free_bytes|total_bytes|free_percent)":[0-9.]+"#, with: "\"$1\":N", options: .regularExpression)
    #expect(
      measured
        == #"{"checks":[{"message":"schema version 1","name":"database","status":"ok","values":{"exists":true,"schema_version":1,"size_bytes":N}},{"message":"'\#(h.root)/objects' does not exist yet; the first write creates it","name":"local_root","status":"ok","values":{"exists":false,"free_bytes":N,"free_percent":N,"total_bytes":N,"writable":true}},{"message":"no temporary files left behind","name":"local_temporaries","status":"ok","values":{"leftover_bytes":0,"leftovers":0}}],"config":{"app_dir":null,"aws_access_key_id":null,"aws_config_file":null,"aws_endpoint_url":null,"aws_profile":null,"aws_region":null,"aws_secret_access_key":null,"aws_session_token":null,"aws_shared_credentials_file":null,"backend":{"source":"default","value":"auto"},"bucket":null,"busy_timeout":{"source":"flag:--busy-timeout","value":"2s"},"config_file":null,"credentials":null,"db":{"source":"default","value":"\#(h.databasePath)"},"deadline":{"source":"default","value":"2m"},"dossiers":{"source":"default","value":"\#(h.root)/data/dossiers"},"effective_backend":"local","emulator_host":null,"gcs_bucket":null,"gcs_enabled":{"source":"default","value":false},"gcs_endpoint":null,"metadata_host":null,"no_fallback":{"source":"default","value":false},"objects":{"source":"env:REXSTORE_OBJECTS","value":"\#(h.root)/objects"},"outage_window":{"source":"default","value":"30s"},"retries":{"source":"default","value":5},"retry_delay":{"source":"default","value":"500ms"},"root":{"source":"env:REXSTORE_ROOT","value":"\#(h.root)/data"},"s3_bucket":null,"s3_conditional_writes":null,"s3_multipart_threshold":null,"s3_part_concurrency":null,"s3_part_size":null,"timeout":{"source":"default","value":"60s"}},"status":"ok"}"#
        + "\n")
  }

  @Test func healthWarnsWithoutADatabase() {
    let h = Harness()
    let r = h.run("health")
    #expect(r.status == 1)
    #expect(r.json?["status"] == .string("warning"))
  }

  @Test func ndjsonAndPrettyShapes() {
    let h = Harness()
    h.run("pattern", "set", "1", "t", "a", "1")
    h.run("pattern", "set", "1", "t", "b", "2")
    let nd = h.run("pattern", "list", "1", "--ndjson")
    #expect(Harness.normalized(nd.stdout).split(separator: "\n").count == 2)
    #expect(nd.stdout.hasPrefix(#"{"confidence":1.0"#))
    let pretty = h.run("pattern", "get", "1", "t", "a", "--pretty")
    #expect(Harness.normalized(pretty.stdout) == """
      {
        "confidence": 1.0,
        "created_at": "<TIME>",
        "key": "a",
        "type": "t",
        "updated_at": "<TIME>",
        "user_id": 1,
        "value": 1
      }

      """)
  }
}
