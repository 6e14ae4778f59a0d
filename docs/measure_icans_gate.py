#!/usr/bin/env python3
"""Measurement record (issue 14, twelfth session): does ICANS need systemic inflammation?

In the shipped ICANS mechanism (models/cartox.toml) the two routes to endothelial activation add:
  EA target = ea_base*(1 + (1 - I_steroid)*(IL6/IL6_EA + cns_antigen*c*C_CNS/CART_EA))
so CAR-T at the brain's vessels (C_CNS) drive ICANS in patients with no CRS. Published: CRS
preceded neurotoxicity in all 28 patients with grade >= 3 neurotoxicity (Gust 2017); in ELIANA
most neurologic events came during CRS or shortly after it. Two gated forms, no new parameter:
  B (primary): EA target = ea_base*(1 + (1 - I_steroid)*(IL6/IL6_EA)*(1 + cns_antigen*c*C_CNS/CART_EA))
  A:           EA target = ea_base*(1 + (1 - I_steroid)*(IL6/IL6_EA
                                        + cns_antigen*c*C_CNS/CART_EA * IL6/(IL6 + IL6_EA)))
With C_CNS(0) = 0 both keep the EA and Z initial conditions the steady state at t0.

Modes (nothing is written to models/; copies go to a temporary directory):
  count            ICANS-without-CRS counts per preset for the shipped model (n = 200, seed 1:
                   `cartox population` then `cartox sweep`, columns crs_grade, icans_grade,
                   crs_onset, icans_onset), and among patients with both, ICANS onset >= CRS onset
  refit A|B        docs/calibrate_icans.py (its loss, in-sample rows, two-stage search) on copies
                   with form A or B, on its grid widened once (CART_EA 0.5-3, ke0 0.3 / 0.5,
                   k_CNS 2 / 3 added: the optimum of form B on the script's own grid sat at the
                   CART_EA, ke0 and k_CNS edges); 3840 stage-1 candidates, ~20 min on 2 cores.
                   Form A's optimum on it sat at CART_EA 0.5 and k_CNS 0.1; rerun once with
                   WIDE["CART_EA"] += [0.1, 0.25] and WIDE["k_CNS"] += [0.05]: same optimum
  check A|B        the form with its fitted values (FITTED below): `cartox validate` of the six
                   presets at n = 200 and n = 5000 (seed 1) and the counts
Results: docs/presets.md, "Issue 14, twelfth session: ICANS needs systemic inflammation".
"""
import csv
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate_icans as icans  # noqa: E402

ROOT = icans.ROOT
BIN = icans.BIN
PRESETS = icans.PRESETS
SHIPPED = ('EA = "k_EA * (ea_base * (1 + (1 - I_steroid) * (IL6 / IL6_EA + cns_antigen * '
           '(1 - costim_41BB * (1 - f_41BB_EA)) * C_CNS / CART_EA)) - EA)"')
FORMS = {
    "B": ('EA = "k_EA * (ea_base * (1 + (1 - I_steroid) * (IL6 / IL6_EA) * (1 + cns_antigen * '
          '(1 - costim_41BB * (1 - f_41BB_EA)) * C_CNS / CART_EA)) - EA)"'),
    "A": ('EA = "k_EA * (ea_base * (1 + (1 - I_steroid) * (IL6 / IL6_EA + cns_antigen * '
          '(1 - costim_41BB * (1 - f_41BB_EA)) * C_CNS / CART_EA * IL6 / (IL6 + IL6_EA))) - EA)"'),
}
WIDE = {"CART_EA": [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "ke0": [0.3, 0.5, 1.0, 3.0, 5.0, 8.0],
        "k_CNS": [0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0, 3.0]}
# best candidates of `refit` (twelfth session, n = 200, seed 1)
FITTED = {
    "B": {"IL6_EA": 200.0, "CART_EA": 2.0, "k_EA": 10.0, "ke0": 0.3, "k_CNS": 3.0, "f_41BB_EA": 1.0},
    "A": {"IL6_EA": 200.0, "CART_EA": 0.5, "k_EA": 10.0, "ke0": 1.0, "k_CNS": 0.1, "f_41BB_EA": 0.6},
}


def model_text(form, values=None):
    text = open(os.path.join(ROOT, "models", "cartox.toml")).read()
    if form:
        assert text.count(SHIPPED) == 1
        text = text.replace(SHIPPED, FORMS[form])
    for k, v in (values or {}).items():
        text = icans.set_param(text, k, v)
    return text


def write_root(tmp, form, values=None):
    """A copy of models/ under tmp (the model with `form` and `values`, presets unchanged)."""
    os.makedirs(os.path.join(tmp, "models"), exist_ok=True)
    model = os.path.join(tmp, "models", "cartox.toml")
    open(model, "w").write(model_text(form, values))
    paths = []
    for p in PRESETS:
        t = open(os.path.join(ROOT, "models", p + ".toml")).read()
        open(os.path.join(tmp, "models", p + ".toml"), "w").write(t)
        t, n = re.subn(r'(?m)^base = "cartox"', 'base = "%s"' % model, t, count=1)
        assert n == 1, p
        path = os.path.join(tmp, p + ".based.toml")
        open(path, "w").write(t)
        paths.append(path)
    return paths


def count(paths):
    g = lambda r, k: float(r[k] or "nan")  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        for p, m in zip(PRESETS, paths):
            pop, out = os.path.join(tmp, "pop.csv"), os.path.join(tmp, "out.csv")
            subprocess.run([BIN, "population", "-m", m, "--n", "200", "--seed", "1", "--out", pop],
                           check=True, capture_output=True)
            subprocess.run([BIN, "sweep", "-m", m, "--params", pop, "--out", out], capture_output=True)
            rows = list(csv.DictReader(open(out)))
            ic = [r for r in rows if g(r, "icans_grade") >= 1]
            both = [r for r in ic if g(r, "crs_grade") >= 1]
            after = sum(1 for r in both if g(r, "icans_onset") >= g(r, "crs_onset"))
            print("  %-15s ICANS %3d, without CRS %3d; with CRS %3d, ICANS onset >= CRS onset %3d"
                  % (p, len(ic), len(ic) - len(both), len(both), after))


def check(form):
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_root(tmp, form, FITTED[form] if form else None)
        for n in ("200", "5000"):
            out = os.path.join(tmp, "v.csv")
            r = subprocess.run([BIN, "validate", "--presets", ",".join(paths), "--n", n, "--out", out],
                               check=True, capture_output=True, text=True)
            print("n = %s: %s" % (n, [x for x in r.stdout.splitlines() if "targets" in x][-1]))
            for x in csv.DictReader(open(out)):
                if x["product"] in ("ide-cel", "cilta-cel") and x["metric"] in (
                        "crs_any_incidence", "icans_any_incidence"):
                    print("  %-10s %-20s %.3f within %s" % (x["product"], x["metric"],
                                                          float(x["simulated"]), x["within"]))
        count(paths)


def refit(form):
    with tempfile.TemporaryDirectory() as tmp:
        write_root(tmp, form)
        icans.ROOT = tmp
        icans.STAGE1.update(WIDE)
        icans.main()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "count"
    if mode == "count":
        with tempfile.TemporaryDirectory() as tmp:
            count(write_root(tmp, None))
    elif mode == "check":
        check(sys.argv[2])
    elif mode == "refit":
        refit(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
