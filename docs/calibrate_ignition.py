#!/usr/bin/env python3
"""Measurement record for the myeloid ignition loop of the CRS block (issue 14, eighth session;
docs/presets.md, section "Issue 14, eighth session: ignition CRS (before / after)").

Question. Across trials the share of CRS patients who reach hypotension/oxygen (Lee grade >= 2) is
similar (ZUMA-1 ~46%, JULIET 38%, ELIANA 58%) while CRS of any grade varies 42-95%. In the model
(no loop) the severity distribution scales with the CRS drive, so low-drive products (tisa-cel,
IL-6 routes x 0.10) get grade 1 only: JULIET Penn grade >= 3 (= Lee grade >= 2, Schuster 2020)
1%, ELIANA 16%. Does a self-amplifying myeloid loop (models/cartox.toml: contact-driven myeloid
activation a_A x contact multiplied by 1 + g_loop x S/(S + S_loop)) make that share similar across
products, once each product's CRS drive is refitted in-sample?

Method. Each loop setting (g_loop, its patient spread omega2, S_loop) is written as an override into
copies of the presets (the base model's loop is off, g_loop = 0), and for each setting the in-sample
CRS knobs are refitted exactly as their own scripts do, on the same rows:
  - axi-cel a_A value and omega2 (docs/calibrate_presets.py's knob) to ZUMA-1 CRS any grade 94%,
    grade >= 3 13% and tocilizumab 43% (all sample = "in"); loss = sum of ((simulated - published)
    / half-width of the range)^2, the calibrate_presets.py loss;
  - the tisa-cel factor f on both IL-6 routes (docs/calibrate_tisacel_crs.py's rule) to the JULIET
    and ELIANA CRS any-grade rows (in-sample), least sum of squares.
No out-of-sample row enters a choice. The script then prints, per setting, the in-sample fit and
the rows it is judged on: per product CRS any, the share of CRS patients reaching base grade 2
(axi-cel: tocilizumab use, given at grade >= 2; Penn presets: crs_severe = Penn 3 = base grade 2),
ZUMA-1 grade >= 3, and the validate line of all six presets (liso-cel, ide-cel and cilta-cel with
the loop but NOT refitted: their CRS-any rows move and would need their own refits).

Every copy is validated by the release binary (`cartox validate --presets <copies> --out -`,
n = 200, seed 1), through docs/validate_copies.py. A loop parameter with omega2 is a new random
effect, which shifts every later draw of the population (docs: src/variability.rs), so the g_loop =
0 row is run with the same omega2: the rows differ from the shipped model only by that.

Usage:
    cargo build --release
    python3 docs/calibrate_ignition.py               # every setting (~1 min on 2 shared cores)
    python3 docs/calibrate_ignition.py --table 3 4   # one setting (g_loop 3, omega2 4; "-" = none):
                                                     # every row that moved vs the shipped presets
"""
import os
import re
import sys

from validate_copies import validate_copies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ["axi-cel", "tisa-cel-dlbcl", "tisa-cel-all", "liso-cel", "ide-cel", "cilta-cel"]
TEXT = {n: open(os.path.join(ROOT, "models", f"{n}.toml")).read() for n in NAMES}
S_LOOP = 20.0  # models/cartox.toml default
# (g_loop, omega2 of g_loop or None): no loop, a deterministic loop, loops with patient spread
SETTINGS = [(0.0, 4.0), (1.0, None), (3.0, None), (0.5, 4.0), (1.0, 4.0), (3.0, 4.0)]
AXI_A = [round(2.2e-4 * m, 8) for m in (0.3, 0.4, 0.5, 0.7, 1.0)]
AXI_OMEGA = [0.25, 0.5, 1.0]
ZUMA = {"crs_any_incidence": (0.94, 0.82, 1.0), "crs_severe_incidence": (0.13, 0.07, 0.2),
        "tocilizumab_incidence": (0.426, 0.337, 0.52)}
TISA_F = [round(0.03 + 0.01 * i, 2) for i in range(8)]  # 0.03 .. 0.10
TISA_ANY = {"tisa-cel-dlbcl": 0.58, "tisa-cel-all": 0.79}
BASE_A_A, BASE_P_E = 3.3e-4, 0.5  # models/cartox.toml


def override(text, key, value, omega2=None):
    """Set `key = { value = .. [, omega2 = ..] }` in [parameters] (edit the line or add one)."""
    om = "" if omega2 is None else f", omega2 = {omega2!r}"
    line = f'{key} = {{ value = {value!r}{om}, source = "scan (docs/calibrate_ignition.py)" }}'
    new, n = re.subn(rf"(?m)^{key}\s*=\s*\{{.*\}}\s*$", line, text)
    if n == 0:
        new, n = re.subn(r"(?m)^\[parameters\]\n", f"[parameters]\n{line}\n", text)
    if n != 1:
        sys.exit(f"{key}: override not placed exactly once")
    return new


def with_loop(text, g, omega2):
    return override(override(text, "g_loop", g, omega2), "S_loop", S_LOOP)


def run(texts):
    res = {}
    for r in validate_copies(texts):
        res.setdefault(r["product"], {})[r["metric"]] = r
    return res


def num(res, product, metric):
    # nan when the preset has no such row (tisa-cel-all reads tocilizumab among patients with
    # CRS since issue 14, ninth session: `tocilizumab_incidence_in_crs`)
    v = res[product].get(metric, {}).get("simulated")
    return float(v) if v else float("nan")


