#!/usr/bin/env python3
"""Calibration record for the product presets models/{axi-cel,tisa-cel-all,tisa-cel-dlbcl,liso-cel,
ide-cel,cilta-cel}.toml.

The presets extend the default model (models/cartox.toml, calibrated by docs/calibrate_default.py).
This script calibrates only the few overrides each product's published figures justify, by a grid
search that runs the release binary itself: for each candidate it rewrites the override values in a
temporary copy of the preset and runs `cartox validate --presets <copy> --out -`, so the calibration
objective is exactly the validation report (same virtual population, same metrics). Objective: sum
over the product's *calibration* targets of ((simulated - published) / half-width of the accepted
range)^2; for exposure targets (cart_cmax_transgene, whose ranges span a factor 4) the error is
taken on the log scale, 4 x (ln(simulated / published) / ln 2)^2 (weight 4: the exposure is
what a pharmacologist compares first). Every fitted target is marked
`sample = "in"` in its preset; the rest are `out`. Tocilizumab and steroid use and CRS/ICANS durations (issue 14) are never fitted: they are
out-of-sample checks of the CRS severity distribution under each trial's protocol (the
clinician-discretion probability tcz_discretion of the early-tocilizumab rule was an assumption, 0.5,
until the sixth session of issue 14 fitted it, 0.75, to the three "may be considered" trials'
tocilizumab use by docs/calibrate_discretion.py, which made those three rows in-sample; a trial
tocilizumab-use fit was tried for liso-cel: it cannot reach 20% use without pushing CRS any grade
to 61%, see docs/presets.md). ICANS figures are never fitted per product
since the ICANS mechanism of issue 14 (endothelial activation, docs/calibrate_icans.py: calibrated on
axi-cel and liso-cel only). Transgene copies/ug are compared through the
default model's transgene observable (issue 13); complete-response rates are never fitted. Grade >= 3 CRS incidence is never fitted
per product: the CRS grade thresholds belong to the model (models/cartox.toml), calibrated once on
the axi-cel population (docs/toxicity.md), so every other product's grade >= 3 rate is an
out-of-sample check of the model, not a fitted figure. axi-cel's own knob (a_A omega2) is the
population the thresholds were calibrated on; refitting it would need recalibrating them.

Usage:
    cargo build --release
    python3 docs/calibrate_presets.py              # fit every preset, print the best values
    python3 docs/calibrate_presets.py liso-cel     # one preset
    python3 docs/calibrate_presets.py --write      # also write the best values into models/*.toml

Knob syntax: ("param", "value"|"omega2", [candidates]) edits the override line
`param = { value = .., omega2 = .., source = ".." }`; ("regimen", "tumor_burden", [...]) edits the
`tumor_burden = ..` line of [regimen].
"""
import itertools
import math
import os
import re
import sys

from validate_copies import validate_copies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")

