import RexstoreCore

/// argv as the kernel hands it over: bytes. Swift's `CommandLine.arguments` replaces invalid UTF-8 with
/// U+FFFD, which would store a mangled pattern key or open a different file than the one named; here
/// each argument keeps its bytes (`bytes`), and one that is not valid UTF-8 has an escaped form
/// (`\xFF`) as its word, for messages only. Once the parser knows what each argument is, it refuses
/// such a word (exit 64) unless the command table says it is a path (`bytePath`), which then reaches
/// the file system as these bytes.
public struct RawArguments: Sendable {
  /// Each argument: its text, or for invalid UTF-8 a display form with the bad bytes as `\xHH`.
  public var words: [String]
  /// Indices of the arguments that were not valid UTF-8.
  public var invalid: Set<Int>
  /// Each argument's bytes, exactly as argv held them.
  public var bytes: [[UInt8]]

  public init(_ argv: [[UInt8]]) {
    words = []
    invalid = []
    bytes = argv
    for (index, bytes) in argv.enumerated() {
      if let text = String(validating: bytes, as: UTF8.self) {
        words.append(text)
      } else {
        words.append(RawArguments.escaped(bytes))
        invalid.insert(index)
      }
    }
  }

  /// Valid UTF-8 runs as they are, every other byte as `\xHH`: readable, and never raw bytes on stderr.
  static func escaped(_ bytes: [UInt8]) -> String { FilePathBytes.escaped(bytes) }

  /// The process's own argv (without the program name), read as bytes.
  public static func fromProcess() -> RawArguments {
    var argv: [[UInt8]] = []
    let count = Int(CommandLine.argc)
    for index in 1..<max(count, 1) {
      guard let pointer = CommandLine.unsafeArgv[index] else { continue }
      argv.append(pointer.withMemoryRebound(to: UInt8.self, capacity: 1) { start in
        var length = 0
        while start[length] != 0 { length += 1 }
        return Array(UnsafeBufferPointer(start: start, count: length))
      })
    }
    return RawArguments(argv)
  }
}

/// Argument text echoed in an error message is capped, so a 100 KB argument cannot flood a log.
enum Echo {
  static let limit = 200

  /// `text` itself when short, else its first `limit` bytes (on a character boundary) and "…".
  static func capped(_ text: String) -> String {
    guard text.utf8.count > limit else { return text }
    var end = text.startIndex
    var used = 0
    for index in text.indices {
      let size = text[index].utf8.count
      if used + size > limit { break }
      used += size
      end = text.index(after: index)
    }
    return String(text[..<end]) + "…"
  }

  /// Every long argument that appears verbatim in the error's message or hint, capped.
  static func capping(_ error: RexstoreError, arguments: [String]) -> RexstoreError {
    let long = arguments.filter { $0.utf8.count > limit }.sorted { $0.utf8.count > $1.utf8.count }
    guard !long.isEmpty else { return error }
    var error = error
    for argument in long {
      let short = capped(argument)
      error.message = error.message.replacingAll(argument, with: short)
      error.hint = error.hint.map { $0.replacingAll(argument, with: short) }
    }
    return error
  }
}

extension String {
  /// Plain substring replacement on UTF-8 bytes (no Foundation in the CLI target).
  func replacingAll(_ target: String, with replacement: String) -> String {
    let haystack = Array(utf8)
    let needle = Array(target.utf8)
    guard !needle.isEmpty, haystack.count >= needle.count else { return self }
    var out: [UInt8] = []
    out.reserveCapacity(haystack.count)
    var index = 0
    while index < haystack.count {
      if index + needle.count <= haystack.count, haystack[index] == needle[0],
        haystack[index..<index + needle.count].elementsEqual(needle)
      {
        out += replacement.utf8
        index += needle.count
      } else {
        out.append(haystack[index])
        index += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
}

extension RawArguments {
  /// Arguments already known to be text (tests, `help`).
  public init(words: [String], invalid: Set<Int>) {
    self.words = words
    self.invalid = invalid
    self.bytes = words.map { Array($0.utf8) }
  }
}
