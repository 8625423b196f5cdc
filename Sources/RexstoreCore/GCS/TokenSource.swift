import Crypto
import Glibc

/// Hands out OAuth access tokens for GCS requests: from memory, else from the on-disk cache (so
/// back-to-back invocations of a cron script make one token request, not one each), else fresh from
/// the token endpoint or metadata server. Tokens are refreshed when less than `margin` seconds remain.
///
/// Thread-safe: parallel uploads share one source.
public final class TokenSource: @unchecked Sendable {
  public let credentials: GCSCredentials
  let cacheDirectory: String?
  let scope = "https://www.googleapis.com/auth/devstorage.read_write"
  let margin = 300
  private var current: (token: String, expiresAt: Int)?
  private let lock = Mutex()

  public init(credentials: GCSCredentials, cacheDirectory: String?) {
    self.credentials = credentials
    self.cacheDirectory = cacheDirectory
  }

  /// A token valid for at least `margin` more seconds.
  func token(using http: HTTPClient, retry: RetryPolicy) throws(RexstoreError) -> String {
    try lock.locked { () throws(RexstoreError) -> String in
      let now = WallClock.seconds()
      if let current, current.expiresAt - now > margin { return current.token }
      if let cached = readCache(), cached.expiresAt - now > margin {
        current = cached
        return cached.token
      }
      let fresh = try fetch(using: http, retry: retry)
      current = fresh
      writeCache(fresh)
      return fresh.token
    }
  }

  /// Forgets a token the server refused (revoked, or the clock is off), in memory and on disk.
  func invalidate() {
    lock.locked { () -> Void in
      current = nil
      if let path = cachePath { unlink(path) }
    }
  }

