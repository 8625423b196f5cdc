/// S3's registration: the settings it reads (the AWS CLI's and SDKs' names), how it is built and how
/// it presigns URLs. `auto` never picks it: an S3 host says `--backend s3`.
public enum S3Backend {
  static func env(_ key: String, _ variables: [String], secret: Bool = false, kind: SettingKind = .text, help: String)
    -> SettingSpec
  {
    SettingSpec(key, placeholder: "VALUE", variables: variables, inFile: false, kind: kind, help: help, section: "s3", secret: secret)
  }

  public static let settings: [SettingSpec] = [
    env("s3_bucket", ["S3_BUCKET_NAME"], help: "the S3 bucket (--bucket and the config file's bucket take it too)"),
    env("aws_access_key_id", ["AWS_ACCESS_KEY_ID"], secret: true, help: "AWS access key id (with AWS_SECRET_ACCESS_KEY)"),
    env("aws_secret_access_key", ["AWS_SECRET_ACCESS_KEY"], secret: true, help: "AWS secret access key"),
    env("aws_session_token", ["AWS_SESSION_TOKEN"], secret: true, help: "AWS session token of temporary credentials"),
    env("aws_profile", ["AWS_PROFILE"], help: "the profile in the shared credentials and config files (default default)"),
    env("aws_shared_credentials_file", ["AWS_SHARED_CREDENTIALS_FILE"], kind: .path,
      help: "the shared credentials file (default ~/.aws/credentials)"),
    env("aws_config_file", ["AWS_CONFIG_FILE"], kind: .path, help: "the shared config file (default ~/.aws/config)"),
    env("aws_region", ["AWS_REGION", "AWS_DEFAULT_REGION"],
      help: "the bucket's region (else the profile's region, else us-east-1)"),
    env("aws_endpoint_url", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"],
      help: "an S3-compatible endpoint (MinIO, moto, GCS's XML API); default AWS's own, by region"),
    env("s3_part_size", ["REXSTORE_S3_PART_SIZE"], help: "multipart part size, e.g. 16MiB (at least 5 MiB on AWS)"),
    env("s3_multipart_threshold", ["REXSTORE_S3_MULTIPART_THRESHOLD"],
      help: "objects above this size go up as a multipart upload (default 16MiB)"),
    env("s3_part_concurrency", ["REXSTORE_S3_PART_CONCURRENCY"], kind: .count(1...64),
      help: "parts of one multipart upload on the wire at once (default 4)"),
    env("s3_conditional_writes", ["REXSTORE_S3_CONDITIONAL_WRITES"], kind: .boolean,
      help: "the endpoint honours If-None-Match and If-Match, so create-only writes skip their HEAD (default: true on AWS only)"),
  ]

  public static let registration = BackendRegistration(
    name: "s3", scheme: "s3", summary: "Amazon S3 and S3-compatible servers (REST API, SigV4)", settings: settings,
    bucketKey: "s3_bucket",
    capabilities: [.conditionalCreate, .conditionalOverwrite, .signedURLs, .contentTypes],
    selectedByAuto: { _ in false },
    open: { context throws(RexstoreError) in try open(context) },
    describeCredentials: { context in describeCredentials(context) },
    sign: { input, context throws(RexstoreError) in try sign(input, context) })

  /// The environment the AWS resolution reads, rebuilt from the declared settings (plus `HOME`, for
  /// `~/.aws`): what it finds is exactly what `config show` shows.
  static func awsEnvironment(_ context: BackendContext) -> [String: String] {
    var environment: [String: String] = [:]
    if let home = context.environment["HOME"] { environment["HOME"] = home }
    for spec in settings {
      guard let variable = spec.variables.first, let value = context.settings.text(spec.key) else { continue }
      environment[variable] = value
    }
    return environment
  }

  static func readFile(_ path: String) -> String? { try? FileSystem.readSmallFile(path, limit: 1 << 20) }

