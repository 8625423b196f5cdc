import CryptoExtras

/// The parts of a service-account key file (`"type": "service_account"`) that signing needs. The key
/// itself never appears in output or errors.
public struct ServiceAccountKey: Sendable {
  public var clientEmail: String
  let privateKey: _RSA.Signing.PrivateKey

  /// Reads and checks a key file; a file that is not a usable service-account key is a configuration error.
  public static func load(path: String) throws(RexstoreError) -> ServiceAccountKey {
    let text = try FileSystem.readSmallFile(path, limit: 1 << 20)
    guard let json = try? JSONParser.parse(text), json.isObject else {
      throw RexstoreError(.config, "credentials file '\(path)' is not a JSON object")
    }
    guard case .string(let type)? = json["type"], type == "service_account" else {
      throw RexstoreError(
        .unavailable, "credentials in '\(path)' are not a service-account key; signing needs one",
        hint: "use a service-account JSON key (authorized-user credentials cannot sign URLs)")
    }
    guard case .string(let email)? = json["client_email"], case .string(let pem)? = json["private_key"] else {
      throw RexstoreError(.config, "credentials file '\(path)' lacks client_email or private_key")
    }
    do {
      return ServiceAccountKey(clientEmail: email, privateKey: try _RSA.Signing.PrivateKey(pemRepresentation: pem))
    } catch {
      throw RexstoreError(.config, "credentials file '\(path)': private_key is not a usable RSA key")
    }
  }

  /// RSASSA-PKCS1-v1_5 with SHA-256, lower-case hex: what `GOOG4-RSA-SHA256` wants.
  func signHex(_ text: String) throws(RexstoreError) -> String {
    do {
      let digest = SHA256.hash(data: Array(text.utf8))
      let signature = try privateKey.signature(for: digest, padding: .insecurePKCS1v1_5)
      return Hex.lower(Array(signature.rawRepresentation))
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
}
