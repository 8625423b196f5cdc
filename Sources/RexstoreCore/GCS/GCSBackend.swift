import Glibc

/// Google Cloud Storage's registration: the settings it reads (the names the app and Google's
/// clients use), how `auto` picks it, how it is built, and how it signs URLs.
public enum GCSBackend {
  public static let settings: [SettingSpec] = [
    SettingSpec(
      "gcs_bucket", placeholder: "NAME", variables: ["GCS_BUCKET_NAME"], inFile: false,
      help: "the GCS bucket, as the app reads it (--bucket and the config file's bucket take it too)", section: "gcs"),
    SettingSpec(
      "credentials", flag: "credentials", placeholder: "FILE", variables: ["GOOGLE_APPLICATION_CREDENTIALS"], kind: .path,
      help: "service-account key or ADC file",
      environmentHelp: """
        service-account key or authorized-user file, as --credentials; signing needs a service-account key. \
        Without one, gcloud's application_default_credentials.json (under CLOUDSDK_CONFIG or ~/.config/gcloud) \
        is used, else the GCE metadata server
        """, section: "gcs", completion: .file),
    SettingSpec(
      "gcs_enabled", variables: ["ENABLE_GCS_STORAGE"], inFile: false, kind: .trueInAnyCase, defaultValue: "false",
      help: "true (any case) turns GCS on for the auto backend, as in the app", section: "gcs"),
    SettingSpec(
      "emulator_host", placeholder: "HOST:PORT", variables: ["STORAGE_EMULATOR_HOST"], inFile: false,
      help: "GCS emulator address; no credentials are used, and signed URLs use it as their host", section: "gcs"),
    SettingSpec(
      "gcs_endpoint", placeholder: "URL", variables: ["REXSTORE_GCS_ENDPOINT"],
      help: "another JSON API endpoint; credentials are still used", section: "gcs"),
    SettingSpec(
      "metadata_host", placeholder: "HOST", variables: ["GCE_METADATA_HOST"], inFile: false,
      help: "metadata server address (default 169.254.169.254)", section: "gcs"),
  ]

  public static let registration = BackendRegistration(
    name: "gcs", scheme: "gs", summary: "Google Cloud Storage (JSON API)", settings: settings, bucketKey: "gcs_bucket",
    capabilities: [.conditionalCreate, .conditionalOverwrite, .resumableUpload, .signedURLs, .contentTypes],
    selectedByAuto: { values in values.flag("gcs_enabled") && values.layered("bucket", "gcs_bucket") != nil },
    open: { context throws(RexstoreError) in try open(context) },
    describeCredentials: { context in describeCredentials(context) },
    sign: { input, context throws(RexstoreError) in try sign(input, context) })

  /// The JSON API endpoint: an emulator, an explicit endpoint, or Google's.
  public static func endpoint(_ values: SettingValues) -> String {
    if let emulator = values.text("emulator_host") { return GCSSettings.normalizedEndpoint(emulator) }
    if let endpoint = values.text("gcs_endpoint") { return GCSSettings.normalizedEndpoint(endpoint) }
    return "https://storage.googleapis.com"
  }

  public static func settings(_ context: BackendContext) throws(RexstoreError) -> GCSSettings {
    let values = context.settings
    guard let bucket = registration.bucket(in: values) else {
      throw RexstoreError(.config, "GCS needs a bucket", hint: "set --bucket or GCS_BUCKET_NAME")
    }
    var settings = GCSSettings(
      endpoint: endpoint(values), bucket: bucket, retry: RemoteTransport.retry(values),
      timeouts: RemoteTransport.timeouts(values))
    settings.spoolDirectory = context.localRoot + "/.rexstore-spool"
    settings.temporaryDirectory = context.temporaryDirectory
    settings.requestLog = context.requestLog
    RemoteTransport.adjust(&settings.retry, &settings.timeouts, for: context.purpose)
    return settings
  }

  static func open(_ context: BackendContext) throws(RexstoreError) -> any RemoteObjectStore {
    let settings = try settings(context)
    let credentials = try credentials(context)
    return try GCSObjectStore(
      settings: settings, tokens: TokenSource(credentials: credentials, cacheDirectory: context.cacheDirectory))
  }

  /// gcloud's ADC file, where gcloud keeps it (it need not exist).
  static func wellKnownCredentialsPath(_ environment: [String: String]) -> String? {
    if let dir = environment["CLOUDSDK_CONFIG"], !dir.isEmpty { return dir + "/application_default_credentials.json" }
    if let base = environment["XDG_CONFIG_HOME"], base.hasPrefix("/") {
      return base + "/gcloud/application_default_credentials.json"
    }
    guard let home = environment["HOME"], home.hasPrefix("/") else { return nil }
    return (home == "/" ? "" : home) + "/.config/gcloud/application_default_credentials.json"
  }

