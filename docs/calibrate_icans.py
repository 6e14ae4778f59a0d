#!/usr/bin/env python3
"""Calibration record for the ICANS mechanism of the default model (models/cartox.toml, issue 14).

Mechanism: endothelial activation EA (rate k_EA) driven by two routes,
  - the cytokine route IL6 / IL6_EA (every product), and
  - the CD19 route, cns_antigen x costimulation factor x C_CNS / CART_EA: CAR-T at the brain's
    vessels, C_CNS, follow the blood CAR-T level with a trafficking lag (rate k_CNS); a 4-1BB
    construct (costim_41BB = 1) acts per cell with f_41BB_EA of a CD28 construct's potency;
then blood-brain barrier opening bbb = EA^n / (EA^n + EA50^n) and the lagged ICANS drive Z (ke0).

Like docs/calibrate_presets.py it runs the release binary itself: for each candidate it writes a
temporary copy of models/cartox.toml with the candidate values and a copy of each preset whose
`base` points at that copy, then runs `cartox validate --presets <copies> --out <csv>`, so the
objective is exactly the validation report.

Calibration trials (every ICANS target of these is `sample = "in"`, by one rule: a trial whose
ICANS figures calibrate the mechanism has all its ICANS rows in-sample):
  - ZUMA-1 (axi-cel, CD28, both routes): incidence, grade >= 3, onset, duration;
  - TRANSCEND (liso-cel, 4-1BB, CD19 route): incidence, onset; it alone identifies f_41BB_EA;
  - KarMMa (ide-cel, BCMA: IL-6 route alone, cns_antigen = 0): incidence, onset, duration; it
    identifies IL6_EA, which ZUMA-1 alone cannot separate from the CD19 route.
ELIANA and JULIET (tisa-cel) and CARTITUDE-1 (cilta-cel) ICANS rows are out-of-sample checks,
printed but never used. EA50, n_EA and the grade thresholds keep their earlier calibration.

Each trial runs under its own management rules (the presets' [management] sections), so the
calibration sees the ICANS its patients had under the corticosteroids they were given. Seventh
session (issue 14): ZUMA-1's pivotal cohorts gave corticosteroids only for grade >= 3 neurologic
events and severe CRS (models/axi-cel.toml), not at the base model's ICANS grade 2; rerun under that
rule, the optimum moved to the edges of the earlier grid (CART_EA 6, k_CNS 0.3, ke0 3), so the grid
was widened (CART_EA 7, ke0 5 / 8, k_CNS 0.1 / 0.2): 960 stage-1 candidates; the optimum is interior
except k_EA (10, the sixth session's edge). k_EA 30 was tried: the two-stage search then ends at
k_EA 30 / ke0 8 with a higher total loss (5.29 vs 5.24: stage 1 keeps only the TOP candidates) and
the faster endothelium makes runs with interventions stiffer (3.7x the solver steps), so the grid
stops at 10.

Search: stage 1, a grid over IL6_EA, CART_EA, k_EA, ke0, k_CNS on the ZUMA-1 and KarMMa rows
(f_41BB_EA cannot change them: axi-cel is CD28, ide-cel has no CD19 route); stage 2, for the
best TOP stage-1 candidates, f_41BB_EA on the TRANSCEND rows; the candidate with the lowest
total in-sample loss is chosen. Loss: sum over rows of ((simulated - published) / half-width)^2.

Usage:
    cargo build --release
    python3 docs/calibrate_icans.py            # about 8 minutes on 2 busy shared cores
"""
import csv
import itertools
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
PRESETS = ["axi-cel", "tisa-cel-all", "tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel"]
STAGE1 = {
    "IL6_EA": [100.0, 200.0, 300.0, 400.0, 800.0],
    "CART_EA": [4.0, 5.0, 6.0, 7.0],
    "k_EA": [3.0, 10.0],
    "ke0": [1.0, 3.0, 5.0, 8.0],
    "k_CNS": [0.1, 0.2, 0.3, 0.5, 0.7, 1.0],
}
F_41BB = [0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0]
TOP = 8
# (preset, metric, published, half-width of the accepted range)
ZUMA_KARMMA = [("axi-cel", "icans_any_incidence", 0.87, 0.16),
               ("axi-cel", "icans_severe_incidence", 0.31, 0.09),
               ("axi-cel", "icans_onset_median", 4.0, 1.0),
               ("axi-cel", "icans_duration_median", 17.0, 6.8),
               ("ide-cel", "icans_any_incidence", 0.18, 0.065),
               ("ide-cel", "icans_onset_median", 2.0, 1.0),
               ("ide-cel", "icans_duration_median", 3.0, 1.35)]
TRANSCEND = [("liso-cel", "icans_any_incidence", 0.30, 0.09),
             ("liso-cel", "icans_onset_median", 9.0, 2.0)]


def set_param(text, name, value):
    pat = re.compile(r'(\[\[parameters\]\]\nname = "%s"\nvalue = )[^\n]*' % re.escape(name))
    new, n = pat.subn(lambda m: m.group(1) + repr(float(value)), text)
    assert n == 1, name
    return new


def run(values, presets, tmp):
    base = open(os.path.join(ROOT, "models", "cartox.toml")).read()
    for k, v in values.items():
        base = set_param(base, k, v)
    model = os.path.join(tmp, "cartox.toml")
    open(model, "w").write(base)
    paths = []
    for p in presets:
        t = open(os.path.join(ROOT, "models", p + ".toml")).read()
        t, n = re.subn(r'(?m)^base = "cartox"', 'base = "%s"' % model, t, count=1)
        assert n == 1, p
        path = os.path.join(tmp, p + ".toml")
        open(path, "w").write(t)
        paths.append(path)
    table = os.path.join(tmp, "validation.csv")
    subprocess.run([BIN, "validate", "--presets", ",".join(paths), "--out", table],
                   check=True, capture_output=True, text=True)
    rows = list(csv.DictReader(open(table)))
    return {(r["product"], r["metric"]): float(r["simulated"] or "nan") for r in rows}


def loss(res, targets):
    return sum(((res[(pr, m)] - p) / h) ** 2 for pr, m, p, h in targets)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        stage1 = []
        for combo in itertools.product(*STAGE1.values()):
            values = dict(zip(STAGE1, combo))
            res = run(values, ["axi-cel", "ide-cel"], tmp)
            stage1.append((loss(res, ZUMA_KARMMA), values))
        stage1.sort(key=lambda x: x[0])
        scored = []
        for l1, values in stage1[:TOP]:
            for f in F_41BB:
                v = dict(values, f_41BB_EA=f)
                res = run(v, ["liso-cel"], tmp)
                scored.append((l1 + loss(res, TRANSCEND), l1, v))
        scored.sort(key=lambda x: x[0])
        for total, l1, v in scored[:8]:
            print("loss %.3f (ZUMA-1 + KarMMa %.3f)" % (total, l1), v)
        best = scored[0][2]
        print("\nbest:", best, "\nall presets at the best values (in-sample rows marked *):")
        res = run(best, PRESETS, tmp)
        used = {(p, m) for p, m, _, _ in ZUMA_KARMMA + TRANSCEND}
        for (prod, metric), v in sorted(res.items()):
            if metric.startswith("icans"):
                print("  %-15s %-24s %8.3f %s" % (prod, metric, v, "*" if (prod, metric) in used else ""))


if __name__ == "__main__":
    sys.exit(main())
