#!/usr/bin/env bash
# Local object store: `audio put` and `audio get` of one large file against `cp` of the same file,
# side by side in one run, with each command's peak RSS (GNU time). Memory must stay bounded (the
# target is under 64 MiB for 1 GiB); throughput is reported as a ratio to cp.
#
# usage: bench/object_bench.sh            (BENCH_MB=1024 by default; REXSTORE_BIN to skip the build)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out/objects}
mb=${BENCH_MB:-1024}
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
echo "creating a ${mb} MiB source file" >&2
head -c "$((mb * 1024 * 1024))" /dev/urandom >"$src"
cat "$src" >/dev/null  # warm the page cache so every contender reads from memory

# Runs a command under GNU time; prints "seconds peak_kib".
measure() {
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null
  cat "$out/time.txt"
}

declare -A total rss
for name in cp cp_sync put get_file get_stdout; do total[$name]=0; rss[$name]=0; done
add() {  # name seconds kib
  total[$1]=$(python3 -c "print(${total[$1]} + $2)")
  (( $3 > ${rss[$1]} )) && rss[$1]=$3 || true
}

for run in $(seq 1 "$runs"); do
  echo "run $run/$runs" >&2
  read -r s k < <(measure cp "$src" "$out/copy.bin"); add cp "$s" "$k"; rm -f "$out/copy.bin"
  # cp and then fsync of the copy: the same durability audio put gives.
  read -r s k < <(measure sh -c "cp '$src' '$out/copy.bin' && sync '$out/copy.bin'"); add cp_sync "$s" "$k"; rm -f "$out/copy.bin"
  # A fresh object, as cp makes a fresh copy (replacing a 1 GiB file also pays for freeing it).
  "$rex" audio rm audio/u1/big.wav --if-exists >/dev/null
  read -r s k < <(measure "$rex" audio put u1 "$src" --name big.wav); add put "$s" "$k"
  read -r s k < <(measure "$rex" audio get audio/u1/big.wav -o "$out/got.bin"); add get_file "$s" "$k"; rm -f "$out/got.bin"
  read -r s k < <(measure "$rex" audio get audio/u1/big.wav); add get_stdout "$s" "$k"
done
cmp "$src" "$out/data/objects/audio/u1/big.wav"

python3 - "$mb" "$runs" <<PY | tee "$out/summary.txt"
import sys
mb, runs = int(sys.argv[1]), int(sys.argv[2])
total = {"cp": ${total[cp]}, "cp_sync": ${total[cp_sync]}, "put": ${total[put]}, "get_file": ${total[get_file]}, "get_stdout": ${total[get_stdout]}}
rss = {"cp": ${rss[cp]}, "cp_sync": ${rss[cp_sync]}, "put": ${rss[put]}, "get_file": ${rss[get_file]}, "get_stdout": ${rss[get_stdout]}}
print(f"{mb} MiB, mean of {runs} runs (page cache warm)")
print(f"  {'command':<28}{'seconds':>9}{'MiB/s':>9}{'peak RSS':>12}")
labels = {"cp": "cp", "cp_sync": "cp + sync (durable)", "put": "rexstore audio put",
          "get_file": "rexstore audio get -o FILE", "get_stdout": "rexstore audio get > /dev/null"}
for k, label in labels.items():
    t = total[k] / runs
    print(f"  {label:<28}{t:>9.2f}{mb / t:>9.0f}{rss[k] / 1024:>9.1f} MiB")
print(f"  put throughput / cp        = {total['cp'] / total['put']:.2f}x")
print(f"  put throughput / cp + sync = {total['cp_sync'] / total['put']:.2f}x")
print(f"  get -o throughput / cp     = {total['cp'] / total['get_file']:.2f}x")
PY
