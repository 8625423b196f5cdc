import Foundation
import RexstoreCore
import Testing

/// One suite, every backend (issue 11): each case below runs once per entry of
/// `ConformanceBackend.all`, so the results form a matrix (backend × case). The cases use only the
/// `ObjectStore` protocol; where backends legitimately differ, `Capabilities` says how, and a backend
/// that falls short is listed in its `knownIssues` with the reason.
///
/// The emulators start once for the whole suite (`.conformanceServers`); every test gets a new
/// bucket, a new local root and its own input files.
@Suite(.conformanceServers) struct ObjectStoreConformanceTests {
  static let backends = ConformanceBackend.all

  // MARK: single objects

  @Test(arguments: backends) func putGetStatRoundTrip(_ backend: ConformanceBackend) throws {
    try conform(backend, .roundTrip) { t, context in
      let content = try context.content("a", size: 100_000)
      let put = try t.store.put("audio/u1/a.wav", from: content.source(), contentType: "audio/wav", overwrite: false)
      expect(put, describes: "audio/u1/a.wav", content, backend)
      let stat = try #require(try t.store.stat("audio/u1/a.wav"))
      expect(stat, describes: "audio/u1/a.wav", content, backend)
      #expect(stat.updated != nil)
      let sink = MemorySink()
      let got = try #require(try t.store.get("audio/u1/a.wav", into: sink))
      expectBytes(sink.bytes, content)
      expect(got, describes: "audio/u1/a.wav", content, backend)
      if !backend.capabilities.remoteAnswers {
        #expect(context.warnings.first?.hasPrefix("GCS unavailable, 'audio/u1/a.wav' stored locally") == true)
      }
    }
  }

  @Test(arguments: backends) func absentNamesAreNil(_ backend: ConformanceBackend) throws {
    try conform(backend, .absentName) { t, _ throws in
      let sink = MemorySink()
      if backend.capabilities.remoteAnswers {
        #expect(try t.store.stat("audio/u1/none.wav") == nil)
        #expect(try t.store.get("audio/u1/none.wav", into: sink) == nil)
      } else {
        // Only the remote could say the name is free.
        expectError(.unavailable) { _ = try t.store.stat("audio/u1/none.wav") }
        expectError(.unavailable) { _ = try t.store.get("audio/u1/none.wav", into: sink) }
      }
      #expect(sink.bytes.isEmpty)
    }
  }

  @Test(arguments: backends) func createOnlyPutRefusesAnExistingName(_ backend: ConformanceBackend) throws {
    try conform(backend, .createOnlyConflict) { t, context in
      let first = try context.content("first", size: 5_000)
      let second = try context.content("second", size: 7_000)
      _ = try t.store.put("audio/u1/c.wav", from: first.source(), contentType: "audio/wav", overwrite: false)
      expectError(.conflict) {
        _ = try t.store.put("audio/u1/c.wav", from: second.source(), contentType: "audio/wav", overwrite: false)
      }
      let (info, bytes) = try #require(try read(t.store, "audio/u1/c.wav"))
      expectBytes(bytes, first)
      expect(info, describes: "audio/u1/c.wav", first, backend)
    }
  }

  @Test(arguments: backends) func overwriteReplacesTheObject(_ backend: ConformanceBackend) throws {
    try conform(backend, .overwrite) { t, context in
      let first = try context.content("first", size: 5_000)
      let second = try context.content("second", size: 7_000)
      _ = try t.store.put("audio/u1/o.wav", from: first.source(), contentType: "audio/wav", overwrite: false)
      let put = try t.store.put("audio/u1/o.wav", from: second.source(), contentType: "audio/mpeg", overwrite: true)
      expect(put, describes: "audio/u1/o.wav", second, backend, contentType: "audio/mpeg")
      let (info, bytes) = try #require(try read(t.store, "audio/u1/o.wav"))
      expectBytes(bytes, second)
      expect(info, describes: "audio/u1/o.wav", second, backend, contentType: "audio/mpeg")
      #expect(try t.viewer.listAll(prefix: "audio/u1/").map(\.size) == [7_000])
    }
  }