  public static func settings(_ context: BackendContext) throws(RexstoreError) -> S3Settings {
    let values = context.settings
    let environment = awsEnvironment(context)
    var settings = try S3Settings.resolve(
      environment: environment, readFile: readFile, bucket: registration.bucket(in: values))
    settings.retry = RemoteTransport.retry(values)
    settings.timeouts = RemoteTransport.timeouts(values)
    RemoteTransport.adjust(&settings.retry, &settings.timeouts, for: context.purpose)
    settings.spoolDirectory = context.localRoot + "/.rexstore-spool"
    settings.temporaryDirectory = context.temporaryDirectory
    settings.requestLog = context.requestLog
    func size(_ key: String) throws(RexstoreError) -> Int? {
      guard let text = values.text(key) else { return nil }
      guard let bytes = S3Settings.parseSize(text) else {
        throw RexstoreError(.config, "\(key) (\(values[key]?.source ?? "")) must be a size in bytes (or with KiB, MiB, GiB), got '\(text)'")
      }
      return bytes
    }
    if let part = try size("s3_part_size") {
      settings.partSize = part
      settings.multipartThreshold = part
    }
    if let threshold = try size("s3_multipart_threshold") { settings.multipartThreshold = threshold }
    if let width = values.count("s3_part_concurrency") { settings.partConcurrency = width }
    if values["s3_conditional_writes"] != nil { settings.conditionalWrites = values.flag("s3_conditional_writes") }
    return settings
  }

  static func open(_ context: BackendContext) throws(RexstoreError) -> any RemoteObjectStore {
    let settings = try settings(context)
    let credentials = try S3Credentials.require(environment: awsEnvironment(context), readFile: readFile)
    return try S3ObjectStore(settings: settings, credentials: credentials.credentials)
  }

  static func describeCredentials(_ context: BackendContext) -> String {
    guard let found = try? S3Credentials.resolve(environment: awsEnvironment(context), readFile: readFile) else {
      return "none found"
    }
    return found.source
  }

  /// A SigV4 presigned URL, as botocore's `generate_presigned_url` makes it.
  static func sign(_ input: SignInput, _ context: BackendContext) throws(RexstoreError) -> SignedURLRequest.Result {
    for (name, given) in [("content-type", input.contentType), ("scheme", input.scheme)] where given != nil {
      throw RexstoreError.usage("--\(name) applies to gs:// URLs only; use --header content-type:TYPE or --endpoint")
    }
    guard !input.object.isEmpty else { throw RexstoreError.usage("expected s3://BUCKET/KEY, got 's3://\(input.bucket)'") }
    let environment = awsEnvironment(context)
    // The bucket's settings as the backend would use them (region, endpoint, addressing), with the
    // URL's bucket; --region, --endpoint (or --host) and --style override them.
    // (Resolved for a stand-in bucket: the URL's own is checked by the request, as a usage error.)
    let resolved = try S3Settings.resolve(environment: environment, readFile: readFile, bucket: "bucket")
    var endpoint = input.endpoint ?? input.host ?? resolved.endpoint
    if let given = endpoint, !given.contains("://") { endpoint = "https://" + given }
    let styleName = input.style ?? (input.endpoint == nil && input.host == nil ? resolved.addressing.rawValue : "virtual")
    guard let style = S3PresignRequest.Style(rawValue: styleName) else {
      throw RexstoreError.usage("--style must be path or virtual for s3://, got '\(styleName)'")
    }
    let request = S3PresignRequest(
      bucket: input.bucket, key: input.object, method: input.method, expiresSeconds: input.expiresSeconds, at: input.at,
      region: input.region ?? resolved.region, headers: input.headers, query: input.query, style: style, endpoint: endpoint)
    // Checked before any credential is read: a bad request never depends on the credentials.
    try request.validate()
    let credentials = try S3Credentials.require(environment: environment, readFile: readFile).credentials
    return try request.sign(with: credentials)
  }
}

extension S3ObjectStore: RemoteObjectStore, InPlaceGroupStore {
  public var location: String { "s3://" + bucket }
  var spoolDirectories: [String] { [settings.spoolDirectory, settings.temporaryDirectory] }

  func deleteVersion(_ name: String, _ version: String) throws(RexstoreError) -> Bool {
    try delete(name, etag: version)
  }
  public var capabilities: BackendCapabilities { S3Backend.registration.capabilities }

  public func put(
    _ name: String, from source: ByteSource, contentType: String, condition: WriteCondition
  ) throws(RexstoreError) -> ObjectInfo {
    switch condition {
    case .absent: return try put(name, from: source, contentType: contentType, overwrite: false)
    case .matches(let etag):
      return try S3Upload(client: client, name: name, contentType: contentType, condition: .etag(etag)).run(source)
    }
  }
}
