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
      Rex app.
      Every command prints one JSON value on standard output and has a documented exit status;
      errors are one JSON line on standard error.
      .Sh COMMANDS
      .Bl -tag -width Ds

      """
    for command in CommandTable.allCommands {
      s += ".It Nm \(escape(command.name))"
      for argument in command.arguments {
        s += argument.optional ? " Op Ar \(escape(argument.name))" : " Ar \(escape(argument.name))"
      }
      s += "\n\(sentence(command.summary))\n"
      for line in command.discussion.split(separator: "\n") { s += escapeLine(String(line)) + "\n" }
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
      .Sh ENVIRONMENT
      .Bl -tag -width Ds
      .It Ev REXSTORE_ROOT
      data root, as
      .Fl \\-root .
      .It Ev REXSTORE_DB
      database path, as
      .Fl \\-db .
      .It Ev REXSTORE_OBJECTS
      local object root, as
      .Fl \\-objects .
      .It Ev REXSTORE_CONFIG
      config file, as
      .Fl \\-config .
      .It Ev REXSTORE_BUSY_TIMEOUT
      busy timeout, as
      .Fl \\-busy-timeout .
      .It Ev XDG_DATA_HOME , Ev XDG_CONFIG_HOME , Ev HOME
      locate the default data root and config file.
      .El
      .Pp
      Precedence: flag, then environment, then config file, then default.
      .Sh FILES
      .Bl -tag -width Ds
      .It Pa $XDG_DATA_HOME/rexstore/rexstore.sqlite3
      the default database, created with mode 0600 in a 0700 directory.
      .It Pa $XDG_CONFIG_HOME/rexstore/config.json
      optional config file: a JSON object with the keys root, db, objects and busy_timeout.
      .El
      .Sh EXIT STATUS
      .Bl -tag -width Ds -compact
      .It 0
      success
      .It 1
      negative answer: not found
      .It 64
      usage error
      .It 65
      bad input data, conflict, damaged database
      .It 66
      input file or database missing
      .It 69
      service unavailable
      .It 70
      internal error
      .It 73
      cannot create output
      .It 74
      I/O error
      .It 75
      database busy after the timeout; retry
      .It 77
      permission denied
      .It 78
      configuration error
      .It 130
      interrupted
      .El
      .Pp
      .Cm health
      exits 0 when healthy, 1 on a warning and 2 when critical.
      .Sh EXAMPLES

      """
    for example in CommandTable.allCommands.flatMap(\.examples) {
      s += ".Dl \(escape(example))\n"
    }
    s += ".Sh SEE ALSO\n.Xr sqlite3 1 ,\n.Xr jq 1\n"
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

  static func sentence(_ text: String) -> String {
    let escaped = escapeLine(text)
    return escaped.last == "." || escaped.last == ")" ? escaped : escaped + "."
  }

  /// Escapes text for an mdoc macro line.
  static func escape(_ text: String) -> String {
    var out = ""
    for c in text {
      switch c {
      case "\\": out += "\\e"
      case "\"": out += "\\(dq"
      default: out.append(c)
      }
    }
    return out
  }

  /// Escapes a text line; a leading `.` or `'` would be read as a request.
  static func escapeLine(_ text: String) -> String {
    var line = escape(text)
    while line.hasPrefix(" ") { line.removeFirst() }
    if line.hasPrefix(".") || line.hasPrefix("'") { line = "\\&" + line }
    return line
  }
}
