import Glibc
import RexstoreCore

/// The command-line front end: argv and environment in, bytes and an exit status out.
public enum CLI {
  public static let version = "0.1.0"

  /// Runs one invocation. `stdout` receives nothing unless the command succeeds (or is a report).
  public static func run(
    arguments: [String], environment: [String: String], workingDirectory: String, stdout: any OutputSink,
    stderr: any OutputSink
  ) -> Int32 {
    run(
      arguments: RawArguments(words: arguments, invalid: []), environment: environment,
      workingDirectory: workingDirectory, stdout: stdout, stderr: stderr)
  }

  /// Runs one invocation from argv as bytes: words that are not valid UTF-8 are refused (exit 64).
  ///
  /// `invalidEnvironment` names the variables whose values were not valid UTF-8; configuration refuses
  /// to use any of them (exit 78) rather than open a file under a mangled name. `rawEnvironment` holds
  /// those values' bytes, and `workingDirectoryBytes` the working directory's (nil: its UTF-8), which
  /// relative byte paths are resolved against.
  public static func run(
    arguments raw: RawArguments, environment: [String: String], invalidEnvironment: Set<String> = [],
    rawEnvironment: [String: [UInt8]] = [:], workingDirectory: String, workingDirectoryBytes: [UInt8]? = nil,
    stdout: any OutputSink, stderr: any OutputSink
  ) -> Int32 {
    let arguments = raw.words
    // A bare `rexstore` is a usage error, but the usage itself is what the user needs: on stdout.
    if arguments.isEmpty {
      try? stdout.write(Help.text(group: nil, command: nil))
      return ExitStatus.of(.usage)
    }
    do throws(RexstoreError) {
      let parsed: ParseResult, ignored: [String]
      do throws(RexstoreError) {
        (parsed, ignored) = try Parser.parse(
          arguments, invalidUTF8: raw.invalid, raw: raw.bytes, table: CommandTable.groups + CommandTable.hiddenGroups)
      } catch {
        // The completion helper is silent and succeeds whatever it was handed.
        if Parser.groupName(in: arguments, table: CommandTable.hiddenGroups) == CompleteCommand.name {
          return ExitStatus.success
        }
        // `health` keeps the monitoring-plugin convention even for a line it cannot parse (3 UNKNOWN).
        guard let refused = HealthCommand.refusedLine(arguments) else { throw error }
        let error = Echo.capping(error, arguments: arguments)
        if let line = refused.line(error) { try? stdout.write(line) }
        report(error, to: stderr, exit: refused.exit)
        return refused.exit
      }
      switch parsed {
      case .version:
        try stdout.write("rexstore \(version)\n")
        return ExitStatus.success
      case .help(let group, let command):
        try stdout.write(Help.text(group: group, command: command))
        // Help wins over the rest of the line, but a mistyped name there deserves a word.
        if !ignored.isEmpty, !arguments.contains("--quiet") {
          let words = ignored.map { "'\(Echo.capped($0))'" }.joined(separator: ", ")
          try? stderr.write(
            JSONValue.record(["warning": .string("ignored \(words): --help shows the help of the command named before it")])
              .serialized(.compact) + "\n")
        }
        return ExitStatus.success
      case .run(let invocation):
        let runtime = Runtime(
          environment: environment, workingDirectory: workingDirectory, options: invocation.options,
          stdout: stdout, stderr: stderr)
        runtime.invalidEnvironment = invalidEnvironment
        runtime.rawEnvironment = rawEnvironment.mapValues { FilePathBytes(bytes: $0) }
        runtime.rawOptions = invocation.rawOptions
        if let workingDirectoryBytes { runtime.workingDirectoryBytes = FilePathBytes(bytes: workingDirectoryBytes) }
        // A progress line only where someone watches: stderr a terminal, and no --quiet.
        var line: ProgressLine?
        if stderr.isTerminal, !runtime.quiet, let sink = stderr as? FileSink {
          let progress = ProgressLine(fd: sink.fd)
          Progress.reporter = { what, done, total in progress.draw(what, done, total) }
          line = progress
        }
        defer {
          // Only a run that installed a reporter removes it: in-process runs (tests) share the global.
          if let line {
            Progress.reporter = nil
            line.erase()
          }
        }
        let output = try invocation.command.run(invocation, runtime)
        return try emit(output, runtime: runtime)
      }
    } catch {
      report(Echo.capping(error, arguments: arguments), to: stderr)
      return ExitStatus.of(error.code)
    }
  }

