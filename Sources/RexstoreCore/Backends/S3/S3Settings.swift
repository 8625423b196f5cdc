/// Where and how to reach one S3 bucket (AWS, or any S3-compatible server such as moto, MinIO or
/// GCS's XML API with HMAC keys).
public struct S3Settings: Sendable {
  public enum Addressing: String, Sendable, CaseIterable {
    /// `https://ENDPOINT/BUCKET/KEY`: what S3-compatible servers on an IP address or localhost need.
    case path
    /// `https://BUCKET.ENDPOINT/KEY`: AWS's own style.
    case virtual
  }

  /// `https://host[:port]`; nil means AWS's endpoint for the region.
  public var endpoint: String?
  public var region: String
  public var bucket: String
  public var addressing: Addressing
  public var retry: RetryPolicy
  public var timeouts: HTTPTimeouts
  /// Objects up to this size go up in one PUT; bigger ones as a multipart upload.
  public var multipartThreshold: Int
  /// The size of each part but the last (AWS's minimum is 5 MiB, except for the last part).
  public var partSize: Int
  /// How many parts of one multipart upload are on the wire at once (each holds a part in memory).
  public var partConcurrency: Int = 4
  /// How many profile samples upload at once.
  public var parallelUploads: Int
  /// Whether the server honours `If-None-Match: *` / `If-Match` on writes. AWS does (since 2024); for
  /// other servers a create-only write first checks with a HEAD, and the header is still sent. The
  /// window between the HEAD and the PUT is a race the README documents.
  public var conditionalWrites: Bool
  /// Where copies of profile samples wait while a re-store overwrites them (unlinked files).
  public var spoolDirectory: String = "/tmp"
  public var temporaryDirectory: String = "/tmp"
  /// `-v`: one line per request.
  public var requestLog: (@Sendable (String) -> Void)?

  public static let defaultPartSize = 16 << 20
  public static let minimumPartSize = 5 << 20

  public init(
    endpoint: String?, region: String, bucket: String, addressing: Addressing? = nil, retry: RetryPolicy = RetryPolicy(),
    timeouts: HTTPTimeouts = HTTPTimeouts(), multipartThreshold: Int = S3Settings.defaultPartSize,
    partSize: Int = S3Settings.defaultPartSize, parallelUploads: Int = 4, conditionalWrites: Bool? = nil
  ) {
    self.endpoint = endpoint.map(S3Settings.normalizedEndpoint)
    self.region = region
    self.bucket = bucket
    // AWS: virtual hosts (path style is deprecated there); any other endpoint: path style, which
    // every S3-compatible server speaks and which needs no wildcard DNS.
    self.addressing = addressing ?? (endpoint == nil ? .virtual : .path)
    self.retry = retry
    self.timeouts = timeouts
    self.multipartThreshold = multipartThreshold
    self.partSize = partSize
    self.parallelUploads = parallelUploads
    self.conditionalWrites = conditionalWrites ?? (endpoint == nil)
  }

  /// `host:port` gets `https://`; a trailing `/` is dropped.
  public static func normalizedEndpoint(_ text: String) -> String {
    var url = text.contains("://") ? text : "https://" + text
    while url.hasSuffix("/") { url.removeLast() }
    return url
  }

  /// `scheme://host[:port]` of the requests (the bucket's host in virtual style).
  var origin: (scheme: String, host: String) {
    let (scheme, host) = endpoint.map(S3PresignRequest.split)
      ?? ("https", region == "us-east-1" ? "s3.amazonaws.com" : "s3.\(region).amazonaws.com")
    return (scheme, addressing == .virtual ? "\(bucket).\(host)" : host)
  }

  /// The encoded path of an object (`/KEY` or `/BUCKET/KEY`), or of the bucket for an empty key.
  func path(_ key: String) -> String {
    let encoded = SigV4.encode(key, keepSlash: true)
    switch addressing {
    case .virtual: return "/" + encoded
    case .path: return key.isEmpty ? "/\(bucket)" : "/\(bucket)/\(encoded)"
    }
  }

