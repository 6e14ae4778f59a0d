"""Shared fixtures: the `cartox` binary built from this repository (the reference every Python
result is compared with) and a comparison of a Python sweep frame with the CLI's CSV."""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path
from typing import List, Sequence

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "cartox"


@pytest.fixture(scope="session")
def cli() -> Path:
    """The release binary of this checkout, built (or brought up to date) once per session."""
    explicit = os.environ.get("CARTOX_BIN")
    if explicit:
        return Path(explicit)
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--quiet", "--bin", "cartox"],
        cwd=ROOT,
        check=True,
    )
    path = _binary()
    assert path.is_file(), f"no binary at {path}"
    return path


def run_cli(cli: Path, *args: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess:
    """Run the CLI; fail the test on an unexpected exit status."""
    p = subprocess.run([str(cli), *args], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode in ok, f"cartox {' '.join(args)}: exit {p.returncode}\n{p.stderr}"
    return p


def cli_error(cli: Path, *args: str) -> str:
    """The one-line error of a failing CLI call, without `error: `."""
    p = subprocess.run([str(cli), *args], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0, f"cartox {' '.join(args)} should fail"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0][len("error: "):]


def _same_number(py: float, cell: str) -> bool:
    if cell == "":
        return math.isnan(py)
    want = float(cell)
    return (math.isnan(py) and math.isnan(want)) or py == want


def assert_sweep_equals_cli(result: pd.DataFrame, cli_csv: Path) -> None:
    """Every cell of a `cartox.sweep` frame equals the CLI's CSV cell: same columns in the same
    order; numbers bit-equal to the CSV's round-trip text (empty = NaN); flags true/false/empty;
    text equal; IDs equal as text."""
    want = pd.read_csv(cli_csv, dtype=str, keep_default_na=False)
    assert list(result.columns) == list(want.columns)
    assert len(result) == len(want)
    got = result.reset_index(drop=True)
    for column in want.columns:
        cells: List[str] = want[column].tolist()
        values = got[column].tolist()
        for row, (value, cell) in enumerate(zip(values, cells)):
            dtype = got[column].dtype
            if str(dtype) == "boolean":
                ok = cell == ("" if value is pd.NA else str(bool(value)).lower())
            elif pd.api.types.is_float_dtype(dtype) and column != "ID":
                ok = _same_number(value, cell)
            else:
                ok = str(value) == cell
            assert ok, f"row {row + 1}, column {column}: python {value!r}, cli {cell!r}"
