import Foundation
import Testing

@testable import RexstoreCore

/// The S3 backend's pieces that need no server: credential and settings resolution from a given
/// environment and files (Core never reads either itself), addressing, ETags, the XML reader.
@Suite struct S3SettingsTests {
  /// Files as `readFile` sees them: path → contents.
  static func reader(_ files: [String: String]) -> (String) -> String? { { files[$0] } }

  static let credentialsFile = """
    # a comment
    [default]
    aws_access_key_id = AKIDDEFAULT
    aws_secret_access_key = secretdefault

    [work]
    aws_access_key_id=AKIDWORK
    aws_secret_access_key=secret/work+key
    aws_session_token = tokenwork
    """

  static let configFile = """
    [default]
    region = eu-west-1

    [profile work]
    region = ap-southeast-2
    endpoint_url = http://127.0.0.1:9000
    s3 =
      addressing_style = virtual

    [profile keysonly]
    aws_access_key_id = AKIDCONFIG
    aws_secret_access_key = secretconfig
    region = us-west-2
    """

  static let files = [
    "/home/u/.aws/credentials": credentialsFile, "/home/u/.aws/config": configFile,
  ]

  @Test func environmentKeysWinOverTheFiles() throws {
    let env = [
      "HOME": "/home/u", "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secretenv", "AWS_SESSION_TOKEN": "tok",
      "AWS_PROFILE": "work",
    ]
    let found = try #require(try S3Credentials.resolve(environment: env, readFile: Self.reader(Self.files)))
    #expect(found.credentials.accessKeyID == "AKIDENV")
    #expect(found.credentials.secretAccessKey == "secretenv")
    #expect(found.credentials.sessionToken == "tok")
    #expect(found.source == "env")
  }

  @Test func defaultProfileFromTheCredentialsFile() throws {
    let found = try #require(try S3Credentials.resolve(environment: ["HOME": "/home/u"], readFile: Self.reader(Self.files)))
    #expect(found.credentials.accessKeyID == "AKIDDEFAULT")
    #expect(found.credentials.secretAccessKey == "secretdefault")
    #expect(found.credentials.sessionToken == nil)
    #expect(found.source == "/home/u/.aws/credentials [default]")
  }

  @Test func namedProfileWithItsToken() throws {
    let env = ["HOME": "/home/u", "AWS_PROFILE": "work"]
    let found = try #require(try S3Credentials.resolve(environment: env, readFile: Self.reader(Self.files)))
    #expect(found.credentials.accessKeyID == "AKIDWORK")
    #expect(found.credentials.secretAccessKey == "secret/work+key")
    #expect(found.credentials.sessionToken == "tokenwork")
  }

  @Test func keysInTheConfigFileUnderProfileName() throws {
    let env = ["HOME": "/home/u", "AWS_PROFILE": "keysonly"]
    let found = try #require(try S3Credentials.resolve(environment: env, readFile: Self.reader(Self.files)))
    #expect(found.credentials.accessKeyID == "AKIDCONFIG")
    #expect(found.source == "/home/u/.aws/config [keysonly]")
  }

  @Test func filesNamedByVariables() throws {
    let files = ["/etc/aws/creds": "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n"]
    let env = ["HOME": "/home/u", "AWS_SHARED_CREDENTIALS_FILE": "/etc/aws/creds", "AWS_CONFIG_FILE": "/etc/aws/none"]
    let found = try #require(try S3Credentials.resolve(environment: env, readFile: Self.reader(files)))
    #expect(found.credentials.accessKeyID == "A1")
    #expect(found.source == "/etc/aws/creds [default]")
  }

  @Test func noCredentialsAnywhereIsNilAndRequireIs69() throws {
    let env = ["HOME": "/home/u", "AWS_PROFILE": "missing"]
    #expect(try S3Credentials.resolve(environment: env, readFile: Self.reader(Self.files)) == nil)
    #expect(throws: RexstoreError.self) { try S3Credentials.require(environment: env, readFile: Self.reader(Self.files)) }
    do {
      _ = try S3Credentials.require(environment: env, readFile: Self.reader(Self.files))
    } catch {
      #expect(error.code == .unavailable)
      #expect(error.message.contains("'missing'"))
    }
  }

