#!/usr/bin/env python3
"""Peer benchmark: the same sweep with SciPy's solve_ivp (LSODA) vs `cartox sweep`, in one run.

Usage: python3 benches/peers/scipy_sweep.py [--rows 300] [--cartox target/release/cartox]

For each model (kimmel2021 and, when bundled, the default model `cartox`) it builds one sweep
input (kimmel2021: rho_C and r_B varied; default model: a `cartox population`), solves every row
with solve_ivp(method="LSODA", rtol=1e-6, atol=1e-9, t_eval = 0, 0.1, ..., 28) in one process
and with `cartox sweep --jobs 1` on the same file, and prints rows/s for both and the ratio.

The model file is translated to Python generically (parameters, initial expressions, assignments in
dependency order, equations, observables; regimen: one day-0 infusion of dose_per_kg x weight or
dose into dose_state x dose_factor, tumor_burden x tumor_factor, the default lymphodepletion).
Models with breakpoints or schedules are outside this script. Installs scipy with pip if missing.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "tomli"])
    import tomli as tomllib


def ensure_scipy():
    try:
        import scipy  # noqa: F401
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "scipy", "numpy"]
        if subprocess.call(cmd) != 0:
            subprocess.check_call(cmd + ["--break-system-packages"])


ensure_scipy()
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FUNCS = {"ln": "math.log", "log": "math.log", "log10": "math.log10", "exp": "math.exp",
         "sqrt": "math.sqrt", "abs": "abs", "min": "min", "max": "max", "pow": "pow",
         "floor": "math.floor", "ceil": "math.ceil", "if": "_if", "pi": "math.pi"}


def _if(c, a, b):
    return a if c else b


def py(expr):
    """cartox expression -> Python expression."""
    e = str(expr).replace("^", "**").replace("&&", " and ").replace("||", " or ")
    e = re.sub(r"!(?!=)", " not ", e)
    return re.sub(r"\b([A-Za-z_]\w*)\b(?=\s*\()|\bpi\b",
                  lambda m: FUNCS.get(m.group(1) or m.group(0), m.group(0)), e)


class PyModel:
    def __init__(self, name):
        with open(os.path.join(ROOT, "models", f"{name}.toml"), "rb") as f:
            m = tomllib.load(f)
        if m["model"].get("breakpoints"):
            raise SystemExit(f"{name}: breakpoints are not supported by this script")
        self.name = name
        self.per_day = {"day": 1.0, "hour": 24.0}[m["model"]["time_unit"]]
        self.params = {p["name"]: p["value"] for p in m.get("parameters", [])}
        self.states = [s["name"] for s in m["states"]]
        self.init = [s["initial"] for s in m["states"]]
        # assignments in dependency order
        pending = {a["name"]: py(a["expr"]) for a in m.get("assignments", [])}
        order = []
        while pending:
            ready = [n for n, e in pending.items()
                     if not any(w in pending for w in re.findall(r"[A-Za-z_]\w*", e))]
            if not ready:
                raise SystemExit("cyclic assignments")
            for n in ready:
                order.append((n, pending.pop(n)))
        self.obs = [(o["name"], py(o["expr"])) for o in m.get("observables", [])]
        body = ["def rhs(t, y, p):"]
        body += [f"    {s} = y[{i}]" for i, s in enumerate(self.states)]
        body += [f"    {k} = p[{k!r}]" for k in self.params]
        body += [f"    {n} = {e}" for n, e in order]
        body.append("    return [" + ", ".join(py(m["equations"][s]) for s in self.states) + "]")
        body.append("def obs(t, y, p):")
        body += [f"    {s} = y[{i}]" for i, s in enumerate(self.states)]
        body += [f"    {k} = p[{k!r}]" for k in self.params]
        body += [f"    {n} = {e}" for n, e in order]
        body.append("    return {" + ", ".join(f"{n!r}: {e}" for n, e in self.obs) + "}")
        ns = {"math": math, "_if": _if}
        exec("\n".join(body), ns)
        self.rhs, self.observe = ns["rhs"], ns["obs"]
        self.regimen = m.get("regimen")
        self.ld = m.get("lymphodepletion", {})
        self.summary = m.get("summary", {})

    def value(self, name, y, p):
        if name in self.states:
            return y[self.states.index(name)]
        return self.observe(0.0, y, p)[name]

    def initial(self, p, row):
        env = dict(p, math=math, _if=_if)
        y = [float(eval(py(x), env)) for x in self.init]
        for i, s in enumerate(self.states):
            if f"{s}_0" in row:
                y[i] = row[f"{s}_0"]
        r = self.regimen
        if r:
            if r.get("tumor_state") and r.get("tumor_burden", row.get("tumor_burden")):
                tb = row.get("tumor_burden", r.get("tumor_burden"))
                y[self.states.index(r["tumor_state"])] = tb * eval(py(r.get("tumor_factor", "1")), env)
            ld = row.get("ld", r.get("ld"))
            if ld:
                env2 = dict(env, **dict(zip(self.states, y)))
                for s, e in self.ld[ld].get("initial", {}).items():
                    y[self.states.index(s)] = float(eval(py(e), env2))
            w = row.get("weight", r.get("weight"))
            if "dose" in row:
                dose = row["dose"]
            elif "dose_per_kg" in row or r.get("dose") is None:
                dose = row.get("dose_per_kg", r.get("dose_per_kg", 0)) * w
            else:
                dose = r["dose"]
            y[self.states.index(r["dose_state"])] += dose * eval(py(r.get("dose_factor", "1")), env)
        return y


def scipy_sweep(model, rows, days=28.0, dt=0.1):
    grid = np.append(np.arange(0, round(days / dt)) * dt, days)
    out = []
    for row in rows:
        p = dict(model.params)
        p.update({k: v for k, v in row.items() if k in p})
        y0 = model.initial(p, row)
        sol = solve_ivp(lambda t, y: model.rhs(t, y, p), (0, days * model.per_day), y0,
                        method="LSODA", rtol=1e-6, atol=1e-9, t_eval=grid * model.per_day)
        if not sol.success:
            out.append(None)
            continue
        cart = [model.value(model.summary["cart"], sol.y[:, k], p) for k in range(len(grid))]
        k = int(np.argmax(cart))
        out.append((cart[k], grid[k]))
    return out


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = []
        for line in f:
            cells = line.strip().split(",")
            rows.append({h: (c if h == "ld" else float(c)) for h, c in zip(header, cells) if h != "ID"})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--cartox", default=os.path.join(ROOT, "target", "release", "cartox"))
    a = ap.parse_args()
    if not os.path.exists(a.cartox):
        subprocess.check_call(["cargo", "build", "--release", "-j", "1"], cwd=ROOT)
    tmp = tempfile.mkdtemp()
    names = ["kimmel2021"]
    if os.path.exists(os.path.join(ROOT, "models", "cartox.toml")):
        names.append("cartox")
    print(f"{'model':<12} {'rows':>6} {'scipy rows/s':>13} {'cartox rows/s':>14} {'ratio':>8}  (1 core each, LSODA vs dopri5, rtol 1e-6 atol 1e-9, 28 d, dt 0.1)")
    for name in names:
        inp = os.path.join(tmp, f"{name}.csv")
        if name == "kimmel2021":
            with open(inp, "w") as f:
                f.write("ID,rho_C,r_B\n")
                for i in range(a.rows):
                    f.write(f"{i+1},{0.0251 * (0.5 + (i % 17) / 17)},{0.01 * (1 + i % 5)}\n")
        else:
            subprocess.check_call([a.cartox, "population", "--n", str(a.rows), "--seed", "1",
                                   "-m", name, "--out", inp])
        model = PyModel(name)
        rows = read_csv(inp)
        t0 = time.perf_counter()
        res = scipy_sweep(model, rows)
        t_py = time.perf_counter() - t0
        out = os.path.join(tmp, f"{name}.out.csv")
        t0 = time.perf_counter()
        subprocess.check_call([a.cartox, "sweep", "-q", "--jobs", "1", "-m", name, "--params", inp,
                               "--out", out])
        t_rs = time.perf_counter() - t0
        # Agreement check on cart_cmax (grid maximum vs cartox's dense maximum).
        with open(out) as f:
            hdr = f.readline().strip().split(",")
            ci = hdr.index("cart_cmax")
            cm = [float(line.split(",")[ci]) for line in f]
        errs = [abs(r[0] - c) / c for r, c in zip(res, cm) if r and c]
        n = len(rows)
        print(f"{name:<12} {n:>6} {n / t_py:>13.0f} {n / t_rs:>14.0f} {t_py / t_rs:>7.1f}x"
              f"  cart_cmax max rel. diff {max(errs):.1e} (grid vs dense peak)")


if __name__ == "__main__":
    main()
