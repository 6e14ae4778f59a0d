#!/usr/bin/env python3
"""Generate reference trajectories for the bundled cartox models.

For every model that is a transcription of a BioModels SBML file, the SBML file itself is simulated
with libRoadRunner (CVODE, rtol 1e-10, atol 1e-12) and written to tests/data/<model_stem>.csv with
the header `time,<state1>,<state2>,...` (the states in the order of models/<model_stem>.toml, time in
the model's own time unit, values printed with repr() = full float precision).

stein2019.csv is written from Stein's closed-form solution (no ODE solver involved).

Usage:
    python3 tests/reference/make_reference.py [--sbml-dir DIR] [--out-dir DIR]

The SBML files are read from /work/shared/reference (subfolders biomodels/ and sbml-more/) unless
--sbml-dir or the environment variable CARTOX_SBML_DIR says otherwise. The script installs
libroadrunner and python-libsbml with pip into the current interpreter if they are not importable.
"""

import argparse
import importlib
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

RTOL = 1e-10
ATOL = 1e-12
MAX_STEPS = 10_000_000
N_POINTS = 201


def ensure(module, package):
    try:
        return importlib.import_module(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])
        importlib.invalidate_caches()
        return importlib.import_module(module)


# stem, SBML file (relative to the SBML dir), end time (model time unit), time unit,
# states in TOML order (SBML species ids), breakpoints (model time), note on the span
MODELS = [
    dict(stem="hanson2016", sbml="biomodels/BIOMD0000000837_Hanson2016.xml", end=720.0,
         unit="hour", states=["C_m", "C_e", "H_m", "H_e", "L", "Inflam", "B", "D"],
         breaks=[], span="curated SED-ML span 0-720 h"),
    dict(stem="leon_triana2020_eqs4", sbml="biomodels/BIOMD0000001011_Leon-Triana2020_eqs4.xml",
         end=60.0, unit="day", states=["CAR_T_cells", "Leukaemic_B_cells", "B_cells_healthy"],
         breaks=[], span="curated SED-ML span 0-60 d"),
    dict(stem="leon_triana2020_eqs3", sbml="biomodels/BIOMD0000001012_Leon-Triana2020_eqs3.xml",
         end=300.0, unit="day",
         states=["CAR_T_cells", "Leukaemic_B_cells", "B_cells_healthy", "B_cell_progenitors"],
         breaks=[],
         span="0-300 d instead of the curated 0-1000 d: C falls to ~3 cells near t = 360 d and the "
              "relapse after ~400 d is so sensitive to numerical error that a reference beyond "
              "that point would test the solver's error, not the model"),
    dict(stem="kimmel2021", sbml="biomodels/BIOMD0000001041_Kimmel2021.xml", end=200.0,
         unit="day", states=["Normal_T_cells", "CAR_T_cells", "Antigen_presenting_tumour_cells"],
         breaks=[], span="curated SED-ML span 0-200 d"),
    dict(stem="leon_triana2021_single", sbml="sbml-more/BIOMD0000001013.xml", end=200.0,
         unit="day", states=["CAR_T_cells", "Tumour_cells"], breaks=[],
         span="0-200 d (no SED-ML here; covers response and relapse)"),
    dict(stem="leon_triana2021_dual", sbml="sbml-more/BIOMD0000001014.xml", end=200.0,
         unit="day",
         states=["CAR_T_cells_on_tumour", "Tumour_cells", "CAR_T_cells_off_tumour", "B_cells"],
         breaks=[], span="0-200 d (no SED-ML here)"),
    dict(stem="chaudhury2020_lv", sbml="sbml-more/BIOMD0000001024.xml", end=100.0, unit="day",
         states=["Expanding_CAR_T_cells", "Tumor_cells"], breaks=[],
         span="0-100 d (no SED-ML here)"),
    dict(stem="chaudhury2020_ec50", sbml="sbml-more/BIOMD0000001025.xml", end=200.0, unit="day",
         states=["Expanding_CAR_T_cells", "Persistent_CAR_T_cells", "Tumor_cells"],
         breaks=[9.3],
         span="0-200 d (no SED-ML here); integration restarted at T_max = 9.3 d where the rate "
              "rules switch"),
    # CARTmath: the CAR-T dose and the tumour rechallenge are SBML events (time >= T), which
    # roadrunner applies itself; at an event time both roadrunner and cartox report the state
    # just after the event.
    dict(stem="cartmath_hdlm2", sbml="sbml-more/BIOMD0000001019.xml", end=300.0, unit="day",
         states=["Cm", "Ct", "T"], breaks=[],
         span="0-300 d (no SED-ML here): CAR-T dose (Ct := 2e6) at day 45 and tumour rechallenge "
              "(T := 1e6) at day 250 are SBML events"),
    dict(stem="cartmath_raji", sbml="sbml-more/BIOMD0000001020.xml", end=16.0, unit="day",
         states=["Cm", "Ct", "T"], breaks=[],
         span="0-16 d (no SED-ML here): CAR-T dose (Ct := 1e7) at day 7 is an SBML event. The span "
              "stops when the CAR-T cells are down to ~1 cell while the tumour (beta = 0: "
              "unbounded exponential growth) passes 5e8 cells; beyond it Cm and Ct are < 1e-6 "
              "cells (CARTmath's own RK4 code sets populations below 1e-6 to 0) and theta*T "
              "> 1e5 /d makes the CAR-T equations stiff, so the columns would only compare "
              "round-off around zero"),
    # Dwivedi 2014 IL-6 model (not CAR-T; tests the SBML import only): four antibody doses as
    # time-triggered events (t >= 0.1, 672, 1344, 2016 h) with a zero delay.
    dict(stem="dwivedi2014", sbml="sbml-more/BIOMD0000000534.xml", end=2688.0, unit="hour",
         states=None, breaks=[],
         span="0-2688 h (16 weeks, no SED-ML here): doses at 0.1, 672, 1344 and 2016 h are SBML "
              "events; all floating species, by SBML id"),
    # Hardiansyah 2019 QSP model as curated in BioModels (MODEL2009230001; not transcribed, tests
    # the SBML import): the CAR-T dose D_inj is a constant infusion rate in the curated file.
    dict(stem="hardiansyah2019", sbml="sbml-more/MODEL2009230001.xml", end=30.0, unit="day",
         states=None, breaks=[],
         span="0-30 d (no SED-ML here): the tumour (B_pb) is cleared within ~0.15 d and is then "
              "round-off around 0 (|B_pb| < 2e-7, of either sign, against a column maximum of "
              "1.1e10); the cytokines and the effector CAR-T cells have settled by ~25 d; all "
              "floating species, by SBML id"),
]

