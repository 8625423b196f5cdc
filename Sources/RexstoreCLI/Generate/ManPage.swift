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
      .It Ev REXSTORE_BACKEND
      object backend
      .Pq auto , gcs , s3 , local ,
      as
      .Fl \\-backend .
      .It Ev ENABLE_GCS_STORAGE
      .Li true
      .Pq any case
      turns GCS on for the
      .Li auto
      backend, as in the app.
      .It Ev GCS_BUCKET_NAME
      the bucket, as
      .Fl \\-bucket .
      .It Ev GOOGLE_APPLICATION_CREDENTIALS
      service-account key or authorized-user file, as
      .Fl \\-credentials ;
      signing needs a service-account key.
      Without one, gcloud's
      .Pa application_default_credentials.json
      (under
      .Ev CLOUDSDK_CONFIG
      or
      .Pa ~/.config/gcloud )
      is used, else the GCE metadata server.
      .It Ev GCE_METADATA_HOST
      metadata server address (default 169.254.169.254).
      .It Ev STORAGE_EMULATOR_HOST
      GCS emulator address; no credentials are used, and signed URLs use it as their host.
      .It Ev REXSTORE_GCS_ENDPOINT
      another JSON API endpoint; credentials are still used.
      .It Ev REXSTORE_NO_FALLBACK
      .Li 1
      makes a write that GCS cannot take fail (exit 69) instead of landing in the local root, as
      .Fl \\-no-fallback .
      .It Ev REXSTORE_GCS_RETRIES , Ev REXSTORE_GCS_RETRY_DELAY , Ev REXSTORE_GCS_TIMEOUT
      tries per GCS request (default 5), the first retry's wait (500ms, doubling, with full jitter),
      and how long a transfer may stall (60s).
      .It Ev REXSTORE_GCS_DEADLINE
      the most one GCS request may take in all (default 2m), plus one second per 64 KiB of body it
      moves; the probe of
      .Cm health
      gets at most 10s.
      .It Ev S3_BUCKET_NAME
      the bucket of the
      .Li s3
      backend, unless
      .Fl \\-bucket
      names it.
      .It Ev AWS_ACCESS_KEY_ID , Ev AWS_SECRET_ACCESS_KEY , Ev AWS_SESSION_TOKEN
      S3 credentials; without them, the profile
      .Ev AWS_PROFILE
      (default
      .Li default )
      in
      .Ev AWS_SHARED_CREDENTIALS_FILE
      (default
      .Pa ~/.aws/credentials ) ,
      then in
      .Ev AWS_CONFIG_FILE
      (default
      .Pa ~/.aws/config ) .
      .It Ev AWS_REGION , Ev AWS_DEFAULT_REGION
      the bucket's region (else the profile's, else us-east-1).
      .It Ev AWS_ENDPOINT_URL_S3 , Ev AWS_ENDPOINT_URL
      another S3 endpoint (MinIO, moto, GCS's XML API), addressed path-style.
      .It Ev REXSTORE_S3_PART_SIZE , Ev REXSTORE_S3_MULTIPART_THRESHOLD
      multipart part size and the size above which uploads are multipart (default 16MiB each).
      .It Ev REXSTORE_S3_PART_CONCURRENCY
      parts of one upload sent at once, each holding a part in memory (default 4).
      .It Ev REXSTORE_S3_CONDITIONAL_WRITES
      .Li true
      when a non-AWS endpoint honours If-None-Match/If-Match (AWS is assumed to); otherwise a
      create-only write checks with a HEAD first.
      .It Ev XDG_DATA_HOME , Ev XDG_CONFIG_HOME , Ev XDG_CACHE_HOME , Ev HOME
      locate the default data root, config file and token cache.
      .El
      .Pp
      Precedence: flag, then environment, then config file, then default.
      .Sh FILES
      .Bl -tag -width Ds
      .It Pa $XDG_DATA_HOME/rexstore/rexstore.sqlite3
      the default database, created with mode 0600 in a 0700 directory.
      .It Pa $XDG_CONFIG_HOME/rexstore/config.json
      optional config file: a JSON object with the keys root, db, objects, busy_timeout, backend, bucket,
      credentials, no_fallback, gcs_endpoint, gcs_retries, gcs_retry_delay, gcs_timeout and gcs_deadline.
      .It Pa $XDG_CACHE_HOME/rexstore/token-*.json
      cached GCS access tokens, mode 0600, reused until five minutes before they expire.
      .El
      .Sh EXIT STATUS
      .Bl -tag -width Ds -compact
      .It 0
      success
      .It 1
      negative answer: not found
      .It 25
      a prune would delete more than --max-delete; nothing deleted
      .It 64
      usage error
      .It 65
      bad input data, conflict, damaged database
      .It 66
      input file or database missing
      .It 69
      service unavailable: GCS out with fallback off, or on a delete
      .It 70
      internal error
      .It 73
      cannot create output
      .It 74
      I/O error
      .It 75
      database or dossier busy after the timeout, or GCS rate-limited after retries; retry
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
    // One literal display of plain text lines: `.Dl` would parse each word as a possible macro and
    // wrap a long command mid-line, so a copied example would not run.
    s += ".Bd -literal -offset indent\n"
    for example in CommandTable.allCommands.flatMap(\.examples) {
      s += escapeLine(example, sentences: false) + "\n"
    }
    s += ".Ed\n"
    // Sorted by section, then name, as mdoc(7) asks.
    s += ".Sh SEE ALSO\n.Xr jq 1 ,\n.Xr sqlite3 1\n"
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
