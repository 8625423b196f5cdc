"""Prints the object-store conformance matrix (backend x case) from `swift test` output.

usage: swift test --filter ObjectStoreConformanceTests 2>&1 | python3 Tests/EndToEndTests/python/conformance_matrix.py

A cell is `pass`, `FAIL` (an issue recorded) or `known` (only known issues recorded); a test case
that never started (filtered out, or its backend not in the list) is `-`.
"""
import re
import sys

started = re.compile(r"Test case passing 1 argument backend → (.+?) to (\w+)\(_:\) started")
issue = re.compile(r"Test (\w+)\(_:\) recorded (an issue|a known issue) with 1 argument backend → (.+?) at ")

backends, cases, cells = [], [], {}
for line in sys.stdin:
    if m := started.search(line):
        backend, case = m.group(1), m.group(2)
        if backend not in backends:
            backends.append(backend)
        if case not in cases:
            cases.append(case)
        cells.setdefault((case, backend), "pass")
    elif m := issue.search(line):
        case, kind, backend = m.group(1), m.group(2), m.group(3)
        key = (case, backend)
        if kind == "an issue":
            cells[key] = "FAIL"
        elif cells.get(key) != "FAIL":
            cells[key] = "known"

width = max([len(c) for c in cases] + [4])
columns = [max(len(b), 5) for b in backends]
print(" | ".join(["case".ljust(width)] + [b.ljust(w) for b, w in zip(backends, columns)]))
print("-|-".join(["-" * width] + ["-" * w for w in columns]))
for case in sorted(cases):
    print(" | ".join([case.ljust(width)] + [cells.get((case, b), "-").ljust(w) for b, w in zip(backends, columns)]))
sys.exit(1 if "FAIL" in cells.values() else 0)
