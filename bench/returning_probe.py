"""Diagnostic, not part of pattern_bench.sh: does the RETURNING clause of rexstore's upsert
(Store.upsertPatternSQL, which `pattern import` runs once per line and whose rows it never reads)
slow a bulk load? Runs rexstore's exact upsert through Python's sqlite3 (same system libsqlite3),
in WAL mode and one transaction, with and without RETURNING, and prints wall/CPU time and how many
bytes went to the database files.

usage: python3 bench/returning_probe.py [ROWS]   (default 200000; writes under bench/out/)
"""
import os
import resource
import sqlite3
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
ddl = subprocess.run(
    [sys.executable, os.path.join(here, "schema_ddl.py"),
     os.path.join(here, "..", "Sources", "RexstoreCore", "Store", "Schema.swift")],
    check=True, capture_output=True, text=True).stdout
db = os.path.join(here, "out", "returning-probe.sqlite3")
os.makedirs(os.path.dirname(db), exist_ok=True)

UPSERT = (
    "INSERT INTO user_patterns (user_id, pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, pattern_type, pattern_key) DO UPDATE SET "
    "pattern_value = excluded.pattern_value, confidence = excluded.confidence, updated_at = excluded.updated_at")
VARIANTS = [
    ("upsert (no RETURNING)", UPSERT, []),
    ("upsert RETURNING (rexstore's SQL)", UPSERT + " RETURNING created_at, updated_at", []),
    ("upsert RETURNING, temp_store=MEMORY", UPSERT + " RETURNING created_at, updated_at",
     ["PRAGMA temp_store=MEMORY"]),
]


def written_bytes():
    with open("/proc/self/io") as f:
        return dict(line.split(": ") for line in f.read().splitlines())["wchar"]


stamp = "2026-01-01T00:00:00.123456+00:00"
print(f"{rows:,} rows, sqlite {sqlite3.sqlite_version}")
for name, sql, pragmas in VARIANTS:
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for p in pragmas:
        conn.execute(p)
    conn.executescript(ddl)
    w0, r0, t0 = int(written_bytes()), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    cur = conn.cursor()
    for i in range(rows):
        u = i // 100 + 1
        cur.execute(sql, (u, f"t{u % 10}", f"k{i}", f'{{"v": {i}}}', 0.5, stamp, stamp))
        cur.fetchall()
    conn.execute("COMMIT")
    conn.close()
    t1, r1, w1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), int(written_bytes())
    print(f"  {name:<38} {t1 - t0:6.2f} s wall  {r1.ru_utime - r0.ru_utime:6.2f} s user  "
          f"{r1.ru_stime - r0.ru_stime:6.2f} s sys  {(w1 - w0) / 2**20:8.0f} MiB written  "
          f"{rows / (t1 - t0):9,.0f} rows/s")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
