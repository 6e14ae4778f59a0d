"""Parquet written by cartox, read back by pyarrow and DuckDB, equals the CSV of the same run.

Usage: parquet_readback.py CARTOX_BINARY WORKDIR. Exits non-zero (with the first difference) on
any mismatch; prints `N passed, 0 failed` at the end.
"""
import csv
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

BIN, WORK = sys.argv[1], Path(sys.argv[2])
WORK.mkdir(parents=True, exist_ok=True)


def run(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode not in (0, 3):
        sys.exit(f"cartox {' '.join(args)}: {r.stderr}")


def same(text, value):
    """A CSV cell (text) and the typed value pyarrow gives for it."""
    if value is None:
        return text in ("", "NaN")
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, int):
        return int(text) == value
    if isinstance(value, float):
        x = float(text)
        return (math.isnan(x) and math.isnan(value)) or x == value
    return text == value


def check(csv_path, pq_path, types):
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    table = pq.read_table(pq_path)
    assert table.column_names == header, (pq_path, table.column_names, header)
    for name, want in types.items():
        got = str(table.schema.field(name).type)
        assert got == want, f"{pq_path}: column {name} is {got}, want {want}"
    cols = table.to_pydict()
    assert table.num_rows == len(rows), (pq_path, table.num_rows, len(rows))
    for i, row in enumerate(rows):
        for name, text in zip(header, row):
            v = cols[name][i]
            assert same(text, v), f"{pq_path}: row {i}, {name}: CSV {text!r}, pyarrow {v!r}"
    # DuckDB reads it too: row count and a numeric sum over a float column.
    con = duckdb.connect()
    n = con.execute(f"select count(*) from read_parquet('{pq_path}')").fetchone()[0]
    assert n == len(rows), (pq_path, n)
    floats = [k for k, t in types.items() if t == "double"]
    if floats:
        k = floats[0]
        s = con.execute(f'select sum("{k}") from read_parquet(\'{pq_path}\')').fetchone()[0]
        want = math.fsum(float(r[header.index(k)]) for r in rows if r[header.index(k)] not in ("",))
        assert s is not None and abs(s - want) <= 1e-9 * max(1.0, abs(want)), (k, s, want)


passed = 0
inp = WORK / "in.csv"
with open(inp, "w") as f:
    f.write("ID,dose,ld,k_act\n")
    for i in range(300):
        f.write(f"p{i},{1e7 * (1 + i % 30)},{'none' if i % 4 == 0 else 'flu-cy'},{0.2 + 0.01 * (i % 11)}\n")
    f.write("bad,-1,none,0.3\n")
for ext in ("csv", "parquet"):
    run("sweep", "--quiet", "--params", str(inp), "--out", str(WORK / f"r.{ext}"),
        "--timecourses", str(WORK / f"tc.{ext}"), "--days", "28", "--dt", "1")
    run("population", "--n", "20000", "--seed", "7", "--out", str(WORK / f"pop.{ext}"))
    run("simulate", "--out", str(WORK / f"sim.{ext}"))

check(WORK / "r.csv", WORK / "r.parquet", {
    "ID": "string", "cart_cmax": "double", "crs_grade": "int64", "alarm": "bool",
    "b_cell_aplasia": "bool", "response": "string", "status": "string", "message": "string"})
passed += 1
check(WORK / "tc.csv", WORK / "tc.parquet", {"ID": "string", "time": "double", "cart_blood": "double"})
passed += 1
check(WORK / "pop.csv", WORK / "pop.parquet", {"ID": "int64", "weight": "double"})
passed += 1
check(WORK / "sim.csv", WORK / "sim.parquet", {"time": "double", "crs_grade": "int64"})
passed += 1
# pandas-style consumers get typed columns: nulls where the CSV cell is empty.
t = pq.read_table(WORK / "r.parquet").to_pydict()
assert t["status"][-1] == "error" and t["cart_cmax"][-1] is None
passed += 1
print(f"parquet read-back (pyarrow, duckdb): {passed} passed, 0 failed")