  /// What is wrong with these settings, checked before any request.
  public func validate() throws(RexstoreError) {
    do throws(RexstoreError) {
      try S3PresignRequest(
        bucket: bucket, key: "k", method: "GET", expiresSeconds: 1, at: Timestamp(microseconds: 0), region: region,
        style: addressing == .path ? .path : .virtual, endpoint: endpoint
      ).validate()
    } catch {
      throw RexstoreError(.config, "S3 settings: \(error.message)", hint: error.hint)
    }
    guard partSize >= 1, multipartThreshold >= 0 else {
      throw RexstoreError(.config, "S3 settings: the part size must be positive")
    }
  }

  /// Region, endpoint, bucket and addressing as the AWS CLI finds them: `AWS_REGION`, then
  /// `AWS_DEFAULT_REGION`, then the profile's `region` in the config file, else us-east-1;
  /// `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`; the bucket
  /// from `S3_BUCKET_NAME`; `addressing_style` from the profile's `s3` block.
  public static func resolve(
    environment: [String: String], readFile: (String) -> String?, bucket explicitBucket: String? = nil
  ) throws(RexstoreError) -> S3Settings {
    let files = AWSSharedFiles(environment: environment, readFile: readFile)
    let config = files.configSection()
    let region = AWSSharedFiles.value(environment, "AWS_REGION", "AWS_DEFAULT_REGION") ?? config["region"] ?? "us-east-1"
    let endpoint = AWSSharedFiles.value(environment, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
      ?? config["s3.endpoint_url"] ?? config["endpoint_url"]
    guard let bucket = explicitBucket ?? AWSSharedFiles.value(environment, "S3_BUCKET_NAME") else {
      throw RexstoreError(.config, "S3 needs a bucket", hint: "set --bucket or S3_BUCKET_NAME")
    }
    var addressing: Addressing?
    if let style = config["s3.addressing_style"], style != "auto" {
      guard let chosen = Addressing(rawValue: style) else {
        throw RexstoreError(.config, "addressing_style in \(files.configPath) must be auto, path or virtual, got '\(style)'")
      }
      addressing = chosen
    }
    let settings = S3Settings(endpoint: endpoint, region: region, bucket: bucket, addressing: addressing)
    try settings.validate()
    return settings
  }
}

/// AWS credentials and where they came from, resolved as the AWS CLI and SDKs do: the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) first, then the profile
/// (`AWS_PROFILE`, default `default`) in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
/// default `~/.aws/credentials`), then the same profile in the config file (`AWS_CONFIG_FILE`, default
/// `~/.aws/config`, where it is `[profile NAME]`). Core never reads the environment: it is given.
public struct S3Credentials: Sendable {
  public var credentials: AWSCredentials
  /// `env`, or the file and profile (`/home/u/.aws/credentials [default]`); never the secret.
  public var source: String

  /// nil when none of the sources holds a key pair.
  public static func resolve(
    environment: [String: String], readFile: (String) -> String?
  ) throws(RexstoreError) -> S3Credentials? {
    if let id = AWSSharedFiles.value(environment, "AWS_ACCESS_KEY_ID") {
      guard let secret = AWSSharedFiles.value(environment, "AWS_SECRET_ACCESS_KEY") else {
        throw RexstoreError(.config, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
      }
      return S3Credentials(
        credentials: AWSCredentials(
          accessKeyID: id, secretAccessKey: secret, sessionToken: AWSSharedFiles.value(environment, "AWS_SESSION_TOKEN")),
        source: "env")
    }
    let files = AWSSharedFiles(environment: environment, readFile: readFile)
    for (path, section) in [
      (files.credentialsPath, files.credentialsSection()), (files.configPath, files.configSection()),
    ] {
      guard let id = section["aws_access_key_id"], !id.isEmpty else { continue }
      guard let secret = section["aws_secret_access_key"], !secret.isEmpty else {
        throw RexstoreError(.config, "profile '\(files.profile)' in \(path) has aws_access_key_id but no aws_secret_access_key")
      }
      return S3Credentials(
        credentials: AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: section["aws_session_token"]),
        source: "\(path) [\(files.profile)]")
    }
    return nil
  }

