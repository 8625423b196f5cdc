import RexstoreCore

/// Builds the object store the configuration asks for: the local root, or GCS with the local root
/// as its fallback.
extension Config {
  /// The JSON API endpoint: an emulator, an explicit endpoint, or Google's.
  public var gcsEndpointURL: String {
    if let emulatorHost { return GCSSettings.normalizedEndpoint(emulatorHost.value) }
    if let gcsEndpoint { return GCSSettings.normalizedEndpoint(gcsEndpoint.value) }
    return "https://storage.googleapis.com"
  }

  func milliseconds(_ setting: Setting) -> Int {
    Int((try? DurationParser.microseconds(setting.value)) ?? 0) / 1000
  }

  public func gcsSettings(bucket named: String? = nil) throws(RexstoreError) -> GCSSettings {
    guard let bucket = named.map({ Setting(value: $0, source: "") }) ?? bucket else {
      throw RexstoreError(.config, "GCS needs a bucket", hint: "set --bucket or GCS_BUCKET_NAME")
    }
    let timeout = max(1, milliseconds(gcsTimeout) / 1000)
    var settings = GCSSettings(
      endpoint: gcsEndpointURL, bucket: bucket.value,
      retry: RetryPolicy(
        attempts: Int(gcsRetries.value) ?? 5, baseDelayMilliseconds: milliseconds(gcsRetryDelay),
        maxDelayMilliseconds: max(milliseconds(gcsRetryDelay), 16_000)),
      timeouts: HTTPTimeouts(
        connectMilliseconds: min(10_000, timeout * 1000), stallSeconds: timeout,
        deadlineMilliseconds: max(1, milliseconds(gcsDeadline))))
    settings.spoolDirectory = objects.value + "/.rexstore-spool"
    settings.temporaryDirectory = temporaryDirectory
    return settings
  }

  /// Application Default Credentials, in their order: none under an emulator; the named file; gcloud's
  /// well-known file; the metadata server.
  public func gcsCredentials() throws(RexstoreError) -> GCSCredentials {
    if emulatorHost != nil { return .anonymous }
    if let credentials { return try GCSCredentials.load(path: credentials.value) }
    if let wellKnownCredentials { return try GCSCredentials.load(path: wellKnownCredentials) }
    if let metadataHost { return .metadataServer(host: metadataHost.value) }
    // Off Google Cloud, asking 169.254.169.254 would only cost timeouts before the fallback.
    guard Config.onGoogleCompute else {
      throw RexstoreError(
        .unavailable, "no GCS credentials: no credentials file, no gcloud ADC file, and not on Google Cloud",
        hint: "set GOOGLE_APPLICATION_CREDENTIALS or --credentials")
    }
    return .metadataServer(host: "169.254.169.254")
  }

  /// What google-auth checks before it tries the metadata server: the DMI product name.
  static var onGoogleCompute: Bool {
    guard let name = try? FileSystem.readSmallFile("/sys/class/dmi/id/product_name", limit: 4096) else { return false }
    return name.hasPrefix("Google")
  }

  /// Which credentials a GCS request would use, for `health` (never the secret itself).
  public var credentialsSource: String {
    if emulatorHost != nil { return "none (emulator)" }
    if let credentials { return credentials.value }
    if let wellKnownCredentials { return wellKnownCredentials }
    if let metadataHost { return "metadata server " + metadataHost.value }
    return Config.onGoogleCompute ? "metadata server 169.254.169.254" : "none found"
  }
}

extension Runtime {
  /// The configured object store. With GCS, the local root stands behind it for writes GCS cannot
  /// take (unless --no-fallback) and for objects stored there earlier.
  public func objects() throws(RexstoreError) -> any ObjectStore {
    let config = try config()
    let local = LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds))
    if config.effectiveBackend == "s3" { return try s3Store() }
    guard config.effectiveBackend == "gcs" else { return local }
    let window = OutageWindow(
      root: config.objects.value, windowMicroseconds: (try? DurationParser.microseconds(config.outageWindow.value)) ?? 0)
    let gcs: Result<GCSObjectStore, RexstoreError>
    do throws(RexstoreError) {
      gcs = .success(try gcsStore(singleAttempt: window.recent() != nil))
    } catch {
      guard FallbackObjectStore.isOutage(error) else { throw error }
      gcs = .failure(error)
    }
    let store = FallbackObjectStore(
      gcs: gcs, local: local, fallbackEnabled: config.noFallback.value != "true", warn: { [self] in warn($0) })
    store.window = window
    return store
  }

  /// The bucket alone, for commands that need GCS itself (`health`, `migrate`).
  public func gcsStore(probe: Bool = false, singleAttempt: Bool = false) throws(RexstoreError) -> GCSObjectStore {
    let config = try config()
    var settings = try config.gcsSettings()
    // Inside an outage window what still goes to GCS (a read with no local copy) is tried once.
    if singleAttempt { settings.retry.attempts = 1 }
    if verbose {
      let sink = stderr
      let log = LineLog { line in try? sink.write(JSONValue.record(["request": .string(line)]).serialized(.compact) + "\n") }
      settings.requestLog = { log($0) }
    }
    if probe {
      settings.retry.attempts = min(settings.retry.attempts, 2)
      // A monitoring check must answer: each probe request gets at most 10 s in all (less if
      // gcs_deadline says so), two tries.
      settings.timeouts = HTTPTimeouts(
        connectMilliseconds: 3_000, stallSeconds: 5,
        deadlineMilliseconds: min(10_000, settings.timeouts.deadlineMilliseconds))
      settings.retry.deadlineMilliseconds = min(settings.retry.deadlineMilliseconds, 10_000)
    }
    let credentials = try config.gcsCredentials()
    return try GCSObjectStore(
      settings: settings, tokens: TokenSource(credentials: credentials, cacheDirectory: config.cacheDirectory))
  }
}

