import Glibc
import RexstoreCLI

// argv (as bytes) and the environment go in; an exit status comes out. Everything else lives in RexstoreCLI.
exit(CLI.main(arguments: RawArguments.fromProcess(), environ: environ))
