import Foundation
import RexstoreCore
import Testing

/// rexstore against the real emulators from PyPI on 127.0.0.1, and against google-cloud-storage.
@Suite(.serialized) struct GCSEmulatorTests {
  @Test func audioRoundTripOnFakeGCSServer() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    let small = try randomFile(scratch, "small.wav", size: 100_000)

    let put = try Processes.rexstore(["audio", "put", "u1", small], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let info = try jsonObject(put.stdout)
    #expect(info["backend"] as? String == "gcs")
    #expect(info["blob"] as? String == "audio/u1/small.wav")
    #expect(info["size_bytes"] as? Int == 100_000)
    #expect(info["fallback_reason"] is NSNull)
    #expect(info["content_type"] as? String == "audio/wav")
    #expect(put.stderr.isEmpty)

    // Create-only: the multipart upload carries ifGenerationMatch=0, which fake-gcs-server enforces.
    let again = try Processes.rexstore(["audio", "put", "u1", small], environment: env, in: scratch)
    #expect(again.status == 65)
    #expect(again.stdout.isEmpty)
    #expect(again.stderr.contains(#""code":"conflict""#))
    let forced = try Processes.rexstore(["audio", "put", "u1", small, "--force"], environment: env, in: scratch)
    #expect(forced.status == 0, "\(forced.stderr)")

    let out = scratch.path + "/copy.wav"
    let get = try Processes.rexstore(["audio", "get", "audio/u1/small.wav", "-o", out], environment: env, in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: small))

