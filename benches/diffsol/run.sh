#!/usr/bin/env bash
# diffsol (BDF, TR-BDF2, ESDIRK34, Tsit45) against cartox's auto, radau5 and `--method bdf`
# (differential-equations) on cartox's compiled models with cartox's analytic Jacobian
# (issue 12, item 2; results in docs/solvers.md, "diffsol comparison").
#
# benches/diffsol is its own crate (own Cargo.lock), outside the main build, so CI never compiles
# diffsol. It shares the worktree's target/ (CARGO_TARGET_DIR) to reuse the cranelift build.
#
# Workloads:
#   hanson: the 2,000 perturbed Hanson 2016 sets of benches/peers/hanson.rs (0-720 h, 200 points,
#           rtol 1e-6, atol 1e-9); the inputs and libRoadRunner's rtol 1e-12 final B come from
#           ../shared/reference/peers/hanson_desolve_export.py (it needs numpy and libroadrunner:
#           pip-installed here when missing).
#   sbml:   the 12 SBML files with libRoadRunner references in tests/data, rtol 1e-6 and 1e-10.
#
# Usage: benches/diffsol/run.sh [--reps 5] [--jobs 1]   (about 3 minutes after the build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
REPS=5
JOBS=1
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo/benches/diffsol" && cargo build --release --locked -j "$JOBS")
bin=$CARGO_TARGET_DIR/release/cartox-diffsol-bench

if ! "$PY" -c 'import numpy, roadrunner' 2>/dev/null; then
  "$PY" -m pip install --quiet numpy libroadrunner
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo/../shared/reference/peers" && "$PY" hanson_desolve_export.py "$work" 2000 >/dev/null)

echo "# diffsol comparison, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores (shared machine: other builds may run)"
echo
"$bin" hanson "$work" --reps "$REPS" \
  --methods auto,radau5,bdf,diffsol-bdf,diffsol-bdf-hermite,diffsol-trbdf2,diffsol-esdirk34,diffsol-tsit45
echo
"$bin" sbml "$repo/../shared/reference" "$repo/tests/data" --reps "$REPS" \
  --methods auto,radau5,bdf,diffsol-bdf,diffsol-bdf-hermite,diffsol-trbdf2,diffsol-esdirk34
