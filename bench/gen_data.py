"""Generates the pattern benchmark inputs in one pass.

usage: python3 bench/gen_data.py N NDJSON_OUT CSV_OUT TIMESTAMP

Row i (0-based) is user_id = i // 100 + 1 (100 patterns per user), type = t{user_id % 10},
key = k{i}, value = {"v": i}, confidence = 0.5.

The NDJSON is what `rexstore pattern import` reads. The CSV holds the very rows rexstore ends up
storing, column for column: id (i + 1, the rowid AUTOINCREMENT would assign), user_id, pattern_type,
pattern_key, pattern_value as the app's json.dumps writes it ('{"v": i}'), confidence,
created_at, updated_at (TIMESTAMP, in rexstore's stored form).
"""
import sys


def main():
    n, ndjson_path, csv_path, ts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    chunk = 50_000
    with open(ndjson_path, "w") as nd, open(csv_path, "w") as cs:
        for base in range(0, n, chunk):
            nd_lines, csv_lines = [], []
            for i in range(base, min(n, base + chunk)):
                u = i // 100 + 1
                t = u % 10
                nd_lines.append(
                    f'{{"user_id":{u},"type":"t{t}","key":"k{i}","value":{{"v":{i}}},"confidence":0.5}}\n'
                )
                csv_lines.append(f'{i + 1},{u},t{t},k{i},"{{""v"": {i}}}",0.5,{ts},{ts}\n')
            nd.write("".join(nd_lines))
            cs.write("".join(csv_lines))


if __name__ == "__main__":
    main()