# Stein 2019 typical-patient parameters (Table 1; nlmixr2lib Stein_2019_Tisagenlecleucel)
STEIN = dict(foldx=3900.0, Tmax=9.3, Cmax=24000.0, alpha=0.16, FB=0.0079, beta=0.0032)


def stein_closed_form(t, foldx, Tmax, Cmax, alpha, FB, beta):
    rho = math.log(foldx) / Tmax
    r0 = Cmax / foldx
    if t < Tmax:
        return r0 * math.exp(rho * t)
    return (1 - FB) * Cmax * math.exp(-alpha * (t - Tmax)) + FB * Cmax * math.exp(-beta * (t - Tmax))


def configure(rr):
    integ = rr.getIntegrator()
    integ.setValue("relative_tolerance", RTOL)
    integ.setValue("absolute_tolerance", ATOL)
    integ.setValue("maximum_num_steps", MAX_STEPS)
    integ.setValue("variable_step_size", False)
    integ.setValue("stiff", True)


def simulate(roadrunner, sbml_path, spec):
    rr = roadrunner.RoadRunner(str(sbml_path))
    configure(rr)
    if spec["states"] is None:
        spec["states"] = list(rr.model.getFloatingSpeciesIds())
    # species set by assignment rules (cartox reports them as output columns named by their id;
    # libRoadRunner lists them only when selected)
    rules = set(rr.getAssignmentRuleIds())
    species = list(rr.model.getFloatingSpeciesIds()) + list(rr.model.getBoundarySpeciesIds())
    spec["observables"] = [s for s in species if s in rules and s not in spec["states"]]
    sel = ["[%s]" % s for s in spec["states"] + spec["observables"]]
    rr.timeCourseSelections = ["time"] + sel
    t0 = 0.0
    # rates of change of all state variables (floating species and rate-rule species) at t0
    named = rr.getRatesOfChangeNamedArray()
    rates = {c.rstrip("'"): float(v) for c, v in zip(named.colnames, named[0])}
    end = spec["end"]
    grid = [t0 + (end - t0) * i / (N_POINTS - 1) for i in range(N_POINTS)]
    grid[-1] = end
    rows = [[grid[0]] + [rr.getValue(s) for s in sel]]
    breaks = sorted(b for b in spec["breaks"] if t0 < b < end)
    if not breaks:
        res = rr.simulate(t0, end, N_POINTS)
        rows = [[g] + [float(v) for v in res[i, 1:]] for i, g in enumerate(grid)]
    else:
        # integrate interval by interval so that each breakpoint is hit exactly and CVODE is
        # restarted there (each simulate() call re-initialises the integrator from the current
        # state)
        stops = sorted(set(grid[1:]) | set(breaks))
        t = t0
        out = {}
        for s in stops:
            res = rr.simulate(t, s, 2)
            t = s
            out[s] = [float(v) for v in res[-1, 1:]]
        rows += [[g] + out[g] for g in grid[1:]]
    return rows, rates


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(repr(float(v)) for v in r) + "\n")


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sbml-dir", default=os.environ.get("CARTOX_SBML_DIR", "/work/shared/reference"))
    ap.add_argument("--out-dir", default=str(here.parent / "data"))
    args = ap.parse_args()
    sbml_dir = Path(args.sbml_dir)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    roadrunner = ensure("roadrunner", "libroadrunner")
    libsbml = ensure("libsbml", "python-libsbml")
    numpy = importlib.import_module("numpy")

    versions = {
        "python": platform.python_version(),
        "libroadrunner": roadrunner.__version__,
        "python-libsbml": libsbml.getLibSBMLDottedVersion(),
        "numpy": numpy.__version__,
    }
    print("versions:", ", ".join("%s %s" % kv for kv in versions.items()))

    summary = []
    for spec in MODELS:
        path = sbml_dir / spec["sbml"]
        doc = libsbml.readSBMLFromFile(str(path))
        nerr = doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) + doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL)
        if nerr:
            raise SystemExit("%s: libsbml reports %d errors" % (path, nerr))
        rows, rates = simulate(roadrunner, path, spec)
        csv = out_dir / (spec["stem"] + ".csv")
        write_csv(csv, ["time"] + spec["states"] + spec["observables"], rows)
        print("wrote %s (%d rows, 0-%g %s)" % (csv, len(rows), spec["end"], spec["unit"]))
        summary.append((spec, path, rates))

    # Stein 2019 from the closed form, t = 0..365 d
    rows = [[float(t), stein_closed_form(float(t), **STEIN)] for t in range(366)]
    csv = out_dir / "stein2019.csv"
    write_csv(csv, ["time", "C"], rows)
    print("wrote %s (%d rows, closed form)" % (csv, len(rows)))

    lines = [
        "# Reference trajectories for the bundled models",
        "",
        "Generated by `tests/reference/make_reference.py`; do not edit by hand. Re-run with",
        "`python3 tests/reference/make_reference.py` (it pip-installs libroadrunner and python-libsbml",
        "if they are missing).",
        "",
        "Tools: " + ", ".join("%s %s" % kv for kv in versions.items()) + ".",
        "",
        "Each `<model>.csv` except `stein2019.csv` is a simulation of the *original SBML file* (not of",
        "the cartox TOML transcription) with libRoadRunner's CVODE integrator (BDF, stiff), relative",
        "tolerance %g, absolute tolerance %g, at most %d internal steps, fixed output grid." % (RTOL, ATOL, MAX_STEPS),
        "Columns: `time` in the model's own time unit, then the SBML species that are states of the",
        "cartox model, in the TOML order, then the species set by assignment rules (output columns of",
        "the cartox model), as concentrations (every compartment has size 1). Values are",
        "written with Python `repr()` (shortest round-trip form of the double). %d evenly spaced output" % N_POINTS,
        "points over the span.",
        "",
        "| csv | SBML | span | note |",
        "|---|---|---|---|",
    ]
    for spec, path, _ in summary:
        lines.append("| %s.csv | %s | 0-%g %s | %s |" % (spec["stem"], path.name, spec["end"], spec["unit"], spec["span"]))
    lines.append("| stein2019.csv | none (closed form) | 0-365 day, 366 points (every day) | "
                 "Stein 2019 closed form C(t) with foldx 3900, Tmax 9.3 d, Cmax 24000 copies/ug, "
                 "alpha 0.16/d, FB 0.0079, beta 0.0032/d |")
    lines += ["", "Derivatives at t0 reported by roadrunner (`getRatesOfChange`), for checking a right-hand side:", ""]
    for spec, path, rates in summary:
        lines.append("- %s: %s" % (spec["stem"], ", ".join("d%s = %r" % (k, float(v)) for k, v in rates.items())))
    lines += [
        "",
        "dwivedi2014.csv (BIOMD0000000534, an IL-6 model, not CAR-T) has no model file: it checks the",
        "SBML import of time-triggered events (`cartox --model BIOMD0000000534.xml`).",
        "hardiansyah2019.csv (MODEL2009230001, Hardiansyah 2019 as curated in BioModels) has no model",
        "file either: it checks the SBML import of a stiff model (the tumour is killed at a rate of",
        "~2e9/day).",
        "",
        "Models not covered: Chaudhury MODEL2109110005 (CVODE fails near t = 8.6 d: the tumour",
        "is driven to ~0 where ln(U) diverges; BioModels marks it as having a simulation error).",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines))
    print("wrote", out_dir / "README.md")


if __name__ == "__main__":
    main()
