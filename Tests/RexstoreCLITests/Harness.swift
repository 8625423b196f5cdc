import Foundation
import RexstoreCLI
import RexstoreCore

/// Runs the CLI in-process against a private temporary root.
final class Harness {
  let root: String
  var environment: [String: String]

  init() {
    root = NSTemporaryDirectory() + "rexstore-cli-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    environment = ["HOME": root + "/home", "REXSTORE_ROOT": root + "/data", "XDG_CONFIG_HOME": root + "/config"]
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  var databasePath: String { root + "/data/rexstore.sqlite3" }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout parsed as JSON.
    var json: JSONValue? { try? JSONParser.parse(stdout) }
    /// The `error.code` of the stderr line.
    var errorCode: String? {
      guard let line = try? JSONParser.parse(stderr), case .string(let code)? = line["error"]?["code"] else {
        return nil
      }
      return code
    }
  }

  @discardableResult
  func run(_ arguments: [String], env extra: [String: String] = [:]) -> Result {
    let out = MemorySink()
    let err = MemorySink()
    let status = CLI.run(
      arguments: arguments, environment: environment.merging(extra) { $1 }, workingDirectory: root, stdout: out,
      stderr: err)
    return Result(status: status, stdout: out.text, stderr: err.text)
  }

  @discardableResult
  func run(_ arguments: String...) -> Result { run(arguments) }

  /// Replaces every RFC 3339 timestamp so golden output does not depend on the clock.
  static func normalized(_ text: String) -> String {
    text.replacingOccurrences(
      of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, with: "<TIME>", options: .regularExpression)
  }
}
