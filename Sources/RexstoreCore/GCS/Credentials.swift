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
    let text: String
    do throws(RexstoreError) {
      text = try FileSystem.readSmallFile(path, limit: 1 << 20)
    } catch {
      throw RexstoreError(.config, "cannot read credentials file '\(path)': \(error.message)")
    }
    guard let json = try? JSONParser.parse(text), json.isObject else {
      throw RexstoreError(.config, "credentials file '\(path)' is not a JSON object")
    }
    return json
  }
}
