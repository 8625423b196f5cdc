import CryptoExtras

/// The parts of a service-account key file (`"type": "service_account"`) that signing needs. The key
/// itself never appears in output or errors.
public struct ServiceAccountKey: Sendable {
  public var clientEmail: String
  /// Where the JWT bearer flow exchanges a signed assertion for an access token.
  public var tokenURI: String
  var privateKeyID: String?
  let privateKey: _RSA.Signing.PrivateKey

  /// Reads and checks a key file; a file that is not a usable service-account key is a configuration error.
  public static func load(path: String) throws(RexstoreError) -> ServiceAccountKey {
    try parse(try CredentialsFile.read(path), path: path)
  }

  static func parse(_ json: JSONValue, path: String) throws(RexstoreError) -> ServiceAccountKey {
    guard case .string(let type)? = json["type"], type == "service_account" else {
      throw RexstoreError(
        .unavailable, "credentials in '\(path)' are not a service-account key; signing needs one",
        hint: "use a service-account JSON key (authorized-user credentials cannot sign URLs)")
    }
    guard case .string(let email)? = json["client_email"], case .string(let pem)? = json["private_key"] else {
      throw RexstoreError(.config, "credentials file '\(path)' lacks client_email or private_key")
    }
    do {
      let key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
      var tokenURI = "https://oauth2.googleapis.com/token"
      if case .string(let uri)? = json["token_uri"] { tokenURI = uri }
      var keyID: String?
      if case .string(let id)? = json["private_key_id"] { keyID = id }
      return ServiceAccountKey(clientEmail: email, tokenURI: tokenURI, privateKeyID: keyID, privateKey: key)
    } catch {
      throw RexstoreError(.config, "credentials file '\(path)': private_key is not a usable RSA key")
    }
  }

  /// RSASSA-PKCS1-v1_5 with SHA-256, lower-case hex: what `GOOG4-RSA-SHA256` wants.
  func signHex(_ text: String) throws(RexstoreError) -> String {
    Hex.lower(try sign(Array(text.utf8)))
  }

  /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT's RS256 and V4 signing alike).
  func sign(_ bytes: [UInt8]) throws(RexstoreError) -> [UInt8] {
    do {
      let signature = try privateKey.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5)
      return Array(signature.rawRepresentation)
    } catch {
      throw RexstoreError(.internal, "RSA signing failed")
    }
  }
}

enum Hex {
  static func lower(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0xF)])
    }
    return out
  }

  /// The bytes of lower- or upper-case hex; nil for anything else.
  static func decode(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
      switch c {
      case 0x30...0x39: return c - 0x30
      case 0x61...0x66: return c - 0x61 + 10
      case 0x41...0x46: return c - 0x41 + 10
      default: return nil
      }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
      guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
      out.append(high << 4 | low)
      index += 2
    }
    return out
  }
}
