import Foundation
import Testing

/// Runs the built `rexstore` binary (or `$REXSTORE_BIN`) and other programs as real processes.
///
/// Output goes to temporary files rather than pipes, so a child that writes more than a pipe buffer
/// never deadlocks against a parent that waits first (the pitfall of swift-argument-parser's helper).
struct Processes {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// The binary the tests run: `$REXSTORE_BIN` when set (taken as it is), else the `rexstore` that the
  /// same `swift build`/`swift test` put beside this test bundle (so `--scratch-path .build-tsan` or a
  /// release configuration run their own binary), else `.build/debug/rexstore`. A binary that is
  /// missing or older than any file under Sources/ or Package.swift fails every test that uses it,
  /// naming the binary and the newer source, instead of testing yesterday's code.
  static var binary: String {
    let found = located
    if let problem = found.problem { Issue.record(Comment(rawValue: problem)) }
    return found.path
  }

  static let located: (path: String, problem: String?) = locate()

  static func locate() -> (path: String, problem: String?) {
    if let path = ProcessInfo.processInfo.environment["REXSTORE_BIN"], !path.isEmpty { return (path, nil) }
    let fm = FileManager.default
    let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments.first ?? "").resolvingSymlinksInPath()
    let candidates = [bundle.deletingLastPathComponent().appendingPathComponent("rexstore").path, packageRoot + "/.build/debug/rexstore"]
    guard let path = candidates.first(where: { fm.isExecutableFile(atPath: $0) }) else {
      return (candidates.last!, "no rexstore binary at \(candidates.joined(separator: " or ")): run 'swift build' first")
    }
    return (path, staleness(of: path, root: packageRoot))
  }

  /// Why the binary at `path` cannot be trusted for the package at `root`, or nil when it is newer
  /// than every source.
  static func staleness(of path: String, root: String) -> String? {
    guard let built = modified(path), let (source, changed) = newestSource(root: root), changed > built else { return nil }
    return "\(path) is older than \(source) (built \(built), source changed \(changed)): run 'swift build' (or set REXSTORE_BIN) so the end-to-end tests run the current code"
  }

  static func modified(_ path: String) -> Date? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
  }

  /// The most recently modified file among Package.swift and everything under Sources/ of `root`.
  static func newestSource(root: String) -> (String, Date)? {
    let fm = FileManager.default
    var newest: (String, Date)? = modified(root + "/Package.swift").map { ("Package.swift", $0) }
    let sources = root + "/Sources"
    guard let walk = fm.enumerator(atPath: sources) else { return newest }
    while let relative = walk.nextObject() as? String {
      guard let date = modified(sources + "/" + relative), date > (newest?.1 ?? .distantPast) else { continue }
      var isDirectory: ObjCBool = false
      if fm.fileExists(atPath: sources + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
        newest = ("Sources/" + relative, date)
      }
    }
    return newest
  }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// A scratch directory per test, removed when the value goes away.
  final class Scratch {
    let path: String
    init() {
      path = NSTemporaryDirectory() + "rexstore-e2e-\(UUID().uuidString)"
      try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    var environment: [String: String] {
      ["HOME": path + "/home", "REXSTORE_ROOT": path + "/data", "PYTHONDONTWRITEBYTECODE": "1", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    }
    var database: String { path + "/data/rexstore.sqlite3" }
  }

  static func run(
    _ executable: String, _ arguments: [String], environment: [String: String], stdin: String? = nil,
    directory: String? = nil
  ) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let outPath = NSTemporaryDirectory() + "rexstore-out-\(UUID().uuidString)"
    let errPath = outPath + ".err"
    FileManager.default.createFile(atPath: outPath, contents: nil)
    FileManager.default.createFile(atPath: errPath, contents: nil)
    defer {
      try? FileManager.default.removeItem(atPath: outPath)
      try? FileManager.default.removeItem(atPath: errPath)
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = out
    process.standardError = err
    var inPath: String?
    if let stdin {
      let path = outPath + ".in"
      try stdin.write(toFile: path, atomically: true, encoding: .utf8)
      process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
      inPath = path
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    if let inPath { try? FileManager.default.removeItem(atPath: inPath) }
    return Result(
      status: process.terminationStatus, stdout: try String(contentsOfFile: outPath, encoding: .utf8),
      stderr: try String(contentsOfFile: errPath, encoding: .utf8))
  }

  static func rexstore(_ arguments: [String], in scratch: Scratch, stdin: String? = nil) throws -> Result {
    try run(binary, arguments, environment: scratch.environment, stdin: stdin, directory: scratch.path)
  }

  /// Runs a Python snippet with `python3` from PATH; it gets the database path as `sys.argv[1]`.
  static func python(_ code: String, _ arguments: [String], in scratch: Scratch) throws -> Result {
    let script = scratch.path + "/script-\(UUID().uuidString).py"
    try code.write(toFile: script, atomically: true, encoding: .utf8)
    return try run("/usr/bin/env", ["python3", script] + arguments, environment: scratch.environment)
  }

  /// Starts rexstore with a pipe on its stdin (output discarded), for tests that feed or stall it.
  static func startWithInput(_ arguments: [String], in scratch: Scratch) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.environment = scratch.environment
    process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
    let input = Pipe()
    process.standardInput = input
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return (process, input)
  }

  /// Starts a process without waiting (for races); output is discarded into files the caller names.
  static func start(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }
}