  @Test(arguments: backends) func anEmptyObject(_ backend: ConformanceBackend) throws {
    try conform(backend, .emptyObject) { t, context in
      let empty = try context.content("empty", size: 0)
      #expect(empty.md5 == "1B2M2Y8AsgTpgAmY7PhCfg==" && empty.crc32c == "AAAAAA==")
      let put = try t.store.put("audio/u1/empty.wav", from: empty.source(), contentType: "audio/wav", overwrite: false)
      expect(put, describes: "audio/u1/empty.wav", empty, backend)
      let stat = try #require(try t.store.stat("audio/u1/empty.wav"))
      expect(stat, describes: "audio/u1/empty.wav", empty, backend)
      let (info, bytes) = try #require(try read(t.store, "audio/u1/empty.wav"))
      #expect(bytes.isEmpty)
      #expect(info.verified == true)
      #expect(try t.viewer.listAll(prefix: "audio/u1/").map(\.size) == [0])
    }
  }

  /// 40 MiB from a file source into a file sink: the streaming paths (resumable upload on GCS),
  /// checked byte for byte on disk.
  @Test(arguments: backends) func aBigObjectStreams(_ backend: ConformanceBackend) throws {
    try conform(backend, .bigObject) { t, context in
      let big = try context.servers.bigContent()
      let put = try t.store.put("audio/u1/big.wav", from: big.source(), contentType: "audio/wav", overwrite: false)
      expect(put, describes: "audio/u1/big.wav", big, backend)
      let copy = context.scratch.path + "/big-copy"
      let fd = open(copy, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
      try #require(fd >= 0)
      defer { close(fd) }
      let got = try #require(try t.store.get("audio/u1/big.wav", into: DescriptorSink(fd: fd, name: copy)))
      #expect(got.verified == true)
      expect(got, describes: "audio/u1/big.wav", big, backend)
      #expect(FileManager.default.contentsEqual(atPath: copy, andPath: big.path))
      let stat = try #require(try t.store.stat("audio/u1/big.wav"))
      expect(stat, describes: "audio/u1/big.wav", big, backend)
    }
  }

  /// A source that cannot be rewound or sized (standard input from a pipe: `audio put u1 -`), 12 MiB so
  /// that GCS takes the resumable path; the fallback spools it first.
  @Test(arguments: backends) func aStreamSourceStreams(_ backend: ConformanceBackend) throws {
    try conform(backend, .streamSource) { t, context in
      let content = try context.content("stream", size: 12 << 20)
      let source = try streamSource(content)
      let put = try t.store.put("audio/u1/stream.wav", from: source, contentType: "audio/wav", overwrite: false)
      expect(put, describes: "audio/u1/stream.wav", content, backend)
      let (info, bytes) = try #require(try read(t.store, "audio/u1/stream.wav"))
      expectBytes(bytes, content)
      expect(info, describes: "audio/u1/stream.wav", content, backend)
    }
  }

  /// `worker()` (a store for another thread of a batch) reaches the same objects.
  @Test(arguments: backends) func aWorkerSeesTheSameObjects(_ backend: ConformanceBackend) throws {
    try conform(backend, .worker) { t, context in
      let one = try context.content("one", size: 1_000)
      let two = try context.content("two", size: 2_000)
      let worker = try t.store.worker()
      #expect(worker.backend == t.store.backend)
      #expect(t.store.batchWidth >= 1)
      _ = try t.store.put("audio/u1/one.wav", from: one.source(), contentType: "audio/wav", overwrite: false)
      let put = try worker.put("audio/u1/two.wav", from: two.source(), contentType: "audio/wav", overwrite: false)
      expect(put, describes: "audio/u1/two.wav", two, backend)
      expectBytes(try read(worker, "audio/u1/one.wav")?.1, one)
      expectBytes(try read(t.store, "audio/u1/two.wav")?.1, two)
      #expect(try worker.stat("audio/u1/one.wav")?.md5 == one.md5)
    }
  }

  @Test(arguments: backends) func aReadVerifiesChecksums(_ backend: ConformanceBackend) throws {
    try conform(backend, .checksumVerified) { t, context in
      let content = try context.content("v", size: 300_000)
      _ = try t.store.put("audio/u1/v.wav", from: content.source(), contentType: "audio/wav", overwrite: false)
      let (info, bytes) = try #require(try read(t.store, "audio/u1/v.wav"))
      expectBytes(bytes, content)
      #expect(info.verified == true)
      #expect(info.md5 == content.md5)
      #expect(info.crc32c == content.crc32c)
    }
  }

  // MARK: names

  /// NFC and NFD spellings are two objects (names are bytes), although Swift's `String ==` calls them
  /// equal: every comparison here is on UTF-8 bytes.
  @Test(arguments: backends) func unicodeNamesAreBytes(_ backend: ConformanceBackend) throws {
    try conform(backend, .unicodeNames) { t, context in
      let nfc = "audio/u1/caf\u{E9}.wav"
      let nfd = "audio/u1/cafe\u{301}.wav"
      #expect(nfc == nfd && Array(nfc.utf8) != Array(nfd.utf8))
      try roundTripEach(
        [nfc, nfd, "audio/u1/録音 1.wav", "audio/u1/\u{1F0A1} ace.wav", "audio/u1/Zürich-ß.wav"], t, context, backend)
    }
  }

  @Test(arguments: backends) func namesWithSpacesAndURLCharacters(_ backend: ConformanceBackend) throws {
    try conform(backend, .awkwardNames) { t, context in
      try roundTripEach(
        [
          "audio/u1/with space.wav", "audio/u1/hash#1.wav", "audio/u1/what?.wav", "audio/u1/100%.wav",
          // %41 is 'A' when decoded: a store that decoded names would mix these two up.
          "audio/u1/pct%41.wav", "audio/u1/pctA.wav", "audio/u1/plus+sign.wav", "audio/u1/a&b=c;d.wav",
        ], t, context, backend)
    }
  }

  // MARK: listings

  @Test(arguments: backends) func listPagesFollowTokens(_ backend: ConformanceBackend) throws {
    try conform(backend, .listPaging) { t, context in
      let names = (0..<5).map { "audio/pg/f\($0).wav" }
      for (index, name) in names.enumerated().reversed() {
        let content = try context.content("p\(index)", size: 100 + index)
        _ = try t.store.put(name, from: content.source(), contentType: "audio/wav", overwrite: false)
      }
      // A neighbouring directory whose name starts the same way stays out.
      let other = try context.content("other", size: 10)
      _ = try t.store.put("audio/pgx/f0.wav", from: other.source(), contentType: "audio/wav", overwrite: false)
      guard backend.capabilities.remoteAnswers else {
        expectError(.unavailable) { _ = try t.store.list(prefix: "audio/pg/", pageToken: nil, pageSize: 2) }
        #expect(try t.viewer.listAll(prefix: "audio/pg/").map(\.name) == names)
        return
      }
      var pages: [[ObjectInfo]] = []
      var token: String?
      repeat {
        let page = try t.store.list(prefix: "audio/pg/", pageToken: token, pageSize: 2)
        pages.append(page.items)
        token = page.nextPageToken
      } while token != nil && pages.count < 10
      #expect(pages.map(\.count) == [2, 2, 1])
      let items = pages.flatMap { $0 }
      #expect(items.map(\.name) == names)
      #expect(items.map(\.size) == (0..<5).map { Int64(100 + $0) })
      #expect(items.allSatisfy { $0.backend == backend.capabilities.writesTo && $0.md5 != nil })
      #expect(try t.store.list(prefix: "audio/nobody/", pageToken: nil, pageSize: 2).items.isEmpty)
    }
  }

  /// A listing holds every object whose name starts with the prefix, deeper names included (the app
  /// writes names such as `audio/u1/sub/take.mp3` itself), in byte order of the whole name: ' ' (0x20)
  /// before '/' (0x2F) before '0' (0x30). Page tokens carry across levels.
  @Test(arguments: backends) func listingsIncludeDeeperNames(_ backend: ConformanceBackend) throws {
    try conform(backend, .deeperNames) { t, context in
      let content = try context.content("deep", size: 10)
      let names = ["audio/u1/a b.wav", "audio/u1/a/x.wav", "audio/u1/a0.wav", "audio/u1/sub/deeper/y.wav", "audio/u1/z.wav"]
      for name in names.reversed() {
        _ = try t.store.put(name, from: content.source(), contentType: "audio/wav", overwrite: false)
      }
      let byteOrder = { (list: [String]) in list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map(escaped) }
      #expect(try t.viewer.listAll(prefix: "audio/u1/").map { escaped($0.name) } == byteOrder(names))
      #expect(try t.viewer.listSegments(under: "audio/u1/").map(escaped) == ["a", "sub"])
      #expect(try t.viewer.listSegments(under: "audio/") == ["u1"])
      guard backend.capabilities.remoteAnswers, backend.capabilities.knownIssues[.listPaging] == nil else { return }
      var listed: [String] = []
      var token: String?
      repeat {
        let page = try t.store.list(prefix: "audio/u1/", pageToken: token, pageSize: 2)
        #expect(page.items.count <= 2)
        listed += page.items.map { escaped($0.name) }
        token = page.nextPageToken
      } while token != nil && listed.count < 20
      #expect(listed == byteOrder(names))
    }
  }

  @Test(arguments: backends) func listSegmentsNamesTheNextLevel(_ backend: ConformanceBackend) throws {
    try conform(backend, .listSegments) { t, context in
      let content = try context.content("s", size: 10)
      for name in ["audio/bob/y.wav", "audio/alice/x.wav", "audio/bob/z.wav", "audio/carol/w.wav", "voice_profiles/dave/s.wav"] {
        _ = try t.store.put(name, from: content.source(), contentType: "audio/wav", overwrite: false)
      }
      guard backend.capabilities.remoteAnswers else {
        expectError(.unavailable) { _ = try t.store.listSegments(under: "audio/") }
        #expect(try t.viewer.listSegments(under: "audio/") == ["alice", "bob", "carol"])
        return
      }
      #expect(try t.store.listSegments(under: "audio/") == ["alice", "bob", "carol"])
      #expect(try t.store.listSegments(under: "voice_profiles/") == ["dave"])
      #expect(try t.store.listSegments(under: "audio/bob/") == [])
      #expect(try t.store.listSegments(under: "audio/nobody/") == [])
    }
  }

  /// Listings and segments come in byte order, as the bucket and the local root list them, and two
  /// spellings of one text are two entries. Swift's `String` compares canonically, so code that
  /// sorts or dedups names as Strings puts "e\u{301}" (0x65 0xCC 0x81) after "f", as if it were
  /// "é", and folds NFC and NFD users into one.
  @Test(arguments: backends) func listingsAreInByteOrder(_ backend: ConformanceBackend) throws {
    try conform(backend, .byteOrder) { t, context in
      let content = try context.content("o", size: 10)
      let names = ["audio/u1/f.wav", "audio/u1/e\u{301}.wav", "audio/u1/caf\u{E9}.wav", "audio/u1/cafe\u{301}.wav", "audio/u1/Z.wav"]
      let users = ["f", "e\u{301}", "jos\u{E9}", "jose\u{301}"]
      for name in names + users.map({ "audio/\($0)/a.wav" }) {
        _ = try t.store.put(name, from: content.source(), contentType: "audio/wav", overwrite: false)
      }
      let byteOrder = { (list: [String]) in list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map(escaped) }
      // Two directories whose names differ only in normalization, each holding n.wav of its own size.
      let nfc = try context.content("nfc", size: 11)
      let nfd = try context.content("nfd", size: 12)
      _ = try t.store.put("audio/u1/caf\u{E9}/n.wav", from: nfc.source(), contentType: "audio/wav", overwrite: false)
      _ = try t.store.put("audio/u1/cafe\u{301}/n.wav", from: nfd.source(), contentType: "audio/wav", overwrite: false)
      let listed = try t.viewer.listAll(prefix: "audio/u1/")
      let all = names + ["audio/u1/caf\u{E9}/n.wav", "audio/u1/cafe\u{301}/n.wav"]
      #expect(listed.map { escaped($0.name) } == byteOrder(all))
      #expect(listed.filter { $0.name.hasSuffix("/n.wav") }.map { "\(escaped($0.name)) \($0.size)" }.sorted()
        == ["audio/u1/caf\\u{e9}/n.wav 11", "audio/u1/cafe\\u{301}/n.wav 12"])
      #expect(try t.viewer.listSegments(under: "audio/").map(escaped) == byteOrder(users + ["u1"]))
    }
  }

