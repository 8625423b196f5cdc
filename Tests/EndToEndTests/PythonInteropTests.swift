import Foundation
import Testing

/// rexstore and the Python app share one database file, both ways, using the app's own code path
/// (`sqlite3` + `json`, python/app_storage.py).
@Suite struct PythonInteropTests {
  static let appModule = Processes.packageRoot + "/Tests/EndToEndTests/python"

  func python(_ body: String, _ scratch: Processes.Scratch) throws -> String {
    let code = "import sys, json\nsys.path.insert(0, \(quoted(Self.appModule)))\nfrom app_storage import PatternStorage\n"
      + "s = PatternStorage(sys.argv[1])\n" + body
    let r = try Processes.python(code, [scratch.database], in: scratch)
    #expect(r.status == 0, "python failed: \(r.stderr)")
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'" }

  @Test func theAppReadsWhatRexstoreWrote() throws {
    let scratch = Processes.Scratch()
    for argv in [
      ["pattern", "set", "7", "style", "s123", "123", "--string"], ["pattern", "set", "7", "style", "snull", "null", "--string"],
      ["pattern", "set", "7", "style", "strue", "true", "--string"], ["pattern", "set", "7", "style", "squoted", #""x""#, "--string"],
      ["pattern", "set", "7", "style", "plain", "aggressive"], ["pattern", "set", "7", "style", "num", "0.75", "--confidence", "0.5"],
      ["pattern", "set", "7", "style", "obj", #"{"b":[1,2],"a":"é"}"#], ["pattern", "set", "7", "style", "nul", "null"],
      ["context", "add", "7", "hand", #"{"pot":1}"#, "--session", "s1"], ["context", "add", "7", "hand", "123", "--string"],
      ["context", "add", "7", "hand", "gone", "--expires-at", "2020-01-01T00:00:00Z"],
      ["insight", "add", "7", "tilt", #"{"level":"high"}"#, "--importance", "0.9"],
    ] {
      let r = try Processes.rexstore(argv, in: scratch)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
    }
    let out = try python(
      """
      p = {k: s.get_pattern(7, 'style', k, 'DEFAULT') for k in ['s123', 'snull', 'strue', 'squoted', 'plain', 'num', 'obj', 'nul']}
      print(json.dumps(p, sort_keys=True))
      print(json.dumps(s.get_patterns_by_type(7, 'style')['num'], sort_keys=True))
      print(json.dumps(s.get_context(7, 'hand')))
      print(json.dumps(s.get_context(7, 'hand', 's1')))
      i = s.get_insights(7)
      print(json.dumps([(x['type'], x['data'], x['importance']) for x in i]))
      """, scratch)
    let lines = out.split(separator: "\n").map(String.init)
    #expect(
      lines == [
        #"{"nul": null, "num": 0.75, "obj": {"a": "\u00e9", "b": [1, 2]}, "plain": "aggressive", "s123": "123", "snull": "null", "squoted": "\"x\"", "strue": "true"}"#,
        #"{"confidence": 0.5, "value": 0.75}"#,
        #"["123", {"pot": 1}]"#, #"[{"pot": 1}]"#, #"[["tilt", {"level": "high"}, 0.9]]"#,
      ])
  }

  @Test func rexstoreReadsWhatTheAppWrote() throws {
    let scratch = Processes.Scratch()
    try FileManager.default.createDirectory(atPath: scratch.path + "/data", withIntermediateDirectories: true)
    _ = try python(
      """
      s.save_pattern(7, 'style', 'aggr', 0.8, 0.9)
      s.save_pattern(7, 'style', 'name', 'raw text')
      s.save_pattern(7, 'style', 'nested', {'b': [1, None], 'a': 'é'})
      s.save_pattern(7, 'style', 'looks', '123')
      s.save_context(7, 'hand', {'pot': 120}, 's1', 60)
      s.save_context(7, 'hand', 'old', None, -1)
      s.save_context(7, 'hand', 'fold')
      s.save_insight(7, 'tilt', {'level': 'high'}, 0.8)
      """, scratch)
    let get = try Processes.rexstore(["pattern", "get", "7", "style", "aggr"], in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    // The SQL default created_at ('YYYY-MM-DD HH:MM:SS') and Python's isoformat both come out as RFC 3339.
    #expect(get.stdout.range(of: #""created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z""#, options: .regularExpression) != nil)
    #expect(get.stdout.range(of: #""updated_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z""#, options: .regularExpression) != nil)
    #expect(get.stdout.contains(#""confidence":0.9"#) && get.stdout.contains(#""value":0.8"#))
    let name = try Processes.rexstore(["pattern", "get", "7", "style", "name"], in: scratch).stdout
    #expect(name.contains(#""value":"raw text""#))
    let nested = try Processes.rexstore(["pattern", "get", "7", "style", "nested"], in: scratch).stdout
    #expect(nested.contains(#""value":{"a":"é","b":[1,null]}"#))
    // The app stored the string '123' raw, so the app itself reads 123: rexstore reads it the same way.
    let looks = try Processes.rexstore(["pattern", "get", "7", "style", "looks"], in: scratch).stdout
    #expect(looks.contains(#""value":123"#))
    let context = try Processes.rexstore(["context", "get", "7", "hand"], in: scratch).stdout
    #expect(context.contains(#""count":2"#), "\(context)")
    #expect(context.contains(#""value":"fold""#) && context.contains(#""value":{"pot":120}"#))
    let insights = try Processes.rexstore(["insight", "list", "7"], in: scratch).stdout
    #expect(insights.contains(#""data":{"level":"high"}"#) && insights.contains(#""importance":0.8"#))
    // And writing through rexstore keeps the app's database usable by the app.
    #expect(try Processes.rexstore(["pattern", "set", "7", "style", "aggr", "0.1"], in: scratch).status == 0)
    #expect(try python("print(json.dumps(s.get_pattern(7, 'style', 'aggr')))", scratch) == "0.1")
  }
}
