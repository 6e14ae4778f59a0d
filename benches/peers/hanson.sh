#!/usr/bin/env bash
# Hanson 2016 (BIOMD0000000837) peer benchmark, all peers in one run: cartox, mrgsolve, deSolve
# (compiled C right-hand side), libRoadRunner and SciPy on the same 2,000 perturbed parameter sets
# (log-normal sd 0.1, seed 12345), 0-720 h with 200 output points, rtol 1e-6, atol 1e-9.
# The peers' scripts are ../shared/reference/peers/hanson_*.{R,py}; cartox's side is
# benches/peers/hanson.rs (`cargo bench --bench hanson_peers`).
#
# It installs what is missing: R, deSolve and mrgsolve from Debian's packages (install-mrgsolve.sh,
# as root, several minutes; not part of .ci/run), libroadrunner, scipy and numpy with pip.
# cartox's accuracy is checked against libRoadRunner at rtol 1e-12 (final B of every set) and its
# own radau5 at rtol 1e-12 (all 200 points of the first 200 sets); it stops if cartox is off by
# more than 1e-4 (the peers' own errors are printed beside it).
#
# cartox runs ROUNDS times, interleaved with the peers (before, between and after them), each
# run timing its loop over the 2,000 sets REPS times; the figure is the median of all those loops.
# Every peer script times its own loop (mrgsolve and deSolve: median of 3). The ratios
# (peer seconds / cartox seconds) use figures from this one run.
#
# Usage: benches/peers/hanson.sh [--n 2000] [--reps 3]   (about 4 minutes, most of it SciPy)
#        PEERS="mrgsolve desolve roadrunner scipy" chooses peers, CARTOX_METHODS="auto,radau5,dopri5"
#        cartox's methods.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
peers_dir=$(cd "$repo/../shared/reference/peers" && pwd)
N=2000
REPS=3
PEERS=${PEERS:-"mrgsolve desolve roadrunner scipy"}
while [ $# -gt 0 ]; do
  case $1 in
    --n) N=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    *) echo "hanson.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}

# --- install what is missing -----------------------------------------------------------------
if [[ " $PEERS " == *" mrgsolve "* || " $PEERS " == *" desolve "* ]]; then
  if ! (command -v Rscript >/dev/null && Rscript -e 'library(mrgsolve); library(deSolve)' >/dev/null 2>&1); then
    if [ "$(id -u)" != 0 ]; then
      echo "hanson.sh: R, mrgsolve and deSolve are missing; run as root so that install-mrgsolve.sh can install them" >&2
      exit 1
    fi
    bash "$peers_dir/install-mrgsolve.sh"
  fi
fi
"$PY" -c 'import numpy, scipy' 2>/dev/null || "$PY" -m pip install --quiet numpy scipy
"$PY" -c 'import roadrunner' 2>/dev/null || "$PY" -m pip install --quiet libroadrunner

# --- the workload, as CSV (sets.csv, ref_finalB.csv from libRoadRunner at rtol 1e-12) -----------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$peers_dir" && "$PY" hanson_desolve_export.py "$work" "$N")

# --- cartox's bench binary -----------------------------------------------------------------------
(cd "$repo" && cargo bench --bench hanson_peers --no-run --locked -j 1 2>"$work/build.log") ||
  { cat "$work/build.log" >&2; exit 1; }
bin=$(grep -o 'target/release/deps/hanson_peers-[0-9a-f]*' "$work/build.log" | tail -1)
[ -n "$bin" ] || bin=$(ls -t "$repo"/target/release/deps/hanson_peers-* | grep -v '\.d$' | head -1)
case $bin in /*) ;; *) bin="$repo/$bin" ;; esac

run_cartox() {
  "$bin" "$work" --reps "$REPS" --methods "${CARTOX_METHODS:-auto,radau5,dopri5}" | tee -a "$work/cartox.jsonl"
}

echo "== cartox (round 1)"
run_cartox
for p in $PEERS; do
  echo "== $p"
  case $p in
    mrgsolve) Rscript "$peers_dir/hanson_mrgsolve.R" "$N" 2>&1 | tee "$work/mrgsolve.out" ;;
    desolve) Rscript "$peers_dir/hanson_desolve.R" "$N" 2>&1 | tee "$work/desolve.out" ;;
    roadrunner) (cd "$peers_dir" && "$PY" hanson_roadrunner.py "$N") 2>&1 | tee "$work/roadrunner.out" ;;
    scipy) (cd "$peers_dir" && "$PY" hanson_scipy.py "$N") 2>&1 | tee "$work/scipy.out" ;;
    *) echo "hanson.sh: unknown peer $p" >&2; exit 2 ;;
  esac
  echo "== cartox (after $p)"
  run_cartox
done

# --- summary -----------------------------------------------------------------------------------
N=$N "$PY" - "$work" <<'EOF'
import json, os, statistics, sys
work = sys.argv[1]
def lines(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    out = []
    for l in open(path):
        l = l.strip()
        if l.startswith('{'):
            out.append(json.loads(l))
    return out
cartox = {}
errs = {}
for r in lines('cartox.jsonl'):
    cartox.setdefault(r['method'], []).extend(r['seconds_all'])
    errs[r['method']] = (r['max_rel_err_final_B_vs_roadrunner'], r['max_colscaled_err_vs_radau5_rtol1e-12_first200'])
peers = {}
for r in lines('mrgsolve.out'):
    peers['mrgsolve (lsoda, idata, one mrgsim call)'] = (r['seconds'], r.get('max_rel_err_final_B_vs_roadrunner'))
for r in lines('desolve.out'):
    if r.get('output_points') == 200 and r['method'] in ('lsoda', 'bdf', 'ode45'):
        peers['deSolve %s (compiled C)' % r['method']] = (r['seconds'], None)
for r in lines('roadrunner.out'):
    if r['label'].startswith('cvode default'):
        peers['libRoadRunner CVODE (default tolerances)'] = (r['seconds'], None)
for r in lines('scipy.out'):
    if 'method' in r:
        peers['SciPy solve_ivp %s' % r['method']] = (r['seconds'], None)
best = min(statistics.median(v) for v in cartox.values())
print('\nHanson 2016, %s sets, 0-720 h, 200 points, rtol 1e-6, atol 1e-9 (one run, shared 2-core machine)' % os.environ.get('N', ''))
print('%-44s %9s %8s  %s' % ('', 'seconds', 'sims/s', 'accuracy'))
for m, v in cartox.items():
    e = errs[m]
    print('%-44s %9.3f %8.0f  final B vs libRoadRunner rtol 1e-12: %.1e; trajectories vs radau5 rtol 1e-12: %.1e (median of %d loops)'
          % ('cartox ' + m, statistics.median(v), int(os.environ['N']) / statistics.median(v), e[0] if e[0] is not None else float('nan'), e[1], len(v)))
for k, (s, e) in peers.items():
    print('%-44s %9.3f %8.0f  %s' % (k, s, int(os.environ['N']) / s, '' if e is None else 'final B vs libRoadRunner: %s' % e))
print('\nratio peer seconds / cartox seconds (cartox method in columns):')
ms = list(cartox)
print('%-44s ' % '' + ' '.join('%9s' % m for m in ms))
for k, (s, _) in peers.items():
    print('%-44s ' % k + ' '.join('%8.1fx' % (s / statistics.median(cartox[m])) for m in ms))
bad = [m for m, e in errs.items() if (e[0] is not None and e[0] > 1e-4) or e[1] > 1e-4]
if bad:
    sys.exit('hanson.sh: cartox %s off by more than 1e-4 against the rtol 1e-12 references' % bad)
EOF
