import Glibc

/// Where GCS access tokens come from, in Application Default Credentials order: a key or ADC file
/// (service account or authorized user), else the GCE metadata server. With an emulator there are none.
public enum GCSCredentials: Sendable {
  case anonymous
  case serviceAccount(ServiceAccountKey)
  case authorizedUser(clientID: String, clientSecret: String, refreshToken: String, tokenURI: String)
  /// `host` is `GCE_METADATA_HOST` or the well-known `169.254.169.254`.
  case metadataServer(host: String)

  /// Reads a credentials file: `service_account` or `authorized_user`; anything else is a configuration error.
  public static func load(path: String) throws(RexstoreError) -> GCSCredentials {
    let json = try CredentialsFile.read(path)
    guard case .string(let type)? = json["type"] else {
      throw RexstoreError(.config, "credentials file '\(path)' has no \"type\"")
    }
    switch type {
    case "service_account":
      return .serviceAccount(try ServiceAccountKey.parse(json, path: path))
    case "authorized_user":
      guard case .string(let id)? = json["client_id"], case .string(let secret)? = json["client_secret"],
        case .string(let refresh)? = json["refresh_token"]
      else { throw RexstoreError(.config, "credentials file '\(path)' lacks client_id, client_secret or refresh_token") }
      var tokenURI = "https://oauth2.googleapis.com/token"
      if case .string(let uri)? = json["token_uri"] { tokenURI = uri }
      return .authorizedUser(clientID: id, clientSecret: secret, refreshToken: refresh, tokenURI: tokenURI)
    default:
      throw RexstoreError(.config, "credentials file '\(path)' has unsupported type '\(type)'",
        hint: "use a service_account key or authorized_user ADC (gcloud auth application-default login)")
    }
  }

  /// Who the tokens are for, as a cache key and for `health` (never a secret).
  public var identity: String {
    switch self {
    case .anonymous: return "anonymous"
    case .serviceAccount(let key): return "service_account:\(key.clientEmail)@\(key.tokenURI)"
    case .authorizedUser(let id, _, _, let uri): return "authorized_user:\(id)@\(uri)"
    case .metadataServer(let host): return "metadata:\(host)"
    }
  }

  public var kind: String {
    switch self {
    case .anonymous: return "anonymous"
    case .serviceAccount: return "service_account"
    case .authorizedUser: return "authorized_user"
    case .metadataServer: return "metadata_server"
    }
  }
}

enum CredentialsFile {
  static func read(_ path: String) throws(RexstoreError) -> JSONValue {
    let text = try ConfigurationFile.read(path, what: "credentials file")
    guard let json = try? JSONParser.parse(text), json.isObject else {
      throw RexstoreError(.config, "credentials file '\(path)' is not a JSON object")
    }
    return json
  }
}

/// Reads a small configuration input (the config file, a credentials file). Every way it can be wrong
/// (missing, unreadable, a directory, a FIFO or device, too big, not UTF-8) is a configuration error
/// (78). It is opened non-blocking and checked to be a regular file before a byte is read, so a FIFO
/// planted under its name cannot hang the process.
public enum ConfigurationFile {
  public static func read(_ path: String, what: String, limit: Int = 1 << 20) throws(RexstoreError) -> String {
    func failure(_ reason: String) -> RexstoreError {
      RexstoreError(.config, "cannot read \(what) '\(path)': \(reason)")
    }
    var fd: Int32
    repeat { fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) } while fd < 0 && errno == EINTR
    guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw failure(String(cString: strerror(errno))) }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw failure("it is a directory, not a file")
    default: throw failure("it is not a regular file (a FIFO, socket or device)")
    }
    guard info.st_size <= limit else { throw failure("it is larger than \(limit) bytes") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw failure(String(cString: strerror(errno)))
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
      if bytes.count > limit { throw failure("it is larger than \(limit) bytes") }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw failure("it is not valid UTF-8") }
    return text
  }
}
