// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "rexstore",
  products: [
    .executable(name: "rexstore", targets: ["rexstore"])
  ],
  targets: [
    // System SQLite (Debian: libsqlite3-dev). Shared with the Python app, so no bundled copy.
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    // All behaviour. Never prints, reads argv or the environment, or exits; Glibc only, for start-up time.
    .target(name: "RexstoreCore", dependencies: ["CSQLite"]),
    // argv, environment, stdout/stderr, exit codes and the command table.
    .target(name: "RexstoreCLI", dependencies: ["RexstoreCore"]),
    .executableTarget(name: "rexstore", dependencies: ["RexstoreCLI"]),
    .testTarget(name: "RexstoreCoreTests", dependencies: ["RexstoreCore"]),
    .testTarget(name: "RexstoreCLITests", dependencies: ["RexstoreCLI", "RexstoreCore"]),
    .testTarget(name: "EndToEndTests", dependencies: ["RexstoreCore"], exclude: ["python"]),
  ]
)
