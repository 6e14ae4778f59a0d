#!/usr/bin/env python3
"""Issue 14, eleventh session: does severe CRS need an endothelial component? (docs/presets.md,
section "Issue 14, eleventh session: endothelial CRS severity (before / after)").

Hypothesis (Hay 2017 Blood 130:2295, literature.md 3: severe CRS = haemodynamic instability,
capillary leak and consumptive coagulopathy, with angiopoietin-2 and vWF raised, including before
lymphodepletion; Korell 2022, literature-2.md 6 [V]: EASIX before LD, OR 1.72 (1.26-2.46) per
2-fold rise for grade >= 3 CRS and/or ICANS in ZUMA-1): the graded CRS severity is the cytokine
drive times the patient's endothelial vulnerability,

    crs_drive = S * ea_base^gamma_CRS

ea_base = the patient's pre-treatment endothelial activation (models/cartox.toml, 1 = healthy,
log-normal IIV omega2 0.3, the covariate that already sets ICANS risk). The pre-treatment value,
not the running EA: EA rises with IL-6 (IL6_EA) and, for CD19 products, with CAR-T at the brain's
vessels, so S x EA^gamma would make the drive steeper in IL-6 / tumour burden (the tenth session
found the drive already too steep in burden) and would let the CNS route grade CRS; ea_base is the
drive-independent patient factor the eighth session's ignition analysis asked for. gamma_CRS = 0
is the shipped model (the typical patient, ea_base 1, is unchanged for every gamma).

Nothing here is written to models/: every run is on copies (a temporary models/cartox.toml with
`gamma_CRS` and the edited observable, presets re-based on it), as docs/measure_expectation.py.

For each gamma on the grid:
  1. The CRS thresholds (models/cartox.toml [toxicity.crs]) refitted by their own rule
     (docs/toxicity.md "How the CRS thresholds were calibrated"): axi-cel population, n = 200,
     seed 1, interventions on; grade 1 kept at 12 (its joint loss any-grade 94% + onset 2 d is
     reported); grade 2 first, the value (0.5 pg/mL steps, bisection) whose tocilizumab use (=
     grade >= 2) is nearest ZUMA-1's 43%; then grade 3 nearest grade >= 3 13%; then grade 4
     nearest grade 4 4% (from the sweep). The Penn-scale presets' thresholds follow the base ones
     by their structural rule (tisa-cel-*.toml: [t1, sqrt(t1 t2), t2, t4]).
  2. Korell check: axi-cel population (n = 2000, seed 1) logistic odds ratio per doubling of
     ea_base for grade >= 3 CRS and/or ICANS, CRS alone, ICANS alone.
  3. `cartox validate` (all six presets) at n = 200 and n = 5000, seed 1: counts, the in-sample
     loss (sum over in-sample rows of ((sim - pub) / half-range)^2, as docs/calibrate_presets.py),
     the myeloma CRS/ICANS rows, every row.

Variant `leak` (measured after the gamma grid): crs_drive = min(S, t1) + max(0, S - t1) x
ea_base^gamma_CRS, t1 the grade-1 cut (12): the grade-1 band (fever) keeps the cytokine drive
alone, the vulnerability scales only the part of the drive above it (hypotension, hypoxia = leak),
so CRS any grade and onset do not change with gamma.

The companion lever (`joint`): ICANS's dependence on the baseline made shallower, EA's drive
ea_base^kappa_EA x (1 + ...) instead of ea_base x (1 + ...) (per doubling of ea_base the barrier's
odds rise ~2^(n_EA kappa_EA), 16 at kappa 1), with gamma_CRS raised: CRS thresholds refitted, then
the ICANS stage (docs/calibrate_icans.py's objective and grid, n = 200, coordinate search from the
shipped optimum), then the thresholds again, then as above.

Usage:
    cargo build --release
    python3 docs/measure_endothelial_crs.py [gamma ...]          # default grid 0 0.5 1 2 (~3 min each)
    python3 docs/measure_endothelial_crs.py leak [gamma ...]     # the factor above the grade-1 cut only
    python3 docs/measure_endothelial_crs.py joint GAMMA KAPPA    # e.g. joint 0.4 0.2 (~6 min)
    python3 docs/measure_endothelial_crs.py report RECORD.json ...   # the every-target table
Records are written to $SCRATCH (default /tmp/h-endo/) (record-<grid>.json, joint-<gamma>-<kappa>.json).
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
from measure_expectation import logistic  # noqa: E402
import calibrate_icans as icans  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
PRESETS = ["axi-cel", "tisa-cel-all", "tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel"]
PENN = ["tisa-cel-all", "tisa-cel-dlbcl"]
SCRATCH = os.environ.get("SCRATCH", "/tmp/h-endo")  # records and temporary copies
SHIPPED_THRESHOLDS = [12.0, 190.0, 232.0, 252.0]
GAMMA_PARAM = '''
[[parameters]]
name = "gamma_CRS"
value = %r
unit = "1"
description = "endothelial vulnerability exponent of the graded CRS severity (crs_drive = S x ea_base^gamma_CRS)"
source = "measurement copy (docs/measure_endothelial_crs.py)"
lower = 0.0
'''


KAPPA_PARAM = '''
[[parameters]]
name = "kappa_EA"
value = %r
unit = "1"
description = "exponent of the baseline in endothelial activation (EA's drive = ea_base^kappa_EA x (1 + ...))"
source = "measurement copy (docs/measure_endothelial_crs.py joint)"
lower = 0.0
'''
EXTRA = {}  # ICANS-stage parameter values of the `joint` variant (models/cartox.toml names)
FORM = ["all"]  # "leak": the factor acts only on the drive above the grade-1 cut (see `leak`)
KAPPA = [None]  # kappa_EA of the `joint` variant (None: the shipped EA equation)


def model_text(gamma, thr):
    t = open(os.path.join(ROOT, "models", "cartox.toml")).read()
    for k, v in EXTRA.items():
        t = icans.set_param(t, k, v)
    if KAPPA[0] is not None:
        t, k = re.subn(r'(\[\[parameters\]\]\nname = "k_EA"\n)', KAPPA_PARAM % float(KAPPA[0]) + r"\n\1", t, count=1)
        assert k == 1
        t, k = re.subn(r'(?m)^(EA = "k_EA \* \()ea_base \* ', r"\1ea_base^kappa_EA * ", t, count=1)
        assert k == 1
    t, k = re.subn(r'(\[\[parameters\]\]\nname = "k_EA"\n)', GAMMA_PARAM % float(gamma) + r"\n\1", t, count=1)
    assert k == 1
    expr = "S * ea_base^gamma_CRS" if FORM[0] == "all" else \
        "min(S, %r) + max(0, S - %r) * ea_base^gamma_CRS" % (thr[0], thr[0])
    t, k = re.subn(r'(name = "crs_drive"\nexpr = )"S"', r'\1"%s"' % expr, t, count=1)
    assert k == 1
    t, k = re.subn(r"(?m)^thresholds = \[12\.0, 190\.0, 232\.0, 252\.0\]",
                   "thresholds = [%s]" % ", ".join(repr(float(x)) for x in thr), t, count=1)
    assert k == 1
    return t


def write_copies(tmp, gamma, thr, presets):
    model = os.path.join(tmp, "cartox.toml")
    open(model, "w").write(model_text(gamma, thr))
    paths = []
    for p in presets:
        t = open(os.path.join(ROOT, "models", p + ".toml")).read()
        t, k = re.subn(r'(?m)^base = "cartox"', 'base = "%s"' % model, t, count=1)
        assert k == 1, p
        if p in PENN:
            penn = [thr[0], round(math.sqrt(thr[0] * thr[1]), 1), thr[1], thr[3]]
            t, k = re.subn(r"(?m)^thresholds = \[12\.0, 47\.7, 190\.0, 252\.0\]",
                           "thresholds = [%s]" % ", ".join(repr(float(x)) for x in penn), t, count=1)
            assert k == 1, p
        path = os.path.join(tmp, p + ".toml")
        open(path, "w").write(t)
        paths.append(path)
    return paths


def validate(gamma, thr, presets, n):
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        paths = write_copies(tmp, gamma, thr, presets)
        out = subprocess.run([BIN, "validate", "--presets", ",".join(paths), "--n", str(n), "--out", "-"],
                             check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))


def sweep_axicel(gamma, thr, n):
    """Per-patient rows of the axi-cel population (ea_base attached)."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        (path,) = write_copies(tmp, gamma, thr, ["axi-cel"])
        pop, res = os.path.join(tmp, "pop.csv"), os.path.join(tmp, "res.csv")
        subprocess.run([BIN, "population", "-m", path, "--n", str(n), "--seed", "1", "--out", pop],
                       check=True, capture_output=True)
        subprocess.run([BIN, "sweep", "-m", path, "--params", pop, "--quiet", "--out", res],
                       check=True, capture_output=True)
        ea = {r["ID"]: float(r["ea_base"]) for r in csv.DictReader(open(pop))}
        rows = [r for r in csv.DictReader(open(res)) if r["status"] == "ok"]
    for r in rows:
        r["ea_base"] = ea[r["ID"]]
    return rows


