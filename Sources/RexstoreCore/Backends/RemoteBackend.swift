/// The seam every remote object store sits behind (rclone's backend registry): a backend is one
/// folder that declares a `BackendRegistration` — its name, the settings it reads, what it supports
/// and how to build it — and one line in `Backends.registered`. The fallback store, `migrate`,
/// `health`, `sign` and voice-profile storage speak only these types, never a concrete backend.

/// What a backend can do; callers check before relying on it, the conformance suite before testing it.
public struct BackendCapabilities: OptionSet, Sendable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// A create that fails when the name exists, decided by the server (no race window).
  public static let conditionalCreate = BackendCapabilities(rawValue: 1 << 0)
  /// Writes and deletes conditional on the version a read returned.
  public static let conditionalOverwrite = BackendCapabilities(rawValue: 1 << 1)
  /// Copies inside the bucket without moving the bytes through rexstore.
  public static let serverSideCopy = BackendCapabilities(rawValue: 1 << 2)
  /// An interrupted upload resumes where the server stopped.
  public static let resumableUpload = BackendCapabilities(rawValue: 1 << 3)
  /// Offline signed URLs (`sign`, `audio sign`).
  public static let signedURLs = BackendCapabilities(rawValue: 1 << 4)
  /// Stores the content type given on upload and returns it.
  public static let contentTypes = BackendCapabilities(rawValue: 1 << 5)
}

/// A precondition on a write: only if no object holds the name, or only if the object is still the
/// version a read returned (an opaque token: GCS's generation, S3's ETag or version id).
public enum WriteCondition: Sendable, Equatable {
  case absent
  case matches(String)
}

/// An object store in the cloud. Beyond `ObjectStore`, what the fallback store, `migrate` and
/// `health` need.
public protocol RemoteObjectStore: ObjectStore {
  /// `gs://bucket`, `s3://bucket`: what messages and `health` name.
  var location: String { get }
  /// The bucket alone.
  var bucket: String { get }
  var capabilities: BackendCapabilities { get }
  /// An upload with a precondition; a failed precondition is a conflict (65).
  func put(_ name: String, from source: ByteSource, contentType: String, condition: WriteCondition)
    throws(RexstoreError) -> ObjectInfo
  /// Reachability, credentials and access, in one cheap request (for `health`).
  func probe() throws(RexstoreError)
}

/// What a backend is built from: the resolved settings (its own among them) and the facts of the
/// run the CLI passes down, since the core never reads the environment itself.
public struct BackendContext: Sendable {
  public enum Purpose: Sendable, Equatable {
    /// Commands: the configured retries and timeouts.
    case normal
    /// Inside a remembered outage window: one attempt, so a call fails fast if it is still out.
    case singleAttempt
    /// `health`: answers within seconds, at most two tries.
    case probe
  }

  public var settings: SettingValues
  /// The process's environment, for what backends read by their SDKs' rules (shared files, profiles).
  public var environment: [String: String]
  /// The local object root (spool files live under it).
  public var localRoot: String
  /// `$TMPDIR` if absolute, else /tmp.
  public var temporaryDirectory: String
  /// Where tokens may be cached (`$XDG_CACHE_HOME/rexstore`).
  public var cacheDirectory: String?
  public var purpose: Purpose
  /// `-v`: one line per request (method, URL with secrets masked, status, attempt).
  public var requestLog: (@Sendable (String) -> Void)?

  public init(
    settings: SettingValues, environment: [String: String], localRoot: String, temporaryDirectory: String,
    cacheDirectory: String?, purpose: Purpose = .normal, requestLog: (@Sendable (String) -> Void)? = nil
  ) {
    self.settings = settings
    self.environment = environment
    self.localRoot = localRoot
    self.temporaryDirectory = temporaryDirectory
    self.cacheDirectory = cacheDirectory
    self.purpose = purpose
    self.requestLog = requestLog
  }
}

/// What `sign` asks of a backend that can sign. Options a backend does not take are refused by it
/// (usage, 64), so `--region` on a gs:// URL says so instead of being ignored.
public struct SignInput: Sendable {
  public var bucket: String
  /// Empty: the bucket itself (a listing).
  public var object: String
  public var method: String
  public var expiresSeconds: Int64
  public var at: Timestamp
  public var headers: [(String, String)]
  public var query: [(String, String)]
  public var contentType: String?
  public var style: String?
  public var host: String?
  public var scheme: String?
  public var region: String?
  public var endpoint: String?

