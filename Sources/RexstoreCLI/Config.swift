import Glibc
import RexstoreCore

/// One resolved setting as text and where it came from (`flag:--db`, `env:REXSTORE_DB`, `file:PATH`,
/// `default`): the form commands use for paths.
public struct Setting: Sendable, Equatable {
  public var value: String
  public var source: String
}

/// Configuration resolved once per run from the declarations in `Settings.all`: flag, then
/// environment, then config file, then default.
public struct Config: Sendable {
  /// Every declared setting, typed, with its source.
  public var values: SettingValues
  /// `$XDG_CACHE_HOME/rexstore`: where access tokens are cached.
  public var cacheDirectory: String?
  /// `$TMPDIR` if absolute, else /tmp.
  public var temporaryDirectory: String = "/tmp"

  func setting(_ key: String) -> Setting? {
    values[key].map { Setting(value: $0.text, source: $0.source) }
  }

  public var root: Setting { setting("root")! }
  public var database: Setting { setting("db")! }
  public var objects: Setting { setting("objects")! }
  /// The app's working directory, when rexstore works on the app's own data (`--app-dir`).
  public var appDirectory: Setting? { setting("app_dir") }
  /// Where the app's dossiers (voice-profile records) are.
  public var dossiers: Setting { setting("dossiers")! }
  public var configFile: Setting? { setting("config_file") }
  public var busyTimeoutMilliseconds: Int32 { Int32(clamping: (values.microseconds("busy_timeout") ?? 5_000_000) / 1_000) }
  /// `true` when writes must not fall back to the local root.
  public var noFallback: Bool { values.flag("no_fallback") }
  public var outageWindowMicroseconds: Int64 { values.microseconds("outage_window") ?? 0 }

  /// The backend `auto` resolves to: the first registered remote that says it is configured (GCS:
  /// enabled and a bucket set, as the app decides), else local.
  public var effectiveBackend: String {
    let chosen = values.text("backend") ?? "auto"
    if chosen != "auto" { return chosen }
    return Backends.registered.first { $0.selectedByAuto(values) }?.name ?? "local"
  }

  /// The registration of the remote in use; nil on the local backend.
  public var remote: BackendRegistration? { Backends.named(effectiveBackend) }

  /// Where `migrate` sends objects: the remote in use; with `auto` on a host that writes locally, the
  /// first remote that has a bucket set (`GCS_BUCKET_NAME=b rexstore migrate` works without
  /// ENABLE_GCS_STORAGE), else the first registered one (whose error then says what is missing); nil
  /// only for an explicit `--backend local`.
  public var migrationTarget: BackendRegistration? {
    if let remote { return remote }
    guard values.text("backend") == "auto" else { return nil }
    return Backends.registered.first { $0.bucket(in: values) != nil } ?? Backends.registered.first
  }

  /// `{key: {value, source}}` for every setting (secrets masked), and the effective backend.
  public var json: JSONValue { json(origin: true) }

  public func json(origin: Bool) -> JSONValue {
    guard case .object(var members) = values.json(origin: origin) else { return .null }
    members.append(.init("effective_backend", .string(effectiveBackend)))
    members.sort { $0.key < $1.key }
    return .object(members)
  }

  public static func resolve(
    options: [String: [String]], environment: [String: String], workingDirectory: String,
    rawOptions: [String: [[UInt8]]] = [:], rawEnvironment: [String: FilePathBytes] = [:],
    workingDirectoryBytes: FilePathBytes? = nil
  ) throws(RexstoreError) -> Config {
    /// A path setting given as bytes that are not UTF-8 (a flag's argv bytes or a variable's):
    /// the bytes, made absolute against the working directory's bytes.
    func rawPath(flag: String?, variable: String?) -> [UInt8]? {
      var bytes: [UInt8]?
      if let flag, let raw = rawOptions[flag]?.last, String(validating: raw, as: UTF8.self) == nil { bytes = raw }
      if let variable, let raw = rawEnvironment[variable], !raw.isUTF8 { bytes = raw.bytes }
      guard var path = bytes else { return nil }
      // `~` and `~/...` mean $HOME here too, as for a path that is text.
      if let home = environment["HOME"], home.hasPrefix("/"), path == [UInt8(ascii: "~")] || path.starts(with: Array("~/".utf8)) {
        path = Array((home == "/" ? "" : home).utf8) + path.dropFirst()
      }
      if path.first != UInt8(ascii: "/") {
        path = (workingDirectoryBytes?.bytes ?? Array(workingDirectory.utf8)) + [UInt8(ascii: "/")] + path
      }
      return path
    }
    // `~` and `~/...` in a path from the environment or a config file mean $HOME, as a shell would
    // have expanded them on the command line.
    func absolute(_ path: String) -> String {
      if let home = environment["HOME"], home.hasPrefix("/"), path == "~" || path.hasPrefix("~/") {
        return (home == "/" ? "" : home) + path.dropFirst()
      }
      return FileSystem.absolute(path, in: workingDirectory)
    }
    func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }

    // The config file itself first: named by flag or variable (must exist), or the XDG default (if present).
    var resolved: [String: ResolvedSetting] = [:]
    var file: [String: (String, String)] = [:]
    var fileSource = "file:"
    if let named = options["config"]?.last {
      resolved["config_file"] = try pathSetting(absolute(named), "flag:--config", rawPath(flag: "config", variable: nil))
    } else if let named = nonEmpty(environment["REXSTORE_CONFIG"]) {
      resolved["config_file"] = try pathSetting(absolute(named), "env:REXSTORE_CONFIG", rawPath(flag: nil, variable: "REXSTORE_CONFIG"))
    } else if let base = xdg("XDG_CONFIG_HOME", ".config", environment) {
      let path = base + "/rexstore/config.json"
      if access(path, F_OK) == 0 { resolved["config_file"] = ResolvedSetting(value: .path(path), text: path, source: "default") }
    }
    if let path = resolved["config_file"]?.text {
      file = try readConfigFile(path)
      fileSource = "file:" + path
    }

    // Every other setting: flag, then its variables in order, then the file, then its default.
    for spec in Settings.all where spec.key != "config_file" && resolved[spec.key] == nil {
      var given: (String, String)?
      var raw: [UInt8]?
      if let flag = spec.flag, let values = options[flag] {
        given = (spec.kind == .boolean ? "true" : values.last ?? "", "flag:--" + flag)
        if spec.kind == .path { raw = rawPath(flag: flag, variable: nil) }
      } else if let name = spec.variables.first(where: { nonEmpty(environment[$0]) != nil }) {
        given = (environment[name]!, "env:" + name)
        if spec.kind == .path { raw = rawPath(flag: nil, variable: name) }
      } else if let (text, _) = file[spec.key] {
        given = (text, fileSource)
      } else if let text = spec.defaultValue {
        given = (text, "default")
      }
      guard var (text, source) = given else { continue }
      let value: SettingValue
      do throws(RexstoreError) {
        value = try spec.kind.parse(text)
      } catch {
        let what = spec.key.replacingAll("_", with: " ")
        throw RexstoreError(
          source.hasPrefix("flag") ? .usage : .config, "\(what) (\(source)): \(error.message)", hint: error.hint)
      }
      if spec.kind == .path {
        resolved[spec.key] = try pathSetting(absolute(text), source, raw)
        continue
      }
      resolved[spec.key] = ResolvedSetting(value: value, text: text, source: source)
    }

    // Derived defaults: --app-dir puts them where the app keeps its data (its working directory):
    // RexVoice.db, the objects beside it, dossiers/; an explicit --db, --objects or --dossiers still wins.
    let appDirectory = resolved["app_dir"]
    if resolved["root"] == nil {
      if let base = xdg("XDG_DATA_HOME", ".local/share", environment) {
        resolved["root"] = ResolvedSetting(value: .path(base + "/rexstore"), text: base + "/rexstore", source: "default")
      } else if let appDirectory {
        resolved["root"] = appDirectory
      } else {
        throw RexstoreError(
          .config, "cannot locate the data directory: HOME is not set", hint: "set --root, REXSTORE_ROOT or --db")
      }
    }
    let root = resolved["root"]!
    func derive(_ key: String, app suffix: String, root fallback: String) {
      guard resolved[key] == nil else { return }
      let base = appDirectory ?? root
      let tail = appDirectory == nil ? fallback : suffix
      resolved[key] = ResolvedSetting(
        value: .path(base.text + tail), text: base.text + tail, source: appDirectory?.source ?? "default",
        bytes: base.bytes.map { $0 + Array(tail.utf8) })
    }
    derive("db", app: "/RexVoice.db", root: "/rexstore.sqlite3")
    derive("objects", app: "", root: "/objects")
    derive("dossiers", app: "/dossiers", root: "/dossiers")

    let values = SettingValues(specs: Settings.all, values: resolved)
    let config = Config(
      values: values, cacheDirectory: xdg("XDG_CACHE_HOME", ".cache", environment).map { $0 + "/rexstore" },
      temporaryDirectory: environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp")
    if config.objects.source == "default" || config.database.source == "default" {
      try checkKind(config.root, directory: true, what: "data root")
    }
    try checkKind(config.objects, directory: true, what: "local object root")
    try checkKind(config.database, directory: false, what: "database")
    try checkKind(config.dossiers, directory: true, what: "dossiers directory")
    return config
  }

  /// Linux's O_PATH (Glibc's Swift module leaves it out): a descriptor that names a directory only.
  static let openPath: Int32 = 0o10000000

  /// A path setting: its text, or for bytes that are not UTF-8 a name of the same file that is.
  static func pathSetting(_ text: String, _ source: String, _ raw: [UInt8]?) throws(RexstoreError) -> ResolvedSetting {
    guard let raw else { return ResolvedSetting(value: .path(text), text: text, source: source) }
    let anchored = try anchor(FilePathBytes(bytes: raw), source: source)
    return ResolvedSetting(value: .path(anchored), text: anchored, source: source, bytes: raw)
  }