def row(rows, preset, metric):
    for r in rows:
        if r["product"] == preset and r["metric"] == metric:
            return r
    raise KeyError((preset, metric))


def value(rows, metric):
    return float(row(rows, "axi-cel", metric)["simulated"])


def bisect(f, lo, hi, target, decreasing=True, step=0.5):
    """Smallest-|f - target| value on a `step` grid in [lo, hi]; f monotone (decreasing in x)."""
    cache = {}

    def g(x):
        x = round(round(x / step) * step, 6)
        if x not in cache:
            cache[x] = f(x)
        return x, cache[x]

    a, b = lo, hi
    while b - a > step:
        m = (a + b) / 2
        x, y = g(m)
        if (y > target) == decreasing:
            a = x
        else:
            b = x
        if b - a <= step:
            break
    best = min((g(a), g(b)), key=lambda xy: (abs(xy[1] - target), xy[0]))
    return best[0], best[1], cache


def fit_thresholds(gamma):
    t1 = 12.0
    thr = list(SHIPPED_THRESHOLDS)

    def tcz(t2):
        return value(validate(gamma, [t1, t2, max(thr[2], t2 + 1), max(thr[3], t2 + 2)], ["axi-cel"], 200),
                     "tocilizumab_incidence")
    t2, f2, _ = bisect(tcz, 60.0, 600.0, 0.43)
    thr[1] = t2

    def sev(t3):
        return value(validate(gamma, [t1, t2, t3, max(thr[3], t3 + 1)], ["axi-cel"], 200), "crs_severe_incidence")
    t3, f3, _ = bisect(sev, t2 + 0.5, t2 * 3, 0.13)
    thr[2] = t3

    def g4(t4):
        rows = sweep_axicel(gamma, [t1, t2, t3, t4], 200)
        return sum(float(r["crs_grade"] or 0) >= 4 for r in rows) / len(rows)
    t4, f4, _ = bisect(g4, t3 + 0.5, t3 * 3, 0.04)
    thr[3] = t4
    rows = validate(gamma, thr, ["axi-cel"], 200)
    any_, onset = value(rows, "crs_any_incidence"), value(rows, "crs_onset_median")
    r_any, r_on = row(rows, "axi-cel", "crs_any_incidence"), row(rows, "axi-cel", "crs_onset_median")
    joint = sum(((v - float(r["published"])) / ((float(r["high"]) - float(r["low"])) / 2)) ** 2
                for v, r in ((any_, r_any), (onset, r_on)))
    print(f"gamma {gamma}: thresholds {thr}; axi-cel n = 200: tocilizumab {f2:.3f}, grade >= 3 {f3:.3f}, "
          f"grade 4 {f4:.3f}, any grade {any_:.3f}, onset {onset:.2f} d (grade-1 joint loss {joint:.3f})",
          flush=True)
    return thr


