#!/usr/bin/env bash
# Benchmarks `rexstore pattern get` and `rexstore pattern import` side by side with the sqlite3 CLI
# and the Python app's own code path, on a 1,000,000-pattern database. Issue 12's targets (printed
# with the summary): median `pattern get` <= 1.5x the sqlite3 CLI's; import rows/s >= 0.8x sqlite3's
# `.import` straight into the table (sqlite3-direct below).
#
# usage: bench/pattern_bench.sh
#
# Environment:
#   REXSTORE_BIN       rexstore binary to measure (default: `make build`'s .build/release/rexstore)
#   BENCH_ROWS         patterns to generate and import (default 1000000; 100000 with BENCH_QUICK=1)
#   BENCH_GET_RUNS     hyperfine runs per point-read command and round (default 200, 30 with
#                      BENCH_QUICK=1; warmup 20)
#   BENCH_IMPORT_RUNS  hyperfine runs per import command (default 3)
#   BENCH_OUT          where data, databases and results go (default bench/out, gitignored)
#   BENCH_PYTHON       interpreter for the Python app's path (default /usr/bin/python3 if present)
#
# Needs hyperfine (apt-get install -y hyperfine), sqlite3, python3 and /usr/bin/time (GNU time).
# Results: BENCH_OUT/read-1.json, read-2.json, import.json (hyperfine exports), rss-*.txt
# (`/usr/bin/time -v`), summary.txt (the table printed at the end).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${BENCH_OUT:-$here/out}
if [[ -n ${BENCH_QUICK:-} ]]; then
  rows=${BENCH_ROWS:-100000}; get_runs=${BENCH_GET_RUNS:-30}
else
  rows=${BENCH_ROWS:-1000000}; get_runs=${BENCH_GET_RUNS:-200}
fi
import_runs=${BENCH_IMPORT_RUNS:-3}

die() { echo "pattern_bench: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

command -v hyperfine >/dev/null ||
  die "hyperfine not found; install it with: apt-get install -y hyperfine"
command -v sqlite3 >/dev/null || die "sqlite3 not found; install it with: apt-get install -y sqlite3"
command -v python3 >/dev/null || die "python3 not found"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found; install it with: apt-get install -y time"

# The Python side runs on a clean interpreter: Debian's /usr/bin/python3 (same SQLite library).
# The python3 on PATH here can be a pyenv shim (a shell script: tens of ms per run) in front of an
# interpreter whose site-packages holds .pth start-up hooks (e.g. one importing certifi, ~65 ms);
# either would flatter rexstore. That interpreter (shim resolved) is measured too, as
# "python-PATH" with fewer runs, so both numbers are on record.
py=${BENCH_PYTHON:-}
if [[ -z $py ]]; then
  if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; else py=$(python3 -c 'import sys; print(sys.executable)'); fi
fi
py_path=$(python3 -c 'import sys; print(sys.executable)')

mkdir -p "$out"
started=$SECONDS

if [[ -z ${REXSTORE_BIN:-} ]]; then
  # The binary users get: the Makefile's release flags (static SQLite, Swift runtime and libgcc; no
  # exported symbols), which decide start-up time and so point reads.
  step "building rexstore (make build)"
  make -C "$root" build
  REXSTORE_BIN=$root/.build/release/rexstore
fi
[[ -x $REXSTORE_BIN ]] || die "REXSTORE_BIN=$REXSTORE_BIN is not an executable"
rex=$REXSTORE_BIN

# No user config file: every rexstore run here is configured by --db alone.
export XDG_CONFIG_HOME=$out/xdg-config
mkdir -p "$XDG_CONFIG_HOME"

cat <<EOF

rexstore: $rex ($("$rex" --version))
sqlite3:  $(command -v sqlite3) ($(sqlite3 --version | cut -d' ' -f1)), python: $py ($("$py" -c 'import sqlite3, sys; print(sys.version.split()[0], "sqlite", sqlite3.sqlite_version)'))
python (PATH): $py_path
rows: $rows; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)
EOF

# ---------------------------------------------------------------------------------------------
step "generating $rows patterns (NDJSON for rexstore, the equivalent CSV for sqlite3)"
ndjson=$out/patterns-$rows.ndjson
csv=$out/patterns-$rows.csv
# rexstore stamps imported rows with the current time in this form; the CSV carries one like it.
stamp=2026-01-01T00:00:00.123456+00:00
if [[ ! -s $ndjson || ! -s $csv ]]; then
  "$py" "$here/gen_data.py" "$rows" "$ndjson" "$csv" "$stamp"
