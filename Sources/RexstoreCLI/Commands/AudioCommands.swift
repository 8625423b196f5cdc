import RexstoreCore

/// `rexstore audio ...`: recordings under `audio/{user}/{file}`.
enum AudioCommands {
  static let user = ArgumentSpec("USER", help: "user name (one path segment)")
  static let blob = ArgumentSpec("BLOB", help: "full object name, audio/USER/FILE")

  static let all: [CommandSpec] = [put, get, ls, rm, SignCommands.audio, prune]

  static let put = CommandSpec(
    "audio", "put", summary: "Store recordings, never overwriting without --force",
    discussion: """
      The object is audio/USER/NAME, NAME being --name or the file's own name. In GCS it is uploaded
      create-only in one request, its MD5 and CRC32C checked (after a failure, a resumable session
      goes on from where GCS stopped); locally it is written to a temporary file, fsynced and moved
      into place. Either way it is complete or absent. The output
      names its size, checksums (base64, as GCS writes them), the backend used and, if GCS could not
      take it, the fallback_reason. With several FILEs (or --batch) they upload in parallel over
      kept-alive connections, and the output is {"items":[...],"count":N,"failures":[...]}: the
      objects stored, and each FILE that failed as it was given; the exit status is that of the
      worst failure.
      """,
    arguments: [
      user, ArgumentSpec("FILE", help: "the recording(s), or - for standard input", variadic: true, completion: .file, bytePath: true),
    ],
    options: [
      OptionSpec("name", value: "NAME", help: "object file name (required with -; one FILE only)"),
      OptionSpec("content-type", value: "TYPE", help: "content type (default: from the extension)"),
      OptionSpec("force", help: "replace an existing object"),
      OptionSpec("batch", help: "batch output even for one FILE (for scripts that pass a glob)"),
    ],
    examples: [
      "rexstore audio put u42 session-7.mp3", "arecord -f cd | rexstore audio put u42 - --name live.wav",
      "rexstore audio put u42 recordings/*.wav",
    ]
  ) { inv, rt throws(RexstoreError) in
    let files = (1..<inv.arguments.count).map(inv.pathArgument)
    if files.count > 1 || inv.flag("batch") { return try putMany(inv, rt, files: files) }
    let file = files[0]
    // The object's name is text: a file name that is not UTF-8 is named by its display form (\xHH).
    guard let name = inv.value("name") ?? (file.isDash ? nil : file.baseName.display) else {
      throw RexstoreError.usage("--name is required when FILE is -")
    }
    let blob = try AudioBlob(user: inv.argument(0), file: name)
    let source = try ByteSource.open(file.isDash ? file : rt.absolute(file))
    // One transfer on a terminal: a byte progress line (a batch shows objects instead).
    source.reportsProgress = Progress.isShown
    let objects = try rt.objects()
    let info = try Audio(objects: objects).put(
      user: blob.user, file: blob.file, from: source, contentType: inv.value("content-type"), overwrite: inv.flag("force"))
    return .json(info.json.adding(["fallback_reason": .optional(objects.fallbackReason)]))
  }

  static func putMany(_ inv: Invocation, _ rt: Runtime, files: [FilePathBytes]) throws(RexstoreError) -> CommandOutput {
    if files.contains(where: \.isDash) { throw RexstoreError.usage("- (standard input) must be the only FILE") }
    if inv.value("name") != nil { throw RexstoreError.usage("--name names one object; give one FILE with it") }
    var seen: Set<String> = []
    var entries: [(path: FilePathBytes, name: String, label: String)] = []
    for file in files {
      // Every name is checked before anything is uploaded.
      let blob = try AudioBlob(user: inv.argument(0), file: file.baseName.display)
      guard seen.insert(blob.file).inserted else {
        throw RexstoreError.usage("two FILEs would both be stored as '\(blob.name)'")
      }
      entries.append((rt.absolute(file), blob.file, file.display))
    }
    let items = Audio(objects: try rt.objects()).putMany(
      user: inv.argument(0), files: entries, contentType: inv.value("content-type"), overwrite: inv.flag("force"))
    return batchOutput(items, key: "file", labelPaths: files) { item in
      item.info.map { $0.json.adding(["fallback_reason": .optional(item.fallbackReason)]) }
    }
  }