def korell(gamma, thr, n=2000):
    rows = sweep_axicel(gamma, thr, n)
    x = [math.log2(r["ea_base"]) for r in rows]
    g = lambda r, k: float(r[k] or 0)  # noqa: E731
    out = {}
    for name, pred in [("CRS and/or ICANS >= 3", lambda r: g(r, "crs_grade") >= 3 or g(r, "icans_grade") >= 3),
                       ("CRS >= 3", lambda r: g(r, "crs_grade") >= 3),
                       ("ICANS >= 3", lambda r: g(r, "icans_grade") >= 3)]:
        y = [1.0 if pred(r) else 0.0 for r in rows]
        o, lo, hi = logistic(x, y)
        out[name] = (sum(y) / len(y), o, lo, hi)
        print(f"  korell n = {len(rows)}: {name:22s} incidence {sum(y) / len(y):.3f}; OR per doubling of "
              f"ea_base {o:.2f} ({lo:.2f}-{hi:.2f})  [Korell 2022 EASIX: 1.72 (1.26-2.46)]", flush=True)
    return out


def summary(rows):
    def cnt(s):
        sel = [r for r in rows if s is None or r["sample"] == s]
        return sum(r["within"] == "yes" for r in sel), len(sel)
    loss = 0.0
    for r in rows:
        if r["sample"] != "in" or r["simulated"] == "":
            continue
        sim, pub = float(r["simulated"]), float(r["published"])
        if r["metric"].endswith("_transgene"):
            loss += 4 * (math.log(max(sim, 1e-12) / pub) / math.log(2)) ** 2
        else:
            loss += ((sim - pub) / max((float(r["high"]) - float(r["low"])) / 2, 1e-9)) ** 2
    myeloma = {f"{p} {m}": (float(row(rows, p, m)["simulated"]), row(rows, p, m)["within"])
               for p in ("cilta-cel", "ide-cel") for m in ("crs_any_incidence", "icans_any_incidence")}
    return {"all": cnt(None), "in": cnt("in"), "out": cnt("out"), "in_loss": round(loss, 3), "myeloma": myeloma}


