import Foundation
import Testing

/// Everything `audio ls` lists can be fetched and removed, including names the app's own
/// `upload_audio(data, user_id, filename)` writes unchecked (issue 9): a file name with a sub-path,
/// a user id with a `/`, a name starting with `.`.
@Suite struct AppNameTests {
  @Test func namesTheAppWritesCanBeFetchedAndRemovedOnGCS() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    let names = ["audio/u1/sub/dir.mp3", "audio/u1/.hidden.mp3", "audio/a/b/x.mp3"]
    let upload = """
      from google.cloud import storage
      bucket = storage.Client(project="x").bucket("\(StorageServer.bucket)")
      for i, name in enumerate(\(names)):
          bucket.blob(name).upload_from_string(("bytes %d" % i).encode(), content_type="audio/mpeg")
      """
    let script = scratch.path + "/upload.py"
    try upload.write(toFile: script, atomically: true, encoding: .utf8)
    let up = try Processes.run(StorageServer.python, [script], environment: env)
    #expect(up.status == 0, "\(up.stderr)")

    let ls = try jsonObject(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).stdout)
    let listed = (ls["items"] as? [[String: Any]] ?? []).compactMap { $0["blob"] as? String }
    #expect(listed == ["audio/u1/.hidden.mp3", "audio/u1/sub/dir.mp3"])
    for (i, name) in names.enumerated() {
      let get = try Processes.rexstore(["audio", "get", name], environment: env, in: scratch)
      #expect(get.status == 0, "\(name): \(get.stderr)")
      #expect(get.stdout == "bytes \(i)")
      let out = scratch.path + "/out\(i)"
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      let batch = try Processes.rexstore(["audio", "get", name, "-o", out, "--batch"], environment: env, in: scratch)
      #expect(batch.status == 0, "\(name): \(batch.stderr)")
      let base = String(name.split(separator: "/").last!)
      #expect(try String(contentsOfFile: out + "/" + base, encoding: .utf8) == "bytes \(i)")
    }
    let rm = try Processes.rexstore(["audio", "rm"] + names, environment: env, in: scratch)
    #expect(rm.status == 0, "\(rm.stderr)")
    #expect(try jsonObject(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).stdout)["count"] as? Int == 0)
  }

  @Test func hostileNamesAreStillRefused() throws {
    let scratch = Processes.Scratch()
    for name in ["audio/u1/../x", "audio/u1//x", "audio/u1/./x", "audio//x", "audio/u1", "other/u1/x", "/audio/u1/x", "audio/u1/a\u{01}b"] {
      let r = try Processes.rexstore(["audio", "get", name], in: scratch)
      #expect(r.status == 64, "\(name)")
    }
  }

  /// On the local root a name starting with `.` is a temporary file's: refused with the reason.
  @Test func dotNamesAreRefusedOnTheLocalRoot() throws {
    let scratch = Processes.Scratch()
    try FileManager.default.createDirectory(atPath: scratch.path + "/data/objects/audio/u1", withIntermediateDirectories: true)
    try "temp".write(toFile: scratch.path + "/data/objects/audio/u1/.x.mp3", atomically: true, encoding: .utf8)
    let get = try Processes.rexstore(["audio", "get", "audio/u1/.x.mp3"], in: scratch)
    #expect(get.status == 64)
    #expect(get.stderr.contains("local"))
    let rm = try Processes.rexstore(["audio", "rm", "audio/u1/.x.mp3"], in: scratch)
    #expect(rm.status == 64)
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/.x.mp3"))
  }
}
