import Foundation
import RexstoreCore
import Testing

@testable import RexstoreCLI

/// Settings are declared once (issue 11): everything that lists them is generated from the
/// declarations, and the README's table (written by hand) names each of them.
@Suite struct SettingsTests {
  @Test func everyVariableAndConfigKeyIsInTheReadmeAndTheManPage() throws {
    let readme = try String(contentsOf: GeneratedFilesTests.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
    let man = ManPage.render()
    for spec in Settings.all {
      for variable in spec.variables {
        #expect(readme.contains("`\(variable)"), "README does not name \(variable)")
        #expect(man.contains("Ev \(variable)"), "the man page does not name \(variable)")
      }
      if spec.inFile {
        #expect(readme.contains("`\(spec.key)`"), "README does not name the config key \(spec.key)")
      }
    }
  }

  @Test func globalOptionsAreTheDeclaredFlags() {
    let declared = Settings.all.compactMap(\.flag)
    let options = CommandTable.globalOptions.map(\.long)
    for flag in declared { #expect(options.contains(flag), "--\(flag) is declared but not an option") }
    // --backend offers exactly the registered backends.
    let backend = CommandTable.globalOptions.first { $0.long == "backend" }
    #expect(backend?.completion == .choices(["auto"] + Backends.registered.map(\.name) + ["local"]))
  }

  @Test func theManPageExitStatusSectionIsTheTable() {
    let man = ManPage.render()
    for row in ExitStatus.table {
      #expect(man.contains(".It \(row.status)\n"))
      for code in row.codes { #expect(ExitStatus.of(code) == row.status) }
    }
    // Every error code has exactly one status.
    for code in ErrorCode.allCases {
      #expect(ExitStatus.table.filter { $0.codes.contains(code) }.count == 1, "\(code)")
    }
  }

  @Test func newTransportNamesWinOverTheRoundOneNames() {
    let h = Harness()
    let both = h.run(["config", "show", "--origin"], env: ["REXSTORE_RETRIES": "3", "REXSTORE_GCS_RETRIES": "7"])
    #expect(both.json?["retries"] == .record(["source": .string("env:REXSTORE_RETRIES"), "value": .int(3)]))
    let old = h.run(["config", "show"], env: ["REXSTORE_GCS_RETRIES": "7"])
    #expect(old.json?["retries"] == .int(7))
    let bad = h.run(["config", "show"], env: ["REXSTORE_GCS_RETRIES": "0"])
    #expect(bad.status == 78)
    #expect(bad.stderr.contains("retries (env:REXSTORE_GCS_RETRIES): must be a whole number from 1 to 100"))
  }

  @Test func theCanonicalConfigKeyWinsOverItsAlias() throws {
    let h = Harness()
    let file = h.root + "/config.json"
    try #"{"retries": 2, "gcs_retries": 9}"#.write(toFile: file, atomically: true, encoding: .utf8)
    #expect(h.run(["--config", file, "config", "show"]).json?["retries"] == .int(2))
    try #"{"gcs_retries": 9, "retries": 2}"#.write(toFile: file, atomically: true, encoding: .utf8)
    #expect(h.run(["--config", file, "config", "show"]).json?["retries"] == .int(2))
  }

  @Test func theBucketFlagWinsThenTheBackendsVariableThenTheFile() throws {
    let h = Harness()
    let file = h.root + "/config.json"
    try #"{"bucket": "from-file"}"#.write(toFile: file, atomically: true, encoding: .utf8)
    func bucket(_ flag: String?, _ variable: String?) throws -> String? {
      var env = ["HOME": h.root, "ENABLE_GCS_STORAGE": "true"]
      if let variable { env["GCS_BUCKET_NAME"] = variable }
      var options = ["config": [file]]
      if let flag { options["bucket"] = [flag] }
      let config = try Config.resolve(options: options, environment: env, workingDirectory: h.root)
      #expect(config.effectiveBackend == "gcs")
      return config.remote?.bucket(in: config.values)
    }
    #expect(try bucket(nil, nil) == "from-file")
    #expect(try bucket(nil, "from-env") == "from-env")
    #expect(try bucket("from-flag", "from-env") == "from-flag")
  }
}

/// Presentation lives in the CLI (issue 11): the core returns typed values and defines no output JSON.
@Suite struct PresentationLayerTests {
  @Test func theCoreDefinesNoOutputJSON() throws {
    let core = GeneratedFilesTests.packageRoot.appendingPathComponent("Sources/RexstoreCore")
    let files = FileManager.default.enumerator(atPath: core.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
    #expect(!files.isEmpty)
    for file in files {
      let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
      #expect(!text.contains("var json: JSONValue"), "\(file) defines output JSON; put it in Sources/RexstoreCLI/Presentation")
    }
  }
}

/// Review (session 14) #11: a password in an endpoint URL is never shown.
@Suite struct EndpointPasswordTests {
  @Test func maskedInTextAndInConfigShow() {
    #expect(URLText.maskingPasswords(in: "no answer from http://u:PASSW0RD@h:9/x (x)") == "no answer from http://u:REDACTED@h:9/x (x)")
    #expect(URLText.maskingPasswords(in: "https://host/a@b") == "https://host/a@b")
    #expect(URLText.maskingPasswords(in: "a http://u@h b https://x:y@z") == "a http://u@h b https://x:REDACTED@z")
    let h = Harness()
    let r = h.run(["config", "show", "--origin"], env: ["AWS_ENDPOINT_URL": "http://u:PASSW0RD@127.0.0.1:9", "STORAGE_EMULATOR_HOST": "http://e:SECRET2@127.0.0.1:9"])
    #expect(r.status == 0)
    #expect(!r.stdout.contains("PASSW0RD") && !r.stdout.contains("SECRET2"), "\(r.stdout)")
    #expect(r.stdout.contains("u:REDACTED@127.0.0.1:9"))
  }
}