fi
ls -l "$ndjson" "$csv"

# ---------------------------------------------------------------------------------------------
# The sqlite3 side of the import. Both sides:
#   - start from no file and create the app's exact DDL (Schema.appTables, read out of Schema.swift);
#   - use WAL, because rexstore always switches the file to WAL before writing (and WAL changes how
#     a big transaction spills pages, so a rollback-journal baseline would not be like for like);
#   - insert every row in one write transaction (rexstore: BEGIN IMMEDIATE ... COMMIT).
# `.import` cannot fill user_patterns from a 7-column CSV (the table has 8 columns, and an empty
# CSV field would be the text '', not NULL, for id). Two fair ways, both measured:
#   sqlite3-direct: the CSV carries the id column too (1..N, exactly the ids AUTOINCREMENT gives
#                   rexstore's rows), so `.import` goes straight into user_patterns, one pass,
#                   index maintenance included: the sqlite3 CLI's best case, the headline baseline.
#   sqlite3-tmp:    `.import` into a TEMP table, then INSERT INTO user_patterns (7 explicit
#                   columns) SELECT ... FROM it, all in the same transaction: two passes, the shape
#                   an ad-hoc load usually takes.
# In both, the stored rows match rexstore's column for column (types included), except created_at
# and updated_at (rexstore stamps "now"); the script checks this after the runs.
ddl=$("$py" "$here/schema_ddl.py" "$root/Sources/RexstoreCore/Store/Schema.swift")
cols="user_id, pattern_type, pattern_key, pattern_value, confidence, created_at, updated_at"
cat >"$out/import-direct.sql" <<EOF
PRAGMA journal_mode=WAL;
$ddl
BEGIN IMMEDIATE;
.import --csv --skip 0 $csv user_patterns
COMMIT;
EOF
cat >"$out/import-tmp.sql" <<EOF
PRAGMA journal_mode=WAL;
$ddl
BEGIN IMMEDIATE;
CREATE TEMP TABLE tmp_import (id INTEGER PRIMARY KEY, user_id INTEGER, pattern_type TEXT, pattern_key TEXT,
  pattern_value TEXT, confidence REAL, created_at TEXT, updated_at TEXT);
.import --csv --skip 0 $csv tmp_import
INSERT INTO user_patterns ($cols) SELECT $cols FROM tmp_import ORDER BY id;
DROP TABLE tmp_import;
COMMIT;
EOF

db_rex=$out/import-rexstore.sqlite3
db_direct=$out/import-sqlite3-direct.sqlite3
db_tmp=$out/import-sqlite3-tmp.sqlite3
rm -f "$out"/rss-*.txt "$out"/read-*.json "$out/import.json"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# The command behind each row of the report (bench/report.py), without the GNU time wrapper.
printf 'rows\t%s\n' "$rows" >"$out/commands.tsv"
printf 'import-rexstore\t%s\n' "$rex --db $db_rex pattern import $ndjson" >>"$out/commands.tsv"
printf 'import-sqlite3-direct\t%s\n' "sqlite3 $db_direct '.read $out/import-direct.sql'" >>"$out/commands.tsv"
printf 'import-sqlite3-tmp\t%s\n' "sqlite3 $db_tmp '.read $out/import-tmp.sql'" >>"$out/commands.tsv"
rmdb() { echo "rm -f $1 $1-wal $1-shm $1-journal"; }

step "import benchmark: $import_runs runs each (hyperfine, fresh database per run)"
# /usr/bin/time -v wraps each run for peak RSS (appended to rss-NAME.txt); its own cost is one
# fork+exec, nothing next to a multi-second import.
hyperfine -N --runs "$import_runs" --export-json "$out/import.json" \
  --prepare "$(rmdb "$db_rex")" -n rexstore \
  "/usr/bin/time -v -a -o $out/rss-import-rexstore.txt $rex --db $db_rex pattern import $ndjson" \
  --prepare "$(rmdb "$db_direct")" -n sqlite3-direct \
  "/usr/bin/time -v -a -o $out/rss-import-sqlite3-direct.txt sqlite3 $db_direct '.read $out/import-direct.sql'" \
  --prepare "$(rmdb "$db_tmp")" -n sqlite3-tmp \
  "/usr/bin/time -v -a -o $out/rss-import-sqlite3-tmp.txt sqlite3 $db_tmp '.read $out/import-tmp.sql'"

