import Foundation
import Testing

@testable import RexstoreCore

/// SigV4 against AWS's published signing test suite (a subset, committed under
/// Fixtures/aws4_testsuite with its Apache-2.0 LICENSE and NOTICE, as botocore ships it): each `.req`
/// must give the `.creq` canonical request, the `.sts` string to sign and the `.authz` signature.
/// The suite's path-normalization cases are left out: S3 never normalizes paths.
@Suite struct SigV4Tests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/aws4_testsuite"
  static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
    .filter { !$0.hasPrefix("LICENSE") && !$0.hasPrefix("NOTICE") }.sorted()

  static func read(_ name: String, _ ext: String) throws -> String {
    try String(contentsOfFile: "\(root)/\(name)/\(name).\(ext)", encoding: .utf8)
  }

  static func decode(_ text: Substring) -> String {
    String(text).removingPercentEncoding ?? String(text)
  }

  @Test func theSuiteIsThere() {
    #expect(Self.names.count >= 15)
  }

  @Test(arguments: names) func vector(_ name: String) throws {
    let req = try Self.read(name, "req")
    let (head, body) = req.range(of: "\n\n").map { (String(req[..<$0.lowerBound]), String(req[$0.upperBound...])) } ?? (req, "")
    let lines = head.split(separator: "\n", omittingEmptySubsequences: false)
    let requestLine = lines[0].split(separator: " ")
    let method = String(requestLine[0])
    let target = requestLine[1..<(requestLine.count - 1)].joined(separator: " ")
    let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let uri = SigV4.encode(Self.decode(pathPart[0]), keepSlash: true)
    var query: [(String, String)] = []
    if pathPart.count > 1 {
      for pair in pathPart[1].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        query.append((Self.decode(kv[0]), kv.count > 1 ? Self.decode(kv[1]) : ""))
      }
    }
    var headers: [(String, String)] = []
    for line in lines.dropFirst() {
      if line.first == " " || line.first == "\t" {
        // A folded continuation line belongs to the header before it.
        headers[headers.count - 1].1 += " " + line
        continue
      }
      let colon = line.firstIndex(of: ":")!
      headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
    }
    if name.contains("session-token") {
      headers.append(("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"))
    }
    let payload = SigV4.sha256Hex(body)
    let (canonical, signed) = SigV4.canonicalRequest(
      method: method, uri: uri, query: SigV4.canonicalQuery(query), headers: headers, payloadHash: payload)
    #expect(canonical == (try Self.read(name, "creq")))

    let scope = SigV4.scope(date: "20150830", region: "us-east-1", service: "service")
    let sts = SigV4.stringToSign(datetime: "20150830T123600Z", scope: scope, canonicalRequest: canonical)
    #expect(sts == (try Self.read(name, "sts")))

    let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20150830", region: "us-east-1", service: "service")
    let authz = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\(scope), SignedHeaders=\(signed), Signature=\(SigV4.signature(signingKey: key, stringToSign: sts))"
    #expect(authz == (try Self.read(name, "authz")))
  }

  /// AWS's documented signing-key example (IAM, us-east-1, 20120215).
  @Test func signingKeyDerivation() {
    let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215", region: "us-east-1", service: "iam")
    #expect(Hex.lower(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
  }

  @Test func headerCanonicalization() {
    let (block, signed) = SigV4.canonicalHeaders([("X-B", "  a \t  b  "), ("x-a", "1"), ("X-A", " 2")])
    #expect(block == "x-a:1,2\nx-b:a b\n")
    #expect(signed == "x-a;x-b")
  }

  @Test func s3KeysAreEncodedOnceAndNeverNormalized() {
    #expect(SigV4.encode("a b/../c+d~e%/ü//x", keepSlash: true) == "a%20b/../c%2Bd~e%25/%C3%BC//x")
  }

  @Test func presignedURLCarriesTheTokenAndNeverTheSecret() throws {
    let request = S3PresignRequest(
      bucket: "rex-audio", key: "a.wav", method: "GET", expiresSeconds: 60,
      at: try #require(Timestamp.parse("2026-11-28T12:34:56Z")), region: "eu-west-1")
    let result = try request.sign(with: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "SECRETVALUE", sessionToken: "TOK"))
    #expect(result.url.hasPrefix("https://rex-audio.s3.eu-west-1.amazonaws.com/a.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261128%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T123456Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=TOK&X-Amz-Signature="))
    #expect(!result.url.contains("SECRETVALUE"))
  }

  @Test func presignChecksComeFirst() throws {
    let at = try #require(Timestamp.parse("2026-11-28T12:34:56Z"))
    let creds = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "S")
    #expect(throws: RexstoreError.self) { try S3PresignRequest(bucket: "b", key: "k", method: "GET", expiresSeconds: 60, at: at, region: "us-east-1").sign(with: creds) }
    #expect(throws: RexstoreError.self) { try S3PresignRequest(bucket: "bkt", key: "k", method: "GET", expiresSeconds: 604_801, at: at, region: "us-east-1").sign(with: creds) }
    #expect(throws: RexstoreError.self) { try S3PresignRequest(bucket: "bkt", key: "k", method: "PATCH", expiresSeconds: 60, at: at, region: "us-east-1").sign(with: creds) }
    #expect(throws: RexstoreError.self) { try S3PresignRequest(bucket: "my.bkt", key: "k", method: "GET", expiresSeconds: 60, at: at, region: "us-east-1", style: .virtual).sign(with: creds) }
  }
}
