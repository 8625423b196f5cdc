import Testing

@testable import RexstoreCore

/// Server text is redacted and capped before anyone sees it (issue 8, item 8).
@Suite struct ServerTextTests {
  static let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ4QHkuY29tIn0.c2lnbmF0dXJlLWJ5dGVz"
  static let secrets = [
    jwt, "ya29.a0AfH6SMBx-secret_token_value", "1//0gSecretRefreshTokenValue", "GOCSPX-clientsecretvalue",
    "hunter2secret", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
  ]

  @Test(arguments: [
    "Invalid JWT: \(jwt) was rejected",
    "request had Authorization: Bearer ya29.a0AfH6SMBx-secret_token_value",
    "bad request body grant_type=refresh_token&client_id=abc&client_secret=hunter2secret&refresh_token=1//0gSecretRefreshTokenValue",
    #"{"client_secret": "GOCSPX-clientsecretvalue", "refresh_token":"1//0gSecretRefreshTokenValue"}"#,
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(jwt)",
    #"private_key: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n""#,
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY----- then more",
    "access_token=hunter2secret; password: hunter2secret",
    "bearer ya29.a0AfH6SMBx-secret_token_value",
  ])
  func secretsAreRedacted(_ text: String) {
    let shown = ServerText.shown(text)
    for secret in ServerTextTests.secrets { #expect(!shown.contains(secret), "\(shown)") }
    #expect(shown.contains("[redacted]"))
  }

  @Test func ordinaryMessagesPassUnchanged() {
    for text in [
      "No such object: rex-bucket/audio/u1/a.wav", "The specified bucket does not exist.",
      "Invalid grant: account not found", "Anonymous caller does not have storage.objects.list access",
    ] {
      #expect(ServerText.shown(text) == text)
    }
    #expect(ServerText.redact("refresh_token=1//abcdefghijkl&x=1") == "refresh_token=[redacted]&x=1")
    #expect(ServerText.redact("Bearer abc.def") == "Bearer [redacted]")
  }

  @Test func longTextIsCappedOnACharacterBoundary() {
    let text = "x" + String(repeating: "é", count: 600)  // 1201 bytes
    let shown = ServerText.shown(text)
    #expect(shown.hasSuffix("…"))
    #expect(shown.utf8.count <= ServerText.limit + "…".utf8.count)
    #expect(shown == "x" + String(repeating: "é", count: 255) + "…")
    #expect(ServerText.shown(String(repeating: "a", count: 512)) == String(repeating: "a", count: 512))
  }

  @Test func deadlinesGrowWithTheBodyOnly() {
    let t = HTTPTimeouts(deadlineMilliseconds: 2_000, transferBytesPerSecond: 1024)
    #expect(t.deadline(forBodyBytes: 0) == 2_000)
    #expect(t.deadline(forBodyBytes: 10 * 1024) == 12_000)
    #expect(t.deadline(forBodyBytes: 512) == 2_500)
    #expect(t.deadline(forBodyBytes: Int64.max) == 2_000 + Int(Int32.max))
    #expect(HTTPTimeouts().deadline(forBodyBytes: 0) == 120_000)
  }
}
