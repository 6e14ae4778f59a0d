#!/usr/bin/env python3
"""Calibration record for the product-level escape odds (issue 14, tumor response by product).

Mechanism (models/cartox.toml, block "tumor response"; docs/default-model.md "Response"): in each
patient a share R of the tumor escapes the product (antigen-negative cells, or cells whose antigen
density is below what this CAR needs to kill). The share at infusion is logit-normal between
patients: its typical odds `neg_odds` and spread `omega2` (25 on the log-odds). The spread is a
property of the tumor and stays the one fitted on ZUMA-1 (docs/calibrate_response.py). The
typical odds depend on the product AND the disease: the antigen-density threshold of the CAR
(binder affinity and avidity, costimulatory domain) against the antigen density of that tumor.
No published number gives that share per product, so it is the product's ONE efficacy knob.

Uniform rule, the same for every product: each preset's `neg_odds` is calibrated to its trial's
published complete-response rate (nearest value on a fixed log grid, n = 200, seed 1), and that
complete-response row is marked `sample = "in"` in every preset alike. Nothing else is fitted:
objective response (JULIET, TRANSCEND, KarMMa, CARTITUDE-1) and the tisa-cel B-ALL
responder/non-responder exposure ratio stay out-of-sample tests of the mechanism. axi-cel keeps
the base value (0.005), which is its ZUMA-1 fit (CR and ORR, the spread's calibration).

Method: for each preset and each grid value the script writes a temporary copy of the preset with
`neg_odds = { value = .. }` replaced and runs `cartox validate --presets <copy> --out -`, so the
objective is exactly the validation report.
Since issue 14's eighth session the report reads response at each trial's scheduled visits (the
preset's `[response]` `visits`, `confirm`; docs/presets.md), so this rule fits the CR as the trial
read it; rerun it reproduces the adopted values (liso-cel 0.0032, cilta-cel 0.001, others unchanged).

Usage:
    cargo build --release
    python3 docs/calibrate_product_response.py           # grid, best value per product, ORR at it
    python3 docs/calibrate_product_response.py --write   # also write the values into models/*.toml
"""
import os
import re
import sys

from validate_copies import validate_copies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
PRESETS = ["tisa-cel-dlbcl", "liso-cel", "tisa-cel-all", "ide-cel", "cilta-cel"]
# Log grid, 4 points per decade (x1.78): coarser than a trial's binomial CI would justify finer.
GRID = [float(f"{m * 10.0 ** e:.2g}") for e in range(-5, 0) for m in (1, 1.8, 3.2, 5.6)]  # 1e-5..0.56
FIT = "complete_response_incidence"
REPORT = [FIT, "objective_response_incidence", "cart_cmax_transgene_responder_ratio"]
LINE = re.compile(r"(?m)^neg_odds = \{ value = [^,]+,")


def with_odds(text, odds):
    new, n = LINE.subn(f"neg_odds = {{ value = {odds!r},", text)
    if n != 1:
        sys.exit("preset has no single `neg_odds = { value = .., source = .. }` line")
    return new


def validate(text):
    return {r["metric"]: r for r in validate_copies({"preset": text})}


def fit(name, write):
    path = os.path.join(ROOT, "models", f"{name}.toml")
    text = open(path).read()
    best = None
    for odds in GRID:
        rows = validate(with_odds(text, odds))
        r = rows[FIT]
        err = abs(float(r["simulated"]) - float(r["published"]))
        if best is None or err < best[0] - 1e-12:
            best = (err, odds, rows)
    err, odds, rows = best
    print(f"== {name}: neg_odds = {odds:g}")
    for m in REPORT:
        if m in rows:
            r = rows[m]
            print(f"   {m:38s} {float(r['simulated']):7.3f}  published {r['published']:>6s} "
                  f"[{r['low']}-{r['high']}] {r['within']:3s} {r['sample']}")
    if write:
        open(path, "w").write(with_odds(text, odds))


if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or PRESETS
    for n in names:
        fit(n, "--write" in sys.argv)
