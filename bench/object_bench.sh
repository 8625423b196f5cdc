#!/usr/bin/env bash
# Local object store: `audio put` and `audio get` of one large file side by side, in one run, with
# the commands that bound them: `cp`, `cp` + `sync` (the durability a put gives), `cp` + `md5sum` +
# `sync` (the same work done one step after the other), `md5sum` alone (the hashing bound: a put
# computes MD5 and CRC-32C of every byte), and `cat` for reads. Each command runs BENCH_RUNS times,
# the order rotating from run to run; the report gives medians and peak RSS (GNU time's %M).
#
# usage: bench/object_bench.sh
# Environment:
#   REXSTORE_BIN   binary to measure (default: `make build`, then .build/release/rexstore)
#   BENCH_PUT_MB   size of the object in MiB (default 512; 64 with BENCH_QUICK=1)
#   BENCH_RUNS     runs per command (default 3; at least 3 for a median)
#   REXSTORE_BIN_BEFORE  a second binary (e.g. an older build) measured as "rexstore-before" in the
#                  same run, for a before/after comparison under the same load
#   BENCH_OUT      where data and results go (default bench/out/objects)
# Results: BENCH_OUT/results.tsv (workload, contender, run, seconds, peak KiB, one line per run),
# commands.tsv (the command behind each row) and summary.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out/objects}
if [[ -n ${BENCH_QUICK:-} ]]; then mb=${BENCH_PUT_MB:-64}; else mb=${BENCH_PUT_MB:-512}; fi
runs=${BENCH_RUNS:-3}
[[ -x /usr/bin/time ]] || { echo "object_bench: needs GNU time (apt-get install -y time)" >&2; exit 1; }

if [[ -z ${REXSTORE_BIN:-} ]]; then
  (cd "$root" && make build >&2)
  REXSTORE_BIN=$root/.build/release/rexstore
fi
rex=$REXSTORE_BIN

rm -rf "$out"
mkdir -p "$out"
export REXSTORE_ROOT=$out/data XDG_CONFIG_HOME=$out/cfg
src=$out/source.bin
obj=$out/data/objects/audio/u1/big.wav
echo "creating a ${mb} MiB source file" >&2
head -c "$((mb * 1024 * 1024))" /dev/urandom >"$src"
: >"$out/results.tsv"
: >"$out/commands.tsv"
printf 'put %s MiB\t%s\nget %s MiB\t%s\n' "$mb" "$mb" "$mb" "$mb" >"$out/workloads.tsv"

# measure WORKLOAD CONTENDER RUN SHELL-COMMAND: runs it under GNU time, appends one result line.
measure() {
  local workload=$1 who=$2 run=$3 cmd=$4
  cat "$src" >/dev/null  # page cache warm: every contender reads from memory
  # Wall time from the clock in ns (GNU time's %e has 10 ms steps); peak RSS from GNU time.
  local t0 t1; t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$out/time.txt" sh -c "$cmd" >/dev/null
  t1=$(date +%s%N)
  read -r k <"$out/time.txt"
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')
  printf '%s\t%s\t%s\t%s\t%s\n' "$workload" "$who" "$run" "$s" "$k" >>"$out/results.tsv"
  (( run > 1 )) || printf '%s\t%s\t%s\n' "$workload" "$who" "$cmd" >>"$out/commands.tsv"
}

# The shell in the timed command is the same for every contender (GNU time reports the largest
# process it waited for: the contender, not the shell).
declare -A put_cmd=(
  [rexstore]="'$rex' audio put u1 '$src' --name big.wav"
  [cp]="cp '$src' '$out/copy.bin'"
  [cp+sync]="cp '$src' '$out/copy.bin' && sync '$out/copy.bin'"
  [cp+md5sum+sync]="cp '$src' '$out/copy.bin' && md5sum '$out/copy.bin' && sync '$out/copy.bin'"
  [md5sum]="md5sum '$src'"
)
declare -A get_cmd=(
  [rexstore-o]="'$rex' audio get audio/u1/big.wav -o '$out/got.bin'"
  [rexstore-stdout]="'$rex' audio get audio/u1/big.wav"
  [cp]="cp '$obj' '$out/got.bin'"
  [cp+sync]="cp '$obj' '$out/got.bin' && sync '$out/got.bin'"
  [cat]="cat '$obj'"
)
put_order=(rexstore cp cp+sync cp+md5sum+sync md5sum)
get_order=(rexstore-o rexstore-stdout cp cp+sync cat)
if [[ -n ${REXSTORE_BIN_BEFORE:-} ]]; then
  put_cmd[rexstore-before]="'$REXSTORE_BIN_BEFORE' audio put u1 '$src' --name big.wav"
  get_cmd[rexstore-before-o]="'$REXSTORE_BIN_BEFORE' audio get audio/u1/big.wav -o '$out/got.bin'"
  put_order+=(rexstore-before); get_order+=(rexstore-before-o)
fi

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$runs"); do
  echo "run $run/$runs" >&2
  n=${#put_order[@]}
  for i in $(seq 0 $((n - 1))); do
    who=${put_order[$(( (i + run - 1) % n ))]}
    # A fresh object each time, as cp makes a fresh copy (replacing a big file also pays for freeing it).
    rm -f "$out/copy.bin"; "$rex" audio rm audio/u1/big.wav --if-exists >/dev/null
    sync
    measure "put ${mb} MiB" "$who" "$run" "${put_cmd[$who]}"
  done
  [[ -f $obj ]] || "$rex" audio put u1 "$src" --name big.wav >/dev/null
  rm -f "$out/copy.bin"
  n=${#get_order[@]}
  for i in $(seq 0 $((n - 1))); do
    who=${get_order[$(( (i + run - 1) % n ))]}
    rm -f "$out/got.bin"; sync
    # The object warm too: a put writes with O_DIRECT, leaving nothing of it in the page cache.
    cat "$obj" >/dev/null
    measure "get ${mb} MiB" "$who" "$run" "${get_cmd[$who]}"
  done
done
cmp "$src" "$obj"
rm -f "$out/got.bin" "$out/copy.bin"
printf 'load\t%s\t%s\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$out/load.tsv"

python3 "$here/report.py" --table "$out" | tee "$out/summary.txt"
