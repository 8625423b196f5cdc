import RexstoreCore

/// `rexstore migrate`: moves local objects (fallback writes, or a legacy app directory) up to the remote backend.
enum MigrateCommand {
  static let spec = CommandSpec(
    "migrate", summary: "Move fallback and legacy local objects into the bucket",
    discussion: """
      Uploads every object under audio/ of the local object root (or of --from DIR, a directory in
      the same layout, such as the app's working directory, whose dossiers are DIR/dossiers) to the
      bucket, never replacing an object there: one already in the bucket with the same MD5 counts as
      migrated (already_in_BACKEND), one with other content is a conflict and both copies are kept. Voice-profile samples
      go up per record: once every sample a local dossier entry names is verified in the bucket, the
      entry is re-pointed to the backend's storage (gcs, s3) with its blob_names under the dossier lock. Sample files no
      record names are reported as unreferenced and uploaded only with --include-unreferenced (their
      local copies are never deleted). Local copies are deleted only with --delete-local, and only
      after the upload is verified and, for samples, the record points at the bucket. The exit status
      is that of the worst failure.
      """,
    options: [
      OptionSpec(
        "from", value: "DIR", help: "migrate from DIR instead of the local object root", completion: .directory,
        bytePath: true),
      OptionSpec("dry-run", help: "compare with the bucket and list what would happen, change nothing"),
      OptionSpec("delete-local", help: "delete each local copy once its upload is verified"),
      OptionSpec("include-unreferenced", help: "also upload sample files no record names"),
      OptionSpec(
        "prefer", value: "WHICH", help: "resolve a name held in both places with other bytes: local, remote or newer",
        completion: .choices(Migration.Preference.allCases.map(\.rawValue))),
    ],
    examples: ["rexstore migrate --dry-run", "rexstore migrate --delete-local", "rexstore migrate --from /srv/rex-app"]
  ) { inv, rt throws(RexstoreError) in
    let config = try rt.config()
    // As for the path settings: an empty --from is not the working directory (`--from "$UNSET"`).
    if inv.value("from") == "" { throw RexstoreError.usage("--from must not be empty (an empty path is not the working directory)") }
    // A directory whose name is not UTF-8 is reached by its bytes (see Config.anchor).
    let root = try inv.path("from").map { path throws(RexstoreError) in
      try Config.anchor(rt.absolute(path), source: "--from")
    } ?? config.objects.value
    if inv.value("from") != nil, !FileSystem.isDirectory(root) {
      throw RexstoreError(.noInput, "'\(root)' is not a directory")
    }
    let source = LocalObjectStore(root: root)
    source.skippedEntry = rt.skippedEntryWarner()  // a link it does not move is named, as in `audio ls`
    let pending = try Migration.pending(in: source)
    let remote = try rt.migrationStore()
    let store = try rt.store()
    let dossiers = inv.value("from") != nil ? root + "/dossiers" : config.dossiers.value
    var migration = Migration(
      source: source, remote: remote,
      dossiers: DossierDirectory(path: dossiers, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      legacy: inv.value("from") == nil && store.exists ? store : nil)
    if let prefer = inv.value("prefer") {
      guard let choice = Migration.Preference(rawValue: prefer) else {
        throw RexstoreError.usage("--prefer takes local, remote or newer, got '\(prefer)'")
      }
      migration.prefer = choice
    }
    let report = try migration.run(
      pending, dryRun: inv.flag("dry-run"), deleteLocal: inv.flag("delete-local"),
      includeUnreferenced: inv.flag("include-unreferenced"))
    let outcomes = report.outcomes
    var items: [JSONValue] = []
    var failures: [JSONValue] = []
    var exit: Int32 = 0
    for outcome in outcomes {
      items.append(.record([
        "blob": .string(outcome.blob), "action": .string(outcome.action), "deleted_local": .bool(outcome.deletedLocal),
      ]))
      if let error = outcome.error {
        failures.append(.record([
          "blob": .string(outcome.blob), "code": .string(error.code.rawValue), "message": .string(error.message),
        ]))
        exit = max(exit, ExitStatus.of(error.code))
      }
    }
    return .report(
      .record([
        "items": .array(items), "count": .int(items.count), "failures": .array(failures),
        "dry_run": .bool(inv.flag("dry-run")), "source": .string(root), "bucket": .string(remote.bucket), "backend": .string(remote.backend),
        "dossiers": .string(dossiers), "profiles_repointed": .array(report.repointed.map(JSONValue.string)),
      ]), exit: exit)
  }
}