def icans_stage(gamma, thr):
    """docs/calibrate_icans.py's objective and grid (stage 1: ZUMA-1 + KarMMa rows over IL6_EA,
    CART_EA, k_EA, ke0, k_CNS; stage 2: TRANSCEND rows over f_41BB_EA), n = 200, seed 1, searched by
    coordinate descent from the shipped optimum (as docs/measure_expectation.py icans) instead of
    the full 960-point grid. Sets EXTRA to the result."""
    cache = {}
    shipped = {"IL6_EA": 200.0, "CART_EA": 6.0, "k_EA": 10.0, "ke0": 5.0, "k_CNS": 0.2}

    def res_of(rows):
        return {(r["product"], r["metric"]): float(r["simulated"] or "nan") for r in rows}

    def stage1(v):
        key = json.dumps(v, sort_keys=True)
        if key not in cache:
            EXTRA.clear()
            EXTRA.update(v)
            cache[key] = icans.loss(res_of(validate(gamma, thr, ["axi-cel", "ide-cel"], 200)), icans.ZUMA_KARMMA)
            print(f"    {v} stage-1 loss {cache[key]:.3f}", flush=True)
        return cache[key]

    cur, best, moved = dict(shipped), stage1(shipped), True
    while moved:
        moved = False
        for k, grid in icans.STAGE1.items():
            i = grid.index(cur[k])
            for j in (i - 1, i + 1):
                if 0 <= j < len(grid) and stage1(dict(cur, **{k: grid[j]})) < best - 1e-12:
                    cur = dict(cur, **{k: grid[j]})
                    best, moved = stage1(cur), True
    scored = []
    for f in icans.F_41BB:
        EXTRA.clear()
        EXTRA.update(cur, f_41BB_EA=f)
        scored.append((icans.loss(res_of(validate(gamma, thr, ["liso-cel"], 200)), icans.TRANSCEND), f))
    EXTRA.clear()
    EXTRA.update(cur, f_41BB_EA=min(scored)[1])
    print(f"  ICANS stage: stage-1 loss {best:.3f}, TRANSCEND loss {min(scored)[0]:.3f}: {EXTRA}", flush=True)


