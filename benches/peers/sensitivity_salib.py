#!/usr/bin/env python3
"""Peer check: `cartox sensitivity` against SALib (+ SciPy solving the same model), in one run.

Usage: python3 benches/peers/sensitivity_salib.py [--n 256] [--trajectories 20]
                                                  [--cartox target/release/cartox]

Model: the default model `cartox`, interventions off (the SciPy translation has no event
triggers), output cart_cmax (peak CAR-T in blood), four parameters varied log-uniformly over
value x/÷ 1.5 (k_act, rho_E, delta_E, beta).

1. Same design, same outputs: `cartox sensitivity --method sobol --design d.csv` writes its
   Saltelli design (SALib's row order: A, AB_1..AB_k, B) and each row's cart_cmax; SALib's
   `sobol.analyze` runs on those outputs. The estimators are the same (Saltelli 2010 S1,
   Jansen ST), so the indices must agree to rounding; each tool's value must lie in the other's
   95% bootstrap interval. Same for Morris (`morris.analyze` on cartox's trajectories, in the
   unit cube: SALib's elementary effects are per unit of the scaled range, as cartox's).
2. Independent design: SALib's own Sobol'-sequence Saltelli sample (`sample.sobol`, same N),
   each row solved with SciPy's solve_ivp (LSODA, rtol 1e-6, atol 1e-9, 28 d on a 0.1 d grid,
   cart_cmax = grid maximum), analysed by SALib: its S1/ST must lie in cartox's bootstrap CIs
   (and cartox's in SALib's), two estimates of the same indices from different samples.
3. Time per 1,000 model evaluations: `cartox sensitivity --jobs 1` (design + runs + bootstrap)
   vs SALib sample + SciPy solves + SALib analyze, one core each.

Installs SALib, SciPy and NumPy with pip if missing.
"""
import argparse
import importlib.metadata
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def ensure(pkgs):
    missing = []
    for mod, pkg in pkgs:
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", *missing]
        if subprocess.call(cmd) != 0:
            subprocess.check_call(cmd + ["--break-system-packages"])


ensure([("SALib", "SALib"), ("scipy", "scipy"), ("numpy", "numpy")])
import numpy as np  # noqa: E402
from SALib.analyze import morris as morris_analyze  # noqa: E402
from SALib.analyze import sobol as sobol_analyze  # noqa: E402
from SALib.sample import sobol as sobol_sample  # noqa: E402
from scipy_sweep import ROOT, PyModel, scipy_sweep  # noqa: E402

PARAMS = ["k_act", "rho_E", "delta_E", "beta"]
SPREAD = 1.5


def read_indices(path):
    out = {}
    with open(path) as f:
        f.readline()
        for line in f:
            o, p, i, v, lo, hi, n = line.strip().split(",")
            out[(p, i)] = (float(v), float(lo or "nan"), float(hi or "nan"), int(n))
    return out


def read_design(path, k):
    X, Y = [], []
    with open(path) as f:
        f.readline()
        for line in f:
            c = line.strip().split(",")
            X.append([float(x) for x in c[1:1 + k]])
            Y.append(float(c[1 + k]) if c[1 + k] else float("nan"))
    return np.array(X), np.array(Y)


def run_cartox(cartox, method, n, out, design, ranges, extra=()):
    cmd = [cartox, "sensitivity", "--method", method, "--params", ",".join(PARAMS),
           "--ranges", ranges, "--outputs", "cart_cmax", "--n", str(n), "--seed", "2026",
           "--no-interventions", "--jobs", "1", "-q", "--out", out, "--design", design, *extra]
    t0 = time.perf_counter()
    subprocess.check_call(cmd)
    return time.perf_counter() - t0


