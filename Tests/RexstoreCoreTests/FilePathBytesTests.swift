import Glibc
import Testing

@testable import RexstoreCore

/// The byte-path type: bytes in, bytes out; a display form for messages and hex for JSON.
@Suite struct FilePathBytesTests {
  let odd = FilePathBytes(bytes: Array("/tmp/caf".utf8) + [0xE9] + Array(".wav".utf8))

  @Test func displayEscapesOnlyInvalidBytes() {
    #expect(odd.display == #"/tmp/caf\xE9.wav"#)
    #expect(odd.description == odd.display)
    #expect(FilePathBytes("/tmp/café.wav").display == "/tmp/café.wav")
    #expect(FilePathBytes(bytes: [0xC3]).display == #"\xC3"#)
    #expect(!odd.isUTF8)
    #expect(odd.text == nil)
    #expect(FilePathBytes("a").text == "a")
  }

  @Test func hexIsTheExactBytes() {
    #expect(odd.hex == "2f746d702f636166e92e776176")
    #expect(FilePathBytes(bytes: []).hex == "")
  }

  @Test func cStringIsTheBytesAndANul() {
    #expect(odd.cString.map { UInt8(bitPattern: $0) } == odd.bytes + [0])
    #expect(odd.withCString { strlen($0) } == odd.bytes.count)
  }

  @Test func pathPartsWorkOnBytes() {
    #expect(odd.parent == FilePathBytes("/tmp"))
    #expect(odd.baseName == FilePathBytes(bytes: Array("caf".utf8) + [0xE9] + Array(".wav".utf8)))
    #expect(FilePathBytes("/x").parent == FilePathBytes("/"))
    #expect(FilePathBytes("x").parent == FilePathBytes("."))
    let relative = FilePathBytes(bytes: [0x61, 0xFF])
    #expect(relative.absolute(in: FilePathBytes(bytes: [0x2F, 0x77, 0xFE])) == FilePathBytes(bytes: [0x2F, 0x77, 0xFE, 0x2F, 0x61, 0xFF]))
    #expect(relative.absolute(in: FilePathBytes("/")) == FilePathBytes(bytes: [0x2F, 0x61, 0xFF]))
    #expect(odd.absolute(in: FilePathBytes("/elsewhere")) == odd)
    #expect((odd.parent + "/x") == FilePathBytes("/tmp/x"))
  }
}