  // MARK: deletes

  @Test(arguments: backends) func deleteIsTrueThenFalse(_ backend: ConformanceBackend) throws {
    try conform(backend, .delete) { t, context in
      let content = try context.content("d", size: 1_000)
      let keep = try context.content("k", size: 1_001)
      _ = try t.store.put("audio/u1/d.wav", from: content.source(), contentType: "audio/wav", overwrite: false)
      _ = try t.store.put("audio/u1/k.wav", from: keep.source(), contentType: "audio/wav", overwrite: false)
      guard backend.capabilities.remoteAnswers else {
        // Deleting only the local copy would report a deletion the remote never made.
        expectError(.unavailable) { _ = try t.store.delete("audio/u1/d.wav") }
        expectBytes(try read(t.store, "audio/u1/d.wav")?.1, content)
        return
      }
      #expect(try t.store.delete("audio/u1/d.wav") == true)
      #expect(try t.store.stat("audio/u1/d.wav") == nil)
      #expect(try t.store.get("audio/u1/d.wav", into: MemorySink()) == nil)
      #expect(try t.store.delete("audio/u1/d.wav") == false)
      #expect(try t.store.listAll(prefix: "audio/u1/").map(\.name) == ["audio/u1/k.wav"])
    }
  }

  /// `deleteListed` deletes the copy a listing returned. On a versioned store, a name rewritten
  /// since is refused and the new version kept; the fallback deletes exactly the place listed.
  @Test(arguments: backends) func deleteListedDeletesTheListedCopy(_ backend: ConformanceBackend) throws {
    try conform(backend, .deleteListed) { t, context in
      let first = try context.content("first", size: 2_000)
      let second = try context.content("second", size: 3_000)
      let put = try t.store.put("audio/u1/l.wav", from: first.source(), contentType: "audio/wav", overwrite: false)
      let listed = backend.capabilities.remoteAnswers ? try #require(try t.store.listAll(prefix: "audio/u1/").first) : put
      #expect(listed.name == "audio/u1/l.wav" && listed.md5 == first.md5)
      _ = try t.store.put("audio/u1/l.wav", from: second.source(), contentType: "audio/wav", overwrite: true)
      if backend.capabilities.deleteListedIsVersionExact {
        expectError(.conflict) { _ = try t.store.deleteListed(listed) }
        expectBytes(try read(t.store, "audio/u1/l.wav")?.1, second)
        let fresh = try #require(try t.store.listAll(prefix: "audio/u1/").first)
        #expect(try t.store.deleteListed(fresh) == true)
        #expect(try t.store.deleteListed(fresh) == false)
      } else {
        // No versions: the name is what is deleted.
        #expect(try t.store.deleteListed(listed) == true)
        #expect(try t.store.deleteListed(listed) == false)
      }
      #expect(try t.viewer.stat("audio/u1/l.wav") == nil)
    }
  }

