import Glibc
import RexstoreCore

/// One resolved setting and where it came from (`flag:--db`, `env:REXSTORE_DB`, `file:PATH`, `default`).
public struct Setting: Sendable, Equatable {
  public var value: String
  public var source: String

  var json: JSONValue { .record(["value": .string(value), "source": .string(source)]) }
}

/// Configuration resolved once per run: flag, then environment, then config file, then default.
public struct Config: Sendable {
  public var root: Setting
  public var database: Setting
  public var objects: Setting
  /// The app's working directory, when rexstore works on the app's own data (`--app-dir`).
  public var appDirectory: Setting?
  /// Where the app's dossiers (voice-profile records) are.
  public var dossiers: Setting
  public var busyTimeout: Setting
  public var configFile: Setting?
  public var busyTimeoutMilliseconds: Int32
  /// `auto`, `gcs`, `s3` or `local`.
  public var backend: Setting
  public var bucket: Setting?
  public var credentials: Setting?
  /// `ENABLE_GCS_STORAGE` as the app reads it: `true` in any case turns GCS on for `auto`.
  public var gcsEnabled: Setting
  public var emulatorHost: Setting?
  /// Another JSON API endpoint that, unlike the emulator variable, still takes credentials.
  public var gcsEndpoint: Setting?
  /// `true` when writes must not fall back to the local root.
  public var noFallback: Setting
  public var gcsRetries: Setting
  public var gcsRetryDelay: Setting
  public var gcsTimeout: Setting
  /// The most one GCS request may take in all (a request moving a body gets more, by its size).
  public var gcsDeadline: Setting
  /// How long an outage one invocation saw sends later ones straight to the fallback.
  public var outageWindow: Setting
  /// `GCE_METADATA_HOST`, for the metadata server's tokens.
  public var metadataHost: Setting?
  /// Where access tokens are cached: `$XDG_CACHE_HOME/rexstore`.
  public var cacheDirectory: String?
  /// Where gcloud keeps its ADC file (`application_default_credentials.json`).
  var wellKnownCredentialsPath: String?
  /// gcloud's well-known ADC file, when no credentials file is named and it exists.
  public var wellKnownCredentials: String? {
    guard credentials == nil, let path = wellKnownCredentialsPath, access(path, R_OK) == 0 else { return nil }
    return path
  }
  /// `$TMPDIR` if absolute, else /tmp.
  public var temporaryDirectory: String = "/tmp"

  /// The backend `auto` resolves to: GCS when enabled and a bucket is configured, else local.
  public var effectiveBackend: String {
    if backend.value != "auto" { return backend.value }
    return gcsEnabled.value == "true" && bucket != nil ? "gcs" : "local"
  }

  /// Keys a config file may hold; anything else is an ops typo and fails loudly.
  static let fileKeys: Set<String> = [
    "root", "db", "objects", "app_dir", "dossiers", "busy_timeout", "backend", "bucket", "credentials", "no_fallback", "gcs_endpoint",
    "gcs_retries", "gcs_retry_delay", "gcs_timeout", "outage_window", "gcs_deadline",
  ]

  public var json: JSONValue {
    .record([
      "root": root.json, "db": database.json, "objects": objects.json, "app_dir": appDirectory?.json ?? .null,
      "dossiers": dossiers.json, "busy_timeout": busyTimeout.json,
      "config_file": configFile?.json ?? .null, "backend": backend.json, "effective_backend": .string(effectiveBackend),
      "bucket": bucket?.json ?? .null, "credentials": credentials?.json ?? .null, "gcs_enabled": gcsEnabled.json,
      "emulator_host": emulatorHost?.json ?? .null, "gcs_endpoint": gcsEndpoint?.json ?? .null,
      "no_fallback": noFallback.json, "gcs_retries": gcsRetries.json, "gcs_retry_delay": gcsRetryDelay.json,
      "gcs_timeout": gcsTimeout.json, "outage_window": outageWindow.json, "gcs_deadline": gcsDeadline.json, "metadata_host": metadataHost?.json ?? .null,
    ])
  }

