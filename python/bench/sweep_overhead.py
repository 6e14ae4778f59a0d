"""Measure `cartox.sweep` against `cartox sweep` on the same rows (issue 18: the Python
overhead). Not a test: run by hand, on a quiet machine if you can.

    python python/bench/sweep_overhead.py [ROWS] [JOBS]      (default 100000 rows, 2 jobs)

Prints the wall and CPU time of each (the CLI reading and writing CSV files; Python converting
a DataFrame in and out), rows per second, and checks that the two give the same numbers. CPU
time (all threads) says more than wall time on a shared machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import cartox

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    cli = Path(os.environ.get("CARTOX_BIN", ROOT / "target" / "release" / "cartox"))
    table = cartox.population(rows, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        params, out = Path(tmp) / "p.csv", Path(tmp) / "r.csv"
        table.to_csv(params, index=False)
        t0, c0 = time.perf_counter(), _children_cpu()
        subprocess.run([str(cli), "sweep", "--params", str(params), "--out", str(out),
                        "--jobs", str(jobs), "--quiet"], check=True)
        t_cli, c_cli = time.perf_counter() - t0, _children_cpu() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        result = cartox.sweep(table, jobs=jobs)
        t_py, c_py = time.perf_counter() - t0, time.process_time() - c0
        want = pd.read_csv(out, float_precision="round_trip")
    for name in ("cart_cmax", "crs_grade", "il6_peak", "tumor_end"):
        assert np.array_equal(result[name].to_numpy(), want[name].to_numpy(), equal_nan=True), name
    print(f"{rows} rows, {jobs} jobs, model cartox (default settings)")
    print(f"  CLI    cartox sweep   wall {t_cli:7.2f} s ({rows / t_cli:6.0f} rows/s)  cpu {c_cli:7.2f} s")
    print(f"  Python cartox.sweep   wall {t_py:7.2f} s ({rows / t_py:6.0f} rows/s)  cpu {c_py:7.2f} s")
    print(f"  Python vs CLI: wall {100 * (t_py / t_cli - 1):+.1f}%, cpu {100 * (c_py / c_cli - 1):+.1f}%")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    main()
