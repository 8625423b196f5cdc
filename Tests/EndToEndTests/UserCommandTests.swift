import Foundation
import Testing

/// `user export` then `user erase` then `user export` again that finds nothing, on the local root and
/// on an emulator; a dry run that changes nothing; the --max-delete guard (issue 10).
@Suite struct UserCommandTests {
  /// Every file under `root` with its bytes, and the database as sqlite3 dumps it.
  func snapshot(_ root: String, database: String, env: [String: String]) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: root)
    while let path = enumerator?.nextObject() as? String {
      guard !path.hasSuffix("-wal"), !path.hasSuffix("-shm"), !path.hasSuffix(".sqlite3"), !path.contains(".lock") else { continue }
      var isDir: ObjCBool = false
      FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDir)
      files[path] = isDir.boolValue ? Data() : try Data(contentsOf: URL(fileURLWithPath: root + "/" + path))
    }
    files["<db>"] = Data(try Processes.run("/usr/bin/sqlite3", [database, ".dump"], environment: env).stdout.utf8)
    return files
  }

  func scenario(env: [String: String], scratch: Processes.Scratch) throws {
    func run(_ argv: [String]) throws -> Processes.Result { try Processes.rexstore(argv, environment: env, in: scratch) }
    let sample = try randomFile(scratch, "s.wav", size: 2000)
    for argv in [
      ["pattern", "set", "42", "style", "aggr", "0.8"], ["pattern", "set", "7", "style", "other", "1"],
      ["context", "add", "42", "hand", "h1"], ["context", "add", "42", "old", "gone", "--expires-at", "2020-01-01T00:00:00Z"],
      ["insight", "add", "42", "tilt", #"{"level":"high"}"#], ["audio", "put", "42", sample, "--name", "rec.wav"],
      ["audio", "put", "7", sample, "--name", "keep.wav"], ["profile", "store", "42", "calm", sample, sample],
      ["profile", "store", "7", "calm", sample],
    ] {
      let r = try run(argv)
      #expect(r.status == 0, "\(argv): \(r.stderr)")
    }
    let export = try run(["user", "export", "42", "-o", scratch.path + "/export"])
    #expect(export.status == 0, "\(export.stderr)")
    let manifest = try jsonObject(export.stdout)
    #expect(manifest["database"] as? [String: Int] == ["user_patterns": 1, "conversation_context": 2, "user_insights": 1])
    let files = (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }.sorted()
    #expect(files == ["objects/audio/42/rec.wav", "objects/voice_profiles/42/calm/sample_0.wav", "objects/voice_profiles/42/calm/sample_1.wav"])
    #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/export/objects/audio/42/rec.wav", andPath: sample))
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/export/dossier.json"))
    let lines = try String(contentsOfFile: scratch.path + "/export/database.ndjson", encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 4)
    #expect(try run(["user", "export", "42", "-o", scratch.path + "/export"]).status == 65)

    let before = try snapshot(scratch.path + "/data", database: scratch.database, env: env)
    let dry = try run(["user", "erase", "42", "--dry-run"])
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect((try jsonObject(dry.stdout)["found"] as? [String: Any])?["item_count"] as? Int == 9)
    #expect(try snapshot(scratch.path + "/data", database: scratch.database, env: env) == before)
    let guarded = try run(["user", "erase", "42", "--max-delete", "3"])
    #expect(guarded.status == 25)
    #expect(try snapshot(scratch.path + "/data", database: scratch.database, env: env) == before)

    let erase = try run(["user", "erase", "42"])
    #expect(erase.status == 0, "\(erase.stdout) \(erase.stderr)")
    #expect(try jsonObject(erase.stdout)["verified"] as? Bool == true)
    let again = try run(["user", "export", "42", "-o", scratch.path + "/export2"])
    #expect(again.status == 0)
    #expect(try jsonObject(again.stdout)["item_count"] as? Int == 0)
    // User 7 is untouched.
    #expect(try run(["pattern", "get", "7", "style", "other"]).status == 0)
    #expect(try run(["profile", "get", "7", "calm"]).status == 0)
    #expect(try jsonObject(try run(["audio", "ls", "7"]).stdout)["count"] as? Int == 1)
  }

  @Test func exportEraseExportOnTheLocalRoot() throws {
    let scratch = Processes.Scratch()
    try scenario(env: scratch.environment, scratch: scratch)
  }

  @Test func exportEraseExportOnFakeGCSServer() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    try scenario(env: server.emulatorEnvironment(scratch), scratch: scratch)
  }
}
