import Foundation
import Testing

/// `make install` puts the binary, rexstore(1), the completions and the systemd units where the
/// system looks for them, and they work from there; `make uninstall` removes exactly those (issue 10).
@Suite struct InstallTests {
  @Test func installedFilesWorkFromTheirStandardPlaces() throws {
    let scratch = Processes.Scratch()
    let prefix = scratch.path + "/usr"
    let env = scratch.environment
    let install = try Processes.run(
      "/usr/bin/make", ["-s", "install", "BIN=" + Processes.binary, "PREFIX=" + prefix], environment: env,
      directory: Processes.packageRoot)
    #expect(install.status == 0, "\(install.stderr)")
    let files = [
      "bin/rexstore", "share/man/man1/rexstore.1", "share/bash-completion/completions/rexstore",
      "share/zsh/site-functions/_rexstore", "share/fish/vendor_completions.d/rexstore.fish",
      "lib/systemd/system/rexstore-prune.service", "lib/systemd/system/rexstore-prune.timer",
      "lib/systemd/system/rexstore-backup.service", "lib/systemd/system/rexstore-backup.timer",
    ]
    for file in files { #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file)") }
    let version = try Processes.run(prefix + "/bin/rexstore", ["--version"], environment: env)
    #expect(version.stdout.hasPrefix("rexstore "))

    let man = try Processes.run(
      "/usr/bin/man", ["-l", prefix + "/share/man/man1/rexstore.1"], environment: env.merging(["MANPAGER": "cat", "MANWIDTH": "80"]) { $1 })
    #expect(man.status == 0, "\(man.stderr)")
    #expect(man.stdout.contains("--app-dir"))

    let bash = try Processes.run(
      "/bin/bash", ["-c", "source \"$0\"; complete -p rexstore", prefix + "/share/bash-completion/completions/rexstore"],
      environment: env)
    #expect(bash.stdout.contains("rexstore"), "\(bash.stderr)")
    let fish = try Processes.run(
      "/usr/bin/fish", ["-c", "source $argv[1]; complete -C 'rexstore prof'", prefix + "/share/fish/vendor_completions.d/rexstore.fish"],
      environment: env)
    #expect(fish.stdout.contains("profile"), "\(fish.stderr)")
    let zsh = try Processes.run(
      "/usr/bin/zsh", ["-fc", "fpath=($0 $fpath); autoload -Uz compinit; compinit -u -D; print -r -- ${_comps[rexstore]}", prefix + "/share/zsh/site-functions"],
      environment: env)
    #expect(zsh.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "_rexstore", "\(zsh.stderr)")

    // The units name the installed binary and pass systemd's own checks.
    let service = try String(contentsOfFile: prefix + "/lib/systemd/system/rexstore-prune.service", encoding: .utf8)
    #expect(service.contains("ExecStart=\(prefix)/bin/rexstore --quiet context prune --max-delete 100000"))
    let units = files.filter { $0.hasPrefix("lib/systemd") }.map { prefix + "/" + $0 }
    let verify = try Processes.run(
      "/usr/bin/systemd-analyze", ["verify"] + units, environment: env.merging(["MANPATH": prefix + "/share/man"]) { $1 })
    #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

    let uninstall = try Processes.run(
      "/usr/bin/make", ["-s", "uninstall", "PREFIX=" + prefix], environment: env, directory: Processes.packageRoot)
    #expect(uninstall.status == 0)
    for file in files { #expect(!FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) left behind") }
  }
}
