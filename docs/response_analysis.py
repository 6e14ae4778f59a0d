#!/usr/bin/env python3
"""Reproduces the numbers of docs/presets.md "Issue 14, sixth session" (response analysis).

Nothing here is fitted or written back: it runs the release binary on temporary copies of the
presets and prints tables.

  curve    ORR along each preset's escape-odds grid (omega2 25): with one odds per product, ORR
           is a function of CR (the trials' CR/ORR pairs are not on that curve).
  myeloma  a myeloma escape spread of its own: for each omega2 the odds are refitted to CR by the
           rule of docs/calibrate_product_response.py; prints KarMMa and CARTITUDE-1 ORR.
  visits   best response at scans on days 28 / 90 / 180 vs the continuous nadir within 28 days
           (`cartox population` + `cartox sweep`, n = 200, seed 1).
  ratio    tisa-cel B-ALL: which non-responders make the responder/non-responder Cmax ratio.
  classify each virtual patient of the JULIET, ZUMA-1, TRANSCEND and ELIANA populations by best
           response at the trial's visits, with its escaping share at infusion and expansion
           (issue 14 ninth session; `classify 2000` for n = 2000).
  killspread a between-patient spread of the CAR-T killing rate `gamma_T` (omega2 0 / 1e-6 / 0.25 / 1,
           in every preset alike), each preset's `neg_odds` refitted to its CR by the rule of
           docs/calibrate_product_response.py; prints every row whose flag moves vs the bundled
           presets. omega2 1e-6 is the null control: same random stream, no spread (ninth session).

Usage:
    cargo build --release
    python3 docs/response_analysis.py [curve|myeloma|visits|ratio|classify [N]|killspread ...]   # default: all
"""
import csv
import math
import os
import re
import subprocess
import sys
import tempfile

from validate_copies import validate_copies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
MODELS = os.path.join(ROOT, "models")
# The grid of docs/calibrate_product_response.py (4 points per decade, 1e-5..0.56).
GRID = [float(f"{m * 10.0 ** e:.2g}") for e in range(-5, 0) for m in (1, 1.8, 3.2, 5.6)]
ODDS = re.compile(r"(?m)^neg_odds = \{ value = [^,]+,")


def validate(preset, odds, omega2=None):
    text = open(os.path.join(MODELS, f"{preset}.toml")).read()
    spread = "" if omega2 is None else f" omega2 = {omega2!r},"
    text, n = ODDS.subn(f"neg_odds = {{ value = {odds!r},{spread}", text)
    assert n == 1, preset
    rows = validate_copies({preset: text})
    return {r["metric"]: float(r["simulated"]) for r in rows if r["simulated"]}


def curve():
    print("== ORR along the escape-odds grid (CR / ORR), omega2 25")
    for p in ["tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel"]:
        pts = [validate(p, o) for o in GRID]
        print(p, " ".join(f"{o:g}:{r['complete_response_incidence']:.3f}/"
                          f"{r['objective_response_incidence']:.3f}" for o, r in zip(GRID, pts)))


def myeloma():
    print("== a myeloma spread of its own (odds refitted to CR at each omega2)")
    published = {"ide-cel": 0.33, "cilta-cel": 0.67}
    for p, cr in published.items():
        for om in [4.0, 9.0, 14.44, 16.0, 25.0]:
            best = min((abs(validate(p, o, om)["complete_response_incidence"] - cr), o)
                       for o in GRID)
            r = validate(p, best[1], om)
            print(f"{p:10s} omega2 {om:5.2f} odds {best[1]:<7g} CR "
                  f"{r['complete_response_incidence']:.3f} ORR {r['objective_response_incidence']:.3f}")


def sweep(preset, days, tmp):
    pop = os.path.join(tmp, f"{preset}.pop.csv")
    if not os.path.exists(pop):
        subprocess.run([BIN, "population", "-m", preset, "--n", "200", "--seed", "1", "--out", pop],
                       check=True, capture_output=True)
    out = os.path.join(tmp, f"{preset}.{days}.csv")
    subprocess.run([BIN, "sweep", "-m", preset, "--params", pop, "--days", str(days),
                    "--window", str(days), "--out", out], check=True, capture_output=True)
    return pop, list(csv.DictReader(open(out)))


def cat(x):
    return 2 if x <= 1e-2 else (1 if x <= 0.35 else 0)


