/// `rexstore man`: rexstore(1) in mdoc, its COMMANDS and OPTIONS sections rendered from the table.
enum ManPage {
  /// Fixed so the committed page changes only when its content does.
  static let date = "November 28, 2026"

  static func render() -> String {
    var s = """
      .Dd \(date)
      .Dt REXSTORE 1
      .Os
      .Sh NAME
      .Nm rexstore
      .Nd storage toolkit of the Rex poker-coaching app
      .Sh SYNOPSIS
      .Nm
      .Op Ar global-options
      .Ar command
      .Op Ar verb
      .Op Ar options
      .Op Fl \\-
      .Op Ar args
      .Sh DESCRIPTION
      .Nm
      keeps behavioural patterns, conversation context and insights in a SQLite database shared with the
      Rex app, and audio recordings and voice-profile samples in Google Cloud Storage, with a local
      object root of the same layout for when GCS is off or failing: a write GCS cannot take lands
      there, says so in its output
      .Pq Li backend , fallback_reason
      and warns on standard error, unless
      .Fl \\-no-fallback
      is given.
      Every command prints one JSON value on standard output and has a documented exit status;
      errors are one JSON line on standard error.
      .Sh COMMANDS
      .Bl -tag -width Ds

      """
    for command in CommandTable.allCommands {
      // Cm, not Nm: `.Nm word` would print the word in place of rexstore, naming another utility.
      s += ".It Cm \(escape(command.name))"
      for argument in command.arguments {
        // Oo/Oc, not Op: Op runs to the end of the line and would swallow every later argument.
        let name = escape(argument.name) + (argument.variadic ? " ..." : "")
        s += argument.optional ? " Oo Ar \(name) Oc" : " Ar \(name)"
      }
      s += "\n\(sentence(command.summary))\n"
      s += discussion(command.discussion)
      if !command.options.isEmpty { s += optionList(command.options) }
    }
    s += ".El\n.Sh GLOBAL OPTIONS\nAccepted before the command and after the verb.\n"
    s += optionList(CommandTable.globalOptions + CommandTable.builtinOptions)
    s += """
      .Sh OUTPUT
      On success standard output holds exactly one JSON value and a newline, compact unless
      .Fl \\-pretty
      is given; keys are sorted and every documented key is present.
      Lists are
      .Li {"items":[...],"count":N} ,
      or one item per line with
      .Fl \\-ndjson .
      Timestamps are UTC RFC 3339 with a Z.
      On failure standard output is empty and standard error holds one line:
      .Li {"error":{"code":"...","message":"...","exit":N}} .
      Exceptions: help text,
      .Cm completion ,
      .Cm man ,
      .Cm pattern export
      (NDJSON) and
      .Cm health ,
      which prints its report whatever its status.
      """
    s += "\n" + environment()
    s += """
      .Sh FILES
      .Bl -tag -width Ds
      .It Pa $XDG_DATA_HOME/rexstore/rexstore.sqlite3
      the default database, created with mode 0600 in a 0700 directory.
      .It Pa $XDG_CONFIG_HOME/rexstore/config.json
      optional config file: a JSON object with the keys \(Settings.all.filter(\.inFile).map(\.key).joined(separator: ", ")).
      .It Pa $XDG_CACHE_HOME/rexstore/token-*.json
      cached GCS access tokens, mode 0600, reused until five minutes before they expire.
      .El
      """
    s += "\n" + exitStatus()
    s += """
      .Sh EXAMPLES

      """
    // One literal display of plain text lines: `.Dl` would parse each word as a possible macro and
    // wrap a long command mid-line, so a copied example would not run.
    s += ".Bd -literal -offset indent\n"
    for example in CommandTable.allCommands.flatMap(\.examples) {
      s += escapeLine(example, sentences: false) + "\n"
    }
    s += ".Ed\n"
    // Sorted by section, then name, as mdoc(7) asks.
    s += ".Sh SEE ALSO\n.Xr jq 1 ,\n.Xr sqlite3 1\n"
    // mandoc -T lint: no text line longer than 80 bytes.
    return RoffWrap.fold(s)
  }

