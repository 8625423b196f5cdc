"""Tables for the benchmarks in bench/: medians over runs, ratios against each peer, peak RSS.

usage:
  python3 bench/report.py --table DIR        print one benchmark's tables (DIR holds results.tsv)
  python3 bench/report.py OUT REPORT.md      write the report from OUT/{pattern,objects,gcs,s3} and
                                             OUT/run.tsv (machine, load, commands; see run_all.sh)

A benchmark directory holds
  results.tsv    workload, contender, run, seconds, peak RSS in KiB[, anything else] (one line per run)
  commands.tsv   workload, contender, the shell command measured
  workloads.tsv  (optional) workload, MiB moved (for a MiB/s column)[, what it is, for the heading]
  load.tsv       (optional) "load", loadavg at the start, loadavg at the end
The pattern benchmark's hyperfine exports (read-*.json, import.json, rss-*.txt) are read directly.

Ratios are speed ratios: a peer's median time / rexstore's median time, so 2.00x means rexstore
took half the peer's time (higher is better for rexstore). Contenders named rexstore* are ours.

A section whose script failed, or whose results cannot be read (a truncated line, a half-written
export), says so in the report; the other sections are written as usual.
"""
import glob
import json
import os
import re
import statistics
import sys
from collections import defaultdict


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def load_dir(d):
    """{workload: {contender: {"times": [...], "rss": kib or None, "cmd": str}}}, workloads in order."""
    data, order = {}, []
    for number, row in enumerate(read_tsv(os.path.join(d, "results.tsv")), 1):
        try:
            workload, who, _run, seconds, kib = row[:5]
            seconds, kib = float(seconds), int(kib) if kib else None
        except ValueError:
            raise ValueError(f"results.tsv line {number} is not workload, contender, run, seconds, KiB: {row!r}")
        if workload not in data:
            data[workload] = {}
            order.append(workload)
        c = data[workload].setdefault(who, {"times": [], "rss": None, "cmd": ""})
        c["times"].append(seconds)
        if kib is not None:
            c["rss"] = max(c["rss"] or 0, kib)
    for row in read_tsv(os.path.join(d, "commands.tsv")):
        if len(row) >= 3 and row[0] in data and row[1] in data[row[0]]:
            data[row[0]][row[1]]["cmd"] = row[2]
    mib = {}
    for row in read_tsv(os.path.join(d, "workloads.tsv")):
        try:
            mib[row[0]] = float(row[1])
        except (ValueError, IndexError):
            pass  # only the MiB/s column is lost
        if len(row) > 2 and row[2] and row[0] in data:  # a description: into the heading
            label = f"{row[0]} ({row[2]})"
            data[label] = data.pop(row[0])
            order[order.index(row[0])] = label
            if row[0] in mib:
                mib[label] = mib.pop(row[0])
    return data, order, mib


def pattern_dir(d):
    """The pattern benchmark's hyperfine exports, in the same shape as load_dir."""
    data, order, mib = {}, [], {}
    commands = dict((k, v) for k, v in read_tsv(os.path.join(d, "commands.tsv")))

    def rss(name):
        path = os.path.join(d, f"rss-{name}.txt")
        if not os.path.exists(path):
            return None
        vals = [int(v) for v in re.findall(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read())]
        return max(vals) if vals else None

    reads = sorted(glob.glob(os.path.join(d, "read-*.json")))
    if reads:
        w = "pattern get (one point read, one process)"
        data[w], order = {}, order + [w]
        for path in reads:
            for r in json.load(open(path))["results"]:
                c = data[w].setdefault(r["command"], {"times": [], "rss": rss("get-" + r["command"]),
                                                      "cmd": commands.get("get-" + r["command"], "")})
                c["times"] += r["times"]
    imp = os.path.join(d, "import.json")
    if os.path.exists(imp):
        rows = commands.get("rows", "?")
        w = f"pattern import ({rows} rows, fresh database)"
        data[w], order = {}, order + [w]
        for r in json.load(open(imp))["results"]:
            data[w][r["command"]] = {"times": r["times"], "rss": rss("import-" + r["command"]),
                                     "cmd": commands.get("import-" + r["command"], "")}
    return data, order, mib


