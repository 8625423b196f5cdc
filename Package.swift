// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "rexstore",
  products: [
    .executable(name: "rexstore", targets: ["rexstore"])
  ],
  dependencies: [
    // MD5 for object checksums, SHA-256 and HMAC for request signing, RSA PKCS#1 v1.5 for GCS service
    // accounts and V4 signed URLs (Crypto and CryptoExtras). On Linux it needs only
    // FoundationEssentials, not all of Foundation.
    .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2")
  ],
  targets: [
    // System SQLite (Debian: libsqlite3-dev): the header in /usr/include, `-lsqlite3` from the module
    // map. No pkgConfig: SwiftPM would put -L/usr/lib/x86_64-linux-gnu ahead of every other library
    // directory, and `make build` links Debian's libsqlite3.a from a directory of its own (Makefile).
    .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
    // CRC-32C (SSE4.2 where present) and the Linux calls Swift's Glibc module leaves out.
    .target(name: "CSupport"),
    // libcurl (Debian: libcurl4-openssl-dev for the header), loaded with dlopen on first use so the
    // SQLite commands start as fast as if it were not there.
    .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
    // All behaviour. Never prints, reads argv or the environment, or exits; Glibc only, for start-up time.
    .target(
      name: "RexstoreCore",
      dependencies: [
        "CSQLite", "CSupport", "CCurl", .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CryptoExtras", package: "swift-crypto"),
      ]),
    // argv, environment, stdout/stderr, exit codes and the command table.
    .target(name: "RexstoreCLI", dependencies: ["RexstoreCore"]),
    .executableTarget(name: "rexstore", dependencies: ["RexstoreCLI"]),
    .testTarget(name: "RexstoreCoreTests", dependencies: ["RexstoreCore"]),
    .testTarget(name: "RexstoreCLITests", dependencies: ["RexstoreCLI", "RexstoreCore"]),
    .testTarget(name: "EndToEndTests", dependencies: ["RexstoreCore"], exclude: ["python"]),
  ]
)
