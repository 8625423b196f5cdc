import RexstoreCore

/// `rexstore migrate`: moves local objects (fallback writes, or a legacy app directory) up to GCS.
enum MigrateCommand {
  static let spec = CommandSpec(
    "migrate", summary: "Move fallback and legacy local objects into GCS",
    discussion: """
      Uploads every object under audio/ of the local object root (or of --from DIR, a directory in
      the same layout, such as the app's working directory, whose dossiers are DIR/dossiers) to the
      bucket, never replacing an object there: one already in GCS with the same MD5 counts as
      migrated, one with other content is a conflict and both copies are kept. Voice-profile samples
      go up per record: once every sample a local dossier entry names is verified in the bucket, the
      entry is re-pointed to storage gcs with its blob_names under the dossier lock. Sample files no
      record names are reported as unreferenced and uploaded only with --include-unreferenced (their
      local copies are never deleted). Local copies are deleted only with --delete-local, and only
      after the upload is verified and, for samples, the record points at the bucket. The exit status
      is that of the worst failure.
      """,
    options: [
      OptionSpec("from", value: "DIR", help: "migrate from DIR instead of the local object root", completion: .directory),
      OptionSpec("dry-run", help: "list what would be uploaded, upload nothing"),
      OptionSpec("delete-local", help: "delete each local copy once its upload is verified"),
      OptionSpec("include-unreferenced", help: "also upload sample files no record names"),
    ],
    examples: ["rexstore migrate --dry-run", "rexstore migrate --delete-local", "rexstore migrate --from /srv/rex-app"]
  ) { inv, rt throws(RexstoreError) in
    let config = try rt.config()
    let root = inv.value("from").map { rt.absolute($0) } ?? config.objects.value
    if inv.value("from") != nil, !FileSystem.isDirectory(root) {
      throw RexstoreError(.noInput, "'\(root)' is not a directory")
    }
    let source = LocalObjectStore(root: root)
    let pending = try Migration.pending(in: source)
    let gcs = try rt.gcsStore()
    let store = try rt.store()
    let dossiers = inv.value("from") != nil ? root + "/dossiers" : config.dossiers.value
    let migration = Migration(
      source: source, gcs: gcs,
      dossiers: DossierDirectory(path: dossiers, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      legacy: inv.value("from") == nil && store.exists ? store : nil)
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
        "dry_run": .bool(inv.flag("dry-run")), "source": .string(root), "bucket": .string(gcs.bucket),
        "dossiers": .string(dossiers), "profiles_repointed": .array(report.repointed.map(JSONValue.string)),
      ]), exit: exit)
  }
}
