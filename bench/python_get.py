"""The Python app's point-read code path, for bench/pattern_bench.sh.

usage: python3 bench/python_get.py DB USER_ID TYPE KEY
"""
import sys
import sqlite3, json

db, user_id, ptype, pkey = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
conn = sqlite3.connect(db)
row = conn.execute(
    "SELECT pattern_value FROM user_patterns WHERE user_id=? AND pattern_type=? AND pattern_key=?",
    (user_id, ptype, pkey),
).fetchone()
v = row[0]
try:
    v = json.loads(v)
except Exception:
    pass
print(v)
