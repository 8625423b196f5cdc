#!/usr/bin/env bash
# Regenerates the committed shell completions and man page from the command table.
# Run after changing a command, option or help text; GeneratedFilesTests fails until you do.
#
#   scripts/gen-docs.sh            # debug build in .build-gen
#   SCRATCH=.build scripts/gen-docs.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# Own scratch dir by default so this never fights an editor's or CI's .build lock.
scratch=${SCRATCH:-.build-gen}

swift build --scratch-path "$scratch" --product rexstore >&2
bin="$(swift build --scratch-path "$scratch" --show-bin-path)/rexstore"

mkdir -p completions man
# Write to a temp file and rename, so a failing generator never leaves a truncated file behind.
gen() {
  local out=$1; shift
  "$bin" "$@" >"$out.tmp"
  mv "$out.tmp" "$out"
  echo "wrote $out" >&2
}
gen completions/rexstore.bash completion bash
gen completions/_rexstore completion zsh
gen completions/rexstore.fish completion fish
gen man/rexstore.1 man