def fmt_time(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def tables(data, order, mib, markdown):
    lines = []
    for w in order:
        contenders = data[w]
        med = {k: statistics.median(v["times"]) for k, v in contenders.items()}
        ours = [k for k in contenders if k.startswith("rexstore")]
        peers = [k for k in contenders if not k.startswith("rexstore")]
        head = ["contender", "runs", "median", "min", "max"] + (["MiB/s"] if w in mib else []) + \
               [f"speed vs {p}" for p in peers] + ["peak RSS"]
        if markdown:
            lines += [f"### {w}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        else:
            lines += [w, "  " + "  ".join(f"{h:>14}" if i else f"{h:<18}" for i, h in enumerate(head))]
        for k in ours + peers:
            t = contenders[k]["times"]
            cells = [k, str(len(t)), fmt_time(med[k]), fmt_time(min(t)), fmt_time(max(t))]
            if w in mib:
                cells.append(f"{mib[w] / med[k]:.0f}" if med[k] > 0 else "-")
            for p in peers:
                cells.append(f"{med[p] / med[k]:.2f}x" if k in ours and med[k] > 0 and med[p] > 0 else "")
            r = contenders[k]["rss"]
            cells.append("-" if r is None else f"{r / 1024:.1f} MiB")
            if markdown:
                lines.append("| " + " | ".join(cells) + " |")
            else:
                lines.append("  " + "  ".join(f"{c:>14}" if i else f"{c:<18}" for i, c in enumerate(cells)))
        if markdown:
            lines += ["", "Commands (each row's timed command, run under `/usr/bin/time -f '%e %M'` or hyperfine):", ""]
            for k in ours + peers:
                if contenders[k]["cmd"]:
                    lines.append(f"- {k}: `{contenders[k]['cmd']}`")
        lines.append("")
    return lines


def load_any(d):
    if glob.glob(os.path.join(d, "read-*.json")) or os.path.exists(os.path.join(d, "import.json")):
        return pattern_dir(d)
    return load_dir(d)


def section(out, sub, run, ran):
    """One benchmark's part of the report. Never raises: what cannot be read is reported as such."""
    d = os.path.join(out, sub)
    lines = []
    status = run.get(f"status_{sub}")
    if status is None:
        if ran is not None and sub in ran:
            return ["**Not finished**: bench/run_all.sh stopped before this script ended (no exit status "
                    f"recorded); see bench/out/{sub}.log.", ""]
        if ran is not None:
            # Results an earlier run left in bench/out are not this run's: they are not shown.
            return ["Not run this time (BENCH_ONLY left it out).", ""]
        if not os.path.isdir(d):
            return ["Not run.", ""]
    if status and status != "0":
        lines += [f"**The script failed** (exit status {status}); see its log (bench/out/{sub}.log). "
                  f"Any table below holds only what it measured before it stopped.", ""]
    if run.get(f"env_{sub}"):
        lines += [f"Reproduce: `{run[f'env_{sub}']}`", ""]
    if run.get(f"seconds_{sub}"):
        lines += [f"The script took {run[f'seconds_{sub}']} s.", ""]
    try:
        data, order, mib = load_any(d) if os.path.isdir(d) else ({}, [], {})
        body = tables(data, order, mib, markdown=True)
        for row in read_tsv(os.path.join(d, "load.tsv")):
            if len(row) >= 3:
                body += [f"Load average during this script: {row[1]} at the start, {row[2]} at the end.", ""]
    except Exception as e:  # a half-written export must not cost the other sections their report
        return lines + [f"**Its results could not be read** ({type(e).__name__}: {e}); see bench/out/{sub}/.", ""]
    if not order:
        body = ["No results were recorded.", ""] + body
    return lines + body


def main():
    if sys.argv[1] == "--table":
        d = sys.argv[2]
        print("\n".join(tables(*load_any(d), markdown=False)))
        for row in read_tsv(os.path.join(d, "load.tsv")):
            print(f"load average (1/5/15 min): {row[1]} at the start, {row[2]} at the end")
        return
    out, report = sys.argv[1], sys.argv[2]
    run = {row[0]: (row[1] if len(row) > 1 else "") for row in read_tsv(os.path.join(out, "run.tsv"))}
    try:
        ncpu = int(run.get("nproc", "1"))
    except ValueError:
        ncpu = 1
    before, after = run.get("load_before", "?"), run.get("load_after", "?")
    lines = ["# rexstore benchmarks", "",
             "Written by `make bench` (bench/run_all.sh, tables by bench/report.py). Every number is a median over",
             "the runs shown; \"speed vs P\" is P's median time divided by rexstore's (above 1.00x rexstore is faster).",
             "Peak RSS is GNU time's maximum resident set size (the largest process of the command, max over runs).",
             "Nothing here is a pass/fail test.", "",
             "## Machine and load", "",
             f"- CPU: {run.get('cpu', '?')}, nproc {run.get('nproc', '?')}; kernel {run.get('kernel', '?')}; "
             f"memory {run.get('memory', '?')}; file system of bench/out: {run.get('fs', '?')}",
             f"- date: {run.get('date', '?')}; mode: {run.get('mode', '?')}; rexstore {run.get('version', '?')}",
             f"- load average (1/5/15 min): {before} before, {after} after (the load after counts the "
             f"benchmarks' own processes: a transfer runs a client and an emulator on the same cores)"]
    # Whether others were busy is judged from the load before the first benchmark started.
    try:
        busy = float(before.split()[0]) > 0.5 * ncpu
    except (ValueError, IndexError):
        busy = False
    if busy:
        lines.append(f"- **The machine was not quiet**: the load average exceeded half the CPU count before the "
                     f"benchmarks started, i.e. other processes were running and took CPU time from every "
                     f"contender; ratios measured side by side are more trustworthy than absolute times.")
    else:
        lines.append("- The machine was quiet when the benchmarks started (1-minute load below half the CPU count; "
                     "the busiest other processes are listed below).")
    if run.get("note"):
        lines.append(f"- note: {run['note']}")
    if run.get("top"):
        lines.append(f"- busiest other processes at the start (ps, %CPU): {run['top']}")
    lines.append("")
    sections = [("pattern", "Pattern reads and import (bench/pattern_bench.sh)"),
                ("objects", "Local object store (bench/object_bench.sh)"),
                ("gcs", "GCS on fake-gcs-server (bench/gcs_bench.sh)"),
                ("s3", "S3 on moto (bench/s3_bench.sh)")]
    ran = run.get("only", "").split() if "only" in run else None
    for sub, title in sections:
        lines += [f"## {title}", ""] + section(out, sub, run, ran)
    # What the tables cannot say (what changed, what bounds each row, what was tried and dropped) is
    # written by hand in bench/ANALYSIS.md, kept beside this script, and carried into every report.
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ANALYSIS.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            lines += [f.read().rstrip(), ""]
    with open(report, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
