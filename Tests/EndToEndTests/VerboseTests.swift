import Foundation
import Testing

/// `-v` logs each request to the bucket on stderr: method, URL with capabilities masked, status or
/// failure, time and attempt (issue 10).
@Suite struct VerboseTests {
  @Test func eachRequestIsLoggedWithSecretsMasked() throws {
    let server = try StorageServer(.stub(arguments: []))
    let scratch = Processes.Scratch()
    let env = server.emulatorEnvironment(scratch)
    try server.faults(#"[{"method":"POST","path_contains":"/upload/","times":1,"action":{"status":503}}]"#)
    let small = try randomFile(scratch, "s.wav", size: 100)
    let put = try Processes.rexstore(["-v", "audio", "put", "u1", small], environment: env, in: scratch)
    #expect(put.status == 0, "\(put.stderr)")
    let lines = put.stderr.split(separator: "\n").map(String.init)
    #expect(lines.count == 2, "\(lines)")
    #expect(lines[0].hasPrefix(#"{"request":"POST http://"#) && lines[0].contains("-> HTTP 503") && lines[0].contains("(attempt 1)"))
    #expect(lines[1].contains("-> HTTP 200") && lines[1].contains("(attempt 2)"))
    // A resumable upload's session id is a capability: masked. (A file of known size goes as one
    // media request first; its 503 hands over to a session.)
    try server.faults(#"[{"method":"POST","query_contains":"uploadType=media","times":1,"action":{"status":503}}]"#)
    let big = try randomFile(scratch, "b.wav", size: 9 * 1024 * 1024)
    let resumable = try Processes.rexstore(["-v", "audio", "put", "u1", big], environment: env, in: scratch)
    #expect(resumable.status == 0)
    #expect(resumable.stderr.contains("upload_id=REDACTED"))
    #expect(resumable.stderr.range(of: "upload_id=[^R]", options: .regularExpression) == nil, "\(resumable.stderr)")
    #expect(resumable.stderr.contains("PUT http://"))
    #expect(resumable.stderr.contains("uploadType=media&name=audio%2Fu1%2Fb.wav&ifGenerationMatch=0 -> HTTP 503 in "))
    // Without -v, nothing.
    #expect(try Processes.rexstore(["audio", "ls", "u1"], environment: env, in: scratch).stderr.isEmpty)
  }
}