  private static func emit(_ output: CommandOutput, runtime: Runtime) throws(RexstoreError) -> Int32 {
    switch output {
    case .json(let value):
      try runtime.stdout.write(runtime.render(value))
    case .list(let items):
      if runtime.ndjson {
        var text = ""
        for item in items { item.write(to: &text, style: .compact); text += "\n" }
        try runtime.stdout.write(text)
      } else {
        try runtime.stdout.write(runtime.render(.list(items)))
      }
    case .text(let text):
      try runtime.stdout.write(text)
    case .streamed:
      break
    case .report(let value, let exit):
      try runtime.stdout.write(runtime.render(value))
      return exit
    case .reportText(let text, let exit):
      try runtime.stdout.write(text)
      return exit
    }
    return ExitStatus.success
  }

  /// The one-line JSON error of DESIGN.md §3.
  static func report(_ error: RexstoreError, to stderr: any OutputSink, exit: Int32? = nil) {
    var members: [JSONValue.Member] = [
      .init("code", .string(error.code.rawValue)), .init("message", .string(URLText.maskingPasswords(in: error.message))),
      .init("exit", .int(Int(exit ?? ExitStatus.of(error.code)))),
    ]
    if let hint = error.hint { members.append(.init("hint", .string(URLText.maskingPasswords(in: hint)))) }
    try? stderr.write(JSONValue.record(["error": .object(members)]).serialized(.compact) + "\n")
  }
}

extension CLI {
  /// The process entry point: reads the environment block and working directory, runs, flushes stdout.
  public static func main(arguments: RawArguments, environ: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var environment: [String: String] = [:]
    var invalidEnvironment: Set<String> = []
    var rawEnvironment: [String: [UInt8]] = [:]
    var entry = environ
    while let pointer = entry.pointee {
      // Byte-level split: this runs on every call, and Character-level search showed in profiles.
      let length = strlen(pointer)
      pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        let text = UnsafeBufferPointer(start: bytes, count: length)
        if let eq = text.firstIndex(of: UInt8(ascii: "=")) {
          let key = String(decoding: UnsafeBufferPointer(rebasing: text[..<eq]), as: UTF8.self)
          let raw = UnsafeBufferPointer(rebasing: text[(eq + 1)...])
          if let value = String(validating: raw, as: UTF8.self) {
            environment[key] = value
          } else {
            environment[key] = RawArguments.escaped(Array(raw))
            invalidEnvironment.insert(key)
            rawEnvironment[key] = Array(raw)
          }
        }
      }
      entry += 1
    }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let cwdBytes = getcwd(&buffer, buffer.count) != nil ? buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) } : Array("/".utf8)
    // Settings still resolve relative paths as text: in a working directory whose name is not UTF-8,
    // they go through /proc/self/cwd (the kernel's name for it), never through a mangled name.
    let cwd = String(validating: cwdBytes, as: UTF8.self) ?? "/proc/self/cwd"
    let stdout = FileSink(fd: 1)
    let stderr = FileSink(fd: 2)
    var status = run(
      arguments: arguments, environment: environment, invalidEnvironment: invalidEnvironment,
      rawEnvironment: rawEnvironment, workingDirectory: cwd, workingDirectoryBytes: cwdBytes, stdout: stdout, stderr: stderr)
    do {
      try stdout.flush()
    } catch {
      report(error, to: stderr)
      status = ExitStatus.of(error.code)
    }
    try? stderr.flush()
    return status
  }
}
