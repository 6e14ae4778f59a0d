#!/usr/bin/env python3
"""Measurement record (issue 14, tenth session; docs/presets.md, section "Issue 14, tenth session:
LBCL tumor-burden spread (before / after)"): a between-patient spread of baseline tumor burden for
the three LBCL presets (axi-cel, liso-cel, tisa-cel-dlbcl), taken from a published figure, and the
in-sample refits it forces, run on COPIES of the presets (nothing here writes models/).

Why: CRS severity follows the modelled CRS drive, and the tisa-cel presets have a low drive, so
JULIET's Penn grade >= 3 CRS (0.7% vs 22%) and tocilizumab use (0.7% vs 14%) are out-of-sample
misses; in JULIET severity tracked tumor burden rather than dose (Awasthi 2020), and in ZUMA-7 and
Dean 2020 patients with grade >= 3 CRS / neurologic events had a higher baseline metabolic tumor
volume (MTV). The base model gives `burden_iiv` no spread for LBCL because none was in the
references.

The figure: ZUMA-7 (axi-cel arm, second-line LBCL), baseline MTV (FDG-PET at screening, SUV 41%
of SUVmax) in the 176 axi-cel patients evaluated: median 228.1 mL, range 2.3-16 669.3 mL
(conference-correspondent.com, "Association of Metabolic Tumor Volume and Clinical Outcomes in the
ZUMA-7 Study", summary of the ASH 2022 abstract, full paper Locke 2024 Blood 143:2464 [V, read in
the stored page]). No IQR was found. Rule of the base parameter (models/cartox.toml `burden_iiv`,
as for ELIANA in models/tisa-cel-all.toml): SD of ln burden = ln(median / minimum) / z(n), z(n) the
expected largest of n standard normal deviates: ln(228.1 / 2.3) / z(176) = 4.597 / 2.703 = 1.70,
omega2 = 2.89 (the upper side would give ln(16 669.3 / 228.1) / 2.703 = 1.59, omega2 2.52).
One disease, one rule: the same omega2 in all three LBCL presets.

Chain (each knob by its own existing rule and grid, in this order, at n = 200, seed 1):
  1. axi-cel a_A value x omega2: docs/calibrate_presets.py CAL["axi-cel"] (ZUMA-1 CRS any, >= 3).
  2. liso-cel a_A value x omega2: CAL["liso-cel"] (TRANSCEND CRS any 42%, onset).
  3. tisa-cel factor f: docs/calibrate_tisacel_crs.py (JULIET 58% + ELIANA 79% CRS any, jointly;
     tisa-cel-all unchanged otherwise).
  4. neg_odds of tisa-cel-dlbcl and liso-cel: docs/calibrate_product_response.py (CR rate).
  (--response: also axi-cel's own response fit, docs/calibrate_response.py's grid of the base
   model's neg_odds x omega2 on ZUMA-1 CR/ORR, printed only, not applied to the after table.)
  (--extend: axi-cel a_A below the rule's grid, a_A 1.5e-4 / 1e-4 / 7e-5 / 5e-5 x omega2 0.1 / 0.25
   / 0.5, its two in-sample CRS rows only; informative, outside the rule, not applied.)
  (--discretion: tcz_discretion by docs/calibrate_discretion.py's rule (shared by TRANSCEND, KarMMa,
   CARTITUDE-1) with the chain's liso-cel; printed only, not applied.)
Not rerun: the ICANS stage (docs/calibrate_icans.py), tisa-cel-dlbcl's rho_E grid.

Then the full validate table (all six presets) before and after, at n = 200 and n = 5000: counts
and every row whose flag changes, and the adoption rule of the section.

Usage:
    cargo build --release
    python3 docs/measure_lbcl_burden.py [--omega2 2.89] [--response] [--extend] [--discretion]

Result (docs/presets.md): measured, not adopted (axi-cel's ZUMA-1 grade >= 3 CRS and TRANSCEND's
tocilizumab use, both in-sample, are lost; out-of-sample 24 -> 27 of 35 at n = 200, 25 -> 24 at
n = 5000).
"""
import itertools
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate_presets as presets  # noqa: E402
import calibrate_product_response as response  # noqa: E402
import calibrate_tisacel_crs as tisacel  # noqa: E402
from validate_copies import validate_copies  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = ["axi-cel", "tisa-cel-all", "tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel"]
LBCL = ["axi-cel", "liso-cel", "tisa-cel-dlbcl"]
MEDIAN, MINIMUM, MAXIMUM, N = 228.1, 2.3, 16669.3, 176