extension Runtime {
  /// Voice profiles: the configured object store for samples, the app's dossiers for records, and
  /// the database for records rexstore 0.1 kept there (moved into the dossiers on first use).
  public func profiles() throws(RexstoreError) -> VoiceProfiles {
    let config = try config()
    // S3 (issue 11, minimal wiring): profile records name only `gcs` or local storage until the
    // backend seam lets them name any remote, so on the s3 backend profiles stay in the local root.
    let samples: any ObjectStore = config.effectiveBackend == "s3"
      ? LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds))
      : try objects()
    return VoiceProfiles(
      dossiers: DossierDirectory(path: config.dossiers.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      objects: samples,
      local: LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      legacy: try store())
  }
}

// MARK: - S3 (issue 11): minimal wiring, to be replaced by the backend registry.

extension Runtime {
  /// The S3 bucket `--backend s3` names, from the AWS CLI's variables and shared files (see
  /// `S3Settings.resolve` and `S3Credentials.resolve`), with rexstore's retry and timeout settings.
  /// No local fallback yet: that comes with the fallback store over any remote.
  /// `REXSTORE_S3_PART_SIZE` / `REXSTORE_S3_MULTIPART_THRESHOLD` (bytes, or with KiB/MiB/GiB),
  /// `REXSTORE_S3_PART_CONCURRENCY` (parts on the wire at once) and
  /// `REXSTORE_S3_CONDITIONAL_WRITES` (true/false: whether the server honours If-None-Match) tune it.
  public func s3Store() throws(RexstoreError) -> S3ObjectStore {
    let config = try config()
    let readFile: (String) -> String? = { path in try? FileSystem.readSmallFile(path, limit: 1 << 20) }
    // --bucket or a config file's bucket; GCS_BUCKET_NAME names the GCS bucket, not this one.
    let bucket = config.bucket.flatMap { $0.source == "env:GCS_BUCKET_NAME" ? nil : $0.value }
    var settings = try S3Settings.resolve(environment: environment, readFile: readFile, bucket: bucket)
    let gcs = try config.gcsSettings(bucket: settings.bucket)
    settings.retry = gcs.retry
    settings.timeouts = gcs.timeouts
    settings.spoolDirectory = gcs.spoolDirectory
    settings.temporaryDirectory = gcs.temporaryDirectory
    func size(_ name: String) throws(RexstoreError) -> Int? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      guard let bytes = S3Settings.parseSize(text) else {
        throw RexstoreError(.config, "\(name) must be a size in bytes (or with KiB, MiB, GiB), got '\(text)'")
      }
      return bytes
    }
    if let part = try size("REXSTORE_S3_PART_SIZE") {
      settings.partSize = part
      settings.multipartThreshold = part
    }
    if let threshold = try size("REXSTORE_S3_MULTIPART_THRESHOLD") { settings.multipartThreshold = threshold }
    if let text = environment["REXSTORE_S3_PART_CONCURRENCY"], !text.isEmpty {
      guard let width = Int(text), (1...64).contains(width) else {
        throw RexstoreError(.config, "REXSTORE_S3_PART_CONCURRENCY must be a whole number from 1 to 64, got '\(text)'")
      }
      settings.partConcurrency = width
    }
    if let flag = environment["REXSTORE_S3_CONDITIONAL_WRITES"], !flag.isEmpty {
      settings.conditionalWrites = ["1", "true", "yes"].contains(flag.lowercased())
    }
    if verbose {
      let sink = stderr
      let log = LineLog { line in try? sink.write(JSONValue.record(["request": .string(line)]).serialized(.compact) + "\n") }
      settings.requestLog = { log($0) }
    }
    let credentials = try S3Credentials.require(environment: environment, readFile: readFile)
    return try S3ObjectStore(settings: settings, credentials: credentials.credentials)
  }
}