def both_n(gamma, thr, rec):
    """Validate at n = 200 and n = 5000 with `gamma` and thresholds `thr`; print and record each."""
    for n in (200, 5000):
        rows = validate(gamma, thr, PRESETS, n)
        s = summary(rows)
        print(f"  n = {n}: all {s['all']}, in {s['in']}, out {s['out']}, in-sample loss {s['in_loss']}; "
              f"myeloma {s['myeloma']}", flush=True)
        rec[n] = {"summary": s, "rows": rows}


def joint(gamma, kappa):
    """The companion lever: ICANS's dependence on the baseline made shallower (kappa_EA), CRS's
    raised (gamma_CRS); thresholds, then the ICANS stage, then thresholds again; then as main()."""
    KAPPA[0] = kappa
    thr = fit_thresholds(gamma)
    icans_stage(gamma, thr)
    thr = fit_thresholds(gamma)
    k = korell(gamma, thr)
    rec = {"gamma": gamma, "kappa": kappa, "extra": dict(EXTRA), "thresholds": thr, "korell": k}
    both_n(gamma, thr, rec)
    json.dump(rec, open(os.path.join(SCRATCH, f"joint-{gamma}-{kappa}.json"), "w"))


def main():
    os.makedirs(SCRATCH, exist_ok=True)
    if sys.argv[1:2] == ["leak"]:
        FORM[0] = "leak"
        del sys.argv[1]
    if sys.argv[1:2] == ["joint"]:
        return joint(float(sys.argv[2]), float(sys.argv[3]))
    grid = [float(g) for g in sys.argv[1:]] or [0.0, 0.5, 1.0, 2.0]
    record = {}
    for gamma in grid:
        thr = fit_thresholds(gamma)
        k = korell(gamma, thr)
        rec = {"thresholds": thr, "korell": k}
        both_n(gamma, thr, rec)
        record[str(gamma)] = rec
        json.dump(record, open(os.path.join(SCRATCH, f"record-{FORM[0]}-{'_'.join(map(str, grid))}.json"), "w"))




def report(paths):
    """Markdown table of every target: the shipped model and each recorded variant, at n = 200 and
    n = 5000 (records written by the runs above; `*` marks a miss)."""
    def bundled(n):
        out = subprocess.run([BIN, "validate", "--n", str(n), "--out", "-"], check=True,
                             capture_output=True, text=True).stdout
        return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))
    variants = []
    for p in paths:
        rec = json.load(open(p))
        if "gamma" in rec:
            variants.append((f"joint g{rec['gamma']} k{rec['kappa']}", rec))
        else:
            tag = "leak " if os.path.basename(p).startswith("record-leak") else ""
            variants += [(f"{tag}g{g}", r) for g, r in rec.items()]
    variants.sort(key=lambda v: (v[0].split()[0] if " " in v[0] else "", float(v[0].split("g")[-1].split()[0])
                                 if not v[0].startswith("joint") else 0))

    def fmt(r):
        v = r["simulated"]
        v = "-" if v == "" else f"{float(v):.3g}"
        return v + ("" if r["within"] == "yes" else "*")
    for n in (200, 5000):
        ship = bundled(n)
        cols = [("shipped", ship)] + [(name, rec[str(n)]["rows"]) for name, rec in variants]
        idx = [{(r["product"], r["metric"]): r for r in rows} for _, rows in cols]
        print(f"\nn = {n}\n\n| preset | metric | sample | range | " + " | ".join(c for c, _ in cols) + " |")
        print("|---|---|---|---|" + "---|" * len(cols))
        for r in ship:
            k = (r["product"], r["metric"])
            print(f"| {k[0]} | {k[1]} | {r['sample']} | {float(r['low']):.3g}-{float(r['high']):.3g} | "
                  + " | ".join(fmt(i[k]) for i in idx) + " |")
        print("| **counts** | all / in / out | | | " + " | ".join(
            "%d / %d / %d" % tuple(sum(r["within"] == "yes" for r in rows if s is None or r["sample"] == s)
                                   for s in (None, "in", "out")) for _, rows in cols) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["report"]:
        report(sys.argv[2:])
    else:
        main()