  public init(
    bucket: String, object: String, method: String, expiresSeconds: Int64, at: Timestamp, headers: [(String, String)] = [],
    query: [(String, String)] = [], contentType: String? = nil, style: String? = nil, host: String? = nil,
    scheme: String? = nil, region: String? = nil, endpoint: String? = nil
  ) {
    self.bucket = bucket
    self.object = object
    self.method = method
    self.expiresSeconds = expiresSeconds
    self.at = at
    self.headers = headers
    self.query = query
    self.contentType = contentType
    self.style = style
    self.host = host
    self.scheme = scheme
    self.region = region
    self.endpoint = endpoint
  }
}

/// One remote backend, declared in its own folder.
public struct BackendRegistration: Sendable {
  /// `gcs`, `s3`: the `--backend` word, the JSON's `backend`, a dossier entry's `storage`.
  public var name: String
  /// The URL scheme `sign` takes (`gs`, `s3`).
  public var scheme: String
  /// One line for help (`Google Cloud Storage (JSON API)`).
  public var summary: String
  /// The settings it reads, declared once (they appear in `config show`, help and the man page).
  public var settings: [SettingSpec]
  /// Its own bucket setting (`gcs_bucket`, read from its variable); `--bucket` and the config file's
  /// `bucket` serve every backend.
  public var bucketKey: String
  public var capabilities: BackendCapabilities
  /// Whether `--backend auto` picks it, given the resolved settings (GCS: ENABLE_GCS_STORAGE and a
  /// bucket, as the app decides).
  public var selectedByAuto: @Sendable (SettingValues) -> Bool
  /// Builds the store. Errors: `config` (78) when a setting is missing or wrong, `unavailable` (69)
  /// when it cannot be reached or has no credentials.
  public var open: @Sendable (BackendContext) throws(RexstoreError) -> any RemoteObjectStore
  /// Which credentials a request would use, for `health` (never the secret itself).
  public var describeCredentials: @Sendable (BackendContext) -> String
  /// Offline signed URLs; nil when the backend cannot sign.
  public var sign: (@Sendable (SignInput, BackendContext) throws(RexstoreError) -> SignedURLRequest.Result)?

  public init(
    name: String, scheme: String, summary: String, settings: [SettingSpec], bucketKey: String,
    capabilities: BackendCapabilities,
    selectedByAuto: @escaping @Sendable (SettingValues) -> Bool,
    open: @escaping @Sendable (BackendContext) throws(RexstoreError) -> any RemoteObjectStore,
    describeCredentials: @escaping @Sendable (BackendContext) -> String,
    sign: (@Sendable (SignInput, BackendContext) throws(RexstoreError) -> SignedURLRequest.Result)? = nil
  ) {
    self.name = name
    self.scheme = scheme
    self.summary = summary
    self.settings = settings
    self.bucketKey = bucketKey
    self.capabilities = capabilities
    self.selectedByAuto = selectedByAuto
    self.open = open
    self.describeCredentials = describeCredentials
    self.sign = sign
  }
}

extension BackendRegistration {
  /// The bucket: `--bucket`, then the backend's own variable, then the config file's `bucket`.
  public func bucket(in values: SettingValues) -> String? { values.layered("bucket", bucketKey)?.text }
}

extension Backends {
  /// The registered remote backend called `name`.
  public static func named(_ name: String) -> BackendRegistration? { registered.first { $0.name == name } }

  /// The registered backend whose URLs start `scheme://`.
  public static func forScheme(_ scheme: String) -> BackendRegistration? { registered.first { $0.scheme == scheme } }

  /// `--backend` words: `auto`, each remote, `local`.
  public static var choices: [String] { ["auto"] + registered.map(\.name) + ["local"] }

  /// Whether a dossier entry's `storage` names a remote (its samples are `blob_names` in a bucket).
  public static func isRemote(_ storage: String?) -> Bool {
    guard let storage else { return false }
    return registered.contains { $0.name == storage }
  }
}
