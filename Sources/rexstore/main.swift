import Glibc
import RexstoreCLI

// argv and the environment go in; an exit status comes out. Everything else lives in RexstoreCLI.
exit(CLI.main(arguments: Array(CommandLine.arguments.dropFirst()), environ: environ))