  static func wellKnownCredentials(_ context: BackendContext) -> String? {
    guard context.settings.text("credentials") == nil, let path = wellKnownCredentialsPath(context.environment),
      access(path, R_OK) == 0
    else { return nil }
    return path
  }

  /// Application Default Credentials, in their order: none under an emulator; the named file; gcloud's
  /// well-known file; the metadata server.
  public static func credentials(_ context: BackendContext) throws(RexstoreError) -> GCSCredentials {
    let values = context.settings
    if values.text("emulator_host") != nil { return .anonymous }
    if let path = values.path("credentials") { return try GCSCredentials.load(path: path) }
    if let path = wellKnownCredentials(context) { return try GCSCredentials.load(path: path) }
    if let host = values.text("metadata_host") { return .metadataServer(host: host) }
    // Off Google Cloud, asking 169.254.169.254 would only cost timeouts before the fallback.
    guard onGoogleCompute else {
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

  static func describeCredentials(_ context: BackendContext) -> String {
    let values = context.settings
    if values.text("emulator_host") != nil { return "none (emulator)" }
    if let path = values.path("credentials") { return path }
    if let path = wellKnownCredentials(context) { return path }
    if let host = values.text("metadata_host") { return "metadata server " + host }
    return onGoogleCompute ? "metadata server 169.254.169.254" : "none found"
  }

  /// A V4 signed URL from the service-account key, offline.
  static func sign(_ input: SignInput, _ context: BackendContext) throws(RexstoreError) -> SignedURLRequest.Result {
    for (name, given) in [("region", input.region), ("endpoint", input.endpoint)] where given != nil {
      throw RexstoreError.usage("--\(name) applies to s3:// URLs only")
    }
    let styleName = input.style ?? "path"
    guard let style = SignedURLRequest.Style(rawValue: styleName) else {
      throw RexstoreError.usage("--style must be path, virtual or bucket-bound, got '\(styleName)'")
    }
    var host: String?
    var scheme = input.scheme
    if let given = input.host {
      // `https://cdn.example.com` is taken apart as google-cloud-storage does; an explicit --scheme wins.
      let (prefix, bare) = splitScheme(given)
      host = bare
      scheme = scheme ?? prefix
    } else if style == .path, let emulator = context.settings.text("emulator_host") {
      // The emulator's address stands in for the default host; emulators speak plain http.
      let (prefix, bare) = splitScheme(emulator)
      host = bare.hasSuffix("/") ? String(bare.dropLast()) : bare
      scheme = scheme ?? prefix ?? "http"
    }
    let finalScheme = scheme ?? "https"
    guard finalScheme == "https" || finalScheme == "http" else {
      throw RexstoreError.usage("the scheme must be https or http, got '\(finalScheme)'")
    }
    let request = SignedURLRequest(
      bucket: input.bucket, object: input.object, method: input.method, expiresSeconds: input.expiresSeconds,
      at: input.at, headers: input.headers, query: input.query, contentType: input.contentType, style: style,
      host: host, scheme: finalScheme)
    // Checked before the key is read: a bad request never depends on the credentials.
    try request.validate()
    guard let path = context.settings.path("credentials") else {
      throw RexstoreError(
        .unavailable, "signing needs a service-account key and none is configured",
        hint: "set --credentials FILE or GOOGLE_APPLICATION_CREDENTIALS")
    }
    return try request.sign(with: try ServiceAccountKey.load(path: path))
  }

  /// `https://host:port` → ("https", "host:port"); a bare host has no scheme.
  static func splitScheme(_ text: String) -> (String?, String) {
    guard let range = text.firstRange(of: "://") else { return (nil, text) }
    return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
  }
}

extension ObjectInfo {
  /// GCS's generation number: the opaque version token, read as the number it is.
  var generation: Int64? {
    get { version.flatMap { Int64($0) } }
    set { version = newValue.map { String($0) } }
  }
}

extension GCSObjectStore: RemoteObjectStore, InPlaceGroupStore {
  public var location: String { "gs://" + bucket }
  var spoolDirectories: [String] { [client.settings.spoolDirectory, client.settings.temporaryDirectory] }

  func deleteVersion(_ name: String, _ version: String) throws(RexstoreError) -> Bool {
    guard let generation = Int64(version) else { return false }
    return try delete(name, generation: generation, client: client)
  }
  public var capabilities: BackendCapabilities { GCSBackend.registration.capabilities }

  public func put(
    _ name: String, from source: ByteSource, contentType: String, condition: WriteCondition
  ) throws(RexstoreError) -> ObjectInfo {
    switch condition {
    case .absent: return try put(name, from: source, contentType: contentType, ifGenerationMatch: 0)
    case .matches(let token):
      guard let generation = Int64(token), generation > 0 else {
        throw RexstoreError(.conflict, "'\(name)': '\(token)' is not a GCS generation")
      }
      return try put(name, from: source, contentType: contentType, ifGenerationMatch: generation)
    }
  }
}