  /// The fallback store holds a name in two places (remote, and local from an earlier outage):
  /// deleting the listed local copy leaves the remote one, and the other way round. Only for stores
  /// with two places that can list (the fallback with its remote up).
  @Test(arguments: backends.filter { $0.capabilities.twoPlaces && $0.capabilities.remoteAnswers })
  func deleteListedPicksThePlaceListed(_ backend: ConformanceBackend) throws {
    try conform(backend, .deleteListedPlace) { t, context in
      let local = try #require(t.secondPlace)
      let first = try context.content("first", size: 2_000)
      let second = try context.content("second", size: 3_000)
      _ = try t.store.put("audio/u1/two.wav", from: first.source(), contentType: "audio/wav", overwrite: false)
      _ = try local.put("audio/u1/two.wav", from: second.source(), contentType: "audio/wav", overwrite: false)
      let both = try t.store.listAll(prefix: "audio/u1/")
      #expect(both.map(\.name) == ["audio/u1/two.wav", "audio/u1/two.wav"])
      #expect(both.map(\.backend) == [backend.capabilities.writesTo, "local"])
      let localCopy = try #require(both.first { $0.backend == "local" })
      let remoteCopy = try #require(both.first { $0.backend != "local" })
      #expect(try t.store.deleteListed(localCopy) == true)
      #expect(try local.stat("audio/u1/two.wav") == nil)
      #expect(try t.store.stat("audio/u1/two.wav")?.md5 == first.md5)
      // And the other way round: the remote copy goes, a new local one stays.
      _ = try local.put("audio/u1/two.wav", from: second.source(), contentType: "audio/wav", overwrite: false)
      #expect(try t.store.deleteListed(remoteCopy) == true)
      #expect(try local.stat("audio/u1/two.wav")?.md5 == second.md5)
      #expect(try t.store.listAll(prefix: "audio/u1/").map(\.backend) == ["local"])
    }
  }

