#!/usr/bin/env bash
# The SBML Test Suite's semantic time-course cases through `cartox simulate` (issue 19).
# Fails on any wrong answer, crash or runner error, and when a case listed in
# tests/sbml_suite/passing.txt no longer passes (the committed floor: that many cases pass).
# Usage: tests/sbml_suite.sh [--update]   (--update rewrites passing.txt and counts.txt)
# Needs python3 and the suite at ../shared/reference/sbml-test-suite (fails if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=${SBML_TEST_SUITE:-../shared/reference/sbml-test-suite/semantic}
if [ ! -d "$SUITE" ]; then
    echo "sbml_suite: the SBML Test Suite cases are not at $SUITE (set SBML_TEST_SUITE)" >&2
    exit 1
fi
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }
cargo build --release --locked --quiet --bin cartox
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
python3 tests/sbml_suite/run.py target/release/cartox "$SUITE" "$OUT/results.json" --jobs "${JOBS:-2}"
python3 tests/sbml_suite/check.py "$OUT/results.json" tests/sbml_suite "$@"