  public static func resolve(
    options: [String: [String]], environment: [String: String], workingDirectory: String
  ) throws(RexstoreError) -> Config {
    // `~` and `~/...` in a path from the environment or a config file mean $HOME, as a shell would
    // have expanded them on the command line.
    func absolute(_ path: String) -> String {
      if let home = environment["HOME"], home.hasPrefix("/"), path == "~" || path.hasPrefix("~/") {
        return (home == "/" ? "" : home) + path.dropFirst()
      }
      return FileSystem.absolute(path, in: workingDirectory)
    }
    func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }

    // The config file itself: named by flag or variable (must exist), or the XDG default (if present).
    var configFile: Setting?
    var file: [String: String] = [:]
    if let named = options["config"]?.last {
      configFile = Setting(value: absolute(named), source: "flag:--config")
    } else if let named = nonEmpty(environment["REXSTORE_CONFIG"]) {
      configFile = Setting(value: absolute(named), source: "env:REXSTORE_CONFIG")
    } else if let base = xdg("XDG_CONFIG_HOME", ".config", environment) {
      let path = base + "/rexstore/config.json"
      if access(path, F_OK) == 0 { configFile = Setting(value: path, source: "default") }
    }
    if let configFile { file = try readConfigFile(configFile.value) }
    let fileSource = "file:" + (configFile?.value ?? "")

    func pick(_ flag: String, _ env: String, _ key: String) -> Setting? {
      if let v = options[flag]?.last { return Setting(value: v, source: "flag:--\(flag)") }
      if let v = nonEmpty(environment[env]) { return Setting(value: v, source: "env:\(env)") }
      if let v = file[key] { return Setting(value: v, source: fileSource) }
      return nil
    }