  @Test func halfAKeyPairIsAConfigurationError() {
    do {
      _ = try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "A"], readFile: Self.reader([:]))
      Issue.record("no error")
    } catch {
      #expect(error.code == .config)
    }
  }

  @Test func regionEndpointBucketAndAddressing() throws {
    // Defaults: us-east-1, AWS's endpoint, virtual hosts.
    var s = try S3Settings.resolve(environment: ["S3_BUCKET_NAME": "rex-audio"], readFile: Self.reader([:]))
    #expect(s.region == "us-east-1")
    #expect(s.endpoint == nil)
    #expect(s.addressing == .virtual)
    #expect(s.conditionalWrites)
    #expect(s.origin.host == "rex-audio.s3.amazonaws.com")
    #expect(s.path("audio/u 1/a+b.wav") == "/audio/u%201/a%2Bb.wav")

    // The config file's region for the default profile; AWS_DEFAULT_REGION over it; AWS_REGION over both.
    s = try S3Settings.resolve(environment: ["HOME": "/home/u", "S3_BUCKET_NAME": "rex-audio"], readFile: Self.reader(Self.files))
    #expect(s.region == "eu-west-1")
    #expect(s.origin.host == "rex-audio.s3.eu-west-1.amazonaws.com")
    s = try S3Settings.resolve(
      environment: ["HOME": "/home/u", "S3_BUCKET_NAME": "rex-audio", "AWS_DEFAULT_REGION": "us-west-1"],
      readFile: Self.reader(Self.files))
    #expect(s.region == "us-west-1")
    s = try S3Settings.resolve(
      environment: ["HOME": "/home/u", "S3_BUCKET_NAME": "rex-audio", "AWS_DEFAULT_REGION": "us-west-1", "AWS_REGION": "sa-east-1"],
      readFile: Self.reader(Self.files))
    #expect(s.region == "sa-east-1")

    // An endpoint: path style, no trust in conditional headers unless told.
    s = try S3Settings.resolve(
      environment: ["S3_BUCKET_NAME": "rex-audio", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"], readFile: Self.reader([:]))
    #expect(s.endpoint == "http://127.0.0.1:5000")
    #expect(s.addressing == .path)
    #expect(!s.conditionalWrites)
    #expect(s.origin.scheme == "http")
    #expect(s.origin.host == "127.0.0.1:5000")
    #expect(s.path("audio/x.wav") == "/rex-audio/audio/x.wav")
    #expect(s.path("") == "/rex-audio")
    // AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL.
    s = try S3Settings.resolve(
      environment: ["S3_BUCKET_NAME": "rex-audio", "AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "https://b:2"],
      readFile: Self.reader([:]))
    #expect(s.endpoint == "https://b:2")

    // A profile's endpoint_url, region and `s3 = addressing_style` block; an explicit bucket wins.
    s = try S3Settings.resolve(
      environment: ["HOME": "/home/u", "AWS_PROFILE": "work", "S3_BUCKET_NAME": "other"], readFile: Self.reader(Self.files),
      bucket: "rex-audio")
    #expect(s.bucket == "rex-audio")
    #expect(s.region == "ap-southeast-2")
    #expect(s.endpoint == "http://127.0.0.1:9000")
    #expect(s.addressing == .virtual)
    #expect(s.origin.host == "rex-audio.127.0.0.1:9000")
  }

  @Test func aMissingOrInvalidBucketIsAConfigurationError() {
    for env in [[:], ["S3_BUCKET_NAME": "No_Such"], ["S3_BUCKET_NAME": "ok-bucket", "AWS_REGION": "bad region"]] {
      do {
        _ = try S3Settings.resolve(environment: env, readFile: Self.reader([:]))
        Issue.record("no error for \(env)")
      } catch {
        #expect(error.code == .config, "\(env)")
      }
    }
  }

  @Test func sizes() {
    #expect(S3Settings.parseSize("8388608") == 8_388_608)
    #expect(S3Settings.parseSize("8MiB") == 8 << 20)
    #expect(S3Settings.parseSize("64k") == 65536)
    #expect(S3Settings.parseSize("1GiB") == 1 << 30)
    #expect(S3Settings.parseSize("0") == nil)
    #expect(S3Settings.parseSize("-1") == nil)
    #expect(S3Settings.parseSize("5 MiB") == nil)
    #expect(S3Settings.parseSize("99999999999999999999G") == nil)
  }

  @Test func etagsThatAreMD5s() {
    // MD5("hello") = 5d41402abc4b2a76b9719d911017c592 = XUFAKrxLKna5cZ2REBfFkg== in base64.
    #expect(S3ObjectStore.md5(fromETag: "\"5d41402abc4b2a76b9719d911017c592\"", headers: [:]) == "XUFAKrxLKna5cZ2REBfFkg==")
    #expect(S3ObjectStore.md5(fromETag: "\"5D41402ABC4B2A76B9719D911017C592\"", headers: [:]) == "XUFAKrxLKna5cZ2REBfFkg==")
    // A multipart upload's ETag, a weak one, a KMS-encrypted object's: no MD5.
    #expect(S3ObjectStore.md5(fromETag: "\"5d41402abc4b2a76b9719d911017c592-3\"", headers: [:]) == nil)
    #expect(S3ObjectStore.md5(fromETag: "W/\"5d41402abc4b2a76b9719d911017c592\"", headers: [:]) == nil)
    #expect(
      S3ObjectStore.md5(fromETag: "\"5d41402abc4b2a76b9719d911017c592\"", headers: ["x-amz-server-side-encryption": "aws:kms"])
        == nil)
    // A composite CRC32C is no checksum of the bytes.
    #expect(S3ObjectStore.fullCRC32C(["x-amz-checksum-crc32c": "yZRlqg=="]) == "yZRlqg==")
    #expect(S3ObjectStore.fullCRC32C(["x-amz-checksum-crc32c": "yZRlqg==-2"]) == nil)
    #expect(S3ObjectStore.fullCRC32C(["x-amz-checksum-crc32c": "yZRlqg==", "x-amz-checksum-type": "COMPOSITE"]) == nil)
  }

  @Test func xmlListing() throws {
    let text = """
      <?xml version="1.0" encoding="UTF-8"?>
      <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>rex</Name><Prefix>audio/</Prefix>
      <IsTruncated>true</IsTruncated><NextContinuationToken>1/abc==</NextContinuationToken>
      <Contents><Key>audio/a &amp; b.wav</Key><LastModified>2026-11-28T12:00:00.000Z</LastModified>
      <ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
      <Contents><Key>audio/caf&#xE9;&#47;x.wav</Key><Size>0</Size></Contents>
      <CommonPrefixes><Prefix>audio/u1/</Prefix></CommonPrefixes><Empty/><C><![CDATA[a<b&c]]></C>
      </ListBucketResult>
      """
    let xml = try #require(S3XML.parse(Array(text.utf8)))
    #expect(xml.name == "ListBucketResult")
    #expect(xml.value("IsTruncated") == "true")
    #expect(xml.value("NextContinuationToken") == "1/abc==")
    let contents = xml.all("Contents")
    #expect(contents.map { $0.value("Key") } == ["audio/a & b.wav", "audio/café/x.wav"])
    #expect(contents[0].value("ETag") == "\"5d41402abc4b2a76b9719d911017c592\"")
    #expect(xml.all("CommonPrefixes").compactMap { $0.value("Prefix") } == ["audio/u1/"])
    #expect(xml["Empty"]?.text == "")
    #expect(xml.value("C") == "a<b&c")
    #expect(S3XML.parse(Array("<a><b>".utf8)) == nil)
  }

  /// S3's answers mapped to rexstore's errors, and which of them are worth another try.
  @Test func errorsAndRetries() throws {
    let client = try S3Client(settings: S3Settings(endpoint: "http://127.0.0.1:1", region: "us-east-1", bucket: "rex-audio"), credentials: nil)
    func response(_ status: Int, _ code: String?, headers: [String: String] = [:]) -> HTTPResponse {
      let body = code.map { "<?xml version=\"1.0\"?><Error><Code>\($0)</Code><Message>m</Message></Error>" } ?? ""
      return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }
    let cases: [(Int, String?, ErrorCode)] = [
      (404, "NoSuchBucket", .config), (404, "NoSuchKey", .notFound), (403, "AccessDenied", .permissionDenied),
      (403, "SignatureDoesNotMatch", .permissionDenied), (301, "PermanentRedirect", .config),
      (400, "AuthorizationHeaderMalformed", .config), (412, "PreconditionFailed", .conflict), (409, "ConditionalRequestConflict", .conflict),
      (503, "SlowDown", .rateLimited), (429, nil, .rateLimited), (500, "InternalError", .unavailable), (400, "InvalidArgument", .invalidInput),
    ]
    for (status, code, expected) in cases {
      #expect(client.failure("x", response(status, code)).code == expected, "\(status) \(code ?? "")")
    }
    #expect(client.failure("x", response(301, "PermanentRedirect", headers: ["x-amz-bucket-region": "eu-west-1"])).message.contains("eu-west-1"))
    for (status, code) in [(500, "InternalError"), (503, "SlowDown"), (408, nil), (429, nil), (400, "RequestTimeout")] {
      #expect(S3Client.isRetryable(response(status, code)), "\(status)")
    }
    for (status, code) in [(400, "InvalidArgument"), (403, "AccessDenied"), (404, "NoSuchKey"), (412, "PreconditionFailed"), (200, nil)] {
      #expect(!S3Client.isRetryable(response(status, code)), "\(status)")
    }
  }

  /// The same request signed twice with a pinned clock gives the same Authorization, which names
  /// every header sent, and a session token is signed.
  @Test func headerSigningCoversWhatIsSent() {
    let creds = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "tok")
    let at = Timestamp.parse("2026-11-28T12:34:56Z")!
    let a = S3Client.authorization(
      method: "PUT", scheme: "http", host: "127.0.0.1:80", path: "/rex/a.wav", query: "",
      headers: [("Content-Type", "audio/wav"), ("If-None-Match", "*")], payloadHash: "UNSIGNED-PAYLOAD", credentials: creds,
      region: "us-east-1", at: at)
    let b = S3Client.authorization(
      method: "PUT", scheme: "http", host: "127.0.0.1", path: "/rex/a.wav", query: "",
      headers: [("Content-Type", "audio/wav"), ("If-None-Match", "*")], payloadHash: "UNSIGNED-PAYLOAD", credentials: creds,
      region: "us-east-1", at: at)
    #expect(a.map { $0.1 } == b.map { $0.1 })
    let names = a.map(\.0)
    #expect(names == ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "Authorization"])
    let auth = a.last!.1
    #expect(auth.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/s3/aws4_request, "))
    #expect(auth.contains("SignedHeaders=content-type;host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-security-token, "))
  }
}
