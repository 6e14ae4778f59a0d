#!/usr/bin/env bash
# Parquet from cartox read back by pyarrow and DuckDB equals the CSV (run by .ci/run).
# Installs pyarrow and duckdb from PyPI into a virtual environment under target/ when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=target/py-parquet
if ! "$VENV/bin/python" -c "import pyarrow, duckdb" 2>/dev/null; then
    python3 -m venv "$VENV" || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pyarrow duckdb
fi
BIN=${CARTOX_BIN:-target/release/cartox}
[ -x "$BIN" ] || cargo build --release --locked --quiet
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" tests/python/parquet_readback.py "$BIN" "$WORK"
