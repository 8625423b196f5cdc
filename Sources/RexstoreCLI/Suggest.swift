/// "Did you mean" suggestions by edit distance, as git and swift-argument-parser offer them.
enum Suggest {
  static func closest(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, distance(word, $0)) }.filter { $0.1 <= max(2, word.count / 3) }
    if let best = scored.min(by: { $0.1 < $1.1 }) { return best.0 }
    // A unique prefix is a good guess too: `pat` -> `pattern`.
    let prefixed = candidates.filter { $0.hasPrefix(word) }
    return word.count >= 2 && prefixed.count == 1 ? prefixed[0] : nil
  }

  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars)
    let b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}
