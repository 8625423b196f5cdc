import Foundation
import Testing

/// Issue 8 point 4, DESIGN §8: "paths are bytes passed through unchanged". A path the user names that is
/// not valid UTF-8 reaches the file system byte for byte; text stays refused (64); JSON shows the
/// path's display form (`\xHH`) and, beside it, its exact bytes as hex (`*_bytes_hex`).
@Suite(.serialized) struct BytePathTests {
  let scratch = Processes.Scratch()

  static func b(_ text: String) -> [UInt8] { Array(text.utf8) }
  static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

  /// Runs the binary with argv (and optionally the working directory) as raw bytes: Foundation's
  /// `Process` takes Strings, so python3's `subprocess` execs it, with every word passed as hex.
  func run(_ argv: [[UInt8]], cwd: [UInt8]? = nil) throws -> Processes.Result {
    let code = """
      import subprocess, sys
      words = [bytes.fromhex(w) for w in sys.argv[2:]]
      cwd = bytes.fromhex(sys.argv[1]) if sys.argv[1] != "-" else None
      sys.exit(subprocess.run(words, cwd=cwd).returncode)
      """
    return try Processes.run(
      "/usr/bin/env", ["python3", "-c", code, cwd.map(BytePathTests.hex) ?? "-"]
        + ([BytePathTests.b(Processes.binary)] + argv).map(BytePathTests.hex),
      environment: scratch.environment, directory: scratch.path)
  }

  var root: [UInt8] { BytePathTests.b(scratch.path) }

