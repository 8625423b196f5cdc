"""Prints the app's DDL (Schema.appTables) exactly as rexstore runs it, read out of Schema.swift,
so the sqlite3 side of bench/pattern_bench.sh creates the very same tables and indexes.

usage: python3 bench/schema_ddl.py Sources/RexstoreCore/Store/Schema.swift
"""
import re
import sys
import textwrap

src = open(sys.argv[1]).read()
m = re.search(r'static let appTables = """\n(.*?)\n\s*"""', src, re.S)
if not m:
    sys.exit("schema_ddl.py: cannot find `static let appTables = \"\"\"...\"\"\"` in " + sys.argv[1])
ddl = textwrap.dedent(m.group(1))
if "CREATE TABLE IF NOT EXISTS user_patterns" not in ddl:
    sys.exit("schema_ddl.py: appTables has no user_patterns table")
print(ddl)