def visits():
    print("== best response: continuous nadir (28 d) vs scans at days 28 / 90 / 180 (CR, ORR)")
    with tempfile.TemporaryDirectory() as tmp:
        for p in ["axi-cel", "tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel", "tisa-cel-all"]:
            runs = {d: sweep(p, d, tmp)[1] for d in (28, 90, 180)}
            n = len(runs[28])
            nadir = [cat(float(r["tumor_nadir"])) for r in runs[28]]
            scans = [max(cat(float(a["tumor_end"])), cat(float(b["tumor_end"])),
                         cat(float(c["tumor_end"])))
                     for a, b, c in zip(runs[28], runs[90], runs[180])]
            day28 = [cat(float(r["tumor_end"])) for r in runs[28]]
            rate = lambda v: f"{sum(x == 2 for x in v) / n:.3f} / {sum(x >= 1 for x in v) / n:.3f}"
            print(f"{p:15s} nadir {rate(nadir)}  day 28 {rate(day28)}  best of scans {rate(scans)}")


def ratio():
    print("== tisa-cel B-ALL responder/non-responder transgene Cmax ratio")
    with tempfile.TemporaryDirectory() as tmp:
        pop, runs = sweep("tisa-cel-all", 28, tmp)
        params = {r["ID"]: r for r in csv.DictReader(open(pop))}
        gm = lambda v: math.exp(sum(math.log(x) for x in v) / len(v))
        cmax = lambda rs: [float(r["cart_cmax_transgene"]) for r in rs]
        resp = [r for r in runs if r["best_response"] == "complete"]
        non = [r for r in runs if r["best_response"] != "complete"]
        failed = [r for r in non if float(r["cart_cmax"]) < 2.0]  # no expansion (cells/uL)
        rest = [r for r in non if float(r["cart_cmax"]) >= 2.0]
        de = sorted(float(params[r["ID"]]["delta_E"]) for r in failed)
        print(f"responders {len(resp)}, non-responders {len(non)} of which {len(failed)} never "
              f"expand (peak < 2 cells/uL; delta_E {de[0]:.2f}-{de[-1]:.2f}/d)")
        print(f"ratio {gm(cmax(resp)) / gm(cmax(non)):.2f}; without the failed expansions "
              f"{gm(cmax(resp)) / gm(cmax(rest)):.2f}")


def classify(n=200):
    """Best response at each trial's scheduled visits (as `cartox validate` reads it), split by
    what caused it: the escaping share at infusion R0 = neg_odds/(1 + neg_odds) and the expansion
    (failed = CAR-T peak below 2 cells/uL, the infused level)."""
    print(f"== best response at the visits by cause (n = {n}, seed 1)")
    visits = {"tisa-cel-dlbcl": (28, 90, 180), "axi-cel": (28, 90, 180),
              "liso-cel": (28, 90, 180), "tisa-cel-all": (28, 90)}
    gm = lambda v: math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")
    q = lambda v, f: sorted(v)[int(f * (len(v) - 1))] if v else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        for p, days in visits.items():
            pop = os.path.join(tmp, f"{p}.pop.csv")
            subprocess.run([BIN, "population", "-m", p, "--n", str(n), "--seed", "1", "--out",
                            pop], check=True, capture_output=True)
            params = list(csv.DictReader(open(pop)))
            runs = {}
            for d in days:
                out = os.path.join(tmp, f"{p}.{d}.csv")
                subprocess.run([BIN, "sweep", "-m", p, "--params", pop, "--days", str(d),
                                "--window", str(d), "--out", out], check=True, capture_output=True)
                runs[d] = list(csv.DictReader(open(out)))
            pts = []
            for i, par in enumerate(params):
                cats = [cat(float(runs[d][i]["tumor_end"])) for d in days]
                odds = float(par["neg_odds"])
                first = runs[days[0]][i]
                pts.append((max(cats), tuple(cats), odds / (1 + odds),
                            float(first["cart_cmax_transgene"]), float(first["cart_cmax"]) < 2.0))
            print(f"{p} (visits {', '.join(map(str, days))} d)")
            for c, name in ((2, "complete"), (1, "partial"), (0, "none")):
                g = [x for x in pts if x[0] == c]
                r0 = [x[2] for x in g]
                print(f"  {name:8s} {len(g) / n:.3f}: R0 median {q(r0, .5):.3g} (q10 {q(r0, .1):.3g}, "
                      f"q90 {q(r0, .9):.3g}); transgene Cmax GM {gm([x[3] for x in g]):.0f} "
                      f"copies/ug; failed expansions {sum(x[4] for x in g)}; "
                      f"at the escape cap (R0 >= 0.49) {sum(x[2] >= 0.49 for x in g)}")
            at = lambda k: sum(x[1][k] == 1 for x in pts) / n
            atc = lambda k: sum(x[1][k] == 2 for x in pts) / n
            print("  by visit (complete / partial): " + ", ".join(
                f"day {d} {atc(k):.3f} / {at(k):.3f}" for k, d in enumerate(days)))
            cr = [x[3] for x in pts if x[0] == 2]
            non = [x for x in pts if x[0] < 2]
            print(f"  complete vs rest transgene Cmax GM ratio {gm(cr) / gm([x[3] for x in non]):.2f}"
                  f"; without the failed expansions {gm(cr) / gm([x[3] for x in non if not x[4]]):.2f}")