  // MARK: groups (a voice profile's samples)

  @Test(arguments: backends) func groupReplaceWithFewerMembers(_ backend: ConformanceBackend) throws {
    try conform(backend, .groupReplace) { t, context in
      let initial = try storeProfile(t, context, backend, label: "old", count: 3)
      initial.finish()
      let newer = try (0..<2).map { try context.content("new\($0)", size: 600 + $0) }
      let replacement = try t.store.replaceGroup(
        directory: "voice_profiles/u1",
        members: try newer.enumerated().map { index, content in
          GroupMember(name: "voice_profiles/u1/sample_\(index).wav", source: try content.source(), contentType: "audio/wav")
        })
      #expect(replacement.objects.map(\.name) == ["voice_profiles/u1/sample_0.wav", "voice_profiles/u1/sample_1.wav"])
      for (info, content) in zip(replacement.objects, newer) {
        expect(info, describes: info.name, content, backend)
      }
      replacement.finish()
      try expectGroup(t, "voice_profiles/u1", holds: newer)
      #expect(try t.viewer.stat("voice_profiles/u1/sample_2.wav") == nil)
    }
  }

  @Test(arguments: backends) func groupUndoPutsTheOldSetBack(_ backend: ConformanceBackend) throws {
    try conform(backend, .groupUndo) { t, context in
      let initial = try storeProfile(t, context, backend, label: "old", count: 3)
      initial.finish()
      let old = try (0..<3).map { try context.content("old\($0)", size: 500 + $0) }
      let newer = try context.content("new0", size: 900)
      let extra = try context.content("new3", size: 901)
      let replacement = try t.store.replaceGroup(
        directory: "voice_profiles/u1",
        members: [
          GroupMember(name: "voice_profiles/u1/sample_0.wav", source: try newer.source(), contentType: "audio/wav"),
          GroupMember(name: "voice_profiles/u1/sample_3.wav", source: try extra.source(), contentType: "audio/wav"),
        ])
      replacement.undo()
      try expectGroup(t, "voice_profiles/u1", holds: old)
      #expect(try t.viewer.stat("voice_profiles/u1/sample_3.wav") == nil)
    }
  }