  /// A text name for an absolute path whose bytes are not UTF-8 (paths are bytes, DESIGN §8; every
  /// path below the roots is built from text): the longest leading part that exists as a directory is
  /// opened by its bytes and kept open for the run, and the path becomes `/proc/self/fd/N/REST`, the
  /// kernel's name for it; the part after it (not created yet) must be UTF-8. The opened directory is
  /// the one named at start-up, like a shell's `cd` into it. Symlinks in that leading part are
  /// followed, as they are in a root given as text (the roots themselves may be symlinks).
  static func anchor(_ path: FilePathBytes, source: String) throws(RexstoreError) -> String {
    let parts = path.bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map { Array($0) }
    func joined(_ count: Int) -> FilePathBytes {
      FilePathBytes(bytes: parts[0..<count].reduce([UInt8]()) { $0 + [UInt8(ascii: "/")] + $1 })
    }
    // Every part up to the last one that is not UTF-8 must exist; the rest may be created later.
    guard let lastBad = parts.lastIndex(where: { String(validating: $0, as: UTF8.self) == nil }) else {
      return String(decoding: path.bytes, as: UTF8.self)
    }
    // A trailing `/` says the last part must be a directory; it stays on the name (as on a path that
    // is text), so a file setting such as `--db DIR/x.sqlite3/` is refused the same way for both.
    // The opened directory itself needs none: O_DIRECTORY has already made sure of it.
    let trailingSlash = path.bytes.last == UInt8(ascii: "/") ? "/" : ""
    for count in stride(from: parts.count, through: lastBad + 1, by: -1) {
      let fd = joined(count).withCString { open($0, Config.openPath | O_DIRECTORY | O_CLOEXEC) }
      guard fd >= 0 else { continue }
      let rest = parts[count...].map { "/" + String(decoding: $0, as: UTF8.self) }.joined()
      return "/proc/self/fd/\(fd)" + rest + (rest.isEmpty ? "" : trailingSlash)
    }
    if lastBad == parts.count - 1, joined(parts.count).withCString({ access($0, F_OK) }) == 0 {
      throw RexstoreError(
        .config, "'\(path.display)' (\(source)): a file whose own name is not UTF-8 cannot be used as a setting",
        hint: "reach it through a symlink whose name is UTF-8")
    }
    throw RexstoreError(
      .config, "'\(path.display)' (\(source)): the directory '\(joined(lastBad + 1).display)' does not exist",
      hint: "a part of a path setting that is not valid UTF-8 must exist; rexstore creates only directories with UTF-8 names")
  }

  /// A path setting that names the wrong kind of file is a configuration error (78): the object root
  /// must be a directory, the database a regular file (each may be a symlink to one, or not exist yet).
  static func checkKind(_ setting: Setting, directory: Bool, what: String) throws(RexstoreError) {
    // A trailing `/` names a directory: refused before anything could create one under the file's name.
    // So do a last part `.` or `..`.
    if !directory, setting.value.hasSuffix("/") || setting.value.hasSuffix("/.") || setting.value.hasSuffix("/..")
      || setting.value == "." || setting.value == ".."
    {
      let ending = setting.value.hasSuffix("/") ? "'/'" : "'\(setting.value.split(separator: "/").last ?? "")'"
      throw RexstoreError(
        .config, "\(what) '\(setting.value)' (\(setting.source)) ends in \(ending), which names a directory, not a file")
    }
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

  /// `$XDG_*_HOME` if absolute (the spec says relative values are ignored), else `$HOME/<fallback>`.
  static func xdg(_ variable: String, _ fallback: String, _ environment: [String: String]) -> String? {
    if let value = environment[variable], value.hasPrefix("/") { return value }
    guard let home = environment["HOME"], home.hasPrefix("/") else { return nil }
    return (home == "/" ? "" : home) + "/" + fallback
  }

  /// The file's settings by canonical key: (text, key as written).
  static func readConfigFile(_ path: String) throws(RexstoreError) -> [String: (String, String)] {
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
    var values: [String: (String, String)] = [:]
    for member in members {
      guard let key = Settings.fileKeys[member.key] else {
        let known = Settings.fileKeys.keys.sorted().joined(separator: ", ")
        throw RexstoreError(.config, "config file '\(path)': unknown key '\(member.key)'", hint: "known keys: \(known)")
      }
      // Numbers and booleans are written as JSON values (`"retries": 3`, `"no_fallback": true`);
      // they mean what their text means on the command line.
      let text: String
      switch member.value {
      case .string(let value) where value.utf8.contains(0):
        // A NUL would cut a path short at the C boundary (`"a\u0000b"` would open `a`).
        throw RexstoreError(.config, "config file '\(path)': '\(member.key)' contains a NUL character")
      case .string(let value): text = value
      case .number(let number): text = number
      case .bool(let flag): text = flag ? "true" : "false"
      default:
        throw RexstoreError(.config, "config file '\(path)': '\(member.key)' must be a string, number or boolean")
      }
      // The canonical key wins over an older alias of it, whatever their order.
      if values[key] == nil || member.key == key { values[key] = (text, member.key) }
    }
    return values
  }
}