  /// `{"items":[...],"count":N,"failures":[...]}` with the worst failure's exit status.
  /// `labelPaths`, when the labels are the user's paths (in item order), adds their bytes as hex to a
  /// failure whose path is not UTF-8 (see `addingPath`).
  static func batchOutput(
    _ items: [Audio.BatchItem], key: String, labelPaths: [FilePathBytes]? = nil, _ render: (Audio.BatchItem) -> JSONValue?
  ) -> CommandOutput {
    var done: [JSONValue] = []
    var failures: [JSONValue] = []
    var exit: Int32 = 0
    for (index, item) in items.enumerated() {
      if let error = item.error {
        let failure = JSONValue.object([
          .init(key, .string(item.label)), .init("code", .string(error.code.rawValue)), .init("message", .string(error.message)),
        ])
        failures.append(labelPaths.map { failure.addingPathHex(key, $0[index]) } ?? failure)
        exit = max(exit, ExitStatus.of(error.code))
      } else if let json = render(item) {
        done.append(json)
      }
    }
    return .report(.record(["items": .array(done), "count": .int(done.count), "failures": .array(failures)]), exit: exit)
  }

  static let get = CommandSpec(
    "audio", "get", summary: "Fetch recordings to a file, a directory or standard output",
    discussion: """
      Without -o (or with -o -) the bytes go to standard output. With -o PATH they go to a temporary
      file beside PATH that replaces it only once complete and verified against the stored checksums;
      on any failure PATH is left as it was. An existing character device or FIFO at PATH
      (/dev/null, /dev/stdout) is written into, never replaced. "verified" says whether the bytes
      were checked against recorded checksums (false when none were recorded). A local object of up
      to 64 MiB sent to a stream is verified before its first byte is written. With several BLOBs, -o
      names a directory that receives each as its file name, downloaded in parallel; the output is
      {"items":[...],"count":N,"failures":[...]}: the objects fetched (with their path) and the blobs
      that failed. --batch gives that form for one BLOB too.
      """,
    arguments: [ArgumentSpec("BLOB", help: "full object name(s), audio/USER/FILE", variadic: true)],
    options: [
      OptionSpec(
        "output", short: "o", value: "PATH", help: "write to PATH (- for standard output), or into a directory", completion: .file,
        bytePath: true),
      OptionSpec("batch", help: "batch output, -o naming a directory, even for one BLOB"),
    ],
    examples: ["rexstore audio get audio/u42/session-7.mp3 -o /tmp/s7.mp3", "rexstore audio get audio/u42/a.mp3 audio/u42/b.mp3 -o /tmp/u42"]
  ) { inv, rt throws(RexstoreError) in
    var blobs: [AudioBlob] = []
    for name in inv.arguments { blobs.append(try AudioBlob(parsing: name)) }
    let audio = Audio(objects: try rt.objects())
    if blobs.count > 1 || inv.flag("batch") {
      guard let output = inv.path("output"), !output.isDash else {
        throw RexstoreError.usage("several BLOBs (or --batch) need -o DIR")
      }
      let directory = rt.absolute(output)
      guard FileSystem.isDirectory(directory) else { throw RexstoreError(.cannotCreate, "'\(directory)' is not a directory") }
      if Set(blobs.map(\.baseName)).count < blobs.count {
        throw RexstoreError.usage("two BLOBs have the same file name; fetch them into different directories")
      }
      return batchOutput(audio.getMany(blobs, into: directory), key: "blob") { item in
        item.info.map { info in
          let json = info.json.adding(["verified": .bool(info.verified ?? false)])
          return item.path.map { json.addingPath("path", $0) } ?? json.adding(["path": .null])
        }
      }
    }
    let blob = blobs[0]
    // One transfer on a terminal: a byte progress line, against the size a stat gives (asked only then).
    let progressTotal: Int64?? = Progress.isShown ? .some((try? audio.objects.stat(blob.name))??.size) : nil
    guard let output = inv.path("output"), !output.isDash else {
      let sink = OutputByteSink(rt.stdout)
      _ = try audio.get(blob, into: progressTotal.map { ProgressSink(sink, total: $0) } ?? sink)
      return .streamed
    }
    let path = rt.absolute(output)
    let info = try audio.download(blob, to: path, progressTotal: progressTotal)
    return .json(info.json.adding(["verified": .bool(info.verified ?? false)]).addingPath("path", path))
  }

  static let ls = CommandSpec(
    "audio", "ls", summary: "List recordings (one user's, or all) and where each lives",
    discussion: """
      Without USER, every user's recordings. --prefix P keeps names starting with audio/P (a user
      prefix such as u4, or u42/2026-). --limit N pages: the output's next_page_token, passed back as
      --page-token, continues after the last name shown (null on the last page).
      """,
    arguments: [ArgumentSpec("USER", help: "user name (one path segment); all users when left out", optional: true)],
    options: [
      OptionSpec("prefix", value: "P", help: "only names starting with audio/P"),
      OptionSpec("limit", value: "N", help: "at most N items per page"),
      OptionSpec("page-token", value: "T", help: "continue after this name (a previous next_page_token)"),
    ],
    examples: ["rexstore audio ls u42", "rexstore audio ls --prefix u4 --limit 100"]
  ) { inv, rt throws(RexstoreError) in
    let audio = Audio(objects: try rt.objects())
    let (items, next) = try audio.listAll(
      user: inv.arguments.first, prefix: inv.value("prefix"), limit: try inv.limit("limit", default: nil),
      pageToken: inv.value("page-token"))
    guard inv.value("limit") != nil || inv.value("page-token") != nil else { return .list(items.map(\.json)) }
    if rt.ndjson { return .list(items.map(\.json)) }
    return .json(JSONValue.list(items.map(\.json)).adding(["next_page_token": .optional(next)]))
  }