  @Test(arguments: backends) func deleteGroupDeletesOneGroup(_ backend: ConformanceBackend) throws {
    try conform(backend, .deleteGroup) { t, context in
      try storeProfile(t, context, backend, label: "one", count: 3).finish()
      let other = try context.content("other", size: 10)
      try t.store.replaceGroup(
        directory: "voice_profiles/u2",
        members: [GroupMember(name: "voice_profiles/u2/sample_0.wav", source: try other.source(), contentType: "audio/wav")]
      ).finish()
      guard backend.capabilities.remoteAnswers else {
        expectError(.unavailable) { _ = try t.store.deleteGroup(directory: "voice_profiles/u1") }
        #expect(try t.viewer.listAll(prefix: "voice_profiles/u1/").count == 3)
        return
      }
      #expect(try t.store.deleteGroup(directory: "voice_profiles/u1") == 3)
      #expect(try t.store.listAll(prefix: "voice_profiles/u1/").isEmpty)
      #expect(try t.store.stat("voice_profiles/u1/sample_0.wav") == nil)
      #expect(try t.store.deleteGroup(directory: "voice_profiles/u1") == 0)
      try expectGroup(t, "voice_profiles/u2", holds: [other])
    }
  }

  @Test(arguments: backends) func repairGroupLeavesAMatchingSetAlone(_ backend: ConformanceBackend) throws {
    try conform(backend, .repairGroupNoOp) { t, context in
      let stored = try storeProfile(t, context, backend, label: "set", count: 2)
      stored.finish()
      let repaired = try t.store.repairGroup(directory: "voice_profiles/u1", toMatch: stored.objects) {
        () throws(RexstoreError) -> [ObjectInfo]? in
        Issue.record("the record was read again although the set matched")
        return stored.objects
      }
      #expect(repaired == false)
      try expectGroup(t, "voice_profiles/u1", holds: try (0..<2).map { try context.content("set\($0)", size: 500 + $0) })
    }
  }
}

