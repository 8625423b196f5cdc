import RexstoreCore

/// Builds the object store the configuration asks for: the local root, or a registered remote with
/// the local root as its fallback. Nothing here names a backend: the registry does.
extension Runtime {
  /// What a backend's constructor gets: the resolved settings and the facts of this run.
  func backendContext(_ config: Config, purpose: BackendContext.Purpose = .normal) -> BackendContext {
    var log: (@Sendable (String) -> Void)?
    if verbose {
      let sink = stderr
      let lines = LineLog { line in try? sink.write(JSONValue.record(["request": .string(line)]).serialized(.compact) + "\n") }
      log = { lines($0) }
    }
    return BackendContext(
      settings: config.values, environment: environment, localRoot: config.objects.value,
      temporaryDirectory: config.temporaryDirectory, cacheDirectory: config.cacheDirectory, purpose: purpose,
      requestLog: log)
  }

  /// The configured object store. With a remote, the local root stands behind it for writes the remote
  /// cannot take (unless --no-fallback) and for objects stored there earlier.
  public func objects() throws(RexstoreError) -> any ObjectStore {
    let config = try config()
    let local = LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds))
    // What a listing leaves out of the local root (a link, a FIFO) is named on stderr, as rclone does
    // for the links it skips; the exit status does not change.
    local.skippedEntry = skippedEntryWarner()
    guard let registration = config.remote else { return local }
    let window = OutageWindow(
      root: config.objects.value, windowMicroseconds: config.outageWindowMicroseconds, remote: registration.name.uppercased())
    let remote: Result<any RemoteObjectStore, RexstoreError>
    do throws(RexstoreError) {
      // Inside an outage window what still goes to the remote (a read with no local copy) is tried once.
      remote = .success(try registration.open(backendContext(config, purpose: window.recent() != nil ? .singleAttempt : .normal)))
    } catch {
      guard FallbackObjectStore.isOutage(error) else { throw error }
      remote = .failure(error)
    }
    let store = FallbackObjectStore(
      backend: registration.name, remote: remote, local: local, fallbackEnabled: !config.noFallback,
      warn: { [self] in warn($0) })
    store.window = window
    return store
  }

  /// The remote alone, for `migrate` (see `Config.migrationTarget`).
  public func migrationStore() throws(RexstoreError) -> any RemoteObjectStore {
    let config = try config()
    guard let registration = config.migrationTarget else {
      throw RexstoreError(
        .config, "migrate needs a remote backend, and --backend local was given",
        hint: "pass --backend NAME --bucket BUCKET")
    }
    return try registration.open(backendContext(config))
  }
}

extension Runtime {
  /// Voice profiles: the configured object store for samples, the app's dossiers for records, and
  /// the database for records rexstore 0.1 kept there (moved into the dossiers on first use).
  public func profiles() throws(RexstoreError) -> VoiceProfiles {
    let config = try config()
    return VoiceProfiles(
      dossiers: DossierDirectory(path: config.dossiers.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      objects: try objects(),
      local: LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      legacy: try store())
  }
}
