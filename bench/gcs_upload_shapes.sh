#!/usr/bin/env bash
# Which upload request shape costs fake-gcs-server the least? One big object sent with curl in each
# shape GCS offers, side by side with rexstore, rclone and the Python client, each against a freshly
# started server (memory backend); for each: wall time, and the server's CPU (user + system, from
# /proc/PID/stat) over the upload.
#
# usage: bench/gcs_upload_shapes.sh   (REXSTORE_BIN: binary to measure, default .build/release/rexstore;
#        REXSTORE_BIN_BEFORE adds an older binary as rexstore-before; BENCH_RUNS=3; BENCH_BIG_MB=256;
#        BENCH_SHAPES: the contenders, default all)
# Results: bench/out/shapes/results.tsv (shape, run, seconds, server CPU seconds) and summary.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out/shapes}
runs=${BENCH_RUNS:-3}
mb=${BENCH_BIG_MB:-256}
py=$root/.venv/bin/python
rclone=$root/.venv/bin/rclone
. "$here/fake_gcs.sh"   # server_bin, port, url; start_server, stop_server, server_ticks
rex=${REXSTORE_BIN:-$root/.build/release/rexstore}
shapes=(${BENCH_SHAPES:-rexstore curl-resumable-1put curl-resumable-64M curl-media curl-multipart rclone python})
[[ -n ${REXSTORE_BIN_BEFORE:-} ]] && shapes+=(rexstore-before)

rm -rf "$out"; mkdir -p "$out/parts"
export STORAGE_EMULATOR_HOST=$url ENABLE_GCS_STORAGE=true GCS_BUCKET_NAME=rex-bucket
export REXSTORE_ROOT=$out/data XDG_CONFIG_HOME=$out/cfg
export RCLONE_CONFIG= RCLONE_CONFIG_GCS_TYPE='google cloud storage' RCLONE_CONFIG_GCS_ANONYMOUS=true
export RCLONE_CONFIG_GCS_ENDPOINT=$url/storage/v1/ RCLONE_CONFIG_GCS_NO_CHECK_BUCKET=true
big=$out/big.bin
head -c "$((mb << 20))" /dev/urandom >"$big"
size=$((mb << 20))
# The multipart body, built once (the boundary and the metadata around the file's bytes).
md5=$(openssl dgst -md5 -binary "$big" | base64)
{ printf -- '--b0undary\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"mp/big.bin","md5Hash":"%s"}\r\n--b0undary\r\nContent-Type: application/octet-stream\r\n\r\n' "$md5"
  cat "$big"; printf -- '\r\n--b0undary--\r\n'; } >"$out/multipart.body"
split -b 64M -d "$big" "$out/parts/p"

trap stop_server EXIT
up=$url/upload/storage/v1/b/rex-bucket/o
session() {  # NAME: starts a resumable session, prints its URL
  curl -sf -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H "X-Upload-Content-Length: $size" \
    --data "{\"name\":\"$1\"}" "$up?uploadType=resumable&name=$1&ifGenerationMatch=0" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}'
}
upload() {  # SHAPE
  case $1 in
    rexstore) "$rex" audio put u1 "$big" --backend gcs --no-fallback ;;
    rexstore-before) "$REXSTORE_BIN_BEFORE" audio put u1 "$big" --backend gcs --no-fallback ;;
    rclone) "$rclone" copyto "$big" gcs:rex-bucket/rclone/big.bin ;;
    python) "$py" "$here/gcs_python_client.py" put "$big" python/big.bin ;;
    curl-media) curl -sf -o /dev/null -X POST -T "$big" -H 'Content-Type: application/octet-stream' \
      "$up?uploadType=media&name=media/big.bin&ifGenerationMatch=0" ;;
    curl-multipart) curl -sf -o /dev/null -X POST -T "$out/multipart.body" \
      -H 'Content-Type: multipart/related; boundary=b0undary' "$up?uploadType=multipart&ifGenerationMatch=0" ;;
    curl-resumable-1put) s=$(session r1/big.bin)
      curl -sf -o /dev/null -T "$big" -H "Content-Range: bytes 0-$((size - 1))/$size" "$s" ;;
    curl-resumable-64M) local s n p off; s=$(session r64/big.bin); off=0
      for p in "$out"/parts/p*; do n=$(stat -c %s "$p")
        curl -s -o /dev/null -T "$p" -H "Content-Range: bytes $off-$((off + n - 1))/$size" "$s"; off=$((off + n)); done ;;
  esac
}

: >"$out/results.tsv"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$runs"); do
  n=${#shapes[@]}
  for i in $(seq 0 $((n - 1))); do
    who=${shapes[$(( (i + run - 1) % n ))]}
    echo "run $run/$runs: $who" >&2
    start_server
    cat "$big" "$out/multipart.body" "$out"/parts/* >/dev/null
    c0=$(server_ticks); t0=$(date +%s%N)
    upload "$who" >/dev/null
    t1=$(date +%s%N); c1=$(server_ticks)
    # Proof the object arrived whole.
    got=$(curl -sf "$url/storage/v1/b/rex-bucket/o?fields=items(name,size)" | grep -o '"size":"[0-9]*"' | head -1)
    [[ $got == "\"size\":\"$size\"" ]] || { echo "$who: server holds $got, expected $size" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$who" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" \
      "$(awk -v a="$c0" -v b="$c1" -v h="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / h}')" >>"$out/results.tsv"
    stop_server
  done
done
{
  echo "load average: $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end ($(nproc) CPUs); $mb MiB; median of $runs runs"
  python3 - "$out/results.tsv" <<'PY'
import sys, statistics
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    who, run, s, cpu = line.split("\t")
    rows[who].append((float(s), float(cpu)))
print(f"{'shape':<22}{'seconds':>9}{'srv CPU s':>11}")
for who, r in rows.items():
    print(f"{who:<22}{statistics.median(x[0] for x in r):>9.2f}{statistics.median(x[1] for x in r):>11.2f}")
PY
} | tee "$out/summary.txt"
