import RexstoreCore

/// What a command may reach: configuration and the store, both resolved on first use, and stdout for
/// commands that stream. Help, version and completion never touch either.
public final class Runtime {
  public let environment: [String: String]
  public let workingDirectory: String
  let globalOptions: [String: [String]]
  let stdout: any OutputSink
  let stderr: any OutputSink
  /// Variables whose values were not valid UTF-8 (their text here is an escaped stand-in).
  var invalidEnvironment: Set<String> = []
  /// Those variables' values as bytes (for path settings that will take bytes).
  public var rawEnvironment: [String: FilePathBytes] = [:]
  /// Every option value as argv's bytes (`Invocation.rawOptions`), for settings that will take byte paths.
  public var rawOptions: [String: [[UInt8]]] = [:]
  /// The working directory as bytes: relative byte paths are resolved against it (it need not be UTF-8).
  public var workingDirectoryBytes: FilePathBytes
  private var resolved: Config?
  private var openedStore: Store?

  init(
    environment: [String: String], workingDirectory: String, options: [String: [String]], stdout: any OutputSink,
    stderr: any OutputSink
  ) {
    self.environment = environment
    self.workingDirectory = workingDirectory
    self.workingDirectoryBytes = FilePathBytes(workingDirectory)
    self.globalOptions = options
    self.stdout = stdout
    self.stderr = stderr
  }

  public func config() throws(RexstoreError) -> Config {
    if let resolved { return resolved }
    // A setting read from a variable that is not valid UTF-8 would name a different file: refuse.
    // Path settings take their variables' bytes as they are.
    if let name = invalidEnvironment.filter({ Settings.readsVariable($0) && !Settings.isPathVariable($0) }).sorted().first {
      throw RexstoreError(
        .config, "environment variable \(name) is not valid UTF-8: paths and settings that are not valid UTF-8 are not supported")
    }
    let config = try Config.resolve(
      options: globalOptions, environment: environment, workingDirectory: workingDirectory, rawOptions: rawOptions,
      rawEnvironment: rawEnvironment, workingDirectoryBytes: workingDirectoryBytes)
    resolved = config
    return config
  }

  public func store() throws(RexstoreError) -> Store {
    if let openedStore { return openedStore }
    let config = try config()
    let store = Store(path: config.database.value, busyTimeoutMilliseconds: config.busyTimeoutMilliseconds)
    openedStore = store
    return store
  }

  /// Resolves a path argument against the working directory.
  public func absolute(_ path: String) -> String {
    FileSystem.absolute(path, in: workingDirectory)
  }

  /// Resolves a path given as bytes against the working directory, bytes unchanged.
  public func absolute(_ path: FilePathBytes) -> FilePathBytes {
    path.absolute(in: workingDirectoryBytes)
  }

  var pretty: Bool { globalOptions["pretty"] != nil }
  var ndjson: Bool { globalOptions["ndjson"] != nil }
  var quiet: Bool { globalOptions["quiet"] != nil }
  /// `-v`: each request to a remote store is logged on stderr.
  var verbose: Bool { globalOptions["verbose"] != nil }

  /// A `{"warning":...}` line on stderr unless `--quiet`.
  public func warn(_ message: String) {
    guard !quiet else { return }
    try? stderr.write(JSONValue.record(["warning": .string(URLText.maskingPasswords(in: message))]).serialized(.compact) + "\n")
  }

  /// How many entries a listing's warnings name before one line says the rest are not named.
  static let skippedEntryWarnings = 20

  /// Warns about the entries a listing of the local root leaves out (links, FIFOs, names that are not
  /// UTF-8): the first `skippedEntryWarnings` by name, then one line for the rest, so a cron job over a
  /// root full of dangling links does not write a warning per entry on every run.
  func skippedEntryWarner() -> (String) -> Void {
    var count = 0
    return { [self] message in
      count += 1
      if count <= Runtime.skippedEntryWarnings {
        warn(message)
      } else if count == Runtime.skippedEntryWarnings + 1 {
        warn("more entries of the local object root were left out; only the first \(Runtime.skippedEntryWarnings) are named")
      }
    }
  }

  /// Serialises one JSON document in the chosen style.
  func render(_ value: JSONValue) -> String {
    value.serialized(pretty ? .pretty : .compact) + "\n"
  }
}