# product -> (knobs, calibration targets). Grids are coarse on purpose: the figures are medians of
# small trials, several of them [M] (unverified), so finer fits would be false precision.
CAL = {
    "axi-cel": (
        [("a_A", "value", [1.5e-4, 2.2e-4, 3.3e-4]),
         ("a_A", "omega2", [0.5, 1.0, 2.0])],
        ["crs_any_incidence", "crs_severe_incidence"],
    ),
    "tisa-cel-all": (
        # tumor burden held at 2e11 (issue 13): at 1e11 the dose-flat peak of tisa-cel (Mueller 2018,
        # tests/exposure.rs) is lost (max/min 2.2 over 0.2-5e6/kg); the issue 14 refit chose 1e11
        # for CRS any grade, so the burden is fixed rather than refitted.
        # Issue 14 (tox): the patient covariate burden_iiv (omega2 1.25 from ELIANA's marrow-blast
        # range by the rule of docs/presets.md; NOT fitted) is in the preset when this grid runs;
        # the same grid and targets then choose a_A 3e-6, omega2 1 (before: 1e-6 at the edge).
        # Issue 14, seventh session: a_A's value is no longer a per-preset knob here; both tisa-cel
        # presets take a_A = 0.10 x 3.3e-4 and p_E = 0.10 x 0.5 from ONE product factor fitted to
        # their two CRS any-grade rows by docs/calibrate_tisacel_crs.py (run that after this grid);
        # omega2 1 (axi-cel's fitted spread, the previous choice of this grid) is kept.
        [("regimen", "tumor_burden", [2e11]),
         ("a_A", "value", [3.3e-5]),
         ("a_A", "omega2", [1.0])],
        ["cart_tmax", "crs_any_incidence", "cart_cmax_transgene"],
    ),
    "tisa-cel-dlbcl": (
        # Issue 14, seventh session: a_A (and p_E) from docs/calibrate_tisacel_crs.py, as above.
        [("rho_E", "value", [0.3, 0.45, 0.65, 0.9]),
         ("a_A", "value", [3.3e-5]),
         ("a_A", "omega2", [1.0])],
        ["cart_tmax", "crs_any_incidence", "cart_cmax_transgene"],
    ),
    "liso-cel": (
        [("a_A", "value", [1e-6, 3e-6, 1e-5, 2e-5]),
         ("a_A", "omega2", [1.0, 2.0, 3.0])],
        ["crs_any_incidence", "crs_onset_median"],
    ),
    "ide-cel": (
        # Issue 14, sixth session: with these kinetics a_A carries 0.4% of ide-cel's IL-6, so the
        # CRS any-grade fit is done on the direct CAR-T route p_E by docs/calibrate_crs.py (run it
        # after this grid; the preset's p_E override is in place when this grid runs).
        [("k_act", "value", [0.1, 0.2, 0.49]),
         ("rho_E", "value", [0.65, 1.3, 1.8, 2.5]),
         ("K_E", "value", [1e11, 5e11, 2e12]),
         ("a_A", "value", [1e-7, 3e-7, 1e-6, 3e-6, 1e-5]),
         ("a_A", "omega2", [1.0])],
        ["cart_tmax", "crs_any_incidence", "crs_onset_median", "cart_cmax_transgene"],
    ),
    "cilta-cel": (
        [("k_act", "value", [0.1, 0.2]),
         ("rho_E", "value", [0.65, 1.0, 1.3]),
         ("K_E", "value", [1e11, 5e11, 2e12]),
         ("a_A", "value", [1e-6, 3e-6, 1e-5, 3.3e-5, 1e-4]),
         ("a_A", "omega2", [0.5, 1.0])],
        ["cart_tmax", "crs_any_incidence", "crs_onset_median",
         "cart_cmax_transgene"],
    ),
}


def edit(text, knob, value):
    who, field, _ = knob
    if who == "regimen":
        new, n = re.subn(rf"(?m)^({field}\s*=\s*)[^\s#]+", rf"\g<1>{value!r}", text)
    else:
        pat = rf"(?m)^({who}\s*=\s*\{{[^\n]*?\b{field}\s*=\s*)[^,\s}}]+"
        new, n = re.subn(pat, rf"\g<1>{value!r}", text)
    if n != 1:
        sys.exit(f"knob {knob[:2]} not found exactly once in the preset")
    return new


def validate(text):
    return validate_copies({"preset": text})


def loss(rows, metrics):
    s = 0.0
    for r in rows:
        if r["metric"] in metrics:
            if r["simulated"] == "":
                return float("inf")
            sim, pub = float(r["simulated"]), float(r["published"])
            if r["metric"].endswith("_transgene"):
                # weight 4: the exposure is what a pharmacologist compares first (issue 13)
                s += 4 * (math.log(max(sim, 1e-12) / pub) / math.log(2)) ** 2
                continue
            half = max((float(r["high"]) - float(r["low"])) / 2, 1e-9)
            s += ((sim - pub) / half) ** 2
    return s


def fit(name, write=False):
    knobs, metrics = CAL[name]
    path = os.path.join(ROOT, "models", f"{name}.toml")
    text = open(path).read()
    best = None
    for combo in itertools.product(*[k[2] for k in knobs]):
        t = text
        for k, v in zip(knobs, combo):
            t = edit(t, k, v)
        rows = validate(t)
        l = loss(rows, metrics)
        if best is None or l < best[0]:
            best = (l, combo, t, rows)
    l, combo, t, rows = best
    print(f"== {name}: loss {l:.3g} at " +
          ", ".join(f"{k[0]}.{k[1]}={v:g}" for k, v in zip(knobs, combo)))
    for r in rows:
        flag = "*" if r["metric"] in metrics else " "
        sim = float(r["simulated"]) if r["simulated"] else float("nan")
        print(f"  {flag} {r['metric']:<22} sim {sim:>10.4g}  published {float(r['published']):>10.4g}"
              f"  [{r['low']}, {r['high']}]  {r['within']}")
    if write:
        open(path, "w").write(t)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for n in args or CAL:
        fit(n, write="--write" in sys.argv)
