import RexstoreCore

/// Paths in JSON output. JSON text cannot hold bytes that are not UTF-8, so a path the user gave is
/// shown in its display form (valid UTF-8 as it is, every other byte as `\xHH`) in its usual field,
/// and only when it is not valid UTF-8 is its exact byte string added beside it, as lower-case hex,
/// under the field's name plus `_bytes_hex` (`path` → `path_bytes_hex`; for a list such as `files`,
/// `files_bytes_hex` lists every entry's hex). A script takes the hex when it is there, else the field.
extension JSONValue {
  /// This object with `key` = the path's display form, and `KEY_bytes_hex` when it is not UTF-8.
  func addingPath(_ key: String, _ path: FilePathBytes) -> JSONValue {
    adding([Member(key, .string(path.display))]).addingPathHex(key, path)
  }

  /// Only `KEY_bytes_hex`, when the path is not UTF-8 (`key` itself is already there).
  func addingPathHex(_ key: String, _ path: FilePathBytes) -> JSONValue {
    path.isUTF8 ? self : adding([Member(key + "_bytes_hex", .string(path.hex))])
  }

  /// `key` = the display forms, and `KEY_bytes_hex` (every entry's hex) when any is not UTF-8.
  func addingPaths(_ key: String, _ paths: [FilePathBytes]) -> JSONValue {
    var value = adding([Member(key, .array(paths.map { .string($0.display) }))])
    if !paths.allSatisfy(\.isUTF8) {
      value = value.adding([Member(key + "_bytes_hex", .array(paths.map { .string($0.hex) }))])
    }
    return value
  }

  private func adding(_ members: [Member]) -> JSONValue {
    guard case .object(let existing) = self else { return self }
    return .object(existing + members)
  }
}

extension FilePathBytes {
  /// `-`: standard input or output.
  var isDash: Bool { bytes == [UInt8(ascii: "-")] }
}