  /// The bytes of the file at `path` (raw bytes), or nil when there is none.
  func contents(_ path: [UInt8]) -> [UInt8]? {
    let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n <= 0 { break }
      out += buffer[0..<n]
    }
    return out
  }

  /// The entry names in a directory, as bytes.
  func names(_ directory: [UInt8]) -> [[UInt8]] {
    guard let dir = opendir(directory.map { CChar(bitPattern: $0) } + [0]) else { return [] }
    defer { closedir(dir) }
    var out: [[UInt8]] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
      if name != [0x2E] && name != [0x2E, 0x2E] { out.append(name) }
    }
    return out.sorted { $0.lexicographicallyPrecedes($1) }
  }

  /// Creates a file named by raw bytes.
  func create(_ path: [UInt8], _ bytes: [UInt8]) throws {
    let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    try #require(fd >= 0)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
  }

  func sample(_ size: Int = 3000) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

  @Test func audioPutReadsAFileWhoseNameIsNotUTF8() throws {
    let data = sample()
    try create(root + [0x2F] + BytePathTests.b("caf") + [0xE9] + BytePathTests.b(".wav"), data)
    // Relative, as a shell glob would pass it; the object is named by the display form.
    let r = try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("caf") + [0xE9] + BytePathTests.b(".wav")])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try jsonObject(r.stdout)
    #expect(json["blob"] as? String == #"audio/u1/caf\xE9.wav"#)
    #expect(json["size_bytes"] as? Int == data.count)
    #expect(contents(root + BytePathTests.b(#"/data/objects/audio/u1/caf\xE9.wav"#)) == data)
    // --name chooses the object's name as before.
    let named = try run([
      BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), root + BytePathTests.b("/caf") + [0xE9] + BytePathTests.b(".wav"),
      BytePathTests.b("--name"), BytePathTests.b("cafe.wav"),
    ])
    #expect(named.status == 0, "\(named.stderr)")
    #expect(contents(root + BytePathTests.b("/data/objects/audio/u1/cafe.wav")) == data)
  }

  @Test func audioPutBatchNamesAFailedByteFileInHex() throws {
    try create(root + BytePathTests.b("/ok.wav"), sample(10))
    let missing = root + BytePathTests.b("/gone") + [0xFF] + BytePathTests.b(".wav")
    let r = try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), root + BytePathTests.b("/ok.wav"), missing])
    #expect(r.status == 66, "\(r.stderr)")
    let json = try jsonObject(r.stdout)
    let failure = try #require((json["failures"] as? [[String: Any]])?.first)
    #expect(failure["file"] as? String == scratch.path + #"/gone\xFF.wav"#)
    #expect(failure["file_bytes_hex"] as? String == BytePathTests.hex(missing))
    #expect(json["count"] as? Int == 1)
  }

  @Test func audioGetWritesToAPathWhoseNameIsNotUTF8() throws {
    let data = sample()
    try create(root + BytePathTests.b("/a.wav"), data)
    #expect(try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("a.wav")]).status == 0)
    let target = root + BytePathTests.b("/out") + [0xFF] + BytePathTests.b(".wav")
    let r = try run([BytePathTests.b("audio"), BytePathTests.b("get"), BytePathTests.b("audio/u1/a.wav"), BytePathTests.b("-o"), BytePathTests.b("out") + [0xFF] + BytePathTests.b(".wav")])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(contents(target) == data)
    let json = try jsonObject(r.stdout)
    #expect(json["path"] as? String == scratch.path + #"/out\xFF.wav"#)
    #expect(json["path_bytes_hex"] as? String == BytePathTests.hex(target))
    // Exactly one new file, under exactly those bytes (no temporary left, nothing mangled).
    #expect(names(root).filter { $0.starts(with: BytePathTests.b("out")) } == [BytePathTests.b("out") + [0xFF] + BytePathTests.b(".wav")])
    // A UTF-8 path keeps today's output: no *_bytes_hex key.
    let plain = try run([BytePathTests.b("audio"), BytePathTests.b("get"), BytePathTests.b("audio/u1/a.wav"), BytePathTests.b("-o"), BytePathTests.b("plain.wav")])
    #expect(plain.status == 0, "\(plain.stderr)")
    let plainJSON = try jsonObject(plain.stdout)
    #expect(plainJSON["path"] as? String == scratch.path + "/plain.wav")
    #expect(plainJSON["path_bytes_hex"] == nil)
  }

  @Test func audioGetManyIntoADirectoryWhoseNameIsNotUTF8() throws {
    try create(root + BytePathTests.b("/a.wav"), sample(100))
    try create(root + BytePathTests.b("/b.wav"), sample(200))
    #expect(try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("a.wav"), BytePathTests.b("b.wav")]).status == 0)
    let directory = root + BytePathTests.b("/d") + [0xFE]
    #expect(mkdir(directory.map { CChar(bitPattern: $0) } + [0], 0o700) == 0)
    let r = try run([
      BytePathTests.b("audio"), BytePathTests.b("get"), BytePathTests.b("audio/u1/a.wav"), BytePathTests.b("audio/u1/b.wav"), BytePathTests.b("-o"), directory,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(contents(directory + BytePathTests.b("/a.wav")) == sample(100))
    #expect(contents(directory + BytePathTests.b("/b.wav")) == sample(200))
    let items = try #require(try jsonObject(r.stdout)["items"] as? [[String: Any]])
    #expect(items.map { $0["path"] as? String } == [scratch.path + #"/d\xFE/a.wav"#, scratch.path + #"/d\xFE/b.wav"#])
    #expect(items.map { $0["path_bytes_hex"] as? String } == [BytePathTests.hex(directory + BytePathTests.b("/a.wav")), BytePathTests.hex(directory + BytePathTests.b("/b.wav"))])
  }

  @Test func patternImportReadsAFileWhoseNameIsNotUTF8() throws {
    let file = BytePathTests.b("p") + [0xFF] + BytePathTests.b(".ndjson")
    try create(root + [0x2F] + file, BytePathTests.b(#"{"user_id":1,"type":"t","key":"k","value":5}"# + "\n"))
    let r = try run([BytePathTests.b("pattern"), BytePathTests.b("import"), file])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == #"{"imported":1,"source":"p\\xFF.ndjson","source_bytes_hex":"70ff2e6e646a736f6e"}"# + "\n")
    let get = try run([BytePathTests.b("pattern"), BytePathTests.b("get"), BytePathTests.b("1"), BytePathTests.b("t"), BytePathTests.b("k")])
    #expect((try jsonObject(get.stdout))["value"] as? Int == 5)
  }

  @Test func dbBackupAndRestoreUsePathsThatAreNotUTF8() throws {
    #expect(try run([BytePathTests.b("pattern"), BytePathTests.b("set"), BytePathTests.b("1"), BytePathTests.b("t"), BytePathTests.b("k"), BytePathTests.b("1")]).status == 0)
    let dest = root + BytePathTests.b("/b") + [0xFE] + BytePathTests.b(".sqlite3")
    let r = try run([BytePathTests.b("db"), BytePathTests.b("backup"), dest])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try jsonObject(r.stdout)
    #expect(json["destination"] as? String == scratch.path + #"/b\xFE.sqlite3"#)
    #expect(json["destination_bytes_hex"] as? String == BytePathTests.hex(dest))
    let copy = try #require(contents(dest))
    #expect(Array(copy.prefix(16)) == BytePathTests.b("SQLite format 3") + [0])
    // Nothing but the backup (no temporary, no -journal, no mangled twin) appeared.
    #expect(names(root).filter { $0.starts(with: BytePathTests.b("b")) || $0.starts(with: BytePathTests.b(".b")) } == [BytePathTests.b("b") + [0xFE] + BytePathTests.b(".sqlite3")])
    // --force replaces it (by rename, beside it) under the same bytes.
    let again = try run([BytePathTests.b("db"), BytePathTests.b("backup"), dest, BytePathTests.b("--force")])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(names(root).filter { $0.starts(with: BytePathTests.b("b")) || $0.starts(with: BytePathTests.b(".b")) } == [BytePathTests.b("b") + [0xFE] + BytePathTests.b(".sqlite3")])
    // Change the live database, then restore the backup by its byte name.
    #expect(try run([BytePathTests.b("pattern"), BytePathTests.b("set"), BytePathTests.b("1"), BytePathTests.b("t"), BytePathTests.b("k"), BytePathTests.b("2")]).status == 0)
    let restore = try run([BytePathTests.b("db"), BytePathTests.b("restore"), dest])
    #expect(restore.status == 0, "\(restore.stderr)")
    let restored = try jsonObject(restore.stdout)
    #expect(restored["source"] as? String == scratch.path + #"/b\xFE.sqlite3"#)
    #expect(restored["source_bytes_hex"] as? String == BytePathTests.hex(dest))
    let get = try run([BytePathTests.b("pattern"), BytePathTests.b("get"), BytePathTests.b("1"), BytePathTests.b("t"), BytePathTests.b("k")])
    #expect((try jsonObject(get.stdout))["value"] as? Int == 1)
  }

  @Test func profileStoreAndGetUsePathsThatAreNotUTF8() throws {
    let data = sample(500)
    try create(root + BytePathTests.b("/s") + [0xFF] + BytePathTests.b(".wav"), data)
    let r = try run([BytePathTests.b("profile"), BytePathTests.b("store"), BytePathTests.b("u1"), BytePathTests.b("p1"), BytePathTests.b("s") + [0xFF] + BytePathTests.b(".wav")])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(contents(root + BytePathTests.b("/data/objects/voice_profiles/u1/p1/sample_0.wav")) == data)
    let directory = root + BytePathTests.b("/o") + [0xFF]
    let get = try run([BytePathTests.b("profile"), BytePathTests.b("get"), BytePathTests.b("u1"), BytePathTests.b("p1"), BytePathTests.b("-o"), directory])
    #expect(get.status == 0, "\(get.stderr)")
    #expect(contents(directory + BytePathTests.b("/sample_0.wav")) == data)
    let json = try jsonObject(get.stdout)
    #expect(json["files"] as? [String] == [scratch.path + #"/o\xFF/sample_0.wav"#])
    #expect(json["files_bytes_hex"] as? [String] == [BytePathTests.hex(directory + BytePathTests.b("/sample_0.wav"))])
    #expect(names(root).filter { $0.starts(with: BytePathTests.b("o")) } == [BytePathTests.b("o") + [0xFF]])
  }

  @Test func userExportWritesIntoADirectoryWhoseNameIsNotUTF8() throws {
    #expect(try run([BytePathTests.b("pattern"), BytePathTests.b("set"), BytePathTests.b("7"), BytePathTests.b("t"), BytePathTests.b("k"), BytePathTests.b("1")]).status == 0)
    try create(root + BytePathTests.b("/a.wav"), sample(300))
    #expect(try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("7"), BytePathTests.b("a.wav")]).status == 0)
    let directory = root + BytePathTests.b("/d") + [0xFF] + BytePathTests.b("/inner")
    let r = try run([BytePathTests.b("user"), BytePathTests.b("export"), BytePathTests.b("7"), BytePathTests.b("-o"), directory])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try jsonObject(r.stdout)
    #expect(json["directory"] as? String == scratch.path + #"/d\xFF/inner"#)
    #expect(json["directory_bytes_hex"] as? String == BytePathTests.hex(directory))
    #expect(names(directory) == [BytePathTests.b("database.ndjson"), BytePathTests.b("manifest.json"), BytePathTests.b("objects")])
    #expect(contents(directory + BytePathTests.b("/objects/audio/7/a.wav")) == sample(300))
    #expect(String(decoding: try #require(contents(directory + BytePathTests.b("/database.ndjson"))), as: UTF8.self).contains(#""table":"user_patterns""#))
  }

  /// The working directory itself need not be UTF-8: relative paths are resolved against its bytes.
  @Test func relativePathsInAWorkingDirectoryThatIsNotUTF8() throws {
    let cwd = root + BytePathTests.b("/w") + [0xFF]
    #expect(mkdir(cwd.map { CChar(bitPattern: $0) } + [0], 0o700) == 0)
    let data = sample(700)
    try create(cwd + BytePathTests.b("/in.wav"), data)
    let put = try run([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("in.wav")], cwd: cwd)
    #expect(put.status == 0, "\(put.stderr)")
    let get = try run([BytePathTests.b("audio"), BytePathTests.b("get"), BytePathTests.b("audio/u1/in.wav"), BytePathTests.b("-o"), BytePathTests.b("out.wav")], cwd: cwd)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(contents(cwd + BytePathTests.b("/out.wav")) == data)
    #expect(try jsonObject(get.stdout)["path_bytes_hex"] as? String == BytePathTests.hex(cwd + BytePathTests.b("/out.wav")))
  }

  /// A relative path *setting* in such a working directory lands there too, not in a directory with a
  /// U+FFFD-mangled name (settings resolve through /proc/self/cwd then).
  @Test func relativeSettingsInAWorkingDirectoryThatIsNotUTF8() throws {
    let cwd = root + BytePathTests.b("/w") + [0xFF]
    #expect(mkdir(cwd.map { CChar(bitPattern: $0) } + [0], 0o700) == 0)
    let r = try run(
      [BytePathTests.b("--db"), BytePathTests.b("rel.sqlite3"), BytePathTests.b("pattern"), BytePathTests.b("set"), BytePathTests.b("1"), BytePathTests.b("t"), BytePathTests.b("k"), BytePathTests.b("v")],
      cwd: cwd)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(names(cwd).contains(BytePathTests.b("rel.sqlite3")))
    #expect(names(root) == [BytePathTests.b("w") + [0xFF]], "\(names(root).map { String(decoding: $0, as: UTF8.self) })")
  }

  /// Text stays text: a word that is not UTF-8 where the command wants text is refused (64), and the
  /// global path settings and `migrate --from` are not byte paths yet (64, "not supported").
  @Test func textThatIsNotUTF8IsStillRefused() throws {
    try create(root + BytePathTests.b("/a.wav"), sample(10))
    for (argv, needle) in [
      ([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u") + [0xFF], BytePathTests.b("a.wav")], "argument USER is not valid UTF-8"),
      ([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("a.wav"), BytePathTests.b("--name"), BytePathTests.b("n") + [0xFF]], "--name is not valid UTF-8"),
      ([BytePathTests.b("audio"), BytePathTests.b("put"), BytePathTests.b("u1"), BytePathTests.b("a.wav"), BytePathTests.b("--content-type"), BytePathTests.b("t") + [0xFF]], "--content-type is not valid UTF-8"),
      ([BytePathTests.b("audio"), BytePathTests.b("get"), BytePathTests.b("audio/u1/a") + [0xFF], BytePathTests.b("-o"), BytePathTests.b("x.wav")], "argument BLOB is not valid UTF-8"),
      ([BytePathTests.b("user"), BytePathTests.b("export"), BytePathTests.b("7") + [0xFF]], "argument USER is not valid UTF-8"),
    ] {
      let r = try run(argv)
      #expect(r.status == 64, "\(needle): \(r.stderr)")
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.contains(needle), "\(r.stderr)")
    }
    #expect(names(root).allSatisfy { !$0.starts(with: BytePathTests.b("x")) })
    #expect(contents(root + BytePathTests.b("/data/objects/audio/u1/a.wav")) == nil)
  }
}
