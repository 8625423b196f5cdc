import Foundation
import Testing

/// Voice-profile records are the app's Dossier records, both ways (issue 9), checked against a
/// stand-in of the app's Dossier written from the reference (python/app_dossier.py), run with the
/// app directory as its working directory, as the app runs.
@Suite struct DossierProfileTests {
  static let appModule = Processes.packageRoot + "/Tests/EndToEndTests/python"

  /// An app directory inside a scratch directory, and rexstore pointed at it with --app-dir.
  struct App {
    let scratch = Processes.Scratch()
    var dir: String { scratch.path + "/app" }
    init() throws { try FileManager.default.createDirectory(atPath: scratch.path + "/app", withIntermediateDirectories: true) }

    func rexstore(_ argv: [String], environment: [String: String]? = nil) throws -> Processes.Result {
      try Processes.rexstore(["--app-dir", dir] + argv, environment: environment ?? scratch.environment, in: scratch)
    }

    /// Runs Python with the app's Dossier imported and cwd = the app directory.
    func python(_ body: String, environment: [String: String]? = nil) throws -> String {
      let code = "import sys, json, os\nsys.path.insert(0, '\(DossierProfileTests.appModule)')\n"
        + "from app_dossier import Dossier, EmulatorGCS\n" + body
      let script = scratch.path + "/script-\(UUID().uuidString).py"
      try code.write(toFile: script, atomically: true, encoding: .utf8)
      let r = try Processes.run(StorageServer.python, [script], environment: environment ?? scratch.environment, directory: dir)
      #expect(r.status == 0, "python failed: \(r.stderr)")
      return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func file(_ relative: String, _ bytes: String) throws -> String {
      let path = scratch.path + "/" + relative
      try bytes.write(toFile: path, atomically: true, encoding: .utf8)
      return path
    }

    func read(_ relative: String) -> String? { try? String(contentsOfFile: dir + "/" + relative, encoding: .utf8) }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: dir + "/" + relative) }
  }

  @Test func theAppReadsWhatRexstoreStored() throws {
    let app = try App()
    let a = try app.file("a.wav", "first sample")
    let b = try app.file("b.wav", "second")
    let r = try app.rexstore(["profile", "store", "u1", "calm", a, b, "--meta", "mood=calm"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try app.python(
      """
      d = Dossier('u1')
      print(json.dumps(d.list_voice_profiles()[0]['sample_count']), json.dumps(d.list_voice_profiles()[0]['metadata']))
      got = d.retrieve_voice_profile('calm')
      print(json.dumps([s.decode() for s in got['voice_samples']]), got['created_at'] is not None)
      """)
    #expect(out == #"2 {"mood": "calm"}"# + "\n" + #"["first sample", "second"] True"#)
  }

  @Test func rexstoreReadsWhatTheAppStored() throws {
    let app = try App()
    _ = try app.python("Dossier('u1').store_voice_profile('p1', [b'abc', b'defg'], {'lang': 'en'})")
    let list = try jsonObject(try app.rexstore(["profile", "list", "u1"]).stdout)
    let item = try #require((list["items"] as? [[String: Any]])?.first)
    #expect(item["profile_id"] as? String == "p1")
    #expect(item["storage"] as? String == "local")
    #expect(item["sample_count"] as? Int == 2)
    #expect(item["total_bytes"] as? Int == 7)
    #expect((item["metadata"] as? [String: Any])?["lang"] as? String == "en")
    #expect(item["created_at"] is String)
    // -o creates the directory like mkdir -p.
    let get = try app.rexstore(["profile", "get", "u1", "p1", "-o", app.scratch.path + "/out/deep"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try String(contentsOfFile: app.scratch.path + "/out/deep/sample_1.wav", encoding: .utf8) == "defg")
  }

  /// Every key rexstore does not own comes back exactly as the app wrote it, and the file stays in
  /// the app's own format (what json.dump(indent=2, ensure_ascii=False) writes).
  @Test func otherDossierKeysAreKeptByteForByte() throws {
    let app = try App()
    _ = try app.python(
      """
      d = Dossier('u1')
      d.update('sessions', [{'timestamp': '2026-01-01T00:00:00+00:00', 'note': 'tilt é 😀 "q" \\\\ \\n', 'score': 1e-05, 'big': 12345678901234567890, 'f': 0.1, 'nan': float('nan')}])
      d.update('goals', {'a': [], 'b': {}, 'c': None, 'd': True})
      d.store_voice_profile('app_p', [b'x'])
      """)
    let before = try #require(app.read("dossiers/u1.json"))
    let a = try app.file("a.wav", "rex")
    #expect(try app.rexstore(["profile", "store", "u1", "rex_p", a]).status == 0)
    let after = try #require(app.read("dossiers/u1.json"))
    let out = try app.python(
      """
      before = json.loads(open('/dev/stdin').read()) if False else None
      text = open('dossiers/u1.json', encoding='utf-8').read()
      data = json.loads(text)
      print(text == json.dumps(data, indent=2, ensure_ascii=False))
      print(list(data.keys()), list(data['voice_profiles'].keys()))
      """)
    #expect(out == "True\n['sessions', 'goals', 'voice_profiles'] ['app_p', 'rex_p']")
    // The app's own text for sessions and goals, and its profile entry, are in the new file unchanged.
    for key in ["\"sessions\"", "\"goals\"", "\"app_p\""] {
      let start = try #require(before.range(of: key)).lowerBound
      let end = try #require(before.range(of: key == "\"app_p\"" ? "\n    }" : "\n  }", range: start..<before.endIndex)).upperBound
      #expect(after.contains(before[start..<end]), "\(key) changed")
    }
  }

  @Test func anExistingProfileIsAConflictUnlessForced() throws {
    let app = try App()
    _ = try app.python("Dossier('u1').store_voice_profile('p', [b'app0', b'app1'])")
    let dossier = app.read("dossiers/u1.json")
    let a = try app.file("a.wav", "rexstore")
    let again = try app.rexstore(["profile", "store", "u1", "p", a])
    #expect(again.status == 65)
    #expect(again.stderr.contains(#""code":"conflict""#))
    #expect(app.read("dossiers/u1.json") == dossier)
    #expect(app.read("voice_profiles/u1/p/sample_0.wav") == "app0")
    let forced = try app.rexstore(["profile", "store", "u1", "p", a, "--force"])
    #expect(forced.status == 0, "\(forced.stderr)")
    #expect(!app.exists("voice_profiles/u1/p/sample_1.wav"))
    let out = try app.python("print([s.decode() for s in Dossier('u1').retrieve_voice_profile('p')['voice_samples']])")
    #expect(out == "['rexstore']")
  }

  /// Files in a profile's directory that no record names are never replaced or removed silently.
  @Test func unreferencedFilesAreNeverReplacedSilently() throws {
    let app = try App()
    try FileManager.default.createDirectory(atPath: app.dir + "/voice_profiles/u1/p", withIntermediateDirectories: true)
    try "orphan".write(toFile: app.dir + "/voice_profiles/u1/p/sample_0.wav", atomically: true, encoding: .utf8)
    let a = try app.file("a.wav", "new")
    let store = try app.rexstore(["profile", "store", "u1", "p", a])
    #expect(store.status == 65)
    #expect(store.stderr.contains("no record names"))
    #expect(app.read("voice_profiles/u1/p/sample_0.wav") == "orphan")
    let delete = try app.rexstore(["profile", "delete", "u1", "p"])
    #expect(delete.status == 1)
    #expect(app.read("voice_profiles/u1/p/sample_0.wav") == "orphan")
    let discard = try app.rexstore(["profile", "store", "u1", "p", a, "--discard-unreferenced"])
    #expect(discard.status == 0, "\(discard.stderr)")
    #expect(app.read("voice_profiles/u1/p/sample_0.wav") == "new")
  }

  @Test func deleteRemovesTheRecordThenExactlyItsSamples() throws {
    let app = try App()
    _ = try app.python("Dossier('u1').store_voice_profile('p', [b'0', b'1'])\nDossier('u1').store_voice_profile('q', [b'q'])")
    try "stray".write(toFile: app.dir + "/voice_profiles/u1/p/notes.txt", atomically: true, encoding: .utf8)
    let r = try app.rexstore(["profile", "delete", "u1", "p"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try jsonObject(r.stdout)
    #expect(report["deleted"] as? Bool == true)
    #expect(report["samples_deleted"] as? [String] == ["voice_profiles/u1/p/sample_0.wav", "voice_profiles/u1/p/sample_1.wav"])
    #expect(app.read("voice_profiles/u1/p/notes.txt") == "stray")
    #expect(!app.exists("voice_profiles/u1/p/sample_0.wav"))
    let out = try app.python("d = Dossier('u1')\nprint([p['profile_id'] for p in d.list_voice_profiles()], d.retrieve_voice_profile('p'))")
    #expect(out == "['q'] None")
    // The app deletes what rexstore stored, too.
    let a = try app.file("a.wav", "r")
    #expect(try app.rexstore(["profile", "store", "u1", "r", a]).status == 0)
    #expect(try app.python("print(Dossier('u1').delete_voice_profile('r'))") == "True")
    #expect(!app.exists("voice_profiles/u1/r/sample_0.wav"))
    #expect(try app.rexstore(["profile", "get", "u1", "r"]).status == 1)
  }

  @Test func aCorruptDossierIsBadDataAndNothingIsWritten() throws {
    let app = try App()
    try FileManager.default.createDirectory(atPath: app.dir + "/dossiers", withIntermediateDirectories: true)
    for text in ["{\"voice_profiles\": {", "[]", "{\"voice_profiles\": [1]}"] {
      try text.write(toFile: app.dir + "/dossiers/u1.json", atomically: true, encoding: .utf8)
      let a = try app.file("a.wav", "x")
      let r = try app.rexstore(["profile", "store", "u1", "p", a])
      #expect(r.status == 65, "\(text): \(r.stderr)")
      #expect(r.stdout.isEmpty)
      #expect(app.read("dossiers/u1.json") == text)
      #expect(!app.exists("voice_profiles/u1/p"))
      #expect(try app.rexstore(["profile", "list", "u1"]).status == 65)
    }
  }

  /// The app's writer (append_to_list, its one lost-update-safe call) and rexstore writing one
  /// dossier at the same time: nothing either of them wrote is lost.
  @Test func concurrentAppAndRexstoreWritersLoseNothing() throws {
    let app = try App()
    let sample = try app.file("s.wav", "s")
    let script = app.scratch.path + "/appender.py"
    try """
      import sys
      sys.path.insert(0, '\(DossierProfileTests.appModule)')
      from app_dossier import Dossier
      for i in range(40):
          Dossier('u1').append_to_list('sessions', {'n': i})
      """.write(toFile: script, atomically: true, encoding: .utf8)
    let env = app.scratch.environment
    let appender = Process()
    appender.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    appender.arguments = ["python3", script]
    appender.environment = env
    appender.currentDirectoryURL = URL(fileURLWithPath: app.dir)
    try appender.run()
    var stored: [String] = []
    for i in 0..<15 {
      let r = try app.rexstore(["profile", "store", "u1", "p\(i)", sample])
      #expect(r.status == 0, "\(r.stderr)")
      stored.append("p\(i)")
    }
    appender.waitUntilExit()
    #expect(appender.terminationStatus == 0)
    let out = try app.python(
      "d = Dossier('u1')\nprint(len(d.data['sessions']), sorted(p['profile_id'] for p in d.list_voice_profiles()) == sorted(\(stored)))")
    #expect(out == "40 True")
  }

  /// Store and delete of one profile racing: either the store wins (record and every sample) or the
  /// delete does (neither); readers racing a re-store never see a false damage report.
  @Test func storeDeleteAndReadRacesKeepRecordAndSamplesTogether() throws {
    let app = try App()
    let a = try app.file("a.wav", String(repeating: "a", count: 50_000))
    let b = try app.file("b.wav", String(repeating: "b", count: 70_000))
    let env = app.scratch.environment
    for round in 0..<12 {
      let files = round % 2 == 0 ? [a, b] : [b]
      let store = try Processes.start(
        Processes.binary, ["--app-dir", app.dir, "profile", "store", "u1", "p", "--force"] + files, environment: env)
      let reader = try Processes.start(
        "/bin/sh", ["-c", "\"$0\" --app-dir \"$1\" profile get u1 p -o \"$2\"; test $? -ne 74", Processes.binary, app.dir,
          app.scratch.path + "/out\(round)"], environment: env)
      let delete = try Processes.start(
        Processes.binary, ["--app-dir", app.dir, "profile", "delete", "u1", "p", "--if-exists"], environment: env)
      store.waitUntilExit()
      delete.waitUntilExit()
      reader.waitUntilExit()
      #expect(reader.terminationStatus == 0, "round \(round): a reader saw a false damage report")
      let get = try app.rexstore(["profile", "get", "u1", "p"])
      if get.status == 0 {
        let record = try jsonObject(get.stdout)
        #expect((record["missing_samples"] as? [String])?.isEmpty == true, "round \(round): \(get.stdout)")
        #expect(try app.rexstore(["profile", "get", "u1", "p", "-o", app.scratch.path + "/check\(round)"]).status == 0)
      } else {
        #expect(get.status == 1)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: app.dir + "/voice_profiles/u1/p")) ?? []
        #expect(left.filter { !$0.hasPrefix(".") }.isEmpty, "round \(round): samples without a record: \(left)")
      }
    }
  }

  /// The dossier lock is waited for no longer than --busy-timeout (it used to block forever).
  @Test func theDossierLockWaitIsBounded() throws {
    let app = try App()
    try FileManager.default.createDirectory(atPath: app.dir + "/dossiers", withIntermediateDirectories: true)
    let holder = try Processes.start(
      "/usr/bin/env",
      ["python3", "-c", "import fcntl,time; f=open('\(app.dir)/dossiers/.u1.json.lock','w'); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)"],
      environment: app.scratch.environment)
    defer {
      kill(holder.processIdentifier, SIGKILL)
      holder.waitUntilExit()
    }
    try waitUntilLocked(app.dir + "/dossiers/.u1.json.lock")
    let a = try app.file("a.wav", "x")
    let started = Date()
    let r = try app.rexstore(["--busy-timeout", "1s", "profile", "store", "u1", "p", a])
    #expect(r.status == 75)
    #expect(r.stderr.contains(#""code":"busy""#))
    #expect(Date().timeIntervalSince(started) < 20)
    #expect(!app.exists("voice_profiles/u1/p"))
  }

  /// A store killed after it swapped its samples in but before it committed the record is rolled
  /// forward by the next command; one killed before the swap is forgotten.
  @Test func anInterruptedStoreIsSettledByTheNextCommand() throws {
    let app = try App()
    let a = try app.file("a.wav", "old0")
    let b = try app.file("b.wav", "old1")
    #expect(try app.rexstore(["profile", "store", "u1", "p", a, b]).status == 0)
    let live = app.dir + "/voice_profiles/u1/p"
    func inode(_ path: String) throws -> Int {
      try #require((try FileManager.default.attributesOfItem(atPath: path))[.systemFileNumber] as? Int)
    }
    // Killed before the swap: an intent naming the live directory as it still is.
    _ = try app.python(
      """
      p = 'dossiers/u1.json'; d = json.load(open(p))
      d['rexstore_pending'] = {'p': {'directory_inode': \(try inode(live)), 'metadata': {'v': 2}, 'created_at': 'x', 'updated_at': 'y', 'writer': 999999}}
      json.dump(d, open(p, 'w'), indent=2)
      """)
    var get = try jsonObject(try app.rexstore(["profile", "get", "u1", "p"]).stdout)
    #expect(get["sample_count"] as? Int == 2)
    #expect(app.read("dossiers/u1.json")?.contains("rexstore_pending") == false)
    // Killed after the swap: the new set (rexstore's, with its checksums) is live, the old one sits
    // in the writer's staging directory.
    let staging = app.dir + "/voice_profiles/u1/.p.rexstore-tmp-999999-1-x"
    let n = try app.file("n.wav", "new0")
    #expect(try app.rexstore(["profile", "store", "u1", "scratch", n]).status == 0)
    try FileManager.default.moveItem(atPath: app.dir + "/voice_profiles/u1/scratch", toPath: staging)
    let old = try inode(live)
    try FileManager.default.moveItem(atPath: live, toPath: live + "-swapped")
    try FileManager.default.moveItem(atPath: staging, toPath: live)
    try FileManager.default.moveItem(atPath: live + "-swapped", toPath: staging)
    _ = try app.python(
      """
      p = 'dossiers/u1.json'; d = json.load(open(p))
      from datetime import UTC, datetime
      d['rexstore_pending'] = {'p': {'directory_inode': \(old), 'metadata': {'v': 3}, 'created_at': '2026-01-01T00:00:00+00:00', 'updated_at': datetime.now(UTC).isoformat(), 'writer': 999999}}
      json.dump(d, open(p, 'w'), indent=2)
      """)
    get = try jsonObject(try app.rexstore(["profile", "get", "u1", "p"]).stdout)
    #expect(get["sample_count"] as? Int == 1)
    #expect((get["metadata"] as? [String: Any])?["v"] as? Int == 3)
    #expect(!FileManager.default.fileExists(atPath: staging))
    #expect(try app.python("print(Dossier('u1').retrieve_voice_profile('p')['voice_samples'])") == "[b'new0']")
  }

  /// rexstore 0.1 kept records in SQLite; they move into the dossier on first use, losing nothing.
  @Test func legacySQLiteRecordsMoveIntoTheDossier() throws {
    let app = try App()
    #expect(try app.rexstore(["db", "upgrade"]).status == 0)
    try FileManager.default.createDirectory(atPath: app.dir + "/voice_profiles/u1/old", withIntermediateDirectories: true)
    try "legacy".write(toFile: app.dir + "/voice_profiles/u1/old/sample_0.wav", atomically: true, encoding: .utf8)
    let samples = #"[{"blob":"voice_profiles/u1/old/sample_0.wav","size_bytes":6,"md5":null,"crc32c":null,"content_type":"audio/wav","backend":"local"}]"#
    let insert = try Processes.run(
      "/usr/bin/sqlite3",
      [app.dir + "/RexVoice.db",
        "INSERT INTO voice_profiles (user_id, profile_id, storage, metadata, samples, sample_count, total_bytes, created_at, updated_at) VALUES ('u1','old','local','{\"k\":1}','\(samples)',1,6,'2026-01-01T00:00:00+00:00','2026-01-01T00:00:00+00:00')"],
      environment: app.scratch.environment)
    #expect(insert.status == 0, "\(insert.stderr)")
    let list = try jsonObject(try app.rexstore(["profile", "list", "u1"]).stdout)
    #expect((list["items"] as? [[String: Any]])?.first?["profile_id"] as? String == "old")
    let rows = try Processes.run("/usr/bin/sqlite3", [app.dir + "/RexVoice.db", "SELECT count(*) FROM voice_profiles"], environment: app.scratch.environment)
    #expect(rows.stdout == "0\n")
    #expect(try app.python("print(Dossier('u1').retrieve_voice_profile('old')['voice_samples'])") == "[b'legacy']")
  }

  /// With no dossier directory (a mistyped --app-dir), reads are loud, like a missing database.
  @Test func aMissingDossierDirectoryIsNoDatabase() throws {
    let app = try App()
    let r = try app.rexstore(["profile", "list", "u1"])
    #expect(r.status == 66)
    #expect(r.stderr.contains(#""code":"no_database""#))
    #expect(try app.rexstore(["profile", "delete", "u1", "p"]).status == 66)
  }

  /// migrate --from APP_DIR --delete-local: the samples records name go up, each record is re-pointed
  /// to gcs in the same locked write, local copies go only after that, unreferenced files are
  /// reported and kept; afterwards the app reads the same bytes from the bucket.
  @Test func migrateRepointsTheAppsRecordsBeforeDeletingLocalCopies() throws {
    let server = try StorageServer(.fakeGCS)
    let app = try App()
    let env = server.emulatorEnvironment(app.scratch)
    _ = try app.python("Dossier('u1').store_voice_profile('p', [b'zero', b'one'], {'m': 1})")
    try FileManager.default.createDirectory(atPath: app.dir + "/voice_profiles/u1/lost", withIntermediateDirectories: true)
    try "orphan".write(toFile: app.dir + "/voice_profiles/u1/lost/sample_0.wav", atomically: true, encoding: .utf8)
    let r = try Processes.rexstore(["migrate", "--from", app.dir, "--delete-local"], environment: env, in: app.scratch)
    #expect(r.status == 0, "\(r.stderr)")
    let report = try jsonObject(r.stdout)
    #expect(report["profiles_repointed"] as? [String] == ["u1/p"])
    let actions = Dictionary(
      uniqueKeysWithValues: (report["items"] as? [[String: Any]] ?? []).map { ($0["blob"] as? String ?? "", $0["action"] as? String ?? "") })
    #expect(actions["voice_profiles/u1/lost/sample_0.wav"] == "unreferenced")
    #expect(actions["voice_profiles/u1/p/sample_0.wav"] == "uploaded")
    #expect(app.read("voice_profiles/u1/lost/sample_0.wav") == "orphan")
    #expect(!app.exists("voice_profiles/u1/p/sample_0.wav"))
    let pyEnv = env.merging(["STORAGE_EMULATOR_HOST": env["STORAGE_EMULATOR_HOST"]!]) { $1 }
    let out = try app.python(
      """
      d = Dossier('u1', EmulatorGCS('\(StorageServer.bucket)'))
      e = d.data['voice_profiles']['p']
      print(e['storage'], e['blob_names'], d.retrieve_voice_profile('p')['voice_samples'])
      """, environment: pyEnv)
    #expect(out == "gcs ['voice_profiles/u1/p/sample_0.wav', 'voice_profiles/u1/p/sample_1.wav'] [b'zero', b'one']")
    // And rexstore reads the re-pointed record from the bucket.
    let get = try Processes.rexstore(["--app-dir", app.dir, "profile", "get", "u1", "p", "-o", app.scratch.path + "/o"], environment: env, in: app.scratch)
    #expect(get.status == 0, "\(get.stderr)")
  }

  /// On GCS too, both ways: the app's gcs entries are read and fetched by rexstore, rexstore's are
  /// retrieved and deleted by the app (through its storage service, here google-cloud-storage).
  @Test func gcsProfilesBothWays() throws {
    let server = try StorageServer(.fakeGCS)
    let app = try App()
    let env = server.emulatorEnvironment(app.scratch)
    _ = try app.python("Dossier('u1', EmulatorGCS('\(StorageServer.bucket)')).store_voice_profile('appg', [b'g0', b'g1'])", environment: env)
    let get = try Processes.rexstore(
      ["--app-dir", app.dir, "profile", "get", "u1", "appg", "-o", app.scratch.path + "/o"], environment: env, in: app.scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try jsonObject(get.stdout)["storage"] as? String == "gcs")
    #expect(try String(contentsOfFile: app.scratch.path + "/o/sample_1.wav", encoding: .utf8) == "g1")
    // Without GCS configured, a gcs entry cannot be fetched: 69, not a silent empty answer.
    #expect(try app.rexstore(["profile", "get", "u1", "appg", "-o", app.scratch.path + "/o2"]).status == 69)

    let a = try app.file("a.wav", "rex on gcs")
    let store = try Processes.rexstore(["--app-dir", app.dir, "profile", "store", "u1", "rexg", a], environment: env, in: app.scratch)
    #expect(store.status == 0, "\(store.stderr)")
    #expect(try jsonObject(store.stdout)["storage"] as? String == "gcs")
    let out = try app.python(
      """
      d = Dossier('u1', EmulatorGCS('\(StorageServer.bucket)'))
      print(d.data['voice_profiles']['rexg']['blob_names'], d.retrieve_voice_profile('rexg')['voice_samples'])
      print(d.delete_voice_profile('rexg'))
      """, environment: env)
    #expect(out == "['voice_profiles/u1/rexg/sample_0.wav'] [b'rex on gcs']\nTrue")
    let gone = try Processes.rexstore(["--app-dir", app.dir, "audio", "ls", "u1"], environment: env, in: app.scratch)
    #expect(gone.status == 0)
    #expect(try Processes.rexstore(["--app-dir", app.dir, "profile", "get", "u1", "rexg"], environment: env, in: app.scratch).status == 1)
  }

  /// `profile prune`: by the time a profile was last stored, record first then samples, guarded by
  /// --max-delete (exit 25, nothing deleted) and previewed by --dry-run.
  @Test func profilePruneDeletesOldProfilesWithGuards() throws {
    let app = try App()
    _ = try app.python(
      """
      d = Dossier('u1'); d.store_voice_profile('old1', [b'11']); d.store_voice_profile('old2', [b'222']); d.store_voice_profile('new', [b'n'])
      d.data['voice_profiles']['old1']['created_at'] = '2020-01-01T00:00:00+00:00'
      d.data['voice_profiles']['old2']['created_at'] = '2021-01-01T00:00:00.5+00:00'
      d.save()
      """)
    let before = app.read("dossiers/u1.json")
    let refused = try app.rexstore(["profile", "prune", "--older-than", "365d", "--max-delete", "1"])
    #expect(refused.status == 25)
    #expect(refused.stderr.contains(#""code":"limit_exceeded""#))
    let dry = try app.rexstore(["profile", "prune", "--older-than", "365d", "--dry-run"])
    #expect(dry.status == 0)
    #expect(app.read("dossiers/u1.json") == before)
    let real = try app.rexstore(["profile", "prune", "--older-than", "365d", "--max-delete", "2"])
    #expect(real.status == 0, "\(real.stderr)")
    let report = try jsonObject(real.stdout)
    #expect((report["items"] as? [[String: Any]])?.compactMap { $0["profile_id"] as? String } == ["old1", "old2"])
    #expect(report["freed_bytes"] as? Int == 5)
    #expect(!app.exists("voice_profiles/u1/old1/sample_0.wav"))
    #expect(try app.python("print([p['profile_id'] for p in Dossier('u1').list_voice_profiles()])") == "['new']")
  }

  /// Review findings: a record can only name files in its own profile directory (the app's delete
  /// has the same rule); anything else is bad data and nothing is read or deleted.
  @Test func aRecordNamingFilesElsewhereIsRefused() throws {
    let app = try App()
    _ = try app.python(
      """
      Dossier('victim').update('sessions', [1])
      d = Dossier('u'); d.update('voice_profiles', {'p': {'storage': 'local', 'sample_paths': ['dossiers/victim.json'], 'metadata': {}, 'created_at': None}})
      """)
    let victim = app.read("dossiers/victim.json")
    for argv in [["profile", "delete", "u", "p"], ["profile", "get", "u", "p", "-o", app.scratch.path + "/o"]] {
      let r = try app.rexstore(argv)
      #expect(r.status == 65, "\(argv): \(r.stderr)")
      #expect(r.stderr.contains("not in the profile's directory"))
    }
    #expect(app.read("dossiers/victim.json") == victim)
  }

  /// Profile ids are compared as bytes: an NFC and an NFD spelling are two profiles to the app.
  @Test func profileIdsAreComparedAsBytes() throws {
    let app = try App()
    let nfc = "caf\u{E9}"
    let nfd = "cafe\u{301}"
    _ = try app.python(
      """
      d = Dossier('u')
      d.store_voice_profile('\(nfc)', [b'nfc'], {'form': 'nfc'})
      d.store_voice_profile('\(nfd)', [b'nfd'], {'form': 'nfd'})
      """)
    let list = try jsonObject(try app.rexstore(["profile", "list", "u"]).stdout)
    let forms = (list["items"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["form"] as? String }
    #expect(forms == ["nfc", "nfd"])
    let a = try app.file("a.wav", "rex")
    #expect(try app.rexstore(["profile", "store", "u", nfc, a, "--force"]).status == 0)
    let out = try app.python("d = Dossier('u')\nprint(d.retrieve_voice_profile('\(nfd)')['voice_samples'], d.retrieve_voice_profile('\(nfc)')['voice_samples'])")
    #expect(out == "[b'nfd'] [b'rex']")
  }

  /// A store that died leaves its intent; if the app then stores that profile, the intent must not
  /// overwrite the app's record when it is settled.
  @Test func aStaleIntentNeverOverwritesWhatTheAppStoredSince() throws {
    let app = try App()
    _ = try app.python(
      """
      os.makedirs('dossiers', exist_ok=True)
      json.dump({'rexstore_pending': {'p': {'directory_inode': None, 'metadata': {'who': 'rexstore'}, 'created_at': '2026-01-01T00:00:00+00:00', 'updated_at': '2026-01-01T00:00:00+00:00', 'writer': 999999}}}, open('dossiers/u.json', 'w'))
      Dossier('u').store_voice_profile('p', [b'APP0', b'APP1'], {'who': 'app'})
      """)
    let list = try jsonObject(try app.rexstore(["profile", "list", "u"]).stdout)
    let item = try #require((list["items"] as? [[String: Any]])?.first)
    #expect((item["metadata"] as? [String: Any])?["who"] as? String == "app")
    #expect(item["sample_count"] as? Int == 2)
    #expect(app.read("dossiers/u.json")?.contains("rexstore_pending") == false)
  }

  /// The app reads every entry whose storage is not "gcs" from its directory; so does rexstore.
  @Test func anyStorageButGCSIsLocal() throws {
    let app = try App()
    _ = try app.python(
      """
      d = Dossier('u'); d.store_voice_profile('p', [b'x'])
      d.data['voice_profiles']['p']['storage'] = 'Local'; d.save()
      """)
    let get = try app.rexstore(["profile", "get", "u", "p", "-o", app.scratch.path + "/o"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try app.rexstore(["profile", "delete", "u", "p"]).status == 0)
    #expect(!app.exists("voice_profiles/u/p/sample_0.wav"))
  }

  /// The app re-stores a profile rexstore stored by rewriting its sample files in place: their old
  /// checksums are stale, not a sign of damage; get -o and migrate still work.
  @Test func samplesTheAppRewroteInPlaceAreNotDamaged() throws {
    let server = try StorageServer(.fakeGCS)
    let app = try App()
    let a = try app.file("a.wav", "rexstore zero")
    let b = try app.file("b.wav", "rexstore one")
    #expect(try app.rexstore(["profile", "store", "u", "p", a, b]).status == 0)
    Thread.sleep(forTimeInterval: 0.05)
    _ = try app.python("Dossier('u').store_voice_profile('p', [b'NEW0', b'NEW1'])")
    let get = try app.rexstore(["profile", "get", "u", "p", "-o", app.scratch.path + "/o"])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try String(contentsOfFile: app.scratch.path + "/o/sample_0.wav", encoding: .utf8) == "NEW0")
    let migrate = try Processes.rexstore(["migrate", "--from", app.dir], environment: server.emulatorEnvironment(app.scratch), in: app.scratch)
    #expect(migrate.status == 0, "\(migrate.stdout) \(migrate.stderr)")
    // Damage (same mtime, same size, other bytes) is still damage.
    let c = try app.file("c.wav", "abcd")
    #expect(try app.rexstore(["profile", "store", "u", "q", c]).status == 0)
    let sample = app.dir + "/voice_profiles/u/q/sample_0.wav"
    let mtime = try FileManager.default.attributesOfItem(atPath: sample)[.modificationDate] as! Date
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: sample))
    try handle.write(contentsOf: Data("abcX".utf8))
    try handle.close()
    try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: sample)
    #expect(try app.rexstore(["profile", "get", "u", "q", "-o", app.scratch.path + "/o2"]).status == 74)
  }

  /// The user directory's lock (held from a sample swap to its record commit) is also waited for no
  /// longer than --busy-timeout.
  @Test func theSampleDirectoryLockWaitIsBounded() throws {
    let app = try App()
    let a = try app.file("a.wav", "x")
    #expect(try app.rexstore(["profile", "store", "u", "p", a]).status == 0)
    let holder = try Processes.start(
      "/usr/bin/env",
      ["python3", "-c", "import fcntl,os,time; fd=os.open('\(app.dir)/voice_profiles/u', os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); time.sleep(30)"],
      environment: app.scratch.environment)
    defer {
      kill(holder.processIdentifier, SIGKILL)
      holder.waitUntilExit()
    }
    try waitUntilLocked(app.dir + "/voice_profiles/u")
    let started = Date()
    let r = try app.rexstore(["--busy-timeout", "1s", "profile", "store", "u", "p", a, "--force"])
    #expect(r.status == 75, "\(r.stderr)")
    #expect(Date().timeIntervalSince(started) < 20)
    #expect(try app.rexstore(["profile", "get", "u", "p", "-o", app.scratch.path + "/o"]).status == 0)
  }

  /// An object root or dossier directory that exists but cannot be read is 77, never "not found" or
  /// an empty answer (issue 9). Root reads through permission bits, so as root the binary runs as nobody.
  @Test func unreadableRootsArePermissionDenied() throws {
    let scratch = Processes.Scratch()
    let a = try randomFile(scratch, "a.wav", size: 10)
    #expect(try Processes.rexstore(["audio", "put", "u1", a], in: scratch).status == 0)
    #expect(try Processes.rexstore(["profile", "store", "u1", "p", a], in: scratch).status == 0)
    chmod(scratch.path, 0o755)
    chmod(scratch.path + "/data", 0o755)
    chmod(scratch.path + "/data/objects", 0o000)
    chmod(scratch.path + "/data/dossiers", 0o000)
    defer {
      chmod(scratch.path + "/data/objects", 0o700)
      chmod(scratch.path + "/data/dossiers", 0o700)
    }
    for argv in [["audio", "ls", "u1"], ["audio", "get", "audio/u1/a.wav"], ["profile", "list", "u1"], ["profile", "get", "u1", "p"]] {
      let r: Processes.Result
      if geteuid() == 0 {
        r = try Processes.run(
          "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Processes.binary] + argv,
          environment: scratch.environment, directory: "/")
      } else {
        r = try Processes.run(Processes.binary, argv, environment: scratch.environment, directory: "/")
      }
      #expect(r.status == 77, "\(argv): \(r.stderr)")
      #expect(r.stderr.contains(#""code":"permission_denied""#), "\(argv)")
    }
  }

  /// Torture finding: a delete killed between removing the record and its samples left files no
  /// record names, and every later store of that profile was refused (65). The delete notes what it
  /// is deleting in the same write as the record's removal; the next command finishes the job, unless
  /// a record names the profile again by then.
  @Test func anInterruptedDeleteIsFinishedByTheNextCommand() throws {
    let app = try App()
    let a = try app.file("a.wav", "one")
    #expect(try app.rexstore(["profile", "store", "u", "p", a]).status == 0)
    #expect(try app.rexstore(["profile", "store", "u", "q", a]).status == 0)
    // The state a delete killed after its dossier write leaves: no record, the samples still there.
    for (profile, restored) in [("p", false), ("q", true)] {
      _ = try app.python(
        """
        d = json.load(open('dossiers/u.json'))
        del d['voice_profiles']['\(profile)']
        d['rexstore_pending'] = {'\(profile)': {'deleting': ['voice_profiles/u/\(profile)/sample_0.wav'], 'storage': 'local', 'writer': 999999}}
        json.dump(d, open('dossiers/u.json', 'w'), indent=2)
        """)
      if restored {
        // The app stored q again before anyone settled the delete: its samples are its record's now.
        _ = try app.python("Dossier('u').store_voice_profile('q', [b'app'])")
      }
      #expect(try app.rexstore(["profile", "list", "u"]).status == 0)
      #expect(app.exists("voice_profiles/u/\(profile)/sample_0.wav") == restored, "\(profile)")
    }
    #expect(try app.rexstore(["profile", "store", "u", "p", a]).status == 0)
    #expect(app.read("voice_profiles/u/q/sample_0.wav") == "app")
    #expect(app.read("dossiers/u.json")?.contains("rexstore_pending") == false)
  }

  /// Torture finding: a first store on GCS killed after uploading some samples left blobs no record
  /// names, and every later store of that profile was refused (65). Forgetting its intent now removes
  /// the names it planned that no record claims.
  @Test func aDeadFirstStoreOnGCSLeavesNothingBehind() throws {
    let server = try StorageServer(.fakeGCS)
    let app = try App()
    let env = server.emulatorEnvironment(app.scratch)
    let a = try app.file("a.wav", "first")
    // What the dead store did: its intent in the dossier, one of its two samples in the bucket.
    try FileManager.default.createDirectory(atPath: app.dir + "/dossiers", withIntermediateDirectories: true)
    _ = try app.python(
      """
      json.dump({'rexstore_pending': {'p': {'directory_inode': None, 'metadata': {}, 'created_at': '2026-01-01T00:00:00+00:00', 'updated_at': '2026-01-01T00:00:00+00:00', 'writer': 999999, 'names': ['voice_profiles/u/p/sample_0.wav', 'voice_profiles/u/p/sample_1.wav']}}}, open('dossiers/u.json', 'w'))
      """)
    let other = env.merging(["REXSTORE_OBJECTS": app.scratch.path + "/elsewhere"]) { $1 }
    #expect(try Processes.rexstore(["audio", "put", "u", a], environment: other, in: app.scratch).status == 0)
    let upload = """
      from google.cloud import storage
      storage.Client(project="x").bucket("\(StorageServer.bucket)").blob("voice_profiles/u/p/sample_0.wav").upload_from_string(b"half")
      """
    let script = app.scratch.path + "/up.py"
    try upload.write(toFile: script, atomically: true, encoding: .utf8)
    #expect(try Processes.run(StorageServer.python, [script], environment: env).status == 0)
    let store = try Processes.rexstore(["--app-dir", app.dir, "profile", "store", "u", "p", a], environment: env, in: app.scratch)
    #expect(store.status == 0, "\(store.stderr)")
    let get = try Processes.rexstore(["--app-dir", app.dir, "profile", "get", "u", "p", "-o", app.scratch.path + "/o"], environment: env, in: app.scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(try String(contentsOfFile: app.scratch.path + "/o/sample_0.wav", encoding: .utf8) == "first")
  }

  /// Waits (at most 20 s) until another process holds an exclusive flock on `path`: a fixed sleep was
  /// not always long enough for the holder to start on a loaded machine.
  func waitUntilLocked(_ path: String) throws {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      let fd = open(path, O_RDONLY)
      if fd >= 0 {
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { return }
        flock(fd, LOCK_UN)
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    Issue.record("nobody took the lock on \(path)")
  }
}
