import RexstoreCore

extension ResolvedSetting {
  /// Numbers are numbers and switches booleans; durations and paths are their text.
  var json: JSONValue {
    switch value {
    case .count(let n): return .int(Int64(n))
    case .boolean(let flag): return .bool(flag)
    case .text, .path, .microseconds: return .string(text)
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
      members.append(.init(spec.key, origin ? .record(["value": value, "source": .string(resolved.source)]) : value))
    }
    return .object(members)
  }
}