    // --app-dir puts the defaults where the app keeps its data (its working directory): RexVoice.db,
    // the objects beside it, dossiers/. An explicit --db, --objects or --dossiers still wins.
    var appDirectory = pick("app-dir", "REXSTORE_APP_DIR", "app_dir")
    if let dir = appDirectory?.value { appDirectory?.value = absolute(dir) }
    var root: Setting
    if let chosen = pick("root", "REXSTORE_ROOT", "root") {
      root = chosen
      root.value = absolute(root.value)
    } else if let base = xdg("XDG_DATA_HOME", ".local/share", environment) {
      root = Setting(value: base + "/rexstore", source: "default")
    } else if let appDirectory {
      root = appDirectory
    } else {
      throw RexstoreError(
        .config, "cannot locate the data directory: HOME is not set",
        hint: "set --root, REXSTORE_ROOT or --db")
    }
    func derived(_ suffix: String, fallback: String) -> Setting {
      if let app = appDirectory { return Setting(value: app.value + suffix, source: app.source) }
      return Setting(value: root.value + fallback, source: "default")
    }
    var database = pick("db", "REXSTORE_DB", "db") ?? derived("/RexVoice.db", fallback: "/rexstore.sqlite3")
    database.value = absolute(database.value)
    var objects = pick("objects", "REXSTORE_OBJECTS", "objects") ?? derived("", fallback: "/objects")
    objects.value = absolute(objects.value)
    var dossiers = pick("dossiers", "REXSTORE_DOSSIERS", "dossiers") ?? derived("/dossiers", fallback: "/dossiers")
    dossiers.value = absolute(dossiers.value)
    if objects.source == "default" || database.source == "default" {
      try checkKind(root, directory: true, what: "data root")
    }
    try checkKind(objects, directory: true, what: "local object root")
    try checkKind(database, directory: false, what: "database")
    try checkKind(dossiers, directory: true, what: "dossiers directory")
    let busy = pick("busy-timeout", "REXSTORE_BUSY_TIMEOUT", "busy_timeout") ?? Setting(value: "5s", source: "default")
    let micros: Int64
    do {
      micros = try DurationParser.microseconds(busy.value)
    } catch {
      throw RexstoreError(
        busy.source.hasPrefix("flag") ? .usage : .config, "busy timeout (\(busy.source)): \(error.message)",
        hint: error.hint)
    }
    let millis = Int32(clamping: micros / 1_000)
    let backend = pick("backend", "REXSTORE_BACKEND", "backend") ?? Setting(value: "auto", source: "default")
    guard ["auto", "gcs", "s3", "local"].contains(backend.value) else {
      throw RexstoreError(
        backend.source.hasPrefix("flag") ? .usage : .config,
        "backend (\(backend.source)) must be auto, gcs, s3 or local, got '\(backend.value)'")
    }
    var credentials = pick("credentials", "GOOGLE_APPLICATION_CREDENTIALS", "credentials")
    if let path = credentials?.value { credentials?.value = absolute(path) }
    let enabled = nonEmpty(environment["ENABLE_GCS_STORAGE"])
    var noFallback = Setting(value: "false", source: "default")
    if options["no-fallback"] != nil {
      noFallback = Setting(value: "true", source: "flag:--no-fallback")
    } else if let value = nonEmpty(environment["REXSTORE_NO_FALLBACK"]) {
      noFallback = Setting(value: ["1", "true", "yes"].contains(value.lowercased()) ? "true" : "false", source: "env:REXSTORE_NO_FALLBACK")
    } else if let value = file["no_fallback"] {
      noFallback = Setting(value: value == "true" ? "true" : "false", source: fileSource)
    }
    func duration(_ env: String, _ key: String, _ fallback: String) throws(RexstoreError) -> Setting {
      let setting = pick("", env, key) ?? Setting(value: fallback, source: "default")
      do {
        _ = try DurationParser.microseconds(setting.value)
      } catch {
        throw RexstoreError(.config, "\(key) (\(setting.source)): \(error.message)", hint: error.hint)
      }
      return setting
    }
    let retries = pick("", "REXSTORE_GCS_RETRIES", "gcs_retries") ?? Setting(value: "5", source: "default")
    guard let attempts = Int(retries.value), attempts >= 1, attempts <= 100 else {
      throw RexstoreError(.config, "gcs_retries (\(retries.source)) must be a whole number of attempts from 1 to 100")
    }
    // Only named here; whether it exists is asked when GCS needs credentials, not at every start-up.
    let adc = (nonEmpty(environment["CLOUDSDK_CONFIG"]) ?? xdg("XDG_CONFIG_HOME", ".config", environment).map { $0 + "/gcloud" })
      .map { $0 + "/application_default_credentials.json" }
    return Config(
      root: root, database: database, objects: objects, appDirectory: appDirectory, dossiers: dossiers, busyTimeout: busy, configFile: configFile,
      busyTimeoutMilliseconds: millis, backend: backend, bucket: pick("bucket", "GCS_BUCKET_NAME", "bucket"),
      credentials: credentials,
      gcsEnabled: enabled.map { Setting(value: $0.lowercased() == "true" ? "true" : "false", source: "env:ENABLE_GCS_STORAGE") }
        ?? Setting(value: "false", source: "default"),
      emulatorHost: nonEmpty(environment["STORAGE_EMULATOR_HOST"]).map { Setting(value: $0, source: "env:STORAGE_EMULATOR_HOST") },
      gcsEndpoint: pick("", "REXSTORE_GCS_ENDPOINT", "gcs_endpoint"), noFallback: noFallback, gcsRetries: retries,
      gcsRetryDelay: try duration("REXSTORE_GCS_RETRY_DELAY", "gcs_retry_delay", "500ms"),
      gcsTimeout: try duration("REXSTORE_GCS_TIMEOUT", "gcs_timeout", "60s"),
      gcsDeadline: try duration("REXSTORE_GCS_DEADLINE", "gcs_deadline", "2m"),
      outageWindow: try duration("REXSTORE_OUTAGE_WINDOW", "outage_window", "30s"),
      metadataHost: nonEmpty(environment["GCE_METADATA_HOST"]).map { Setting(value: $0, source: "env:GCE_METADATA_HOST") },
      cacheDirectory: xdg("XDG_CACHE_HOME", ".cache", environment).map { $0 + "/rexstore" }, wellKnownCredentialsPath: adc,
      temporaryDirectory: environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp")
  }

