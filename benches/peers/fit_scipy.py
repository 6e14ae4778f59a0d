#!/usr/bin/env python3
"""Peer check: the same fits with SciPy's least_squares vs `cartox fit`, in one run.

Usage: python3 benches/peers/fit_scipy.py [--patients 20] [--cartox target/release/cartox]

Model: Stein 2019 (bundled `stein2019`), written here in its closed form (the bundled ODEs equal it
exactly): C(t) = Cmax/foldx exp(ln(foldx)/Tmax t) before Tmax, Cmax ((1-FB) exp(-alpha (t-Tmax))
+ FB exp(-beta (t-Tmax))) after; foldx = 3900 and Tmax = 9.3 days fixed. Data: `--patients`
patients sampled on 14 days over a year, each from its own parameters (log-normal around the
typical values) with exponential residual error (SD 0.3 on the log scale), seed 2026.

Each patient is fitted by both, from the same start (the typical values), for Cmax, alpha, FB,
beta with an exponential error model (its SD estimated):
  * cartox: `cartox fit --error exponential --starts 1 --jobs 1`
  * SciPy: least_squares(method="lm") on ln(DV) - ln C(t), parameters on the log scale; the
    residual variance is its ML value SSR/n, so -2LL = n ln(2 pi SSR/n) + n.
It prints both -2LL per patient, the largest relative difference (must be < 1e-6) and the time per
fit of each (cartox: wall time of the command / patients, process start included).

Then the same data with values below 20 copies/ug written as BLQ rows (LLOQ 20) are fitted with the
exponential, proportional and combined error models, M3 likelihood: `cartox fit` (default 4 starts)
against scipy.optimize.minimize (BFGS from the typical values, residual SD 0.3; for the combined
model from cartox's three residual starts) on the full -2LL with norm.logcdf for the censored rows. Exit status 1 when any difference exceeds 1e-6. Installs
scipy with pip if missing.
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time


def ensure_scipy():
    try:
        import scipy  # noqa: F401
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "scipy", "numpy"]
        if subprocess.call(cmd) != 0:
            subprocess.check_call(cmd + ["--break-system-packages"])


ensure_scipy()
import numpy as np  # noqa: E402
from scipy.optimize import least_squares, minimize  # noqa: E402
from scipy.stats import norm  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDX, TMAX = 3900.0, 9.3
TYPICAL = {"Cmax": 24000.0, "alpha": 0.16, "FB": 0.0079, "beta": 0.0032}
NAMES = list(TYPICAL)
DAYS = [1, 3, 5, 7, 9, 11, 14, 21, 28, 56, 90, 180, 270, 365]
SIGMA = 0.3


def stein(t, cmax, alpha, fb, beta):
    t = np.asarray(t, dtype=float)
    rho = math.log(FOLDX) / TMAX
    early = cmax / FOLDX * np.exp(rho * t)
    late = cmax * ((1 - fb) * np.exp(-alpha * (t - TMAX)) + fb * np.exp(-beta * (t - TMAX)))
    return np.where(t < TMAX, early, late)


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(1, n + 1):
        theta = {k: v * math.exp(rng.normal(0, 0.3)) for k, v in TYPICAL.items()}
        theta["FB"] = min(theta["FB"], 0.5)
        f = stein(DAYS, *[theta[k] for k in NAMES])
        y = f * np.exp(rng.normal(0, SIGMA, len(DAYS)))
        rows += [(pid, d, float(v)) for d, v in zip(DAYS, y)]
    return rows


def scipy_fit(t, y):
    t, ly = np.asarray(t, float), np.log(np.asarray(y, float))
    x0 = np.log([TYPICAL[k] for k in NAMES])

    def resid(x):
        return ly - np.log(stein(t, *np.exp(x)))

    r = least_squares(resid, x0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
    n = len(t)
    ssr = float(np.sum(r.fun ** 2))
    return n * math.log(2 * math.pi * ssr / n) + n, np.exp(r.x)


def m3_fit(t, y, blq, error):
    """-2LL with M3 censoring minimised by scipy.optimize.minimize (BFGS), log parameters."""
    t, y, blq = np.asarray(t, float), np.asarray(y, float), np.asarray(blq, bool)
    q = 2 if error == "combined" else 1

    def ofv(x):
        f = stein(t, *np.exp(x[:4]))
        s = np.exp(x[4:])
        if error == "exponential":
            mu, obs, v = np.log(f), np.log(y), np.full_like(f, s[0] ** 2)
        elif error == "proportional":
            mu, obs, v = f, y, (s[0] * f) ** 2
        else:
            mu, obs, v = f, y, s[0] ** 2 + (s[1] * f) ** 2
        sd = np.sqrt(v)
        seen = ~blq
        total = np.sum((obs[seen] - mu[seen]) ** 2 / v[seen] + np.log(v[seen]) + math.log(2 * math.pi))
        total += np.sum(-2 * norm.logcdf((obs[blq] - mu[blq]) / sd[blq]))
        return float(total)

    u0 = np.log([TYPICAL[k] for k in NAMES])
    if q == 1:
        starts = [np.concatenate([u0, np.log([0.3])])]
    else:
        # the same strategy as cartox: residual starts from the residuals at the typical values
        # (add_sd = 0.1 x their RMS, prop_cv = RMS of the relative ones), then each component
        # x e^-5 (the likelihood has minima inside and where one component vanishes)
        f0 = stein(t, *np.exp(u0))
        seen = ~blq
        a0 = 0.1 * math.sqrt(np.mean((y[seen] - f0[seen]) ** 2))
        b0 = math.sqrt(np.mean(((y[seen] - f0[seen]) / f0[seen]) ** 2))
        starts = [np.concatenate([u0, np.log([a0 * c, b0 * d])])
                  for c, d in ((1, 1), (math.exp(-5), 1), (1, math.exp(-5)))]
    best = math.inf
    for x0 in starts:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            r = minimize(ofv, x0, method="BFGS", options={"gtol": 1e-9, "maxiter": 20000})
        best = min(best, r.fun)
    return best


def compare_censored(a, rows, error, lloq):
    """cartox fit vs scipy minimize on -2LL with BLQ rows below `lloq` (M3)."""
    cens = [(p, t, v, v < lloq) for p, t, v in rows]
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "stein_blq.csv")
        with open(data, "w") as fh:
            fh.write("ID,TIME,DV,OBS,BLQ,LLOQ\n")
            for p, t, v, b in cens:
                fh.write(f"{p},{t},{lloq if b else v!r},C,{int(b)},{lloq}\n")
        out = os.path.join(d, "est.csv")
        t0 = time.perf_counter()
        subprocess.check_call([a.cartox, "fit", "--model", "stein2019", "--data", data,
                               "--estimate", ",".join(NAMES), "--error", error,
                               "--jobs", "1", "--quiet", "--out", out])
        t_cartox = (time.perf_counter() - t0) / a.patients
        with open(out) as fh:
            est = {r["ID"]: r for r in csv.DictReader(fh)}
    worst, t_scipy, n_blq = 0.0, 0.0, sum(c[3] for c in cens)
    for pid in range(1, a.patients + 1):
        mine = [c for c in cens if c[0] == pid]
        t0 = time.perf_counter()
        ofv = m3_fit([c[1] for c in mine], [lloq if c[3] else c[2] for c in mine],
                     [c[3] for c in mine], error)
        t_scipy += time.perf_counter() - t0
        got = float(est[str(pid)]["ofv"])
        rel = abs(got - ofv) / max(abs(ofv), 1.0)
        if rel > 1e-6:
            print(f"  ID {pid}: cartox {got:.9f} ({est[str(pid)]['status']}), SciPy {ofv:.9f}")
        worst = max(worst, rel)
    t_scipy /= a.patients
    print(f"{error} error, BLQ below {lloq} ({n_blq} of {len(cens)} rows censored, M3): largest "
          f"relative difference of -2LL {worst:.2e}; time per fit: cartox {1e3 * t_cartox:.1f} ms "
          f"(default starts: 4, combined 6), SciPy BFGS {1e3 * t_scipy:.1f} ms")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--cartox", default=os.path.join(ROOT, "target", "release", "cartox"))
    a = ap.parse_args()
    rows = simulate(a.patients, 2026)
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "stein.csv")
        with open(data, "w") as fh:
            fh.write("ID,TIME,DV,OBS\n")
            for pid, t, v in rows:
                fh.write(f"{pid},{t},{v!r},C\n")
        out = os.path.join(d, "est.csv")
        t0 = time.perf_counter()
        subprocess.check_call([a.cartox, "fit", "--model", "stein2019", "--data", data,
                               "--estimate", ",".join(NAMES), "--error", "exponential",
                               "--starts", "1", "--jobs", "1", "--quiet", "--out", out])
        t_cartox = (time.perf_counter() - t0) / a.patients
        with open(out) as fh:
            est = {r["ID"]: r for r in csv.DictReader(fh)}
    worst = 0.0
    t_scipy = 0.0
    print(f"{'ID':>3} {'-2LL cartox':>16} {'-2LL SciPy':>16} {'rel. diff':>10}  status")
    for pid in range(1, a.patients + 1):
        t = [r[1] for r in rows if r[0] == pid]
        y = [r[2] for r in rows if r[0] == pid]
        t0 = time.perf_counter()
        ofv, _ = scipy_fit(t, y)
        t_scipy += time.perf_counter() - t0
        r = est[str(pid)]
        mine = float(r["ofv"]) if r["ofv"] else float("nan")
        rel = abs(mine - ofv) / max(abs(ofv), 1.0)
        worst = max(worst, rel) if not math.isnan(rel) else float("inf")
        print(f"{pid:>3} {mine:>16.9f} {ofv:>16.9f} {rel:>10.2e}  {r['status']}")
    t_scipy /= a.patients
    print(f"largest relative difference of -2LL: {worst:.2e} (limit 1e-6)")
    print(f"time per fit: cartox {1e3 * t_cartox:.1f} ms (ODE solves, finite-difference Jacobian, "
          f"process start included), SciPy {1e3 * t_scipy:.1f} ms (closed form)")
    for error in ("exponential", "proportional", "combined"):
        worst = max(worst, compare_censored(a, rows, error, 20.0))
    return 0 if worst < 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