def fit_axi(g, omega2):
    best = None
    for a in AXI_A:
        for om in AXI_OMEGA:
            t = override(with_loop(TEXT["axi-cel"], g, omega2), "a_A", a, om)
            res = run({"axi-cel": t})
            loss = sum(((num(res, "axi-cel", m) - p) / ((hi - lo) / 2)) ** 2
                       for m, (p, lo, hi) in ZUMA.items())
            if best is None or loss < best[0]:
                best = (loss, a, om)
    return best


def fit_tisa(g, omega2):
    best = None
    for f in TISA_F:
        texts = {n: override(override(with_loop(TEXT[n], g, omega2), "a_A", float(f"{BASE_A_A * f:.6g}"), 1.0),
                             "p_E", float(f"{BASE_P_E * f:.6g}")) for n in TISA_ANY}
        res = run(texts)
        loss = sum((num(res, n, "crs_any_incidence") - p) ** 2 for n, p in TISA_ANY.items())
        if best is None or (loss, -f) < (best[0], -best[1]):
            best = (loss, f)
    return best


def refitted(g, omega2):
    """The six presets with the loop and the in-sample refits (axi-cel a_A, tisa-cel factor)."""
    axi, tisa = fit_axi(g, omega2), fit_tisa(g, omega2)
    texts = {n: with_loop(TEXT[n], g, omega2) for n in NAMES}
    texts["axi-cel"] = override(texts["axi-cel"], "a_A", axi[1], axi[2])
    for n in TISA_ANY:
        texts[n] = override(override(texts[n], "a_A", float(f"{BASE_A_A * tisa[1]:.6g}"), 1.0),
                            "p_E", float(f"{BASE_P_E * tisa[1]:.6g}"))
    return axi, tisa, texts


def table(g, omega2):
    axi, tisa, texts = refitted(g, omega2)
    before, after = run(dict(TEXT)), run(texts)
    print(f"g_loop {g}, omega2 {omega2}, S_loop {S_LOOP}; refits: axi-cel a_A {axi[1]:.3g} omega2 {axi[2]}, "
          f"tisa-cel f {tisa[1]}")
    print("| product | metric | sample | range | before | after | within before -> after |")
    print("|---|---|---|---|---|---|---|")
    for p in NAMES:
        for m, b in before[p].items():
            a = after[p][m]
            if a["simulated"] != b["simulated"] or a["within"] != b["within"]:
                print(f"| {p} | {m} | {b['sample']} | {float(b['low']):.3g}-{float(b['high']):.3g} | "
                      f"{float(b['simulated']):.3g} | {float(a['simulated']):.3g} | {b['within']} -> {a['within']} |")
    for name, res in (("before", before), ("after", after)):
        rows = [r for p in res.values() for r in p.values()]
        for s in ("in", "out"):
            rs = [r for r in rows if r["sample"] == s]
            print(f"{name}: {s}-of-sample {sum(r['within'] == 'yes' for r in rs)}/{len(rs)}"
                  if s == "out" else f"{name}: in-sample {sum(r['within'] == 'yes' for r in rs)}/{len(rs)}")


def main():
    if "--table" in sys.argv:
        i = sys.argv.index("--table")
        g, om = float(sys.argv[i + 1]), sys.argv[i + 2]
        table(g, None if om == "-" else float(om))
        return
    print("setting (g_loop, omega2) | in-sample refits | per product: CRS any, share of CRS reaching base "
          "grade 2 | ZUMA-1 grade >= 3 | out-of-sample hits of all six presets")
    for g, omega2 in SETTINGS:
        axi, tisa, texts = refitted(g, omega2)
        f = tisa[1]
        res = run(texts)
        rows = [r for p in res.values() for r in p.values()]
        ins = [r for r in rows if r["sample"] == "in"]
        out = [r for r in rows if r["sample"] == "out"]
        hit = lambda rs: sum(r["within"] == "yes" for r in rs)
        a_any = num(res, "axi-cel", "crs_any_incidence")
        a_g2 = num(res, "axi-cel", "tocilizumab_incidence")
        print(f"\n== g_loop {g}, omega2 {omega2}, S_loop {S_LOOP}: axi-cel a_A {axi[1]:.3g} omega2 {axi[2]} "
              f"(loss {axi[0]:.2f}); tisa-cel f {f} (loss {tisa[0]:.4f})")
        print(f"   axi-cel   CRS any {a_any:.3f}  grade>=2 (tocilizumab) {a_g2:.3f}  share {a_g2 / a_any:.2f}"
              f"  grade>=3 {num(res, 'axi-cel', 'crs_severe_incidence'):.3f}")
        for n in TISA_ANY:
            c_any, sev = num(res, n, "crs_any_incidence"), num(res, n, "crs_severe_incidence")
            print(f"   {n:<15} CRS any {c_any:.3f}  Penn>=3 (= base grade 2) {sev:.3f}  share "
                  f"{sev / c_any:.2f}  tocilizumab {num(res, n, 'tocilizumab_incidence'):.3f}")
        for n in ("cilta-cel", "ide-cel"):
            print(f"   {n:<15} CRS any {num(res, n, 'crs_any_incidence'):.3f}  ICANS any "
                  f"{num(res, n, 'icans_any_incidence'):.3f} (not refitted)")
        moved_out = [f"{r['product']} {r['metric']}" for r in out if r["within"] == "no"]
        missed_in = [f"{r['product']} {r['metric']}" for r in ins if r["within"] == "no"]
        print(f"   in-sample {hit(ins)}/{len(ins)}, out-of-sample {hit(out)}/{len(out)}")
        print(f"   out-of-sample misses: {', '.join(moved_out)}")
        print(f"   in-sample misses: {', '.join(missed_in)}")


if __name__ == "__main__":
    main()