  /// A path setting that names the wrong kind of file is a configuration error (78): the object root
  /// must be a directory, the database a regular file (each may be a symlink to one, or not exist yet).
  static func checkKind(_ setting: Setting, directory: Bool, what: String) throws(RexstoreError) {
    var info = stat()
    guard stat(setting.value, &info) == 0 else {
      guard errno == ENOTDIR else { return }
      throw RexstoreError(
        .config, "\(what) '\(setting.value)' (\(setting.source)): a component of the path is not a directory")
    }
    let kind = info.st_mode & S_IFMT
    if directory, kind != S_IFDIR {
      throw RexstoreError(.config, "\(what) '\(setting.value)' (\(setting.source)) is not a directory")
    }
    if !directory, kind != S_IFREG {
      throw RexstoreError(
        .config, "\(what) '\(setting.value)' (\(setting.source)) is not a regular file"
          + (kind == S_IFDIR ? " but a directory" : ""))
    }
  }

  /// Whether configuration reads the variable `name` (all `REXSTORE_*`, and the app's and the platform's).
  static func readsVariable(_ name: String) -> Bool {
    name.hasPrefix("REXSTORE_") || name.hasPrefix("AWS_") || name == "S3_BUCKET_NAME" || [
      "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "TMPDIR", "GOOGLE_APPLICATION_CREDENTIALS",
      "GCS_BUCKET_NAME", "ENABLE_GCS_STORAGE", "STORAGE_EMULATOR_HOST", "GCE_METADATA_HOST", "CLOUDSDK_CONFIG",
    ].contains(name)
  }

  /// `$XDG_*_HOME` if absolute (the spec says relative values are ignored), else `$HOME/<fallback>`.
  static func xdg(_ variable: String, _ fallback: String, _ environment: [String: String]) -> String? {
    if let value = environment[variable], value.hasPrefix("/") { return value }
    guard let home = environment["HOME"], home.hasPrefix("/") else { return nil }
    return (home == "/" ? "" : home) + "/" + fallback
  }

  static func readConfigFile(_ path: String) throws(RexstoreError) -> [String: String] {
    // Missing, unreadable, a directory, a FIFO, too big: all configuration errors (78).
    let text = try ConfigurationFile.read(path, what: "config file")
    let json: JSONValue
    do {
      json = try JSONParser.parse(text)
    } catch {
      throw RexstoreError(.config, "config file '\(path)' is not valid JSON: \(error.message)")
    }
    guard case .object(let members) = json else {
      throw RexstoreError(.config, "config file '\(path)' must hold a JSON object")
    }
    var values: [String: String] = [:]
    for member in members {
      guard fileKeys.contains(member.key) else {
        let known = fileKeys.sorted().joined(separator: ", ")
        throw RexstoreError(.config, "config file '\(path)': unknown key '\(member.key)'", hint: "known keys: \(known)")
      }
      // Numbers and booleans are written as JSON values (`"gcs_retries": 3`, `"no_fallback": true`);
      // they mean what their text means on the command line.
      switch member.value {
      case .string(let value) where value.utf8.contains(0):
        // A NUL would cut a path short at the C boundary (`"a\u0000b"` would open `a`).
        throw RexstoreError(.config, "config file '\(path)': '\(member.key)' contains a NUL character")
      case .string(let value): values[member.key] = value
      case .number(let text): values[member.key] = text
      case .bool(let flag): values[member.key] = flag ? "true" : "false"
      default:
        throw RexstoreError(.config, "config file '\(path)': '\(member.key)' must be a string, number or boolean")
      }
    }
    return values
  }
}