step "checking the imported databases hold the same rows"
for db in "$db_rex" "$db_direct" "$db_tmp"; do
  n=$(sqlite3 "$db" "SELECT count(*) FROM user_patterns")
  [[ $n == "$rows" ]] || die "$db holds $n patterns, expected $rows"
done
for db in "$db_direct" "$db_tmp"; do
  same=$(sqlite3 "$db_rex" "ATTACH '$db' AS o;
    SELECT count(*) FROM main.user_patterns a JOIN o.user_patterns b USING (id)
    WHERE a.user_id = b.user_id AND typeof(a.user_id) = typeof(b.user_id)
      AND a.pattern_type = b.pattern_type AND a.pattern_key = b.pattern_key
      AND a.pattern_value = b.pattern_value
      AND a.confidence = b.confidence AND typeof(a.confidence) = typeof(b.confidence)")
  [[ $same == "$rows" ]] || die "only $same of $rows rows of $db match rexstore's import"
done
echo "all three databases: $rows rows, identical apart from timestamps"

# ---------------------------------------------------------------------------------------------
# Point reads run against the database rexstore just imported (WAL mode, checkpointed on close).
db=$out/read.sqlite3
rm -f "$db" "$db-wal" "$db-shm"
mv "$db_rex" "$db"
rm -f "$db_direct" "$db_tmp" "$db_direct-wal" "$db_tmp-wal"

i=$((rows / 2))
u=$((i / 100 + 1))
t=t$((u % 10))
k=k$i
sql="SELECT pattern_value, confidence, created_at, updated_at FROM user_patterns WHERE user_id=$u AND pattern_type='$t' AND pattern_key='$k'"
cmd_rex="$rex --db $db pattern get $u $t $k"
cmd_sql="sqlite3 $db \"$sql\""
cmd_py="$py $here/python_get.py $db $u $t $k"
printf 'get-rexstore\t%s\nget-sqlite3\t%s\nget-python\t%s\n' "$cmd_rex" "$cmd_sql" "$cmd_py" >>"$out/commands.tsv"

step "point read of ($u, $t, $k): one run each"
"$rex" --db "$db" pattern get "$u" "$t" "$k" | grep -q "\"value\":{\"v\":$i}" || die "rexstore pattern get failed"
sqlite3 "$db" "$sql" | grep -q "{\"v\": $i}" || die "sqlite3 point read failed"
"$py" "$here/python_get.py" "$db" "$u" "$t" "$k" | grep -q "{'v': $i}" || die "python point read failed"
/usr/bin/time -v -o "$out/rss-get-rexstore.txt" "$rex" --db "$db" pattern get "$u" "$t" "$k" >/dev/null
/usr/bin/time -v -o "$out/rss-get-sqlite3.txt" sqlite3 "$db" "$sql" >/dev/null
/usr/bin/time -v -o "$out/rss-get-python.txt" "$py" "$here/python_get.py" "$db" "$u" "$t" "$k" >/dev/null

# Two rounds in opposite orders, so a burst from whatever else the machine runs does not land
# on one command only; the summary pools both.
step "point-read benchmark, round 1 (rexstore, sqlite3, python)"
hyperfine -N --warmup 20 --runs "$get_runs" --export-json "$out/read-1.json" \
  -n rexstore "$cmd_rex" -n sqlite3 "$cmd_sql" -n python "$cmd_py"
step "point-read benchmark, round 2 (python, sqlite3, rexstore)"
hyperfine -N --warmup 20 --runs "$get_runs" --export-json "$out/read-2.json" \
  -n python "$cmd_py" -n sqlite3 "$cmd_sql" -n rexstore "$cmd_rex"
rm -f "$out/extra-python-path.json"
if [[ $py_path != "$py" ]]; then
  step "point read with the python3 on PATH ($py_path), for the record: $((get_runs / 4)) runs"
  hyperfine -N --warmup 5 --runs $((get_runs / 4)) --export-json "$out/extra-python-path.json" \
    -n python-PATH "$py_path $here/python_get.py $db $u $t $k"
fi

# ---------------------------------------------------------------------------------------------
step "summary (total $((SECONDS - started)) s; load now $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'load\t%s\t%s\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$out/load.tsv"
"$py" "$here/summarize.py" "$out" "$rows" | tee "$out/summary.txt"
