#!/usr/bin/env bash
# The Python package's tests on a fresh machine: a venv, `pip install ./python` (builds the Rust
# extension from source; only a Rust toolchain is needed), the test dependencies, then pytest.
# The tests compare with the release binary of this checkout (built if missing).
#   python/test.sh [pytest args]      VENV=dir to choose the venv (default target/py-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Reuse the repository's build cache: the extension shares the library's compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
venv="${VENV:-$root/target/py-venv}"
python=${PYTHON:-python3}

echo "== python: rustfmt and clippy of the extension crate"
cargo fmt --manifest-path python/Cargo.toml -- --check
cargo clippy --manifest-path python/Cargo.toml --release --locked -- -D warnings

if [ ! -x "$venv/bin/python" ]; then
    echo "== python: venv $venv"
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        # Debian's python3 ships venv separately.
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        rm -rf "$venv"
        "$python" -m venv "$venv"
    fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade "pip>=23"
echo "== python: test dependencies"
"${pip[@]}" install "pytest>=8,<10" "pandas>=2,<3" "numpy>=1.24,<3" "dask[dataframe,distributed]>=2025.1,<2027"
echo "== python: pip install ./python (the Rust extension, release build)"
"${pip[@]}" install --force-reinstall --no-deps ./python
echo "== python: pytest"
# From the repository root, so `import cartox` is the installed package, not python/cartox.
status=0
"$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "python tests failed (pytest exit $status)"
    exit "$status"
fi
