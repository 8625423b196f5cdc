import RexstoreCore

/// `rexstore migrate`: moves local objects (fallback writes, or a legacy app directory) up to GCS.
enum MigrateCommand {
  static let spec = CommandSpec(
    "migrate", summary: "Move fallback and legacy local objects into GCS",
    discussion: """
      Uploads every object under audio/ and voice_profiles/ of the local object root (or of --from DIR,
      a directory in the same layout, such as the app's working directory) to the bucket, never
      replacing an object there: one already in GCS with the same MD5 counts as migrated, one with
      other content is a conflict and both copies are kept. Local copies are deleted only with
      --delete-local, and only after their upload is verified. Voice-profile records whose samples are
      all in GCS afterwards are recorded as GCS profiles. The exit status is that of the worst failure.
      """,
    options: [
      OptionSpec("from", value: "DIR", help: "migrate from DIR instead of the local object root", completion: .directory),
      OptionSpec("dry-run", help: "list what would be uploaded, upload nothing"),
      OptionSpec("delete-local", help: "delete each local copy once its upload is verified"),
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
    let migration = Migration(source: source, gcs: gcs, records: store.exists ? store : nil)
    let outcomes = migration.run(pending, dryRun: inv.flag("dry-run"), deleteLocal: inv.flag("delete-local"))
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
      ]), exit: exit)
  }
}