def inside(x, lo, hi):
    return lo <= x <= hi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256, help="Sobol base rows (a power of 2)")
    ap.add_argument("--trajectories", type=int, default=20)
    ap.add_argument("--cartox", default=os.path.join(ROOT, "target", "release", "cartox"))
    a = ap.parse_args()
    if not os.path.exists(a.cartox):
        subprocess.check_call(["cargo", "build", "--release", "-j", "1"], cwd=ROOT)
    model = PyModel("cartox")
    lo = {p: model.params[p] / SPREAD for p in PARAMS}
    hi = {p: model.params[p] * SPREAD for p in PARAMS}
    ranges = ",".join(f"{p}=log:{lo[p]!r}:{hi[p]!r}" for p in PARAMS)
    k = len(PARAMS)
    # SALib works on ln(p), uniform: the same log-uniform ranges
    problem = {"num_vars": k, "names": PARAMS,
               "bounds": [[math.log(lo[p]), math.log(hi[p])] for p in PARAMS]}
    unit = {"num_vars": k, "names": PARAMS, "bounds": [[0.0, 1.0]] * k}
    tmp = tempfile.mkdtemp()

    # ---- 1. Sobol, same design and outputs
    ix_path, d_path = os.path.join(tmp, "ix.csv"), os.path.join(tmp, "d.csv")
    t_rs = run_cartox(a.cartox, "sobol", a.n, ix_path, d_path, ranges)
    ix = read_indices(ix_path)
    X, Y = read_design(d_path, k)
    n_eval = len(Y)
    sal = sobol_analyze.analyze(problem, Y, calc_second_order=False, num_resamples=1000,
                                seed=1)
    print(f"Sobol, cartox design (N = {a.n}, {n_eval} runs), output cart_cmax, SALib "
          f"{importlib.metadata.version('SALib')}")
    print(f"{'param':<8} {'idx':<3} {'cartox':>9} {'cartox 95% CI':>20} {'SALib':>9} "
          f"{'SALib +-conf':>9} {'|diff|':>9}  each in other's CI")
    ok_same = True
    for i, p in enumerate(PARAMS):
        for idx, key in (("S1", "S1"), ("ST", "ST")):
            v, l, h, _ = ix[(p, idx)]
            s, c = sal[key][i], sal[key + "_conf"][i]
            both = inside(s, l, h) and inside(v, s - c, s + c)
            ok_same &= both and abs(v - s) < 1e-9
            print(f"{p:<8} {idx:<3} {v:>9.4f} [{l:>8.4f}, {h:>8.4f}] {s:>9.4f} {c:>9.4f} "
                  f"{abs(v - s):>9.1e}  {'yes' if both else 'NO'}")

    # ---- Morris, same trajectories
    mix, md = os.path.join(tmp, "mix.csv"), os.path.join(tmp, "md.csv")
    run_cartox(a.cartox, "morris", a.trajectories, mix, md, ranges)
    mi = read_indices(mix)
    MX, MY = read_design(md, k)
    U = np.column_stack([(np.log(MX[:, i]) - problem["bounds"][i][0]) /
                         (problem["bounds"][i][1] - problem["bounds"][i][0]) for i in range(k)])
    U = np.round(U * 3) / 3  # the 4-level grid, exactly
    mres = morris_analyze.analyze(unit, U, MY, num_levels=4, num_resamples=1000, seed=1)
    print(f"\nMorris, cartox trajectories (r = {a.trajectories}, 4 levels)")
    print(f"{'param':<8} {'cartox mu*':>11} {'SALib mu*':>11} {'cartox sigma':>13} "
          f"{'SALib sigma':>12}")
    for i, p in enumerate(PARAMS):
        cm, cs = mi[(p, "mu_star")][0], mi[(p, "sigma")][0]
        sm, ss = mres["mu_star"][i], mres["sigma"][i]
        ok_same &= abs(cm - sm) <= 1e-9 * max(1.0, abs(sm)) and abs(cs - ss) <= 1e-9 * max(1.0, abs(ss))
        print(f"{p:<8} {cm:>11.4f} {sm:>11.4f} {cs:>13.4f} {ss:>12.4f}")

    # ---- 2. SALib's own design, solved by SciPy
    t0 = time.perf_counter()
    LX = sobol_sample.sample(problem, a.n, calc_second_order=False, seed=1)
    rows = [dict(zip(PARAMS, np.exp(x))) for x in LX]
    res = scipy_sweep(model, rows)
    YP = np.array([r[0] if r else np.nan for r in res])
    sal2 = sobol_analyze.analyze(problem, YP, calc_second_order=False, num_resamples=1000,
                                 seed=1)
    t_py = time.perf_counter() - t0
    print(f"\nSobol, SALib's Sobol'-sequence design solved by SciPy LSODA (N = {a.n}, "
          f"{len(YP)} runs) vs cartox (its own Monte Carlo design)")
    print(f"{'param':<8} {'idx':<3} {'SALib+SciPy':>11} {'+-conf':>8} {'cartox':>9} "
          f"{'cartox 95% CI':>20}  SALib in cartox CI / cartox in SALib CI / |diff| <= "
          f"combined 95%")
    ok_indep = True
    for i, p in enumerate(PARAMS):
        for idx in ("S1", "ST"):
            v, l, h, _ = ix[(p, idx)]
            s, c = sal2[idx][i], sal2[idx + "_conf"][i]
            # two independent estimates: their difference has half-width sqrt(a^2 + b^2)
            half = max(v - l, h - v)
            comb = abs(v - s) <= math.hypot(half, c) + 1e-12
            ok_indep &= comb
            yn = lambda b: "yes" if b else "no"  # noqa: E731
            print(f"{p:<8} {idx:<3} {s:>11.4f} {c:>8.4f} {v:>9.4f} [{l:>8.4f}, {h:>8.4f}]  "
                  f"{yn(inside(s, l, h)):>3} / {yn(inside(v, s - c, s + c)):>3} / {yn(comb)}")

    print(f"\nTime per 1,000 model evaluations (one core): cartox {1000 * t_rs / n_eval:.3f} s "
          f"({n_eval} runs incl. design and 1000 bootstrap resamples); SALib + SciPy "
          f"{1000 * t_py / len(YP):.3f} s ({len(YP)} runs incl. sampling and analysis); "
          f"ratio {(t_py / len(YP)) / (t_rs / n_eval):.0f}x")
    print(f"same design: {'agree' if ok_same else 'DISAGREE'}; independent designs: "
          f"{'every difference within the combined 95% interval' if ok_indep else 'some difference beyond the combined 95% interval'}")
    sys.exit(0 if ok_same else 1)


if __name__ == "__main__":
    main()