  /// `resolve`, failing with 69 when nothing holds credentials.
  public static func require(
    environment: [String: String], readFile: (String) -> String?
  ) throws(RexstoreError) -> S3Credentials {
    guard let found = try resolve(environment: environment, readFile: readFile) else {
      let profile = AWSSharedFiles.value(environment, "AWS_PROFILE") ?? "default"
      throw RexstoreError(
        .unavailable, "no AWS credentials: none in the environment, and none for profile '\(profile)' in the shared files",
        hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials")
    }
    return found
  }
}

/// The AWS shared credentials and config files: INI sections (`[name]`, and `[profile name]` in the
/// config file), `key = value` lines, `#`/`;` comments, and indented sub-keys under a key with no value
/// (`s3 =` then `  addressing_style = path`, read as `s3.addressing_style`).
struct AWSSharedFiles {
  let profile: String
  let credentialsPath: String
  let configPath: String
  let credentialsText: String?
  let configText: String?

  init(environment: [String: String], readFile: (String) -> String?) {
    let home = environment["HOME"] ?? ""
    func expand(_ path: String) -> String {
      path == "~" ? home : path.hasPrefix("~/") ? (home == "/" ? "" : home) + path.dropFirst() : path
    }
    profile = AWSSharedFiles.value(environment, "AWS_PROFILE", "AWS_DEFAULT_PROFILE") ?? "default"
    credentialsPath = expand(AWSSharedFiles.value(environment, "AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials")
    configPath = expand(AWSSharedFiles.value(environment, "AWS_CONFIG_FILE") ?? "~/.aws/config")
    credentialsText = readFile(credentialsPath)
    configText = readFile(configPath)
  }

  /// The first of `names` set to something non-empty.
  static func value(_ environment: [String: String], _ names: String...) -> String? {
    for name in names { if let v = environment[name], !v.isEmpty { return v } }
    return nil
  }

  func credentialsSection() -> [String: String] {
    credentialsText.map { AWSSharedFiles.section(of: $0, named: profile) } ?? [:]
  }

  /// `[profile NAME]` in the config file; `[default]` (or `[profile default]`) for the default profile.
  func configSection() -> [String: String] {
    guard let text = configText else { return [:] }
    let named = AWSSharedFiles.section(of: text, named: "profile " + profile)
    if profile == "default", named.isEmpty { return AWSSharedFiles.section(of: text, named: "default") }
    return named
  }

  static func section(of text: String, named name: String) -> [String: String] {
    var current: String?
    var parent: String?
    var out: [String: String] = [:]
    for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
      let indented = raw.first == " " || raw.first == "\t"
      let line = String(raw).trimmingWhitespace()
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if line.hasPrefix("["), line.hasSuffix("]") {
        // `[profile  x]` with extra spaces is the same section.
        current = line.dropFirst().dropLast().split(separator: " ").joined(separator: " ")
        parent = nil
        continue
      }
      guard current == name, let eq = line.firstIndex(of: "=") else { continue }
      let key = String(line[..<eq]).trimmingWhitespace().lowercased()
      let value = String(line[line.index(after: eq)...]).trimmingWhitespace()
      if indented, let parent {
        out[parent + "." + key] = value
      } else {
        out[key] = value
        parent = value.isEmpty ? key : nil
      }
    }
    return out
  }
}

extension S3Settings {
  /// `8388608`, `8MiB`, `512KiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all powers of 1024).
  public static func parseSize(_ text: String) -> Int? {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, let value = Int(digits) else { return nil }
    let unit = text.dropFirst(digits.count).lowercased()
    let shift: Int
    switch unit {
    case "", "b": shift = 0
    case "k", "kb", "kib": shift = 10
    case "m", "mb", "mib": shift = 20
    case "g", "gb", "gib": shift = 30
    default: return nil
    }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
    return overflow || bytes <= 0 ? nil : bytes
  }
}