  /// ENVIRONMENT, from the setting declarations: each variable, what it sets, its flag.
  static func environment() -> String {
    var s = ".Sh ENVIRONMENT\n.Bl -tag -width Ds\n"
    for spec in Settings.all where !spec.variables.isEmpty {
      s += ".It " + spec.variables.map { "Ev \($0)" }.joined(separator: " , ") + "\n"
      var text = spec.environmentHelp ?? spec.help
      if let flag = spec.flag, spec.environmentHelp == nil { text += ", as --\(flag)" }
      if let shown = spec.shownDefault, spec.kind != .boolean { text += " (default \(shown))" }
      s += sentence(text) + "\n"
    }
    for (names, help) in Settings.platformVariables {
      s += ".It " + names.map { "Ev \($0)" }.joined(separator: " , ") + "\n" + sentence(help) + "\n"
    }
    s += ".El\n.Pp\nPrecedence: flag, then environment, then config file, then default.\n"
    s += "Where a setting lists several variables, the first one set wins.\n"
    return s
  }

  /// EXIT STATUS, from the same table that maps error codes to statuses.
  static func exitStatus() -> String {
    var s = ".Sh EXIT STATUS\n.Bl -tag -width Ds -compact\n.It 0\nsuccess\n"
    for row in ExitStatus.table {
      s += ".It \(row.status)\n\(escapeLine(row.meaning))\n"
    }
    s += ".El\n.Pp\n.Cm health\nexits 0 when healthy, 1 on a warning, 2 when critical and 3 when the check could not run.\n"
    return s
  }

  static func optionList(_ options: [OptionSpec]) -> String {
    var s = ".Bl -tag -width Ds\n"
    for option in options {
      s += ".It"
      if let short = option.short { s += " Fl \(short) ," }
      s += " Fl \\-\(escape(option.long))"
      if let value = option.valueName { s += " Ar \(value)" }
      s += "\n\(sentence(option.help))\n"
    }
    return s + ".El\n"
  }

  /// A discussion is prose, filled like any paragraph, unless it is laid out in columns (two spaces
  /// inside a line, as in `completion`'s install lines): then it is shown line for line, as help does.
  static func discussion(_ text: String) -> String {
    let lines = text.split(separator: "\n").map(String.init)
    if lines.contains(where: { $0.drop { $0 == " " }.contains("  ") }) {
      return ".Bd -literal -offset indent\n" + lines.map { escapeLine($0, sentences: false) + "\n" }.joined() + ".Ed\n"
    }
    return lines.map { escapeLine($0) + "\n" }.joined()
  }

  static func sentence(_ text: String) -> String {
    let escaped = escapeLine(text)
    return escaped.last == "." || escaped.last == ")" ? escaped : escaped + "."
  }

  /// Escapes text for an mdoc macro line. `-` becomes `\-`: groff prints a bare `-` as a Unicode
  /// hyphen, and an option copied from the page would not work.
  static func escape(_ text: String) -> String {
    var out = ""
    for c in text {
      switch c {
      case "\\": out += "\\e"
      case "\"": out += "\\(dq"
      case "-": out += "\\-"
      default: out.append(c)
      }
    }
    return out
  }

  /// Escapes a text line; a leading `.` or `'` would be read as a request. In prose each sentence
  /// starts a line: roff knows a sentence ends (and spaces it) only at a line end, and
  /// `mandoc -T lint` warns about "new sentence, new line" otherwise.
  static func escapeLine(_ text: String, sentences: Bool = true) -> String {
    let parts = sentences ? splitSentences(text) : [text]
    return parts.map { part in
      var line = escape(part)
      while line.hasPrefix(" ") { line.removeFirst() }
      if line.hasPrefix(".") || line.hasPrefix("'") { line = "\\&" + line }
      return line
    }.joined(separator: "\n")
  }

  /// Splits after `.`, `?` or `!` that follows two letters or digits and precedes spaces and a capital
  /// (mandoc's own test, so `e.g. 30m` stays whole).
  static func splitSentences(_ text: String) -> [String] {
    let chars = Array(text)
    var parts: [String] = []
    var start = 0
    var i = 2
    while i + 2 < chars.count {
      if ".?!".contains(chars[i]), chars[i - 1].isLetter || chars[i - 1].isNumber,
        chars[i - 2].isLetter || chars[i - 2].isNumber, chars[i + 1] == " "
      {
        var next = i + 1
        while next < chars.count, chars[next] == " " { next += 1 }
        if next < chars.count, chars[next].isUppercase {
          parts.append(String(chars[start...i]))
          start = next
          i = next
          continue
        }
      }
      i += 1
    }
    parts.append(String(chars[start...]))
    return parts
  }
}