  static let rm = CommandSpec(
    "audio", "rm", summary: "Delete recordings",
    discussion: """
      Every BLOB is checked before anything is deleted. The output lists each blob with "deleted" and,
      under "failures", any that could not be deleted; the exit status is then that of the worst
      failure (1 for a missing blob unless --if-exists).
      """,
    arguments: [ArgumentSpec("BLOB", help: "full object name, audio/USER/FILE", variadic: true)],
    options: [OptionSpec("if-exists", help: "a missing blob is not a failure (for cron)")],
    examples: ["rexstore audio rm audio/u42/a.mp3 audio/u42/b.mp3 --if-exists"]
  ) { inv, rt throws(RexstoreError) in
    var blobs: [AudioBlob] = []
    for name in inv.arguments { blobs.append(try AudioBlob(parsing: name)) }
    let results = Audio(objects: try rt.objects()).remove(blobs, ifExists: inv.flag("if-exists"))
    return batchReport(results.map { ($0.blob, $0.deleted, $0.error) })
  }

  static let prune = CommandSpec(
    "audio", "prune", summary: "Delete recordings older than a given age (for cron)",
    discussion: """
      Age is the time since the object was last written. With --max-delete N, a run that would delete
      more than N objects deletes none and fails with limit_exceeded (exit 25, as rsync's
      --max-delete), so a wrong clock or option cannot wipe the store; a --dry-run lists the
      candidates even then (and exits 25 too). A real run lists each object with its size and
      reports freed_bytes.
      """,
    options: [
      OptionSpec("older-than", value: "DUR", help: "minimum age, e.g. 30d (required)"),
      OptionSpec("user", value: "USER", help: "only this user's recordings"),
      OptionSpec("dry-run", help: "list what would be deleted, delete nothing"),
      OptionSpec("max-delete", value: "N", help: "refuse to delete more than N objects"),
    ],
    examples: ["rexstore audio prune --older-than 90d --max-delete 10000"]
  ) { inv, rt throws(RexstoreError) in
    guard let age = try inv.duration("older-than") else {
      throw RexstoreError.usage("--older-than is required", hint: "e.g. --older-than 30d")
    }
    let limit = try inv.limit("max-delete", default: nil)
    let cutoff = Timestamp.now().adding(microseconds: -age)
    let audio = Audio(objects: try rt.objects())
    let candidates = try audio.pruneCandidates(olderThan: cutoff, user: inv.value("user"))
    let guardrail = PruneGuard(
      what: "objects", count: candidates.count, limit: limit, dryRun: inv.flag("dry-run"),
      older: inv.value("older-than")!, cutoff: cutoff)
    if inv.flag("dry-run") {
      let items = candidates.map { $0.json.adding(["deleted": .bool(false)]) }
      return guardrail.report(items: items, failures: [], freed: 0, exit: 0)
    }
    try guardrail.check()
    let results = audio.removeListed(candidates)
    var items: [JSONValue] = []
    var failures: [JSONValue] = []
    var freed: Int64 = 0
    var exit: Int32 = 0
    for (info, result) in zip(candidates, results) {
      items.append(.record(["blob": .string(result.blob), "deleted": .bool(result.deleted), "size_bytes": .int(info.size)]))
      if result.deleted { freed += info.size }
      if let error = result.error {
        failures.append(.record(["blob": .string(result.blob), "code": .string(error.code.rawValue), "message": .string(error.message)]))
        exit = max(exit, ExitStatus.of(error.code))
      }
    }
    return guardrail.report(items: items, failures: failures, freed: freed, exit: exit)
  }

  /// The shape of every many-item command: all items, the failures, and the worst failure's status.
  static func batchReport(_ results: [(String, Bool, RexstoreError?)]) -> CommandOutput {
    var items: [JSONValue] = []
    var failures: [JSONValue] = []
    var exit: Int32 = 0
    for (blob, deleted, error) in results {
      items.append(.record(["blob": .string(blob), "deleted": .bool(deleted)]))
      if let error {
        failures.append(.record(["blob": .string(blob), "code": .string(error.code.rawValue), "message": .string(error.message)]))
        exit = max(exit, ExitStatus.of(error.code))
      }
    }
    return .report(.record(["items": .array(items), "count": .int(items.count), "failures": .array(failures)]), exit: exit)
  }
}