def z(n):
    """Expected largest of n standard normal deviates (midpoint rule)."""
    h, s, x = 0.0005, 0.0, -10.0
    while x < 10.0:
        pdf = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        cdf = 0.5 * (1 + math.erf(x / math.sqrt(2)))
        s += x * n * pdf * cdf ** (n - 1) * h
        x += h
    return s


def with_burden(text, omega2):
    line = ('burden_iiv = { value = 1.0, omega2 = %r, source = "ZUMA-7 axi-cel baseline MTV median '
            '228.1 mL (range 2.3-16669.3), n = 176; SD of ln = ln(median/min)/z(n) (measured copy)" }\n'
            % omega2)
    assert "burden_iiv" not in text
    new, n = re.subn(r"(?m)^\[parameters\]\n", "[parameters]\n" + line, text, count=1)
    assert n == 1
    return new


def by_key(rows):
    return {(r["product"], r["metric"]): r for r in rows}


def num(r):
    return float(r["simulated"]) if r["simulated"] else float("nan")


def grid_fit(name, text):
    """docs/calibrate_presets.py fit() on a text (its grid, its loss)."""
    knobs, metrics = presets.CAL[name]
    best = None
    for combo in itertools.product(*[k[2] for k in knobs]):
        t = text
        for k, v in zip(knobs, combo):
            t = presets.edit(t, k, v)
        rows = validate_copies({name: t})
        loss = presets.loss(rows, metrics)
        d = {r["metric"]: num(r) for r in rows}
        print(f"   {name} " + ", ".join(f"{k[0]}.{k[1]}={v:g}" for k, v in zip(knobs, combo))
              + "  " + "  ".join(f"{m} {d[m]:.3f}" for m in metrics) + f"  loss {loss:.3f}")
        if best is None or loss < best[0]:
            best = (loss, combo, t)
    print(f"   chosen: " + ", ".join(f"{k[0]}.{k[1]}={v:g}" for k, v in zip(knobs, best[1]))
          + f" (loss {best[0]:.3f})", flush=True)
    return best[2]


def odds_fit(name, text):
    best = None
    for odds in response.GRID:
        t = response.with_odds(text, odds)
        d = {r["metric"]: r for r in validate_copies({name: t})}
        r = d[response.FIT]
        err = abs(num(r) - float(r["published"]))
        if best is None or err < best[0] - 1e-12:
            best = (err, odds, t, num(r))
    print(f"   {name}: neg_odds {best[1]:g} (CR {best[3]:.3f})", flush=True)
    return best[2]


def counts(res):
    tot = {s: [0, 0] for s in ("in", "out")}
    for r in res.values():
        tot[r["sample"]][0] += r["within"] == "yes"
        tot[r["sample"]][1] += 1
    return tot