// MARK: - helpers

/// Runs one case of the matrix on a fresh store of `backend`; a case the backend is known to fail
/// runs as a known issue. Set-up failures (an emulator that does not start) are never hidden.
private func conform(
  _ backend: ConformanceBackend, _ which: ConformanceCase, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: (StoreUnderTest, ConformanceContext) throws -> Void
) throws {
  let servers = try #require(ServerPool.current, "run inside ObjectStoreConformanceTests (.conformanceServers)")
  let context = ConformanceContext(servers: servers)
  let made = try backend.make(context)
  if let note = backend.capabilities.knownIssues[which] {
    withKnownIssue(Comment(rawValue: note), sourceLocation: sourceLocation) { try body(made, context) }
  } else {
    try body(made, context)
  }
  if backend.capabilities.remoteAnswers {
    #expect(context.warnings.isEmpty, "no fallback expected", sourceLocation: sourceLocation)
  }
}

private func expect(
  _ info: ObjectInfo, describes name: String, _ content: Content, _ backend: ConformanceBackend,
  contentType: String = "audio/wav", sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(Array(info.name.utf8) == Array(name.utf8), "name", sourceLocation: sourceLocation)
  #expect(info.size == Int64(content.size), "size", sourceLocation: sourceLocation)
  #expect(info.md5 == content.md5, "md5", sourceLocation: sourceLocation)
  #expect(info.crc32c == content.crc32c, "crc32c", sourceLocation: sourceLocation)
  #expect(info.backend == backend.capabilities.writesTo, "backend", sourceLocation: sourceLocation)
  if backend.capabilities.keepsContentType {
    #expect(info.contentType == contentType, "content type", sourceLocation: sourceLocation)
  }
}

/// A name with every non-ASCII scalar spelled `\u{…}`: two spellings of one text stay apart, in
/// comparisons and in failure messages.
func escaped(_ name: String) -> String {
  name.unicodeScalars.map { $0.isASCII ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}

/// Compares bytes without printing them all when they differ.
private func expectBytes(
  _ bytes: [UInt8]?, _ content: Content, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  let same = bytes == content.bytes
  #expect(same, "\(what): got \(bytes.map { "\($0.count) bytes" } ?? "nothing"), expected \(content.size) bytes", sourceLocation: sourceLocation)
}

private func expectError(
  _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected \(code.rawValue), but it succeeded", sourceLocation: sourceLocation)
  } catch let error as RexstoreError {
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected \(code.rawValue), got \(error)", sourceLocation: sourceLocation)
  }
}

