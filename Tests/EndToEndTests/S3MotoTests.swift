import Foundation
import Testing

@testable import RexstoreCore

/// moto in server mode (PyPI `moto[server]`) on 127.0.0.1, started and stopped by PID like the GCS
/// emulators, with one bucket. `S3_UPLOAD_PART_MIN_SIZE` lowers moto's 5 MiB part minimum so
/// multipart uploads can be tested with small parts.
final class MotoServer {
  static let tool = StorageServer.venv + "/bin/moto_server"
  static let bucket = "rex-bucket"
  let process: Process
  let port: Int
  let logPath: String
  var endpoint: String { "http://127.0.0.1:\(port)" }

  /// The keys requests must be signed with: moto's own IAM user when it checks signatures.
  private(set) var keyID = MotoServer.keyID
  private(set) var secret = MotoServer.secret

  /// `checkSignatures`: moto verifies every request's SigV4 signature against an IAM user made at
  /// start (its first three requests are the set-up's, unauthenticated).
  init(minimumPartSize: Int? = 256, checkSignatures: Bool = false) throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.tool), "no \(Self.tool): run 'make test'")
    port = try StorageServer.freePort()
    logPath = NSTemporaryDirectory() + "rexstore-moto-\(UUID().uuidString).log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process = Process()
    process.executableURL = URL(fileURLWithPath: Self.tool)
    process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
    var environment = ProcessInfo.processInfo.environment
    if let minimumPartSize { environment["S3_UPLOAD_PART_MIN_SIZE"] = String(minimumPartSize) }
    if checkSignatures { environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "3" }
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = log
    process.standardError = log
    try process.run()
    try StorageServer.waitForHTTP(port: port, path: "/moto-api/", process: process)
    if checkSignatures {
      let scratch = Processes.Scratch()
      let r = try python(
        """
        iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDBOOT",
                           aws_secret_access_key="boot")
        iam.create_user(UserName="rex")
        iam.put_user_policy(UserName="rex", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        k = iam.create_access_key(UserName="rex")["AccessKey"]
        boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                     aws_secret_access_key=k["SecretAccessKey"]).create_bucket(Bucket=B)
        print(k["AccessKeyId"], k["SecretAccessKey"])
        """, in: scratch)
      try #require(r.status == 0, "cannot set up moto's IAM user: \(r.stderr)")
      let words = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
      try #require(words.count == 2)
      (keyID, secret) = (words[0], words[1])
      return
    }
    let made = try Processes.run("/usr/bin/curl", ["-sf", "-X", "PUT", endpoint + "/" + Self.bucket], environment: [:])
    try #require(made.status == 0, "cannot create the bucket: \(made.stderr)")
  }

  deinit {
    if process.isRunning {
      process.terminate()
      for _ in 0..<40 where process.isRunning { usleep(25_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: logPath)
  }

  static let keyID = "AKIDMOTOTEST"
  static let secret = "motosecretkey/with+chars"

  /// A store on this server, built in-process (settings as tests want them).
  func store(
    partSize: Int = S3Settings.defaultPartSize, threshold: Int? = nil, conditionalWrites: Bool = true, partConcurrency: Int = 4
  ) throws -> S3ObjectStore {
    var settings = S3Settings(
      endpoint: endpoint, region: "us-east-1", bucket: Self.bucket, retry: RetryPolicy(attempts: 2, baseDelayMilliseconds: 10),
      multipartThreshold: threshold ?? partSize, partSize: partSize, conditionalWrites: conditionalWrites)
    settings.timeouts = HTTPTimeouts(connectMilliseconds: 3000, stallSeconds: 10, deadlineMilliseconds: 20_000)
    settings.partConcurrency = partConcurrency
    return try S3ObjectStore(settings: settings, credentials: AWSCredentials(accessKeyID: keyID, secretAccessKey: secret))
  }

  /// The environment that points the rexstore binary at this server: `--backend s3` by variable.
  func environment(_ scratch: Processes.Scratch) -> [String: String] {
    scratch.environment.merging([
      "REXSTORE_BACKEND": "s3", "S3_BUCKET_NAME": Self.bucket, "AWS_ENDPOINT_URL": endpoint,
      "AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
      "REXSTORE_GCS_RETRY_DELAY": "10ms", "REXSTORE_GCS_TIMEOUT": "3s",
    ]) { $1 }
  }

  /// Runs Python (boto3) against this server; `sys.argv[1]` is the endpoint.
  func python(_ code: String, _ arguments: [String] = [], in scratch: Processes.Scratch) throws -> Processes.Result {
    let script = scratch.path + "/boto-\(UUID().uuidString).py"
    let prelude = """
      import sys, boto3, hashlib, json
      s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id="\(keyID)", aws_secret_access_key="\(secret)")
      B = "\(Self.bucket)"

      """
    try (prelude + code).write(toFile: script, atomically: true, encoding: .utf8)
    return try Processes.run(StorageServer.python, [script, endpoint] + arguments, environment: scratch.environment)
  }

  /// Multipart uploads still open in the bucket (their keys).
  func openUploads(in scratch: Processes.Scratch) throws -> [String] {
    let r = try python("print(json.dumps([u['Key'] for u in s3.list_multipart_uploads(Bucket=B).get('Uploads', [])]))", in: scratch)
    try #require(r.status == 0, "\(r.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String])
  }
}

/// A sink that keeps what it is given.
final class BytesSink: ByteSink {
  var bytes: [UInt8] = []
  func write(_ data: UnsafeRawBufferPointer) throws(RexstoreError) { bytes += data }
}

/// A source over bytes, through an unlinked temporary file.
func source(_ bytes: [UInt8]) throws -> ByteSource {
  let path = NSTemporaryDirectory() + "rexstore-src-\(UUID().uuidString)"
  try Data(bytes).write(to: URL(fileURLWithPath: path))
  let fd = open(path, O_RDONLY)
  unlink(path)
  return ByteSource(fd: fd, name: "src", owned: true)
}

func randomBytes(_ count: Int) -> [UInt8] {
  var generator = SystemRandomNumberGenerator()
  return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// The code of the RexstoreError `body` throws; nil when it throws none.
func code(_ body: () throws -> Void) -> ErrorCode? {
  do {
    try body()
    return nil
  } catch {
    return (error as? RexstoreError)?.code
  }
}

@Suite(.serialized) struct S3MotoTests {
  @Test func putGetStatListAndDelete() throws {
    let server = try MotoServer()
    let store = try server.store()
    let bytes = Array("hello, rex".utf8)
    let put = try store.put("audio/u1/a b+ü.wav", from: try source(bytes), contentType: "audio/wav", overwrite: false)
    #expect(put.backend == "s3")
    #expect(put.size == 10)
    var hasher = ObjectHasher()
    bytes.withUnsafeBytes { hasher.update($0) }
    let sums = hasher.finalize()
    #expect(put.md5 == sums.md5)
    #expect(put.crc32c == sums.crc32c)
    #expect(put.version?.hasPrefix("\"") == true)

    let sink = BytesSink()
    let got = try #require(try store.get("audio/u1/a b+ü.wav", into: sink))
    #expect(sink.bytes == bytes)
    #expect(got.verified == true)
    #expect(got.contentType == "audio/wav")
    #expect(got.md5 == sums.md5)
    #expect(got.version == put.version)

    let stat = try #require(try store.stat("audio/u1/a b+ü.wav"))
    #expect(stat.size == 10)
    #expect(stat.md5 == sums.md5)
    #expect(stat.contentType == "audio/wav")
    #expect(try store.stat("audio/u1/none.wav") == nil)
    #expect(try store.get("audio/u1/none.wav", into: BytesSink()) == nil)

    // Create-only: a second put is a conflict (If-None-Match: *), and nothing changes.
    #expect(code { _ = try store.put("audio/u1/a b+ü.wav", from: try! source([1, 2]), contentType: "audio/wav", overwrite: false) } == .conflict)
    #expect(try store.stat("audio/u1/a b+ü.wav")?.size == 10)
    // The same with the check-then-put path for servers that ignore the header.
    let checking = try server.store(conditionalWrites: false)
    #expect(code { _ = try checking.put("audio/u1/a b+ü.wav", from: try! source([1, 2]), contentType: "audio/wav", overwrite: false) } == .conflict)
    // An overwrite, conditional on the ETag it saw.
    let replaced = try store.put("audio/u1/a b+ü.wav", from: try source([1, 2, 3]), contentType: "audio/mpeg", overwrite: true)
    #expect(replaced.size == 3)
    #expect(replaced.version != put.version)

    // Paging: five more objects, two a page, in name order, every one once.
    for i in 0..<5 {
      _ = try store.put("audio/u2/f\(i).wav", from: try source([UInt8(i)]), contentType: "audio/wav", overwrite: false)
    }
    var names: [String] = []
    var token: String?
    var pages = 0
    repeat {
      let page = try store.list(prefix: "audio/u2/", pageToken: token, pageSize: 2)
      #expect(page.items.count <= 2)
      names += page.items.map(\.name)
      #expect(page.items.allSatisfy { $0.backend == "s3" && $0.size == 1 && $0.md5 != nil && $0.version != nil })
      token = page.nextPageToken
      pages += 1
    } while token != nil
    #expect(names == (0..<5).map { "audio/u2/f\($0).wav" })
    #expect(pages == 3)
    #expect(try store.listSegments(under: "audio/") == ["u1", "u2"])
    #expect(try store.listAll(prefix: "audio/").count == 6)

    // deleteListed deletes the listed version only: a rewrite after the listing is kept.
    let listed = try #require(try store.list(prefix: "audio/u2/f0", pageToken: nil, pageSize: 10).items.first)
    _ = try store.put("audio/u2/f0.wav", from: try source([9, 9]), contentType: "audio/wav", overwrite: true)
    #expect(code { _ = try store.deleteListed(listed) } == .conflict)
    #expect(try store.stat("audio/u2/f0.wav")?.size == 2)
    let fresh = try #require(try store.list(prefix: "audio/u2/f0", pageToken: nil, pageSize: 10).items.first)
    #expect(try store.deleteListed(fresh))
    #expect(try store.stat("audio/u2/f0.wav") == nil)

    #expect(try store.delete("audio/u2/f1.wav"))
    #expect(try !store.delete("audio/u2/f1.wav"))
    #expect(try store.deleteGroup(directory: "audio/u2") == 3)
    #expect(try store.listAll(prefix: "audio/u2/").isEmpty)

    // An empty object.
    let empty = try store.put("audio/u3/empty.wav", from: try source([]), contentType: "audio/wav", overwrite: false)
    #expect(empty.size == 0)
    let emptySink = BytesSink()
    #expect(try store.get("audio/u3/empty.wav", into: emptySink)?.verified == true)
    #expect(emptySink.bytes.isEmpty)
  }

  /// Virtual-host addressing (`BUCKET.HOST`), as on AWS: moto serves `rex-bucket.localhost:PORT`
  /// (curl resolves any `*.localhost` to the loopback address).
  @Test func virtualHostAddressing() throws {
    let server = try MotoServer()
    var settings = S3Settings(
      endpoint: "http://localhost:\(server.port)", region: "us-east-1", bucket: MotoServer.bucket, addressing: .virtual,
      retry: RetryPolicy(attempts: 2, baseDelayMilliseconds: 10), partSize: 64 * 1024)
    settings.timeouts = HTTPTimeouts(connectMilliseconds: 3000, stallSeconds: 10, deadlineMilliseconds: 20_000)
    let store = try S3ObjectStore(settings: settings, credentials: AWSCredentials(accessKeyID: "AKIDV", secretAccessKey: "v"))
    #expect(settings.origin.host == "rex-bucket.localhost:\(server.port)")
    let bytes = randomBytes(150_000)
    _ = try store.put("audio/u1/v w.wav", from: try source(bytes), contentType: "audio/wav", overwrite: false)
    let sink = BytesSink()
    #expect(try store.get("audio/u1/v w.wav", into: sink)?.verified == true)
    #expect(sink.bytes == bytes)
    #expect(try store.listAll(prefix: "audio/").map(\.name) == ["audio/u1/v w.wav"])
    // The path-style store on the same server sees the same object.
    #expect(try server.store().stat("audio/u1/v w.wav")?.size == 150_000)
    #expect(try store.delete("audio/u1/v w.wav"))
  }

  /// A download whose connection breaks mid-body resumes where it stopped (`Range`, pinned to the
  /// first answer's ETag with `If-Match`) and is still verified as a whole.
  @Test func aBrokenDownloadResumes() throws {
    let server = try MotoServer()
    let bytes = randomBytes(400_000)
    _ = try server.store().put("audio/u1/long.wav", from: try source(bytes), contentType: "audio/wav", overwrite: false)
    let proxy = Process()
    proxy.executableURL = URL(fileURLWithPath: StorageServer.python)
    proxy.arguments = [StorageServer.scripts + "/s3_cut_proxy.py", String(server.port), "150000"]
    let out = Pipe()
    let logPath = NSTemporaryDirectory() + "rexstore-cut-\(UUID().uuidString).log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: logPath) }
    proxy.standardOutput = out
    proxy.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    try proxy.run()
    defer {
      kill(proxy.processIdentifier, SIGKILL)
      proxy.waitUntilExit()
    }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    let ready = String(decoding: line, as: UTF8.self).split(separator: " ")
    let port = try #require(ready.count == 2 ? Int(ready[1].trimmingCharacters(in: .whitespacesAndNewlines)) : nil)
    var settings = S3Settings(
      endpoint: "http://127.0.0.1:\(port)", region: "us-east-1", bucket: MotoServer.bucket,
      retry: RetryPolicy(attempts: 3, baseDelayMilliseconds: 10))
    settings.timeouts = HTTPTimeouts(connectMilliseconds: 3000, stallSeconds: 10, deadlineMilliseconds: 20_000)
    let store = try S3ObjectStore(settings: settings, credentials: AWSCredentials(accessKeyID: "AKIDC", secretAccessKey: "c"))
    let sink = BytesSink()
    let got = try #require(try store.get("audio/u1/long.wav", into: sink))
    #expect(sink.bytes == bytes)
    #expect(got.verified == true)
    #expect(got.size == 400_000)
    let log = try String(contentsOfFile: logPath, encoding: .utf8)
    #expect(log.hasPrefix("CUT\n"), "\(log)")
    #expect(log.contains("GET /rex-bucket/audio/u1/long.wav HTTP/1.1"), "\(log)")
  }

  @Test func multipartUploadWithSmallPartsIsVerified() throws {
    let server = try MotoServer()
    let store = try server.store(partSize: 64 * 1024)
    let bytes = randomBytes(5 * 64 * 1024 + 1234)
    let put = try store.put("audio/u1/big.wav", from: try source(bytes), contentType: "audio/wav", overwrite: false)
    #expect(put.size == Int64(bytes.count))
    #expect(put.version?.hasSuffix("-6\"") == true, "a 6-part upload: \(put.version ?? "nil")")
    let sink = BytesSink()
    let got = try #require(try store.get("audio/u1/big.wav", into: sink))
    #expect(sink.bytes == bytes)
    // The multipart ETag is no MD5; the object's full CRC32C is what is checked.
    #expect(got.verified == true)
    #expect(got.crc32c == put.crc32c)
    #expect(try server.openUploads(in: Processes.Scratch()).isEmpty)
    // A threshold above the part size (a buffer holds more than a part), one part at a time and many:
    // every byte arrives, in order.
    for (threshold, width) in [(200 * 1024, 4), (200 * 1024, 1), (64 * 1024, 1), (64 * 1024, 8)] {
      let other = try server.store(partSize: 64 * 1024, threshold: threshold, partConcurrency: width)
      let name = "audio/u1/t\(threshold)-w\(width).wav"
      _ = try other.put(name, from: try source(bytes), contentType: "audio/wav", overwrite: false)
      let otherSink = BytesSink()
      #expect(try other.get(name, into: otherSink)?.verified == true, "\(threshold) \(width)")
      #expect(otherSink.bytes == bytes, "\(threshold) \(width)")
    }
  }

  /// A multipart upload that cannot complete is aborted: no parts are left behind, no object appears.
  @Test func failedMultipartUploadsAreAborted() throws {
    let scratch = Processes.Scratch()
    // Conflict at completion: the object exists, so CompleteMultipartUpload's If-None-Match fails.
    let server = try MotoServer()
    let store = try server.store(partSize: 64 * 1024)
    _ = try store.put("audio/u1/x.wav", from: try source([1]), contentType: "audio/wav", overwrite: false)
    #expect(code { _ = try store.put("audio/u1/x.wav", from: try! source(randomBytes(200_000)), contentType: "audio/wav", overwrite: false) } == .conflict)
    #expect(try store.stat("audio/u1/x.wav")?.size == 1)
    #expect(try server.openUploads(in: scratch).isEmpty)

    // Parts below the server's minimum: S3 refuses to complete (EntityTooSmall).
    let strict = try MotoServer(minimumPartSize: nil)
    let small = try strict.store(partSize: 64 * 1024)
    #expect(code { _ = try small.put("audio/u1/y.wav", from: try! source(randomBytes(200_000)), contentType: "audio/wav", overwrite: false) } == .invalidInput)
    #expect(try small.stat("audio/u1/y.wav") == nil)
    #expect(try strict.openUploads(in: scratch).isEmpty)
  }

  /// moto keeps the CRC32C a client claims without checking it: an object whose recorded checksum
  /// does not match its bytes is what a damaged object looks like, and a read must fail with 74.
  @Test func aDamagedObjectIsDetected() throws {
    let server = try MotoServer()
    let store = try server.store()
    let request = store.client.request(
      "PUT", key: "audio/u1/bad.wav",
      headers: [("Content-Type", "audio/wav"), ("x-amz-checksum-crc32c", "AAAAAA=="), ("x-amz-sdk-checksum-algorithm", "CRC32C")],
      body: .bytes(Array("these bytes are not what the checksum says".utf8)))
    let response = try store.client.http.send(request)
    try #require(response.status == 200)
    #expect(code { _ = try store.get("audio/u1/bad.wav", into: BytesSink()) } == .ioError)

    let scratch = Processes.Scratch()
    let r = try Processes.rexstore(["audio", "get", "audio/u1/bad.wav", "-o", scratch.path + "/out.wav"], environment: server.environment(scratch), in: scratch)
    #expect(r.status == 74, "\(r.stderr)")
    #expect(r.stderr.contains("CRC32C"))
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/out.wav"))
  }

  /// The binary with `--backend s3` (REXSTORE_BACKEND=s3): put, conflict, get, ls, rm, and exit codes.
  @Test func audioCommandsThroughTheBinary() throws {
    let server = try MotoServer()
    let scratch = Processes.Scratch()
    let env = server.environment(scratch)
    let file = try randomFile(scratch, "take one.wav", size: 300_000)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let info = try jsonObject(put.stdout)
    #expect(info["backend"] as? String == "s3")
    #expect(info["blob"] as? String == "audio/u1/take one.wav")
    #expect(info["size_bytes"] as? Int == 300_000)
    #expect(info["content_type"] as? String == "audio/wav")

    let again = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(again.status == 65)
    #expect(again.stderr.contains(#""code":"conflict""#))
    #expect(try Processes.rexstore(["audio", "put", "u1", file, "--force"], environment: env, in: scratch).status == 0)

    // Multipart through the binary: small parts by variable.
    var multi = env
    multi["REXSTORE_S3_PART_SIZE"] = "64KiB"
    let big = try randomFile(scratch, "big.wav", size: 700_000)
    let bigPut = try Processes.rexstore(["audio", "put", "u1", big], environment: multi, in: scratch)
    #expect(bigPut.status == 0, "\(bigPut.stderr)")

    for (blob, path) in [("audio/u1/take one.wav", file), ("audio/u1/big.wav", big)] {
      let out = scratch.path + "/copy.wav"
      try? FileManager.default.removeItem(atPath: out)
      let get = try Processes.rexstore(["audio", "get", blob, "-o", out], environment: env, in: scratch)
      #expect(get.status == 0, "\(get.stderr)")
      #expect(FileManager.default.contentsEqual(atPath: out, andPath: path))
    }
    let ls = try jsonObject(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).stdout)
    let items = try #require(ls["items"] as? [[String: Any]])
    #expect(items.compactMap { $0["blob"] as? String } == ["audio/u1/big.wav", "audio/u1/take one.wav"])
    #expect(items.allSatisfy { $0["backend"] as? String == "s3" })

    #expect(try Processes.rexstore(["audio", "rm", "audio/u1/big.wav"], environment: env, in: scratch).status == 0)
    #expect(try Processes.rexstore(["audio", "get", "audio/u1/big.wav"], environment: env, in: scratch).status == 1)
    // Nothing went to the local root.
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio"))

    // Configuration mistakes: no bucket (78), no credentials (69), a bucket that does not exist (78).
    var noBucket = env
    noBucket.removeValue(forKey: "S3_BUCKET_NAME")
    #expect(try Processes.rexstore(["audio", "ls", "u1"], environment: noBucket, in: scratch).status == 78)
    var noKeys = env
    noKeys.removeValue(forKey: "AWS_ACCESS_KEY_ID")
    noKeys.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
    #expect(try Processes.rexstore(["audio", "ls", "u1"], environment: noKeys, in: scratch).status == 69)
    var otherBucket = env
    otherBucket["S3_BUCKET_NAME"] = "no-such-bucket"
    #expect(try Processes.rexstore(["audio", "ls", "u1"], environment: otherBucket, in: scratch).status == 78)
  }

  /// moto checking every signature: rexstore's requests (single and multipart uploads, HEAD, GET,
  /// listings, conditional deletes) are all accepted, and a wrong secret is refused (77).
  @Test func signaturesAreAcceptedByAServerThatChecksThem() throws {
    let server = try MotoServer(checkSignatures: true)
    let scratch = Processes.Scratch()
    var env = server.environment(scratch)
    env["REXSTORE_S3_PART_SIZE"] = "64KiB"
    let small = try randomFile(scratch, "a b+c.wav", size: 1000)
    let big = try randomFile(scratch, "big.wav", size: 200_000)
    for file in [small, big] {
      let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
      #expect(put.status == 0, "\(put.stderr)")
      #expect(try Processes.rexstore(["audio", "put", "u1", file, "--force"], environment: env, in: scratch).status == 0)
    }
    let ls = try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch)
    #expect(ls.status == 0, "\(ls.stderr)")
    #expect(try jsonObject(ls.stdout)["count"] as? Int == 2)
    let out = scratch.path + "/copy.wav"
    let get = try Processes.rexstore(["audio", "get", "audio/u1/big.wav", "-o", out], environment: env, in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: big))
    // (moto's signature checking answers 500 to presigned URLs, botocore's too: those are checked
    // against botocore in audioSignIsBotocoresPresignedURL.)
    #expect(try Processes.rexstore(["audio", "rm", "audio/u1/a b+c.wav"], environment: env, in: scratch).status == 0)

    var wrong = env
    wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    let refused = try Processes.rexstore(["audio", "ls", "u1"], environment: wrong, in: scratch)
    #expect(refused.status == 77)
    #expect(refused.stderr.contains("SignatureDoesNotMatch"))
    #expect(!refused.stderr.contains("not-the-secret"))
  }

  /// A profile's samples as a group (replaceGroup/finish/undo, deleteGroup), as voice profiles use them.
  @Test func groupsReplaceUndoAndDelete() throws {
    let server = try MotoServer()
    let store = try server.store()
    let directory = "voice_profiles/u1/calm"
    func members(_ contents: [[UInt8]]) throws -> [GroupMember] {
      try contents.enumerated().map { i, bytes in
        GroupMember(name: "\(directory)/sample_\(i).wav", source: try source(bytes), contentType: "audio/wav")
      }
    }
    func read(_ name: String) throws -> [UInt8]? {
      let sink = BytesSink()
      return try store.get(name, into: sink).map { _ in sink.bytes }
    }
    let old: [[UInt8]] = [[1, 1], [2, 2], [3, 3]]
    try store.replaceGroup(directory: directory, members: try members(old)).finish()
    #expect(try store.listAll(prefix: directory + "/").map(\.name) == (0..<3).map { "\(directory)/sample_\($0).wav" })

    // Replaced, then undone (the record could not be committed): the old set is back, byte for byte.
    let undone = try store.replaceGroup(directory: directory, members: try members([[7], [8]]))
    #expect(try read("\(directory)/sample_0.wav") == [7])
    undone.undo()
    for (i, bytes) in old.enumerated() { #expect(try read("\(directory)/sample_\(i).wav") == bytes) }

    // Replaced with fewer samples and finished: the stale one is gone.
    let replaced = try store.replaceGroup(directory: directory, members: try members([[9, 9, 9], [10]]))
    #expect(try store.listAll(prefix: directory + "/").count == 3)
    replaced.finish()
    #expect(try store.listAll(prefix: directory + "/").map(\.name) == ["\(directory)/sample_0.wav", "\(directory)/sample_1.wav"])
    #expect(try read("\(directory)/sample_0.wav") == [9, 9, 9])
    #expect(try read("\(directory)/sample_1.wav") == [10])
    #expect(try !store.repairGroup(directory: directory, toMatch: [], reread: { nil }))

    #expect(try store.deleteGroup(directory: directory) == 2)
    #expect(try store.listAll(prefix: directory + "/").isEmpty)
  }

  /// Through the backend seam (issue 11) profiles live in the bucket like audio: the dossier entry
  /// says `storage: s3` with `blob_names`, `profile get -o` returns the bytes, `delete` empties it.
  @Test func profilesAreStoredInTheBucket() throws {
    let server = try MotoServer()
    let scratch = Processes.Scratch()
    let env = server.environment(scratch)
    let sample = try randomFile(scratch, "s.wav", size: 100)
    let r = try Processes.rexstore(["profile", "store", "u1", "calm", sample], environment: env, in: scratch)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try jsonObject(r.stdout)["storage"] as? String == "s3")
    #expect(try server.store().listAll(prefix: "").map(\.name) == ["voice_profiles/u1/calm/sample_0.wav"])
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/voice_profiles/u1/calm/sample_0.wav"))
    let dossier = try jsonObject(String(contentsOfFile: scratch.path + "/data/dossiers/u1.json", encoding: .utf8))
    let entry = (dossier["voice_profiles"] as? [String: Any])?["calm"] as? [String: Any]
    #expect(entry?["storage"] as? String == "s3")
    #expect(entry?["blob_names"] as? [String] == ["voice_profiles/u1/calm/sample_0.wav"])
    let got = try Processes.rexstore(["profile", "get", "u1", "calm", "-o", scratch.path + "/out"], environment: env, in: scratch)
    #expect(got.status == 0, "\(got.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/out/sample_0.wav", andPath: sample))
    #expect(try Processes.rexstore(["profile", "delete", "u1", "calm"], environment: env, in: scratch).status == 0)
    #expect(try server.store().listAll(prefix: "").isEmpty)
  }

  /// The fallback, migrate and health work over S3 exactly as over GCS: with the endpoint refusing
  /// connections a put lands locally and says why; once S3 answers, migrate moves it up (create-only,
  /// verified) and health sees the bucket.
  @Test func fallbackMigrateAndHealthOnS3() throws {
    let server = try MotoServer()
    let scratch = Processes.Scratch()
    let up = server.environment(scratch).merging(["REXSTORE_OUTAGE_WINDOW": "0s", "REXSTORE_RETRIES": "1"]) { $1 }
    let down = up.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:9"]) { $1 }
    let file = try randomFile(scratch, "f.wav", size: 1000)
    let put = try Processes.rexstore(["audio", "put", "u1", file], environment: down, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let info = try jsonObject(put.stdout)
    #expect(info["backend"] as? String == "local")
    #expect((info["fallback_reason"] as? String)?.isEmpty == false)
    #expect(put.stderr.contains("S3 unavailable"), "\(put.stderr)")
    let unhealthy = try Processes.rexstore(["health"], environment: down, in: scratch)
    #expect(unhealthy.status == 1, "\(unhealthy.stdout)")
    let dry = try Processes.rexstore(["migrate", "--dry-run"], environment: up, in: scratch)
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect(try jsonObject(dry.stdout)["backend"] as? String == "s3")
    let migrate = try Processes.rexstore(["migrate", "--delete-local"], environment: up, in: scratch)
    #expect(migrate.status == 0, "\(migrate.stderr)")
    let items = try jsonObject(migrate.stdout)["items"] as? [[String: Any]] ?? []
    #expect(items.map { $0["action"] as? String } == ["uploaded"])
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio/u1/f.wav"))
    let again = try Processes.rexstore(["audio", "get", "audio/u1/f.wav", "-o", scratch.path + "/back.wav"], environment: up, in: scratch)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/back.wav", andPath: file))
    #expect(try Processes.rexstore(["db", "upgrade"], environment: up, in: scratch).status == 0)
    let healthy = try Processes.rexstore(["health"], environment: up, in: scratch)
    #expect(healthy.status == 0, "\(healthy.stdout)")
    let checks = try jsonObject(healthy.stdout)["checks"] as? [[String: Any]] ?? []
    #expect(checks.contains { $0["name"] as? String == "s3" && $0["status"] as? String == "ok" }, "\(healthy.stdout)")
  }

  /// rexstore and boto3 read each other's objects: the same bytes, content type and checksums.
  @Test func interopWithBoto3BothWays() throws {
    let server = try MotoServer()
    let scratch = Processes.Scratch()
    let env = server.environment(scratch)
    let file = try randomFile(scratch, "mine.wav", size: 123_457)
    var multi = env
    multi["REXSTORE_S3_PART_SIZE"] = "32KiB"
    let big = try randomFile(scratch, "parts.wav", size: 100_000)
    let mine = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
    #expect(mine.status == 0, "\(mine.stderr)")
    #expect(try Processes.rexstore(["audio", "put", "u1", big], environment: multi, in: scratch).status == 0)
    let read = try server.python(
      """
      out = {}
      for key, path in [("audio/u1/mine.wav", sys.argv[2]), ("audio/u1/parts.wav", sys.argv[3])]:
          o = s3.get_object(Bucket=B, Key=key)
          open(path, "wb").write(o["Body"].read())
          out[key] = {"type": o["ContentType"], "etag": o["ETag"], "length": o["ContentLength"]}
      print(json.dumps(out))
      """, [scratch.path + "/boto-mine", scratch.path + "/boto-parts"], in: scratch)
    #expect(read.status == 0, "\(read.stderr)")
    let seen = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: [String: Any]])
    for (key, path, copy) in [("audio/u1/mine.wav", file, "/boto-mine"), ("audio/u1/parts.wav", big, "/boto-parts")] {
      #expect(FileManager.default.contentsEqual(atPath: path, andPath: scratch.path + copy), "\(key)")
      #expect(seen[key]?["type"] as? String == "audio/wav")
      #expect(seen[key]?["length"] as? Int == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
    }
    // A single PUT's ETag is the MD5 boto3 users expect.
    let md5 = try #require(try jsonObject(mine.stdout)["md5"] as? String)
    let etagHex = (seen["audio/u1/mine.wav"]?["etag"] as? String ?? "").replacingOccurrences(of: "\"", with: "")
    #expect(Data(base64Encoded: md5).map { $0.map { String(format: "%02x", $0) }.joined() } == etagHex)

    // boto3 writes (a single put and a multipart upload), rexstore reads, verified by the ETag's MD5.
    let payload = try randomFile(scratch, "theirs.bin", size: 77_777)
    let wrote = try server.python(
      """
      from boto3.s3.transfer import TransferConfig
      data = open(sys.argv[2], "rb").read()
      s3.put_object(Bucket=B, Key="audio/u2/theirs.wav", Body=data, ContentType="audio/x-wav")
      s3.upload_file(sys.argv[2], B, "audio/u2/multi.wav",
                     Config=TransferConfig(multipart_threshold=20000, multipart_chunksize=20000))
      """, [payload], in: scratch)
    #expect(wrote.status == 0, "\(wrote.stderr)")
    // boto3's multipart upload records no CRC32C and its ETag is no MD5: read, but `verified: false`.
    for (blob, type, verified) in [("audio/u2/theirs.wav", "audio/x-wav", true), ("audio/u2/multi.wav", "binary/octet-stream", false)] {
      let out = scratch.path + "/theirs-copy.bin"
      try? FileManager.default.removeItem(atPath: out)
      let get = try Processes.rexstore(["audio", "get", blob, "-o", out], environment: env, in: scratch)
      #expect(get.status == 0, "\(blob): \(get.stderr)")
      #expect(FileManager.default.contentsEqual(atPath: out, andPath: payload), "\(blob)")
      let info = try jsonObject(get.stdout)
      #expect(info["verified"] as? Bool == verified, "\(blob)")
      #expect(info["content_type"] as? String == type)
      #expect(info["size_bytes"] as? Int == 77_777)
    }
  }

  /// `audio sign` on the s3 backend is botocore's generate_presigned_url for the same settings and clock.
  @Test func audioSignIsBotocoresPresignedURL() throws {
    let server = try MotoServer()
    let scratch = Processes.Scratch()
    let env = server.environment(scratch)
    let blob = "audio/u1/take one+ü.wav"
    for method in ["GET", "PUT"] {
      let r = try Processes.rexstore(
        ["audio", "sign", blob, "--method", method, "--expires", "900s", "--at", "2026-11-28T12:34:56Z"], environment: env, in: scratch)
      #expect(r.status == 0, "\(r.stderr)")
      let url = try #require(try jsonObject(r.stdout)["url"] as? String)
      let reference = try server.python(
        """
        import datetime, botocore.auth
        from botocore.config import Config
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: datetime.datetime(2026, 11, 28, 12, 34, 56)
        c = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="\(MotoServer.keyID)",
                         aws_secret_access_key="\(MotoServer.secret)",
                         config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        op = {"GET": "get_object", "PUT": "put_object"}[sys.argv[3]]
        print(c.generate_presigned_url(op, Params={"Bucket": B, "Key": sys.argv[2]}, ExpiresIn=900, HttpMethod=sys.argv[3]))
        """, [blob, method], in: scratch)
      #expect(reference.status == 0, "\(reference.stderr)")
      #expect(url == reference.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    // The URL works: a presigned PUT, then a presigned GET, with curl.
    let file = try randomFile(scratch, "s.wav", size: 1000)
    func signed(_ method: String) throws -> String {
      let r = try Processes.rexstore(["audio", "sign", "audio/u1/s.wav", "--method", method], environment: env, in: scratch)
      return try #require(try jsonObject(r.stdout)["url"] as? String)
    }
    let up = try Processes.run("/usr/bin/curl", ["-sf", "-X", "PUT", "--upload-file", file, try signed("PUT")], environment: [:])
    #expect(up.status == 0)
    let down = try Processes.run("/usr/bin/curl", ["-sf", "-o", scratch.path + "/s-copy.wav", try signed("GET")], environment: [:])
    #expect(down.status == 0)
    #expect(FileManager.default.contentsEqual(atPath: file, andPath: scratch.path + "/s-copy.wav"))
  }

  /// Header signing (S3Client.authorization) equals botocore's S3SigV4Auth for the same request and clock.
  @Test func headerSigningMatchesBotocore() throws {
    let scratch = Processes.Scratch()
    let at = Timestamp.parse("2026-11-28T12:34:56Z")!
    struct Case {
      var method: String
      var host: String
      var path: String
      var query: [(String, String)]
      var headers: [(String, String)]
      var payload: String
      var token: String?
    }
    let cases = [
      Case(method: "GET", host: "rex.s3.amazonaws.com", path: "/audio/u1/a%20b.wav", query: [], headers: [("x-amz-checksum-mode", "ENABLED")], payload: SigV4.emptyPayloadHash),
      Case(method: "PUT", host: "127.0.0.1:9000", path: "/rex/audio/x%2By.wav", query: [], headers: [("Content-Type", "audio/wav"), ("If-None-Match", "*"), ("x-amz-checksum-crc32c", "AAAAAA==")], payload: "UNSIGNED-PAYLOAD", token: "session/token+="),
      Case(method: "GET", host: "s3.eu-west-1.amazonaws.com", path: "/rex", query: [("list-type", "2"), ("prefix", "audio/u 1/"), ("continuation-token", "1/a+b=")], headers: [], payload: SigV4.emptyPayloadHash),
      Case(method: "POST", host: "rex.s3.amazonaws.com", path: "/big.wav", query: [("uploads", "")], headers: [("Content-Type", "audio/wav")], payload: SigV4.emptyPayloadHash),
    ]
    var input: [[String: Any]] = []
    for c in cases {
      input.append([
        "method": c.method, "url": "https://\(c.host)\(c.path)" + (c.query.isEmpty ? "" : "?" + SigV4.canonicalQuery(c.query)),
        "headers": c.headers.map { [$0.0, $0.1] }, "payload": c.payload, "token": c.token as Any,
      ])
    }
    let script = scratch.path + "/sigv4.py"
    try """
      import datetime, json, sys
      import botocore.auth
      from botocore.awsrequest import AWSRequest
      from botocore.config import Config
      from botocore.credentials import Credentials
      botocore.auth.get_current_datetime = lambda remove_tzinfo=True: datetime.datetime(2026, 11, 28, 12, 34, 56)
      out = []
      for c in json.load(sys.stdin):
          creds = Credentials("\(MotoServer.keyID)", "\(MotoServer.secret)", c["token"])
          region = "eu-west-1" if "eu-west-1" in c["url"] else "us-east-1"
          r = AWSRequest(method=c["method"], url=c["url"], data=b"")
          for k, v in c["headers"]:
              r.headers[k] = v
          # Without an unsigned payload botocore hashes the (empty) body, as rexstore does for a body it holds.
          r.context["client_config"] = Config(s3={"payload_signing_enabled": c["payload"] != "UNSIGNED-PAYLOAD"})
          botocore.auth.S3SigV4Auth(creds, "s3", region).add_auth(r)
          out.append(r.headers["Authorization"])
      print(json.dumps(out))
      """.write(toFile: script, atomically: true, encoding: .utf8)
    let r = try Processes.run(
      StorageServer.python, [script], environment: scratch.environment,
      stdin: String(decoding: try JSONSerialization.data(withJSONObject: input), as: UTF8.self))
    try #require(r.status == 0, "\(r.stderr)")
    let expected = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String])
    for (c, want) in zip(cases, expected) {
      let region = c.host.contains("eu-west-1") ? "eu-west-1" : "us-east-1"
      let mine = S3Client.authorization(
        method: c.method, scheme: "https", host: c.host, path: c.path, query: SigV4.canonicalQuery(c.query),
        headers: c.headers, payloadHash: c.payload,
        credentials: AWSCredentials(accessKeyID: MotoServer.keyID, secretAccessKey: MotoServer.secret, sessionToken: c.token),
        region: region, at: at)
      #expect(mine.last?.1 == want, "\(c.method) \(c.host)\(c.path)")
    }
  }
}