def compare(before, after, label):
    print(f"\n== {label}: rows whose flag changed (product, metric, sample: before -> after [range])")
    for key, r in after.items():
        b = before[key]
        if b["within"] != r["within"]:
            print(f"  {key[0]:<15} {key[1]:<32} {r['sample']:<3} {num(b):.4g} -> {num(r):.4g}"
                  f" [{r['low']}-{r['high']}] {b['within']} -> {r['within']}")
    print(f"== {label}: rows of interest (before -> after)")
    for key in [("tisa-cel-dlbcl", "crs_severe_incidence"), ("tisa-cel-dlbcl", "tocilizumab_incidence"),
                ("tisa-cel-dlbcl", "crs_any_incidence"), ("tisa-cel-dlbcl", "icans_any_incidence"),
                ("axi-cel", "crs_any_incidence"), ("axi-cel", "crs_severe_incidence"),
                ("liso-cel", "crs_any_incidence"), ("liso-cel", "crs_severe_incidence"),
                ("tisa-cel-all", "crs_any_incidence"), ("tisa-cel-all", "crs_severe_incidence"),
                ("cilta-cel", "crs_any_incidence"), ("cilta-cel", "icans_any_incidence"),
                ("ide-cel", "crs_any_incidence"), ("ide-cel", "icans_any_incidence")]:
        if key in after:
            print(f"  {key[0]:<15} {key[1]:<32} {after[key]['sample']:<3} {num(before[key]):.4g} -> "
                  f"{num(after[key]):.4g} [{after[key]['low']}-{after[key]['high']}] "
                  f"{before[key]['within']} -> {after[key]['within']}")
    cb, ca = counts(before), counts(after)
    for lab, c in (("before", cb), ("after", ca)):
        w = c["in"][0] + c["out"][0]
        n = c["in"][1] + c["out"][1]
        print(f"{label} {lab}: {n} targets, {w} within; in-sample {c['in'][0]}/{c['in'][1]}, "
              f"out-of-sample {c['out'][0]}/{c['out'][1]}")
    lost_in = [k for k, r in after.items() if r["sample"] == "in" and before[k]["within"] == "yes"
               and r["within"] != "yes"]
    return ca["out"][0] > cb["out"][0], not lost_in


