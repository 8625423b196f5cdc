import RexstoreCore

/// `rexstore fsck`: leftovers and inconsistencies in the object root, beside the database and in the
/// dossiers; `--repair` removes what is safe to remove.
enum FsckCommand {
  static let spec = CommandSpec(
    "fsck", summary: "Find (and with --repair remove) what interrupted writers left",
    discussion: """
      Reports temporary files and directories of dead writers in the object root, profile staging
      directories, backup temporaries beside the database, dossier lock files with no dossier that
      nobody holds, sample files no record names and records naming samples that are gone. --repair
      first settles interrupted profile stores (as any profile command does), then removes the
      leftovers; sample files no record names are removed only with --include-orphans; records with
      missing samples are only reported. --dry-run with --repair lists what would be removed. Exit 0
      when nothing is left to report, 1 when findings remain, or the worst failure's status.
      """,
    options: [
      OptionSpec("repair", help: "remove leftovers (never through a link)"),
      OptionSpec("dry-run", help: "with --repair: list what would be removed, remove nothing"),
      OptionSpec("include-orphans", help: "with --repair: also delete sample files no record names"),
    ],
    examples: ["rexstore fsck", "rexstore fsck --repair --dry-run", "rexstore fsck --repair"]
  ) { inv, rt throws(RexstoreError) in
    let config = try rt.config()
    let local = LocalObjectStore(root: config.objects.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds))
    let profiles = VoiceProfiles(
      dossiers: DossierDirectory(path: config.dossiers.value, lockTimeoutMilliseconds: Int(config.busyTimeoutMilliseconds)),
      objects: local, local: local, legacy: try rt.store())
    let findings = try Fsck(profiles: profiles, database: config.database.value).run(
      repair: inv.flag("repair"), dryRun: inv.flag("dry-run"), includeOrphans: inv.flag("include-orphans"))
    var exit: Int32 = 0
    for finding in findings {
      if let error = finding.error, finding.action == "failed" { exit = max(exit, ExitStatus.of(error.code)) }
      if finding.action != "removed", exit == 0 { exit = 1 }
    }
    return .report(
      .record([
        "items": .array(findings.map(\.json)), "count": .int(findings.count),
        "removed": .int(findings.filter { $0.action == "removed" }.count),
        "freed_bytes": .int(findings.filter { $0.action == "removed" }.reduce(0) { $0 + $1.bytes }),
        "repair": .bool(inv.flag("repair")), "dry_run": .bool(inv.flag("dry-run")),
      ]), exit: exit)
  }
}
