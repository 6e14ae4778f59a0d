#!/usr/bin/env python3
"""Measurement record (issue 14, tenth session; docs/presets.md, section "Issue 14, tenth session:
the table at n = 5000 and the ICANS stage at precision"). Nothing here writes models/.

Three measurements of what the validation table says once Monte Carlo noise is small:

  table N    the bundled presets validated at n = N (default 5000; seed 1 as bundled): the within
             counts and every row whose flag differs from the n = 200 table. At n = 5000 the
             standard error of a simulated fraction is at most 0.0071 (p = 0.5).
  icans N    the ICANS stage of the calibration chain (docs/calibrate_icans.py: its loss, its
             in-sample rows, its grid) re-run at n = N instead of 200: a coordinate search from the
             shipped optimum over the script's grid (IL6_EA gets 150 between 100 and 200, k_CNS
             keeps 0.1-0.5, ke0 3-8, CART_EA 4-7, k_EA 3/10), then f_41BB_EA on the TRANSCEND rows
             (0.3-1.0) as the script's stage 2; the whole table at the result, at n = N and n = 200.
             A full grid (960 x 2 presets) at n = 5000 would take ~2 h on 2 cores; the coordinate
             search is ~60 validate runs.
  korell N   Korell 2022 (Front Immunol, doi:10.3389/fimmu.2022.877477; literature-2.md 6 [V]): in
             ZUMA-1 (n = 93) the odds ratio of grade >= 3 CRS and/or ICANS per 2-fold rise of EASIX
             before lymphodepletion was 1.72 (1.26-2.46). The model's closest covariate is the
             patient's pre-treatment endothelial activation `ea_base` (log-normal, omega2 0.3, an
             assumption): the axi-cel virtual population (`cartox population -m axi-cel --n N
             --seed 1`, run by `cartox sweep -m axi-cel`, the preset's management) gives the
             logistic-regression odds ratio per doubling of ea_base for modelled grade >= 3 CRS
             and/or ICANS, and for each alone. Not a target: EASIX (LDH x creatinine / platelets)
             is a noisy surrogate of endothelial activation, so the published odds ratio is
             attenuated by the unknown share of EASIX's spread that is not endothelial (EASIX's own
             spread in ZUMA-1 is not in the references).

Usage:
    cargo build --release
    python3 docs/measure_expectation.py table [5000]
    python3 docs/measure_expectation.py icans [5000]     # ~10 minutes on 2 cores
    python3 docs/measure_expectation.py korell [2000]
"""
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate_icans as icans  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
GRID = {"IL6_EA": [100.0, 150.0, 200.0, 300.0, 400.0], "CART_EA": [4.0, 5.0, 6.0, 7.0],
        "k_EA": [3.0, 10.0], "ke0": [3.0, 5.0, 8.0], "k_CNS": [0.1, 0.2, 0.3, 0.5]}
SHIPPED = {"IL6_EA": 200.0, "CART_EA": 6.0, "k_EA": 10.0, "ke0": 5.0, "k_CNS": 0.2}
F_41BB = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]


def validate(values, presets, n, tmp, edit=None):
    """The validation rows of `presets` on a copy of models/cartox.toml with `values` set (and
    the model text first passed through `edit`, when given)."""
    base = open(os.path.join(ROOT, "models", "cartox.toml")).read()
    if edit is not None:
        base = edit(base)
    for k, v in values.items():
        base = icans.set_param(base, k, v)
    model = os.path.join(tmp, "cartox.toml")
    open(model, "w").write(base)
    paths = []
    for p in presets:
        t = open(os.path.join(ROOT, "models", p + ".toml")).read()
        t, k = re.subn(r'(?m)^base = "cartox"', 'base = "%s"' % model, t, count=1)
        assert k == 1, p
        path = os.path.join(tmp, p + ".toml")
        open(path, "w").write(t)
        paths.append(path)
    out = subprocess.run([BIN, "validate", "--presets", ",".join(paths), "--n", str(n), "--out", "-"],
                         check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))


def bundled(n):
    out = subprocess.run([BIN, "validate", "--n", str(n), "--out", "-"], check=True,
                         capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))


def counts(rows):
    def within(sample):
        sel = [r for r in rows if sample is None or r["sample"] == sample]
        return f"{sum(r['within'] == 'yes' for r in sel)}/{len(sel)}"
    return f"all {within(None)}, in-sample {within('in')}, out-of-sample {within('out')}"


def changed(before, after):
    old = {(r["product"], r["metric"]): r for r in before}
    for r in after:
        o = old[(r["product"], r["metric"])]
        if o["within"] != r["within"]:
            print(f"  {r['product']:15s} {r['metric']:36s} {r['sample']:3s} {o['simulated']:>10.8} "
                  f"-> {r['simulated']:>10.8} [{r['low']}-{r['high']}] {o['within']} -> {r['within']}")


def table(n):
    ref, rows = bundled(200), bundled(n)
    print(f"n = 200:  {counts(ref)}\nn = {n}: {counts(rows)}\nrows whose flag differs:")
    changed(ref, rows)