/// The content through one end of a socket pair, written by another thread: a stream that cannot be
/// rewound or sized, like a pipe. (A socket, so that a reader that stops early makes the writer fail
/// with EPIPE instead of killing the test process with SIGPIPE.)
private func streamSource(_ content: Content) throws -> ByteSource {
  var fds: [Int32] = [-1, -1]
  try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
  let (reader, writer) = (fds[0], fds[1])
  let bytes = content.bytes ?? []
  Thread.detachNewThread {
    defer { close(writer) }
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { send(writer, $0.baseAddress, min($0.count, 1 << 16), Int32(MSG_NOSIGNAL)) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      offset += n
    }
  }
  return ByteSource(fd: reader, name: "<stream>", owned: true)
}

/// The object's metadata and bytes, through `get`.
private func read(_ store: any ObjectStore, _ name: String) throws -> (ObjectInfo, [UInt8])? {
  let sink = MemorySink()
  guard let info = try store.get(name, into: sink) else { return nil }
  return (info, sink.bytes)
}

/// Stores each name with its own bytes (create-only, so two names a store confused would conflict),
/// then reads each back, finds each in the listing by its exact bytes, and deletes each.
private func roundTripEach(
  _ names: [String], _ t: StoreUnderTest, _ context: ConformanceContext, _ backend: ConformanceBackend,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  var contents: [Content] = []
  for (index, name) in names.enumerated() {
    let content = try context.content("n\(index)", size: 200 + index)
    contents.append(content)
    let put = try t.store.put(name, from: content.source(), contentType: "audio/wav", overwrite: false)
    expect(put, describes: name, content, backend, sourceLocation: sourceLocation)
  }
  for (name, content) in zip(names, contents) {
    let (info, bytes) = try #require(try read(t.store, name), "\(name)", sourceLocation: sourceLocation)
    expectBytes(bytes, content, name, sourceLocation: sourceLocation)
    expect(info, describes: name, content, backend, sourceLocation: sourceLocation)
    let stat = try #require(try t.store.stat(name), "\(name)", sourceLocation: sourceLocation)
    expect(stat, describes: name, content, backend, sourceLocation: sourceLocation)
  }
  // Every name listed once, by its exact bytes (the order is `listingsAreInByteOrder`'s business).
  let listed = try t.viewer.listAll(prefix: "audio/u1/").map { escaped($0.name) }.sorted()
  #expect(listed == names.map(escaped).sorted(), sourceLocation: sourceLocation)
  guard backend.capabilities.remoteAnswers else { return }
  for name in names { #expect(try t.store.delete(name) == true, "\(name)", sourceLocation: sourceLocation) }
  #expect(try t.store.listAll(prefix: "audio/u1/").isEmpty, sourceLocation: sourceLocation)
}

/// Stores `voice_profiles/u1/sample_N.wav` for N < count (contents `labelN`, 500 + N bytes).
private func storeProfile(
  _ t: StoreUnderTest, _ context: ConformanceContext, _ backend: ConformanceBackend, label: String, count: Int
) throws -> any GroupReplacement {
  let contents = try (0..<count).map { try context.content("\(label)\($0)", size: 500 + $0) }
  let replacement = try t.store.replaceGroup(
    directory: "voice_profiles/u1",
    members: try contents.enumerated().map { index, content in
      GroupMember(name: "voice_profiles/u1/sample_\(index).wav", source: try content.source(), contentType: "audio/wav")
    })
  #expect(replacement.objects.count == count)
  for (info, content) in zip(replacement.objects, contents) { expect(info, describes: info.name, content, backend) }
  return replacement
}

/// The group holds exactly `sample_0 … sample_{n-1}` with these bytes.
private func expectGroup(
  _ t: StoreUnderTest, _ directory: String, holds contents: [Content], sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let names = contents.indices.map { "\(directory)/sample_\($0).wav" }
  #expect(try t.viewer.listAll(prefix: directory + "/").map(\.name) == names, sourceLocation: sourceLocation)
  for (name, content) in zip(names, contents) {
    expectBytes(try read(t.store, name)?.1, content, name, sourceLocation: sourceLocation)
  }
}
