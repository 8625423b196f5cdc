"""Summary table for bench/pattern_bench.sh, from hyperfine's JSON exports and `/usr/bin/time -v` logs.

usage: python3 bench/summarize.py OUT_DIR ROWS
Reads OUT_DIR/read-*.json, import.json, extra-python-path.json (if any), rss-*.txt; prints the table (the script
also tees it into OUT_DIR/summary.txt).
"""
import glob
import json
import os
import re
import statistics
import sys

out, rows = sys.argv[1], int(sys.argv[2])


def load(path):
    with open(path) as f:
        return {r["command"]: r for r in json.load(f)["results"]}


def peak_rss_kb(name):
    """Largest 'Maximum resident set size' in OUT/rss-NAME.txt (one entry per timed run)."""
    path = os.path.join(out, f"rss-{name}.txt")
    if not os.path.exists(path):
        return None
    vals = [int(v) for v in re.findall(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read())]
    return max(vals) if vals else None


def ms(s):
    return f"{s * 1000:8.2f} ms"


def mb(kb):
    return "       n/a" if kb is None else f"{kb / 1024:7.1f} MiB"


lines = []
p = lines.append

# ---- point reads: one hyperfine export per round; rounds run the commands in opposite orders.
rounds = [load(f) for f in sorted(glob.glob(os.path.join(out, "read-*.json")))]
names = ["rexstore", "sqlite3", "python"]
p(f"Point read (pattern get), {len(rounds)} round(s), each command's mean over all runs of all rounds")
p(f"  {'command':<10} {'mean':>11} {'± stddev':>11} {'median':>11} {'min':>11} {'peak RSS':>11}")
mean = {}
for n in names:
    times = [t for r in rounds for t in r[n]["times"]]
    mean[n] = statistics.fmean(times)
    p(f"  {n:<10} {ms(mean[n])} {ms(statistics.stdev(times))} {ms(statistics.median(times))} "
      f"{ms(min(times))} {mb(peak_rss_kb('get-' + n))}")
extra = os.path.join(out, "extra-python-path.json")
if os.path.exists(extra):
    e = load(extra)["python-PATH"]
    p(f"  {'python-PATH':<10} {ms(e['mean'])} {ms(e['stddev'] or 0)} {ms(e['median'])} {ms(e['min'])}"
      f"    (python3 on PATH, {len(e['times'])} runs: {e['mean'] / mean['rexstore']:.1f}x rexstore)")
median = {n: statistics.median([t for r in rounds for t in r[n]["times"]]) for n in names}
r_sql = median["rexstore"] / median["sqlite3"]
r_py = median["python"] / median["rexstore"]
per_round = ", ".join(
    f"{r['rexstore']['median'] / r['sqlite3']['median']:.2f}x / {r['python']['median'] / r['rexstore']['median']:.1f}x"
    for r in rounds)
# Issue 12's target: medians, side by side (a burst of load on the machine moves a mean, not a median).
p(f"  median(rexstore)/median(sqlite3) = {r_sql:.2f}x   (issue 12 target <= 1.5x: {'PASS' if r_sql <= 1.5 else 'FAIL'})")
p(f"  mean(rexstore)/mean(sqlite3)     = {mean['rexstore'] / mean['sqlite3']:.2f}x   (for the record)")
p(f"  median(python)/median(rexstore)  = {r_py:.1f}x   (for the record: the app's own Python path)")
p(f"  per round (rexstore/sqlite3 / python/rexstore): {per_round}")
p("")

# ---- import
imp = load(os.path.join(out, "import.json"))
p(f"Import {rows:,} rows into a fresh database (one transaction each), {len(imp['rexstore']['times'])} runs")
p(f"  {'command':<13} {'mean':>11} {'± stddev':>11} {'min':>11} {'rows/s':>11} {'peak RSS':>11}   (rows/s: of the median)")
rate = {}
for n, r in imp.items():
    rate[n] = rows / r["median"]
    p(f"  {n:<13} {r['mean']:9.2f} s  {r['stddev'] or 0:9.2f} s  {min(r['times']):9.2f} s  "
      f"{rate[n]:11,.0f} {mb(peak_rss_kb('import-' + n))}")
# Issue 12's target is against sqlite3's `.import` straight into the table (sqlite3-direct); the
# two-pass sqlite3-tmp is shown for the record.
for n in [k for k in imp if k != "rexstore"]:
    ratio = rate["rexstore"] / rate[n]
    target = (f"issue 12 target >= 0.8: {'PASS' if ratio >= 0.8 else 'FAIL'}" if n == "sqlite3-direct"
              else "for the record")
    p(f"  rows/s rexstore / {n:<13} = {ratio:.2f}   ({target})")

print("\n".join(lines))