def main():
    args = sys.argv[1:]
    sd = math.log(MEDIAN / MINIMUM) / z(N)
    print(f"z({N}) = {z(N):.4f}; SD of ln = ln({MEDIAN}/{MINIMUM}) / z = {sd:.4f}, omega2 = {sd * sd:.4f}"
          f" (upper side: {(math.log(MAXIMUM / MEDIAN) / z(N)) ** 2:.4f}); z(75) = {z(75):.3f}")
    omega2 = float(args[args.index("--omega2") + 1]) if "--omega2" in args else round(sd * sd, 2)
    print(f"burden_iiv omega2 = {omega2} in {', '.join(LBCL)}", flush=True)
    original = {p: open(os.path.join(ROOT, "models", p + ".toml")).read() for p in ALL}
    texts = dict(original)
    for p in LBCL:
        texts[p] = with_burden(texts[p], omega2)

    print("1. axi-cel a_A (CAL['axi-cel'])")
    texts["axi-cel"] = grid_fit("axi-cel", texts["axi-cel"])
    if "--extend" in args:
        print("1x. axi-cel a_A beyond the grid (informative; in-sample rows only)")
        for a in (1.5e-4, 1e-4, 7e-5, 5e-5):
            for om in (0.1, 0.25, 0.5):
                t = presets.edit(presets.edit(texts["axi-cel"], ("a_A", "value", 0), a), ("a_A", "omega2", 0), om)
                rows = validate_copies({"axi-cel": t})
                d = {r["metric"]: num(r) for r in rows}
                print(f"   a_A {a:<7g} omega2 {om:<5g} CRS any {d['crs_any_incidence']:.3f}"
                      f" >=3 {d['crs_severe_incidence']:.3f}  loss"
                      f" {presets.loss(rows, presets.CAL['axi-cel'][1]):.3f}")
    print("2. liso-cel a_A (CAL['liso-cel'])")
    texts["liso-cel"] = grid_fit("liso-cel", texts["liso-cel"])
    print("3. tisa-cel factor f (calibrate_tisacel_crs.py)")
    table = []
    for f in tisacel.GRID:
        cand = {n: tisacel.with_factor(texts[n], f) for n in tisacel.PRESETS}
        res = by_key(validate_copies(cand))
        loss = sum((num(res[(n, "crs_any_incidence")]) - p) ** 2 for n, p in tisacel.PRESETS.items())
        print(f"   f {f:<6} JULIET any {num(res[('tisa-cel-dlbcl', 'crs_any_incidence')]):.3f}"
              f" >=3 {num(res[('tisa-cel-dlbcl', 'crs_severe_incidence')]):.3f}"
              f"  ELIANA any {num(res[('tisa-cel-all', 'crs_any_incidence')]):.3f}  loss {loss:.5f}")
        table.append((loss, -f, f))
    _, _, f = min(table)
    print(f"   chosen f = {f}", flush=True)
    for n in tisacel.PRESETS:
        texts[n] = tisacel.with_factor(texts[n], f)
    print("4. neg_odds (calibrate_product_response.py)")
    for n in ("tisa-cel-dlbcl", "liso-cel"):
        texts[n] = odds_fit(n, texts[n])

    if "--response" in args:
        print("5. axi-cel response fit (calibrate_response.py grid on the base neg_odds x omega2), printed only")
        import calibrate_response as resp
        model = open(os.path.join(ROOT, "models", "cartox.toml")).read()
        block = re.search(r'\[\[parameters\]\]\nname = "neg_odds"\n(.*?)\n\n', model, re.S).group(0)
        best = None
        for odds in resp.GRID_ODDS:
            for om in resp.GRID_OMEGA2:
                # the axi-cel copy overrides the base neg_odds with value and omega2 (same draw)
                t = texts["axi-cel"].replace(
                    "[parameters]\n", f'[parameters]\nneg_odds = {{ value = {odds!r}, omega2 = {om!r}, source = "grid" }}\n', 1)
                rows = validate_copies({"axi-cel": t})
                l = resp.loss(rows)
                d = {r["metric"]: num(r) for r in rows}
                print(f"   neg_odds {odds:<7g} omega2 {om:<5g} CR {d['complete_response_incidence']:.3f}"
                      f" ORR {d['objective_response_incidence']:.3f} loss {l:.3f}")
                if best is None or l < best[0]:
                    best = (l, odds, om)
        print(f"   best: neg_odds {best[1]}, omega2 {best[2]} (base: {block.splitlines()[2]})")

    if "--discretion" in args:
        print("6. tcz_discretion (calibrate_discretion.py rule), printed only")
        import calibrate_discretion as disc
        stripped = {n: re.sub(r"(?m)^tcz_discretion\s*=.*\n", "", texts[n]) for n in disc.PUBLISHED}
        best = None
        for v in disc.GRID:
            res = by_key(validate_copies({n: disc.with_value(t, v) for n, t in stripped.items()}))
            loss = sum((num(res[(n, "tocilizumab_incidence")]) - pub) ** 2 for n, pub in disc.PUBLISHED.items())
            key = (round(loss, 12), abs(v - 0.5))
            if best is None or key < best[0]:
                best = (key, v)
            print(f"   p {v:.2f} loss {loss:.5f} " + "  ".join(
                f"{n} toci {num(res[(n, 'tocilizumab_incidence')]):.3f} crs {num(res[(n, 'crs_any_incidence')]):.3f}"
                f" icans {num(res[(n, 'icans_any_incidence')]):.3f}" for n in disc.PUBLISHED))
        print(f"   chosen tcz_discretion = {best[1]} (current 0.75)")

    verdict = []
    for extra, label in (((), "n = 200"), (("--n", "5000"), "n = 5000")):
        before = by_key(validate_copies(original, extra))
        after = by_key(validate_copies(texts, extra))
        verdict.append(compare(before, after, label))
        if label == "n = 200":
            # "stay within": no CARTITUDE-1 / KarMMa CRS or ICANS any-grade row within before is out after
            myeloma_ok = not any(before[(p, m)]["within"] == "yes" and after[(p, m)]["within"] != "yes"
                                 for p in ("cilta-cel", "ide-cel")
                                 for m in ("crs_any_incidence", "icans_any_incidence"))
    adopt = all(up and kept for up, kept in verdict) and myeloma_ok
    print(f"\nadoption rule: out-of-sample up and no in-sample row lost at n = 200 {verdict[0]}, "
          f"n = 5000 {verdict[1]}; CARTITUDE-1 and KarMMa CRS/ICANS any within at n = 200: {myeloma_ok}"
          f" -> {'ADOPT' if adopt else 'measured, not adopted'}")


if __name__ == "__main__":
    main()
