import Testing

@testable import RexstoreCore

/// The small parsers and policies of the GCS client, without a server.
@Suite struct GCSProtocolTests {
  @Test func retriesStopAtTheAttemptLimitAndSaySo() {
    var calls = 0
    let policy = RetryPolicy(attempts: 3, baseDelayMilliseconds: 1, maxDelayMilliseconds: 2)
    #expect(throws: RexstoreError(.unavailable, "down (after 3 attempts)")) {
      try policy.run { _ throws(RexstoreError) -> RetryPolicy.Outcome<Int> in
        calls += 1
        return .retry(RexstoreError(.unavailable, "down"), retryAfterSeconds: nil)
      }
    }
    #expect(calls == 3)
  }

  @Test func retriesStopAtTheDeadline() {
    var calls = 0
    let policy = RetryPolicy(attempts: 100, baseDelayMilliseconds: 40, maxDelayMilliseconds: 40, deadlineMilliseconds: 100)
    _ = try? policy.run { _ throws(RexstoreError) -> RetryPolicy.Outcome<Int> in
      calls += 1
      return .retry(RexstoreError(.unavailable, "down"), retryAfterSeconds: nil)
    }
    // Waits are drawn from [0, 40] ms, so a 100 ms budget allows a handful of tries, never 100.
    #expect(calls >= 2 && calls < 50)
  }

  @Test func aSuccessAfterFailuresIsReturned() throws {
    var calls = 0
    let value = try RetryPolicy(attempts: 5, baseDelayMilliseconds: 1).run { attempt throws(RexstoreError) -> RetryPolicy.Outcome<Int> in
      calls += 1
      return attempt < 3 ? .retry(RexstoreError(.unavailable, "x"), retryAfterSeconds: nil) : .done(attempt)
    }
    #expect(value == 3 && calls == 3)
  }

  @Test func xGoogHashIsSplitIntoItsParts() {
    let both = GCSDownload.parseHashes("crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==")
    #expect(both.md5 == "1B2M2Y8AsgTpgAmY7PhCfg==" && both.crc32c == "AAAAAA==")
    let joined = GCSDownload.parseHashes("crc32c=4waSgw==, md5=JfnnlDI7RTiF9RgfG2JNCw==")
    #expect(joined.md5 == "JfnnlDI7RTiF9RgfG2JNCw==" && joined.crc32c == "4waSgw==")
    // A composite object has no MD5: only CRC32C is checked.
    #expect(GCSDownload.parseHashes("crc32c=4waSgw==").md5 == nil)
    #expect(GCSDownload.parseHashes(nil).crc32c == nil)
  }

  @Test func resumableRangeHeadersGiveThePersistedCount() throws {
    func response(_ range: String?) -> HTTPResponse {
      HTTPResponse(status: 308, headers: range.map { ["range": $0] } ?? [:], body: [])
    }
    #expect(try GCSUpload.persisted(response("bytes=0-262143"), chunkStart: 0, what: "x") == 262_144)
    #expect(try GCSUpload.persisted(response(nil), chunkStart: 0, what: "x") == 0)
    // Bytes before the chunk in hand cannot be sent again: the server losing them is an error.
    #expect(throws: RexstoreError.self) { try GCSUpload.persisted(response("bytes=0-99"), chunkStart: 262_144, what: "x") }
  }

  @Test func lastModifiedDatesParse() {
    #expect(HTTPDate.parse("Sat, 28 Nov 2026 02:50:07 GMT")?.outputForm == "2026-11-28T02:50:07.000Z")
    #expect(HTTPDate.parse("Mon, 05 Jan 2026 23:59:59 GMT")?.outputForm == "2026-01-05T23:59:59.000Z")
    #expect(HTTPDate.parse("yesterday") == nil)
  }

  @Test func jwtSegmentsAreUnpaddedBase64URL() {
    #expect(JWT.base64URL([0xFB, 0xFF]) == "-_8")
    #expect(JWT.base64URL(Array("{\"alg\":\"RS256\"}".utf8)) == "eyJhbGciOiJSUzI1NiJ9")
  }

  @Test func objectResourcesBecomeObjectInfo() throws {
    let json = try JSONParser.parse(
      #"{"name":"audio/u1/a.wav","size":"12","md5Hash":"m","crc32c":"c","contentType":"audio/wav","updated":"2026-11-28T02:50:07.123Z","generation":"1700000000000001"}"#)
    let info = try #require(GCSClient.objectInfo(json))
    #expect(info.name == "audio/u1/a.wav" && info.size == 12 && info.backend == "gcs")
    #expect(info.generation == 1_700_000_000_000_001)
    #expect(info.updated?.outputForm == "2026-11-28T02:50:07.123Z")
  }

  @Test func emulatorHostsGetAScheme() {
    #expect(GCSSettings.normalizedEndpoint("127.0.0.1:9023") == "http://127.0.0.1:9023")
    #expect(GCSSettings.normalizedEndpoint("https://storage.example.com/") == "https://storage.example.com")
  }
}
