import RexstoreCore

extension ResolvedSetting {
  /// Numbers are numbers and switches booleans; durations and paths are their text.
  var json: JSONValue {
    switch value {
    case .count(let n): return .int(Int64(n))
    case .boolean(let flag): return .bool(flag)
    case .path where bytes != nil: return .string(FilePathBytes(bytes: bytes!).display)
    // An endpoint may carry a password (`http://user:secret@host`): never shown.
    case .text: return .string(URLText.maskingPasswords(in: text))
    case .path, .microseconds: return .string(text)
    }
  }
}

extension SettingValues {
  /// `{key: value}` or, with `origin`, `{key: {value, source}}`, in declaration order; secrets masked.
  func json(origin: Bool, sections: Set<String>? = nil) -> JSONValue {
    var members: [JSONValue.Member] = []
    for spec in specs where sections?.contains(spec.section) ?? true {
      guard !members.contains(where: { $0.key == spec.key }) else { continue }
      guard let resolved = values[spec.key] else {
        members.append(.init(spec.key, .null))
        continue
      }
      let value: JSONValue = spec.secret ? .string("(set)") : resolved.json
      var record: [JSONValue.Member] = [.init("value", value), .init("source", .string(resolved.source))]
      // A path that is not UTF-8: its exact bytes beside the display form, as other paths in output.
      if let bytes = resolved.bytes { record.append(.init("value_bytes_hex", .string(FilePathBytes(bytes: bytes).hex))) }
      members.append(.init(spec.key, origin ? .object(record) : value))
    }
    return .object(members)
  }
}