PRESETS = ["axi-cel", "tisa-cel-dlbcl", "liso-cel", "tisa-cel-all", "ide-cel", "cilta-cel"]
CR = {"axi-cel": 0.54, "tisa-cel-dlbcl": 0.40, "liso-cel": 0.53, "tisa-cel-all": 0.81,
      "ide-cel": 0.33, "cilta-cel": 0.67}


def with_kill_spread(preset, omega2, odds=None):
    text = open(os.path.join(MODELS, f"{preset}.toml")).read()
    head = "[parameters]\n"
    if omega2:
        text = text.replace(head, head + f'gamma_T = {{ value = 1.15, omega2 = {omega2!r}, '
                            'source = "probe" }\n', 1)
    if odds is not None:
        if ODDS.search(text):
            text = ODDS.sub(f"neg_odds = {{ value = {odds!r},", text)
        else:  # axi-cel uses the base value
            text = text.replace(head, head + f'neg_odds = {{ value = {odds!r}, source = "probe" }}\n', 1)
    return text


def killspread():
    print("== a between-patient spread of the killing rate gamma_T (CR refitted by the rule)")
    flag = lambda rows: {(r["product"], r["metric"]): r for r in rows}
    base = flag(validate_copies({p: open(os.path.join(MODELS, f"{p}.toml")).read()
                                 for p in PRESETS}))
    for omega2 in [1e-6, 0.25, 1.0]:
        odds = {}
        for p in PRESETS:  # CR falls with the odds: bisect on the grid, keep the nearest
            cr = {}
            def at(i):
                if i not in cr:
                    rows = validate_copies({p: with_kill_spread(p, omega2, GRID[i])})
                    cr[i] = float(next(r["simulated"] for r in rows
                                       if r["metric"] == "complete_response_incidence"))
                return cr[i]
            lo, hi = 0, len(GRID) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if at(mid) > CR[p] else (lo, mid)
            odds[p] = GRID[min((lo, hi), key=lambda i: abs(at(i) - CR[p]))]
        rows = validate_copies({p: with_kill_spread(p, omega2, odds[p]) for p in PRESETS})
        count = lambda s: (sum(r["within"] == "yes" for r in rows if r["sample"] == s),
                           sum(r["sample"] == s for r in rows))
        print(f"omega2 {omega2:g}: odds {odds}; in-sample {count('in')}, out-of-sample {count('out')}")
        for r in rows:
            b = base[(r["product"], r["metric"])]
            if b["within"] != r["within"] or r["metric"] == "objective_response_incidence":
                print(f"  {r['product']:15s} {r['metric']:38s} {r['sample']:3s} "
                      f"[{r['low']}-{r['high']}] {float(b['simulated']):.4g} -> "
                      f"{float(r['simulated']):.4g} ({b['within']} -> {r['within']})")


if __name__ == "__main__":
    steps = {"curve": curve, "myeloma": myeloma, "visits": visits, "ratio": ratio,
             "classify": classify, "killspread": killspread}
    args = sys.argv[1:]
    for name in [a for a in args if a in steps] or list(steps):
        if name == "classify" and args[args.index(name) + 1:][:1] and args[args.index(name) + 1].isdigit():
            classify(int(args[args.index(name) + 1]))
        else:
            steps[name]()
