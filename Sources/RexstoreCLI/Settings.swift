import RexstoreCore

/// rexstore's own settings, declared once (the backends declare theirs in their folders). The
/// resolver, the config-file key check, `config show`/`health`, the global options of `--help`, the
/// man page's ENVIRONMENT and FILES sections and the completions are generated from these lists.
public enum Settings {
  public static let general: [SettingSpec] = [
    SettingSpec(
      "root", flag: "root", placeholder: "DIR", variables: ["REXSTORE_ROOT"], kind: .path,
      defaultText: "$XDG_DATA_HOME/rexstore", help: "data root", completion: .directory),
    SettingSpec(
      "db", flag: "db", placeholder: "PATH", variables: ["REXSTORE_DB"], kind: .path, defaultText: "ROOT/rexstore.sqlite3",
      help: "SQLite database", environmentHelp: "database path", completion: .file),
    SettingSpec(
      "objects", flag: "objects", placeholder: "DIR", variables: ["REXSTORE_OBJECTS"], kind: .path,
      defaultText: "ROOT/objects", help: "local object root", completion: .directory),
    SettingSpec(
      "app_dir", flag: "app-dir", placeholder: "DIR", variables: ["REXSTORE_APP_DIR"], kind: .path,
      help: "the app's working directory: its RexVoice.db, objects and dossiers", completion: .directory),
    SettingSpec(
      "dossiers", flag: "dossiers", placeholder: "DIR", variables: ["REXSTORE_DOSSIERS"], kind: .path,
      defaultText: "ROOT/dossiers", help: "the app's dossier directory", completion: .directory),
    SettingSpec(
      "config_file", flag: "config", placeholder: "FILE", variables: ["REXSTORE_CONFIG"], inFile: false, kind: .path,
      defaultText: "$XDG_CONFIG_HOME/rexstore/config.json", help: "JSON config file", completion: .file),
    SettingSpec(
      "busy_timeout", flag: "busy-timeout", placeholder: "DUR", variables: ["REXSTORE_BUSY_TIMEOUT"], kind: .duration,
      defaultValue: "5s", help: "how long to wait for a busy database or dossier"),
    SettingSpec(
      "backend", flag: "backend", placeholder: "NAME", variables: ["REXSTORE_BACKEND"], kind: .choice(Backends.choices),
      defaultValue: "auto", help: "object backend: " + SettingKind.list(Backends.choices),
      environmentHelp: "object backend, as --backend; auto picks gcs when ENABLE_GCS_STORAGE is true and a bucket is set, else local"),
    SettingSpec(
      "bucket", flag: "bucket", placeholder: "NAME",
      help: "bucket of the remote backend (default: its variable, " + bucketVariables + ")",
      environmentHelp: nil),
    SettingSpec(
      "no_fallback", flag: "no-fallback", variables: ["REXSTORE_NO_FALLBACK"], kind: .boolean, defaultValue: "false",
      help: "fail (exit 69) instead of storing locally when the remote is unavailable"),
    SettingSpec(
      "outage_window", placeholder: "DUR", variables: ["REXSTORE_OUTAGE_WINDOW"], kind: .duration, defaultValue: "30s",
      help: "after an outage, how long later invocations go straight to the local root without asking the remote"),
  ]

  /// Every declared setting: rexstore's, the remote transport's, each registered backend's.
  public static let all: [SettingSpec] = general + RemoteTransport.settings + Backends.registered.flatMap(\.settings)

  /// Variables read for facts of the platform rather than settings (documented, checked for UTF-8).
  public static let platformVariables: [(names: [String], help: String)] = [
    (["XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HOME"], "locate the default data root, config file and token cache"),
    (["TMPDIR"], "where spool files go when the local root cannot take them (absolute, else /tmp)"),
    (["CLOUDSDK_CONFIG"], "gcloud's configuration directory, for its application_default_credentials.json"),
  ]

  /// `GCS_BUCKET_NAME or S3_BUCKET_NAME`, from the backends' declarations.
  static var bucketVariables: String {
    SettingKind.list(Backends.registered.flatMap { $0.settings.filter { $0.key.hasSuffix("_bucket") }.flatMap(\.variables) })
  }

  /// Keys a config file may hold (aliases included); anything else is an ops typo and fails loudly.
  static let fileKeys: [String: String] = {
    var keys: [String: String] = [:]
    for spec in all where spec.inFile {
      keys[spec.key] = spec.key
      for alias in spec.fileAliases { keys[alias] = spec.key }
    }
    return keys
  }()

  /// The global options of the command line: every setting with a flag, in declaration order.
  static var options: [OptionSpec] {
    var seen: Set<String> = []
    return all.compactMap { spec in
      guard let flag = spec.flag, seen.insert(flag).inserted else { return nil }
      let completion: CompletionKind
      switch (spec.kind, spec.completion) {
      case (.choice(let words), _): completion = .choices(words)
      case (_, .file): completion = .file
      case (_, .directory): completion = .directory
      default: completion = .none
      }
      return OptionSpec(
        flag, value: spec.kind == .boolean ? nil : spec.placeholder, help: optionHelp(spec), completion: completion,
        bytePath: spec.kind == .path)
    }
  }

  /// A setting's help as its flag's help shows it: with the default.
  static func optionHelp(_ spec: SettingSpec) -> String {
    guard let shown = spec.shownDefault, spec.kind != .boolean else { return spec.help }
    return spec.help + " (default \(shown))"
  }

  /// Whether `name` is a variable of a path setting (its bytes are taken as they are).
  static func isPathVariable(_ name: String) -> Bool {
    all.contains { $0.kind == .path && $0.variables.contains(name) }
  }

  /// Whether configuration reads the variable `name`.
  static func readsVariable(_ name: String) -> Bool {
    name.hasPrefix("REXSTORE_") || all.contains { $0.variables.contains(name) }
      || platformVariables.contains { $0.names.contains(name) }
  }
}
