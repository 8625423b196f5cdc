import RexstoreCore

/// `rexstore config show`: the resolved settings, like `git config --list --show-origin`.
enum ConfigCommand {
  static let show = CommandSpec(
    "config", "show", summary: "Print the resolved settings (and, --origin, their sources)",
    discussion: """
      Each setting after flags, environment, config file and defaults (in that order) were applied;
      null when unset. With --origin each is {"value","source"}, the source being flag:--NAME,
      env:NAME, file:PATH or default. Touches no store.
      """,
    options: [OptionSpec("origin", help: "show where each value came from")],
    examples: ["rexstore config show", "rexstore --app-dir /srv/rex config show --origin --pretty"]
  ) { inv, rt throws(RexstoreError) in
    .json(try rt.config().json(origin: inv.flag("origin")))
  }
}