def loss_of(rows, targets):
    res = {(r["product"], r["metric"]): float(r["simulated"] or "nan") for r in rows}
    return icans.loss(res, targets)


def coordinate_search(loss, start=None):
    """From `start` (the shipped ICANS values), move one parameter at a time to a neighbour on
    its GRID while that lowers `loss`; returns the values reached and their loss."""
    cur = dict(SHIPPED if start is None else start)
    best = loss(cur)
    moved = True
    while moved:
        moved = False
        for k, grid in GRID.items():
            i = grid.index(cur[k])
            for j in (i - 1, i + 1):
                if 0 <= j < len(grid):
                    v = dict(cur, **{k: grid[j]})
                    if loss(v) < best - 1e-12:
                        cur, best, moved = v, loss(v), True
    return cur, best


def icans_stage(n):
    with tempfile.TemporaryDirectory() as tmp:
        cache = {}

        def stage1(v):
            key = json.dumps(v, sort_keys=True)
            if key not in cache:
                cache[key] = loss_of(validate(v, ["axi-cel", "ide-cel"], n, tmp), icans.ZUMA_KARMMA)
                print(f"  {v} loss {cache[key]:.3f}", flush=True)
            return cache[key]

        cur, best = coordinate_search(stage1)
        scored = []
        for f in F_41BB:
            rows = validate(dict(cur, f_41BB_EA=f), ["liso-cel"], n, tmp)
            scored.append((loss_of(rows, icans.TRANSCEND), f))
            print(f"  f_41BB_EA {f}: TRANSCEND loss {scored[-1][0]:.3f}", flush=True)
        result = dict(cur, f_41BB_EA=min(scored)[1])
        print(f"stage 1 loss {best:.3f} (shipped values: {stage1(SHIPPED):.3f}); result {result}")
        for m in sorted({n, 200}, reverse=True):
            rows = validate(result, icans.PRESETS, m, tmp)
            print(f"at n = {m}: {counts(rows)} (bundled: {counts(bundled(m))}); rows whose flag changes:")
            changed(bundled(m), rows)


def logistic(x, y):
    """Odds ratio per unit of x and its Wald 95% interval (Newton-Raphson, two parameters)."""
    a = b = 0.0
    for _ in range(60):
        g0 = g1 = h00 = h01 = h11 = 0.0
        for xi, yi in zip(x, y):
            p = 1.0 / (1.0 + math.exp(-(a + b * xi)))
            w = p * (1.0 - p)
            g0 += yi - p
            g1 += (yi - p) * xi
            h00 += w
            h01 += w * xi
            h11 += w * xi * xi
        det = h00 * h11 - h01 * h01
        a += (h11 * g0 - h01 * g1) / det
        b += (-h01 * g0 + h00 * g1) / det
    se = math.sqrt(h00 / det)
    return math.exp(b), math.exp(b - 1.96 * se), math.exp(b + 1.96 * se)


def korell(n):
    with tempfile.TemporaryDirectory() as tmp:
        pop, res = os.path.join(tmp, "pop.csv"), os.path.join(tmp, "res.csv")
        subprocess.run([BIN, "population", "-m", "axi-cel", "--n", str(n), "--seed", "1", "--out", pop],
                       check=True, capture_output=True)
        subprocess.run([BIN, "sweep", "-m", "axi-cel", "--params", pop, "--quiet", "--out", res],
                       check=True, capture_output=True)
        ea = {r["ID"]: float(r["ea_base"]) for r in csv.DictReader(open(pop))}
        rows = [r for r in csv.DictReader(open(res)) if r["status"] == "ok"]
    x = [math.log2(ea[r["ID"]]) for r in rows]
    grade = lambda r, k: float(r[k] or 0)  # noqa: E731
    sd = math.sqrt(sum((v - sum(x) / len(x)) ** 2 for v in x) / len(x))
    print(f"axi-cel, n = {len(rows)} ok runs; SD of log2 ea_base {sd:.3f}")
    for name, pred in [("grade >= 3 CRS and/or ICANS", lambda r: grade(r, "crs_grade") >= 3 or grade(r, "icans_grade") >= 3),
                       ("grade >= 3 CRS", lambda r: grade(r, "crs_grade") >= 3),
                       ("grade >= 3 ICANS", lambda r: grade(r, "icans_grade") >= 3)]:
        y = [1.0 if pred(r) else 0.0 for r in rows]
        o, lo, hi = logistic(x, y)
        print(f"  {name:28s} incidence {sum(y) / len(y):.3f}; odds ratio per doubling of ea_base "
              f"{o:.2f} ({lo:.2f}-{hi:.2f}); Korell 2022 per doubling of EASIX: 1.72 (1.26-2.46)")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "table"
    arg = int(sys.argv[2]) if len(sys.argv) > 2 else (2000 if what == "korell" else 5000)
    {"table": table, "icans": icans_stage, "korell": korell}[what](arg)