    let ls = try jsonObject(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).stdout)
    let items = try #require(ls["items"] as? [[String: Any]])
    #expect(items.map { $0["backend"] as? String } == ["gcs"])
    #expect(items.first?["md5"] as? String == info["md5"] as? String)

    let rm = try Processes.rexstore(["audio", "rm", "audio/u1/small.wav"], environment: env, in: scratch)
    #expect(rm.status == 0)
    let missing = try Processes.rexstore(["audio", "get", "audio/u1/small.wav"], environment: env, in: scratch)
    #expect(missing.status == 1)
    // Nothing fell back: the local root holds no object.
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/objects/audio"))
  }

  /// Many files in one invocation: parallel uploads and downloads over kept-alive connections, with
  /// per-item failures listed and the worst one's exit status.
  @Test func batchPutAndGet() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    // 70 files: one commit wave of 64 during the batch, the rest when it ends.
    let files = try (0..<70).map { try randomFile(scratch, "f\($0).wav", size: 1000 + $0) }
    let put = try Processes.rexstore(["audio", "put", "u1"] + files, environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let report = try jsonObject(put.stdout)
    #expect(report["count"] as? Int == 70)
    #expect((report["failures"] as? [Any])?.isEmpty == true)
    let items = try #require(report["items"] as? [[String: Any]])
    #expect(items.map { $0["blob"] as? String } == (0..<70).map { "audio/u1/f\($0).wav" })
    #expect(items.allSatisfy { $0["backend"] as? String == "gcs" && $0["fallback_reason"] is NSNull })

    let out = scratch.path + "/out"
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let blobs = (0..<70).map { "audio/u1/f\($0).wav" } + ["audio/u1/missing.wav"]
    let get = try Processes.rexstore(["audio", "get"] + blobs + ["-o", out], environment: env, in: scratch)
    #expect(get.status == 1, "\(get.stderr)")
    let fetched = try jsonObject(get.stdout)
    #expect(fetched["count"] as? Int == 70)
    #expect((fetched["failures"] as? [[String: Any]])?.map { $0["blob"] as? String } == ["audio/u1/missing.wav"])
    for (i, file) in files.enumerated() {
      #expect(FileManager.default.contentsEqual(atPath: out + "/f\(i).wav", andPath: file))
    }
    // Existing objects are conflicts, item by item; the rest still upload.
    let extra = try randomFile(scratch, "new.wav", size: 10)
    let again = try Processes.rexstore(["audio", "put", "u1", files[0], extra], environment: env, in: scratch)
    #expect(again.status == 65)
    #expect(try jsonObject(again.stdout)["count"] as? Int == 1)
    // Names are all checked before anything is uploaded.
    let bad = try Processes.rexstore(["audio", "put", "u1", extra, scratch.path + "/..."], environment: env, in: scratch)
    #expect(bad.status == 64)
  }

  @Test func listingFollowsPageTokens() throws {
    let server = try StorageServer(.fakeGCS)
    let store = try GCSObjectStore(
      settings: GCSSettings(endpoint: server.endpoint, bucket: StorageServer.bucket), tokens: nil)
    let scratch = Processes.Scratch()
    let file = try randomFile(scratch, "one", size: 10)
    for i in 0..<7 {
      _ = try store.put("audio/u9/f\(i)", from: try ByteSource.open(file), contentType: "audio/wav", overwrite: false)
    }
    var names: [String] = []
    var token: String?
    var pages = 0
    repeat {
      let page = try store.list(prefix: "audio/u9/", pageToken: token, pageSize: 3)
      #expect(page.items.count <= 3)
      names += page.items.map(\.name)
      token = page.nextPageToken
      pages += 1
    } while token != nil
    #expect(pages == 3)
    #expect(names == (0..<7).map { "audio/u9/f\($0)" })
    #expect(try store.listSegments(under: "audio/") == ["u9"])
    // Through the CLI, all seven come back as one list.
    let ls = try jsonObject(try Processes.rexstore(["audio", "ls", "u9"], environment: server.emulatorEnvironment(scratch), in: scratch).stdout)
    #expect(ls["count"] as? Int == 7)
  }

  /// Objects rexstore uploads are read byte for byte by google-cloud-storage, and the other way round,
  /// with the same MD5 and CRC32C on both sides.
  @Test func interoperatesWithGoogleCloudStorage() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    let small = try randomFile(scratch, "small.mp3", size: 300_000)
    let large = try randomFile(scratch, "large.mp3", size: 9 * 1024 * 1024 + 123)
    var ours: [String: [String: Any]] = [:]
    for file in [small, large] {
      let put = try Processes.rexstore(["audio", "put", "u1", file], environment: env, in: scratch)
      #expect(put.status == 0, "\(put.stderr)")
      ours[(file as NSString).lastPathComponent] = try jsonObject(put.stdout)
    }
    let script = """
      import base64, json, os, sys
      from google.cloud import storage
      client = storage.Client(project="x")
      bucket = client.bucket("\(StorageServer.bucket)")
      report = {}
      for name in ["small.mp3", "large.mp3"]:
          blob = bucket.get_blob("audio/u1/" + name)
          data = blob.download_as_bytes()
          report[name] = {"same": data == open(sys.argv[1] + "/" + name, "rb").read(),
                          "md5": blob.md5_hash, "crc32c": blob.crc32c, "type": blob.content_type}
      up = bucket.blob("audio/u2/from-python.wav")
      up.upload_from_filename(sys.argv[1] + "/large.mp3", content_type="audio/wav")
      up.reload()
      report["python"] = {"md5": up.md5_hash, "crc32c": up.crc32c}
      print(json.dumps(report))
      """
    let scriptPath = scratch.path + "/interop.py"
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    let python = try Processes.run(
      StorageServer.python, [scriptPath, scratch.path],
      environment: scratch.environment.merging(["STORAGE_EMULATOR_HOST": server.endpoint]) { $1 })
    #expect(python.status == 0, "\(python.stderr)")
    let report = try jsonObject(python.stdout)
    for name in ["small.mp3", "large.mp3"] {
      let seen = try #require(report[name] as? [String: Any])
      #expect(seen["same"] as? Bool == true)
      #expect(seen["md5"] as? String == ours[name]?["md5"] as? String)
      #expect(seen["crc32c"] as? String == ours[name]?["crc32c"] as? String)
      #expect(seen["type"] as? String == "audio/mpeg")
    }
    let out = scratch.path + "/back.wav"
    let get = try Processes.rexstore(["audio", "get", "audio/u2/from-python.wav", "-o", out], environment: env, in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: large))
    let got = try jsonObject(get.stdout)
    let python2 = try #require(report["python"] as? [String: Any])
    #expect(got["md5"] as? String == python2["md5"] as? String)
    #expect(got["crc32c"] as? String == python2["crc32c"] as? String)
  }

  /// Resumable uploads (over 8 MiB) from a file and from a pipe, and profile samples in parallel,
  /// on gcp-storage-emulator, which answers resumable status queries as GCS does.
  @Test func resumableUploadsAndProfilesOnGCPStorageEmulator() throws {
    let server = try StorageServer(.gcpStorageEmulator)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    let big = try randomFile(scratch, "big.wav", size: 40 * 1024 * 1024 + 5)
    let put = try Processes.rexstore(["audio", "put", "u1", big], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    #expect(try jsonObject(put.stdout)["backend"] as? String == "gcs")
    let piped = try Processes.rexstore(["audio", "put", "u1", "-", "--name", "piped.wav"], environment: env, in: scratch, stdinFile: big)
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(try jsonObject(piped.stdout)["md5"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
    for name in ["big.wav", "piped.wav"] {
      let out = scratch.path + "/out-" + name
      let get = try Processes.rexstore(["audio", "get", "audio/u1/" + name, "-o", out], environment: env, in: scratch)
      #expect(get.status == 0, "\(get.stderr)")
      #expect(FileManager.default.contentsEqual(atPath: out, andPath: big))
    }

    let samples = try (0..<5).map { try randomFile(scratch, "s\($0).wav", size: $0 == 2 ? 9 * 1024 * 1024 : 50_000 + $0) }
    let store = try Processes.rexstore(["profile", "store", "u1", "calm"] + samples, environment: env, in: scratch)
    #expect(store.status == 0, "\(store.stderr)")
    let record = try jsonObject(store.stdout)
    #expect(record["storage"] as? String == "gcs")
    #expect(record["sample_count"] as? Int == 5)
    let directory = scratch.path + "/samples"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let get = try Processes.rexstore(["profile", "get", "u1", "calm", "-o", directory], environment: env, in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    for (i, sample) in samples.enumerated() {
      #expect(FileManager.default.contentsEqual(atPath: directory + "/sample_\(i).wav", andPath: sample))
    }
    // A re-store with fewer samples leaves no stale sample in the bucket.
    let restore = try Processes.rexstore(["profile", "store", "u1", "calm", samples[0], "--force"], environment: env, in: scratch)
    #expect(restore.status == 0, "\(restore.stderr)")
    let listing = try server.http("GET", "/storage/v1/b/\(StorageServer.bucket)/o?prefix=voice_profiles/")
    let names = ((try jsonObject(listing)["items"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
    #expect(names == ["voice_profiles/u1/calm/sample_0.wav"])
  }

  /// A chunked upload (a pipe, unknown size) whose second chunk is cut mid-body resumes from the
  /// offset gcp-storage-emulator reports (its status queries behave as GCS's do), and the object is whole.
  @Test func resumableUploadResumesOnGCPStorageEmulator() throws {
    let server = try StorageServer(.gcpStorageEmulator)
    let proxy = try StorageServer(.cuttingProxy(upstreamPort: server.port, cutAfterBytes: 5_000_000))
    let scratch = Processes.Scratch()
    var env = server.emulatorEnvironment(scratch)
    env["STORAGE_EMULATOR_HOST"] = proxy.endpoint
    let big = try randomFile(scratch, "resume.wav", size: 40 * 1024 * 1024 + 3)
    let put = try Processes.run(
      "/bin/sh", ["-c", "cat \"$1\" | \"$0\" audio put u1 - --name resume.wav --no-fallback", Processes.binary, big],
      environment: env, directory: scratch.path)
    #expect(put.status == 0, "\(put.stderr)")
    let cut = try String(contentsOfFile: proxy.dataDirectory + "/server.log", encoding: .utf8)
    #expect(cut.contains("CUT Content-Range: bytes 16777216-"), "the proxy did not cut: \(cut)")
    // Read back straight from the emulator, not through the proxy.
    let out = scratch.path + "/back.wav"
    let get = try Processes.rexstore(["audio", "get", "audio/u1/resume.wav", "-o", out], environment: server.emulatorEnvironment(scratch), in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: big))
    #expect(try jsonObject(get.stdout)["md5"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
  }

  /// A file's single-request upload cut mid-body: the media upload keeps nothing, so a resumable
  /// session takes over, and when its one PUT is cut too, rexstore asks gcp-storage-emulator what it
  /// holds and sends the rest from exactly that offset; uncut, the same upload is one media POST.
  @Test func aSingleRequestUploadCutMidBodyResumesAtTheServersOffset() throws {
    let server = try StorageServer(.gcpStorageEmulator)
    let scratch = Processes.Scratch()
    let size = 24 * 1024 * 1024 + 3
    let big = try randomFile(scratch, "single.wav", size: size)
    for cutting in [false, true] {
      // gcp-storage-emulator keeps a cut media body as an object and ignores the session's
      // create-only precondition, so here the session simply replaces it; GCSFaultTests checks on the
      // stub (which, like GCS, keeps nothing of a cut media body) that the precondition holds.
      let proxy = try StorageServer(.cuttingProxy(upstreamPort: server.port, cutAfterBytes: cutting ? 5_000_000 : Int.max, mediaFirst: true))
      var env = server.emulatorEnvironment(scratch)
      env["STORAGE_EMULATOR_HOST"] = proxy.endpoint
      let name = cutting ? "cut.wav" : "whole.wav"
      let put = try Processes.rexstore(["audio", "put", "u1", big, "--name", name, "--no-fallback"], environment: env, in: scratch)
      #expect(put.status == 0, "\(put.stderr)")
      let lines = try String(contentsOfFile: proxy.dataDirectory + "/server.log", encoding: .utf8).split(separator: "\n").map(String.init)
      let puts = lines.filter { $0.hasPrefix("PUT ") }
      if !cutting {
        #expect(lines.filter { $0.hasPrefix("POST media") }.count == 1, "\(lines)")
        #expect(puts.isEmpty, "\(lines)")
      } else {
        #expect(lines.contains("CUT MEDIA"), "\(lines)")
        #expect(lines.contains("CUT Content-Range: bytes 0-\(size - 1)/\(size)"), "\(lines)")
        // After the cut: a status query, its answer, and the rest from the offset that answer names.
        let query = try #require(lines.firstIndex(of: "PUT bytes */\(size)"), "\(lines)")
        let answer = try #require(lines[query...].first { $0.hasPrefix("ANSWER 308") }, "\(lines)")
        let held = answer.hasSuffix(" -") ? 0 : (Int(answer.split(separator: "-").last ?? "") ?? -2) + 1
        #expect(puts.last == "PUT bytes \(held)-\(size - 1)/\(size)", "\(lines)")
        #expect(puts.count == 3, "\(lines)")
      }
      let out = scratch.path + "/back-" + name
      let get = try Processes.rexstore(["audio", "get", "audio/u1/" + name, "-o", out], environment: server.emulatorEnvironment(scratch), in: scratch)
      #expect(get.status == 0, "\(get.stderr)")
      #expect(FileManager.default.contentsEqual(atPath: out, andPath: big))
      #expect(try jsonObject(get.stdout)["md5"] as? String == (try jsonObject(put.stdout))["md5"] as? String)
    }
  }

  /// fake-gcs-server sends no x-goog-stored-content-length: the answer's Content-Length gives the
  /// size, so a 40 MiB object still comes down as 4 parallel ranges (206), exact, into a file; to
  /// stdout it streams in one request.
  @Test func largeDownloadsAreSlicedOnFakeGCSServer() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    let big = try randomFile(scratch, "sliced.wav", size: 40 * 1024 * 1024 + 3)
    #expect(try Processes.rexstore(["audio", "put", "u1", big], environment: env, in: scratch).status == 0)
    let out = scratch.path + "/back.wav"
    let get = try Processes.rexstore(["-v", "audio", "get", "audio/u1/sliced.wav", "-o", out], environment: env, in: scratch)
    #expect(get.status == 0, "\(get.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: out, andPath: big))
    #expect(get.stderr.components(separatedBy: "-> HTTP 206").count - 1 == 4, "\(get.stderr)")
    #expect(try jsonObject(get.stdout)["verified"] as? Bool == true)
    let piped = try Processes.run(
      "/bin/sh", ["-c", "\"$0\" -v audio get audio/u1/sliced.wav > \"$1\"", Processes.binary, scratch.path + "/piped.wav"],
      environment: env, directory: scratch.path)
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(FileManager.default.contentsEqual(atPath: scratch.path + "/piped.wav", andPath: big))
    #expect(!piped.stderr.contains("HTTP 206"), "\(piped.stderr)")
  }

  /// A GCS-only host whose local root cannot be written: piped uploads and profile re-stores still
  /// work (their spool and backups go elsewhere or are skipped), only a fallback would fail.
  @Test func anUnwritableLocalRootDoesNotStopGCSWrites() throws {
    let server = try StorageServer(.fakeGCS)
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch).merging(["REXSTORE_OBJECTS": "/proc/rexstore-unwritable"]) { $1 }
    let file = try randomFile(scratch, "p.wav", size: 3000)
    let piped = try Processes.run(
      "/bin/sh", ["-c", "cat \"$1\" | \"$0\" audio put u1 - --name p.wav", Processes.binary, file], environment: env,
      directory: scratch.path)
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(try jsonObject(piped.stdout)["backend"] as? String == "gcs")
    #expect(try Processes.rexstore(["profile", "store", "u1", "p1", file], environment: env, in: scratch).status == 0)
    let again = try Processes.rexstore(["profile", "store", "u1", "p1", file, file, "--force"], environment: env, in: scratch)
    #expect(again.status == 0, "\(again.stderr)")
  }
}
