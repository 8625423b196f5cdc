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
    do {
      switch try Parser.parse(arguments) {
      case .version:
        try stdout.write("rexstore \(version)\n")
        return ExitStatus.success
      case .help(let group, let command):
        try stdout.write(Help.text(group: group, command: command))
        return ExitStatus.success
      case .run(let invocation):
        let runtime = Runtime(
          environment: environment, workingDirectory: workingDirectory, options: invocation.options,
          stdout: stdout, stderr: stderr)
        let output = try invocation.command.run(invocation, runtime)
        return try emit(output, runtime: runtime)
      }
    } catch {
      report(error, to: stderr)
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
  static func report(_ error: RexstoreError, to stderr: any OutputSink) {
    var members: [JSONValue.Member] = [
      .init("code", .string(error.code.rawValue)), .init("message", .string(error.message)),
      .init("exit", .int(Int(ExitStatus.of(error.code)))),
    ]
    if let hint = error.hint { members.append(.init("hint", .string(hint))) }
    try? stderr.write(JSONValue.record(["error": .object(members)]).serialized(.compact) + "\n")
  }
}

extension CLI {
  /// The process entry point: reads the environment block and working directory, runs, flushes stdout.
  public static func main(arguments: [String], environ: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var environment: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
      // Byte-level split: this runs on every call, and Character-level search showed in profiles.
      let length = strlen(pointer)
      pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        let text = UnsafeBufferPointer(start: bytes, count: length)
        if let eq = text.firstIndex(of: UInt8(ascii: "=")) {
          let key = String(decoding: UnsafeBufferPointer(rebasing: text[..<eq]), as: UTF8.self)
          environment[key] = String(decoding: UnsafeBufferPointer(rebasing: text[(eq + 1)...]), as: UTF8.self)
        }
      }
      entry += 1
    }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let cwd = getcwd(&buffer, buffer.count) != nil ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
    let stdout = FileSink(fd: 1)
    let stderr = FileSink(fd: 2)
    var status = run(arguments: arguments, environment: environment, workingDirectory: cwd, stdout: stdout, stderr: stderr)
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
