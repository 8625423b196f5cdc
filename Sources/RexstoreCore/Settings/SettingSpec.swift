/// One setting, declared once: its flag, environment variables, config-file key, default, type and
/// help. The CLI's resolver, the config-file key check, `config show`/`health` output, `--help` and the
/// man page's ENVIRONMENT section are all generated from these declarations (ripgrep's one-place flag
/// definitions). Declarations are data: the core never reads the environment; the CLI resolves them.
public struct SettingSpec: Sendable {
  /// The config-file key and the key in `config show`/`health` output (`busy_timeout`).
  public var key: String
  /// The global flag without dashes (`busy-timeout`); nil when there is none.
  public var flag: String?
  /// The value's placeholder in help (`DUR`, `DIR`).
  public var placeholder: String
  /// Environment variables in the order they are consulted (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`).
  public var variables: [String]
  /// Whether a config file may set it.
  public var inFile: Bool
  /// Older config-file keys that mean the same (`gcs_retries` for `retries`).
  public var fileAliases: [String]
  public var kind: SettingKind
  /// The default as text (nil: unset unless given; derived defaults are described in `defaultText`).
  public var defaultValue: String?
  /// How help shows the default when it is not a plain value (`ROOT/objects`).
  public var defaultText: String?
  /// The help line, built when help, the man page or `config show` asks for it: some are composed
  /// from other declarations (the backends' names, their bucket variables), work that every
  /// invocation would otherwise pay for at start-up, whatever it runs.
  public var help: String { helpText() }
  private let helpText: @Sendable () -> String
  /// What the man page's ENVIRONMENT section says about the variables (defaults to `help`).
  public var environmentHelp: String?
  /// `general`, or the backend that reads it (`gcs`, `s3`).
  public var section: String
  /// Never shown: `config show` and `health` print `"(set)"` instead of the value.
  public var secret: Bool
  /// How a shell completes the flag's value.
  public var completion: SettingCompletion

  public init(
    _ key: String, flag: String? = nil, placeholder: String = "VALUE", variables: [String] = [], inFile: Bool = true,
    fileAliases: [String] = [], kind: SettingKind = .text, defaultValue: String? = nil, defaultText: String? = nil,
    help: @autoclosure @escaping @Sendable () -> String, environmentHelp: String? = nil, section: String = "general", secret: Bool = false,
    completion: SettingCompletion = .none
  ) {
    self.key = key
    self.flag = flag
    self.placeholder = placeholder
    self.variables = variables
    self.inFile = inFile
    self.fileAliases = fileAliases
    self.kind = kind
    self.defaultValue = defaultValue
    self.defaultText = defaultText
    self.helpText = help
    self.environmentHelp = environmentHelp
    self.section = section
    self.secret = secret
    self.completion = completion
  }

  /// Help's default: the plain default, or its description.
  public var shownDefault: String? { defaultText ?? defaultValue }
}

public enum SettingCompletion: Sendable, Equatable {
  case none, file, directory
}

/// What a setting's text means, and so how it is parsed and shown.
public enum SettingKind: Sendable, Equatable {
  /// Any text.
  case text
  /// A file-system path; relative ones are taken from the working directory, `~` is $HOME.
  case path
  /// `1s`, `500ms`, `2m` (DurationParser).
  case duration
  /// A whole number in a range.
  case count(ClosedRange<Int>)
  /// A switch: `true`/`false` (also `1`/`0`, `yes`/`no`, any case).
  case boolean
  /// One of a closed list.
  case choice([String])
  /// As the app reads `ENABLE_GCS_STORAGE`: `true` in any case is on, anything else off.
  case trueInAnyCase
}

/// A parsed setting value, typed as its kind says.
public enum SettingValue: Sendable, Equatable {
  case text(String)
  case path(String)
  case microseconds(Int64)
  case count(Int)
  case boolean(Bool)

}

extension SettingKind {
  /// Parses `text` as this kind; the error says what was expected (the caller adds where it came from).
  public func parse(_ text: String) throws(RexstoreError) -> SettingValue {
    switch self {
    case .text: return .text(text)
    case .path:
      // An empty path would quietly mean the working directory (`--root "$UNSET"` in a runbook).
      guard !text.isEmpty else { throw RexstoreError(.config, "must not be empty (an empty path is not the working directory)") }
      return .path(text)
    case .duration: return .microseconds(try DurationParser.microseconds(text))
    case .count(let range):
      guard let n = Int(text), range.contains(n) else {
        throw RexstoreError(.config, "must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
      }
      return .count(n)
    case .boolean:
      switch text.lowercased() {
      case "1", "true", "yes", "on": return .boolean(true)
      case "0", "false", "no", "off", "": return .boolean(false)
      default: throw RexstoreError(.config, "must be true or false, got '\(text)'")
      }
    case .trueInAnyCase: return .boolean(text.lowercased() == "true")
    case .choice(let words):
      guard words.contains(text) else {
        throw RexstoreError(.config, "must be \(SettingKind.list(words)), got '\(text)'")
      }
      return .text(text)
    }
  }

  /// `a, b or c`.
  public static func list(_ words: [String]) -> String {
    guard words.count > 1 else { return words.first ?? "" }
    return words.dropLast().joined(separator: ", ") + " or " + words.last!
  }
}

/// One resolved setting: its value and where it came from (`flag:--db`, `env:REXSTORE_DB`,
/// `file:PATH`, `default`).
public struct ResolvedSetting: Sendable, Equatable {
  public var value: SettingValue
  /// The text it was given as (a path made absolute): `5s` stays `5s`.
  public var text: String
  public var source: String
  /// A path given as bytes that are not UTF-8: those bytes (`text` then names the same file through
  /// `/proc/self/fd/N`, a directory rexstore opened by its bytes).
  public var bytes: [UInt8]?

  public init(value: SettingValue, text: String, source: String, bytes: [UInt8]? = nil) {
    self.value = value
    self.text = text
    self.source = source
    self.bytes = bytes
  }

}

/// Every declared setting after resolution, looked up by key. What a backend's constructor reads.
public struct SettingValues: Sendable {
  public var specs: [SettingSpec]
  public var values: [String: ResolvedSetting]

  public init(specs: [SettingSpec], values: [String: ResolvedSetting]) {
    self.specs = specs
    self.values = values
  }

  public subscript(key: String) -> ResolvedSetting? { values[key] }

  public func text(_ key: String) -> String? { values[key]?.text }

  public func path(_ key: String) -> String? { text(key) }

  public func microseconds(_ key: String) -> Int64? {
    if case .microseconds(let micros)? = values[key]?.value { return micros }
    return nil
  }

  public func milliseconds(_ key: String) -> Int? { microseconds(key).map { Int($0 / 1000) } }

  public func count(_ key: String) -> Int? {
    if case .count(let n)? = values[key]?.value { return n }
    return nil
  }

  public func flag(_ key: String) -> Bool {
    if case .boolean(let on)? = values[key]?.value { return on }
    return false
  }
}
