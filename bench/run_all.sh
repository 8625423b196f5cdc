#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, one after the other, then bench/REPORT.md (bench/report.py)
# with the machine (CPU, nproc, kernel), the load before and after, and each script's tables.
# A benchmark that fails is reported as failed; the others still run. Nothing here passes or fails
# on a timing.
#
# Environment: BENCH_QUICK=1 for small sizes (a run of a few minutes); BENCH_ONLY="objects gcs" to
# run some of pattern, objects, gcs, s3; BENCH_REPORT=PATH writes the report there instead of
# bench/REPORT.md (for trial runs: a quick report is not one to commit); REXSTORE_BIN (default: the
# release build `make build` makes); each script's own variables (see their headers: BENCH_RUNS,
# BENCH_PUT_MB, BENCH_ROWS, ...).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=$here/out
mkdir -p "$out"
export REXSTORE_BIN=${REXSTORE_BIN:-$root/.build/release/rexstore}
[[ -x $REXSTORE_BIN ]] || { echo "run_all: $REXSTORE_BIN is missing (make build)" >&2; exit 1; }
only=${BENCH_ONLY:-pattern objects gcs s3}
report=${BENCH_REPORT:-$here/REPORT.md}
mode=$([[ -n ${BENCH_QUICK:-} ]] && echo "quick (BENCH_QUICK=1: small sizes)" || echo "full (each script's default sizes)")

run=$out/run.tsv
{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'mode\t%s\n' "$mode"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'memory\t%s\n' "$(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
  printf 'fs\t%s\n' "$(df -T "$out" | awk 'NR == 2 {print $2 " on " $1}')"
  printf 'version\t%s\n' "$("$REXSTORE_BIN" --version 2>/dev/null | head -1) (git $(git -C "$root" rev-parse --short HEAD 2>/dev/null))"
  printf 'only\t%s\n' "$(echo $only)"
  printf 'load_before\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'top\t%s\n' "$(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -5 | awk '{printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1}')"
} >"$run"

# The benchmark settings of this run, for the line that reproduces each script's rows.
settings=$(env | grep -E '^(BENCH_[A-Z_]+|REXSTORE_BIN_BEFORE)=' | grep -vE '^BENCH_(OUT|ONLY|REPORT)=' | sort | tr '\n' ' ')
for name in $only; do
  case $name in
    pattern) script=pattern_bench.sh ;;
    objects) script=object_bench.sh ;;
    gcs) script=gcs_bench.sh ;;
    s3) script=s3_bench.sh ;;
    *) echo "run_all: unknown benchmark $name" >&2; continue ;;
  esac
  echo "== $script ($mode)" >&2
  # An earlier run's results must not pass for this run's when this one fails early (the pattern
  # benchmark keeps its generated data in the same directory, so only the results go).
  mkdir -p "$out/$name"
  (cd "$out/$name" && rm -f results.tsv commands.tsv workloads.tsv load.tsv read-*.json import.json rss-*.txt)
  started=$SECONDS
  BENCH_OUT=$out/$name bash "$here/$script" 2>&1 | tee "$out/$name.log"
  printf 'status_%s\t%s\n' "$name" "${PIPESTATUS[0]}" >>"$run"
  printf 'seconds_%s\t%s\n' "$name" "$(( SECONDS - started ))" >>"$run"
  printf 'env_%s\t%s\n' "$name" "${settings}REXSTORE_BIN=.build/release/rexstore BENCH_OUT=bench/out/$name bash bench/$script" >>"$run"
done
printf 'load_after\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run"

python3 "$here/report.py" "$out" "$report" || { echo "run_all: report.py failed" >&2; exit 1; }
echo "wrote $report" >&2