  private func fetch(using http: HTTPClient, retry: RetryPolicy) throws(RexstoreError) -> (token: String, expiresAt: Int) {
    let request: HTTPRequest
    switch credentials {
    case .anonymous:
      return ("", Int.max)
    case .serviceAccount(let key):
      let assertion = try JWT.assertion(key: key, scope: scope, now: WallClock.seconds())
      request = HTTPRequest(
        method: "POST", url: key.tokenURI, headers: [("Content-Type", "application/x-www-form-urlencoded")],
        body: .bytes(Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)".utf8)))
    case .authorizedUser(let id, let secret, let refresh, let uri):
      let form = [("grant_type", "refresh_token"), ("client_id", id), ("client_secret", secret), ("refresh_token", refresh)]
        .map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
      request = HTTPRequest(
        method: "POST", url: uri, headers: [("Content-Type", "application/x-www-form-urlencoded")],
        body: .bytes(Array(form.utf8)))
    case .metadataServer(let host):
      let base = host.contains("://") ? host : "http://" + host
      request = HTTPRequest(
        method: "GET", url: base + "/computeMetadata/v1/instance/service-accounts/default/token",
        headers: [("Metadata-Flavor", "Google")])
    }
    let issuer = credentials.kind.replacingUnderscores
    let response = try retry.run { _ throws(RexstoreError) -> RetryPolicy.Outcome<HTTPResponse> in
      do throws(HTTPFailure) {
        let response = try http.send(request)
        if response.status == 429 || response.status == 408 || response.status >= 500 {
          return .retry(RexstoreError(.unavailable, "\(issuer) token request answered \(response.status)"), retryAfterSeconds: nil)
        }
        return .done(response)
      } catch {
        switch error {
        case .local(let failure): throw failure
        case .transport(let message, let retryable):
          if !retryable { throw RexstoreError(.unavailable, "cannot reach the \(issuer) token endpoint: \(message)") }
          return .retry(RexstoreError(.unavailable, "cannot reach the \(issuer) token endpoint: \(message)"), retryAfterSeconds: nil)
        }
      }
    }
    guard response.status == 200 else {
      // The endpoint's own words (invalid_grant, ...) help, but a server may quote the assertion or
      // the refresh token back: they are shown redacted and capped.
      var reason = "HTTP \(response.status)"
      if let json = try? JSONParser.parse(response.text) {
        var words = ""
        if case .string(let code)? = json["error"] { words += " \(code)" }
        if case .string(let message)? = json["error"]?["message"] { words += " \(message)" }
        if case .string(let text)? = json["error_description"] { words += ": \(text)" }
        reason += ServerText.shown(words)
      }
      throw RexstoreError(.permissionDenied, "the \(issuer) token endpoint refused the credentials (\(reason))")
    }
    guard let json = try? JSONParser.parse(response.text), case .string(let token)? = json["access_token"],
      case .number(let lifetime)? = json["expires_in"], let seconds = Double(lifetime)
    else { throw RexstoreError(.unavailable, "the \(issuer) token endpoint sent an unreadable answer") }
    return (token, WallClock.seconds() + Int(seconds))
  }

  // MARK: - The on-disk cache: $XDG_CACHE_HOME/rexstore/token-<hash>.json, mode 0600.

  private var cachePath: String? {
    guard let cacheDirectory, !credentials.isAnonymous else { return nil }
    let digest = Array(SHA256.hash(data: Array((credentials.identity + " " + scope).utf8)))
    return cacheDirectory + "/token-" + Hex.lower(Array(digest.prefix(12))) + ".json"
  }

  private func readCache() -> (token: String, expiresAt: Int)? {
    guard let path = cachePath else { return nil }
    var info = stat()
    // Only a file of ours that nobody else can read is trusted.
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid(),
      info.st_mode & 0o077 == 0,
      let text = try? FileSystem.readSmallFile(path, limit: 64 * 1024), let json = try? JSONParser.parse(text),
      case .string(let token)? = json["access_token"], case .number(let expiry)? = json["expires_at"],
      let expiresAt = Int(expiry)
    else { return nil }
    return (token, expiresAt)
  }

  private func writeCache(_ value: (token: String, expiresAt: Int)) {
    guard let path = cachePath, let directory = cacheDirectory else { return }
    guard (try? FileSystem.makeDirectories(directory)) != nil else { return }
    let text = JSONValue.record(["access_token": .string(value.token), "expires_at": .int(value.expiresAt)])
      .serialized(.compact)
    let temp = directory + "/" + FileSystem.temporaryName(for: "token")
    let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    let ok = Array(text.utf8).withUnsafeBytes { (try? FileSystem.writeAll(fd, $0, name: temp)) != nil }
    close(fd)
    if !ok || rename(temp, path) != 0 { unlink(temp) }
  }
}

extension GCSCredentials {
  var isAnonymous: Bool {
    if case .anonymous = self { return true }
    return false
  }
}

extension String {
  fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// The signed assertion of the OAuth 2.0 JWT bearer flow (RFC 7523): RS256 over
/// `b64url(header).b64url(claims)`, valid for an hour.
enum JWT {
  static func assertion(key: ServiceAccountKey, scope: String, now: Int) throws(RexstoreError) -> String {
    var header = JSONValue.record(["alg": .string("RS256"), "typ": .string("JWT")])
    if let id = key.privateKeyID { header = header.adding(["kid": .string(id)]) }
    let claims = JSONValue.record([
      "iss": .string(key.clientEmail), "scope": .string(scope), "aud": .string(key.tokenURI), "iat": .int(now),
      "exp": .int(now + 3600),
    ])
    let input = base64URL(Array(header.serialized(.compact).utf8)) + "."
      + base64URL(Array(claims.serialized(.compact).utf8))
    return input + "." + base64URL(try key.sign(Array(input.utf8)))
  }

  static func base64URL(_ bytes: [UInt8]) -> String {
    String(Base64.encode(bytes).compactMap { c -> Character? in
      switch c {
      case "+": return "-"
      case "/": return "_"
      case "=": return nil
      default: return c
      }
    })
  }
}

