#!/usr/bin/env python3
"""Measurement record (issue 14, tenth session; docs/presets.md, section "Issue 14, tenth session:
the calibration chain at n = 2000 (measured)"): the whole in-sample calibration chain rerun at a
population size N where Monte Carlo noise is small, each stage by its own existing rule, grid and
targets, in chain order, on COPIES of models/ (nothing here writes models/ except the explicit
`--values .. --write` adoption command below), then the full
validation table at N (and at n = 200, and at any `--table M`) for the shipped model and for the
chain's values.

Why: `cartox validate` reads each trial's rates from n = 200 virtual patients (seed 1), and every
calibration in docs/calibrate_*.py was fitted at n = 200, partly to that sample's noise (standard
error of a fraction up to 0.035). docs/measure_expectation.py reran only the ICANS stage at
n = 5000 on top of CRS/response stages still fitted at n = 200; this script is the consistent
version: every stage at the same N, each seeing the previous stages' N-fitted values.

The chain (seed 1 throughout; each candidate validated by the release binary on copies of
models/cartox.toml and the presets, the presets' `base` pointing at the copy):
  1. axi-cel a_A value x omega2: docs/calibrate_presets.py CAL["axi-cel"] (grid and loss).
  2. CRS knobs of the other presets, each by its own rule: cilta-cel and liso-cel a_A value x
     omega2 (CAL entries' a_A grids and losses; their exposure knobs k_act / rho_E / K_E stay at
     the shipped values: the exposure targets are the typical patient's kinetics, which do not
     depend on n); ide-cel p_E (docs/calibrate_crs.py: 0.10-0.50 grid, nearest KarMMa 84%, ties
     nearest 0.5); the shared tisa-cel factor f (docs/calibrate_tisacel_crs.py: JULIET 58% +
     ELIANA 79% jointly, ties to the larger f).
  3. response: the base neg_odds x omega2 on ZUMA-1 CR/ORR (docs/calibrate_response.py grid and
     loss), then each other preset's neg_odds on its trial's CR (docs/calibrate_product_response.py).
  4. ICANS: docs/measure_expectation.py's coordinate search (its grid, from the shipped optimum,
     docs/calibrate_icans.py's losses: stage 1 on ZUMA-1 + KarMMa, then f_41BB_EA on TRANSCEND).
  5. tcz_discretion: docs/calibrate_discretion.py's rule (0.05 grid, least squares on the
     TRANSCEND / KarMMa / CARTITUDE-1 tocilizumab use, ties nearest 0.5), set in the base copy
     (only those three presets' triggers read it).
Not rerun: the exposure grids (rho_E, K_E, k_act), the default model's own calibration
(docs/calibrate_default.py) and the CRS grade thresholds.

One-dimensional grids (ide-cel p_E 41 points, tisa-cel f 11, product neg_odds 20, tcz_discretion
21) are scanned whole by default. With --walk they are walked from the shipped value instead, in
both directions, each direction stopped after two consecutive points no better than the best so
far (the same choice as the whole grid whenever the loss is unimodal along the grid; used at
N = 5000 to fit the time budget). The two-dimensional grids are always scanned whole.

Usage:
    python3 docs/measure_precision_chain.py [N] [--walk]     # default N = 2000 (~25 min on 2 busy cores)
    python3 docs/measure_precision_chain.py 2000 --table 5000   # also the tables at n = 5000
    python3 docs/measure_precision_chain.py 5000 --walk
    python3 docs/measure_precision_chain.py 5000 --values '<the chain's printed values JSON>'
        # only the tables (shipped vs those values) at n = 5000 and 200
    python3 docs/measure_precision_chain.py --values '<JSON>' --write
        # the lead's adoption command (writes models/; the sources must then be updated by hand)

It prints each stage's scan and choice, the chosen values vs shipped, the exact TOML values to
write, and the full table at N (and at n = 200) for shipped vs chain: counts, rows whose flag
differs, and the issue's two conditions (out-of-sample >= 25/35; CARTITUDE-1 and KarMMa CRS and
ICANS any-grade rows within). The n = 2000 chain's values are also recorded as JSON in
docs/presets.md (section "Issue 14, tenth session: the calibration chain at n = 2000").

Result at N = 2000 (docs/presets.md): out-of-sample 26/35 (shipped) -> 23/35 (chain) at n = 2000,
25 -> 21 at n = 5000, 24 -> 21 at n = 200; in-sample 37 -> 35 at n = 2000; the CARTITUDE-1 / KarMMa
condition holds for the chain at every n. Measured, not adopted.
"""
import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate_crs as crs  # noqa: E402
import calibrate_discretion as disc  # noqa: E402
import calibrate_icans as icans  # noqa: E402
import calibrate_presets as presets  # noqa: E402
import calibrate_product_response as prodresp  # noqa: E402
import calibrate_response as resp  # noqa: E402
import calibrate_tisacel_crs as tisacel  # noqa: E402
import measure_expectation as expect  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
ALL = ["axi-cel", "tisa-cel-all", "tisa-cel-dlbcl", "liso-cel", "ide-cel", "cilta-cel"]
NEG_ODDS_BLOCK = re.compile(r'\[\[parameters\]\]\nname = "neg_odds"\n(.*?)\n\n', re.S)


def run(base, texts, n):
    """Validation rows of the presets `texts` ({name: text}) on the base model text `base`."""
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "cartox.toml")
        open(model, "w").write(base)
        paths = []
        for p, t in texts.items():
            t, k = re.subn(r'(?m)^base = "cartox"', 'base = "%s"' % model, t, count=1)
            assert k == 1, p
            path = os.path.join(tmp, p + ".toml")
            open(path, "w").write(t)
            paths.append(path)
        out = subprocess.run([BIN, "validate", "--presets", ",".join(paths), "--n", str(n), "--out", "-"],
                             check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))


def num(r):
    return float(r["simulated"]) if r["simulated"] else float("nan")


def by_key(rows):
    return {(r["product"], r["metric"]): r for r in rows}


def field(text, key, what="value"):
    m = re.search(rf"(?m)^{key}\s*=\s*\{{[^\n]*?\b{what}\s*=\s*([^,\s}}]+)", text)
    return float(m.group(1))


def base_neg_odds(base):
    block = NEG_ODDS_BLOCK.search(base).group(0)
    v = float(re.search(r"(?m)^value = (.*)$", block).group(1))
    o = float(re.search(r"(?m)^omega2 = (.*)$", block).group(1))
    return v, o


def with_base_neg_odds(base, odds, omega2):
    block = NEG_ODDS_BLOCK.search(base).group(0)
    new = re.sub(r"^value = .*$", f"value = {odds!r}", block, flags=re.M)
    new = re.sub(r"^omega2 = .*$", f"omega2 = {omega2!r}", new, flags=re.M)
    return base.replace(block, new)


def base_param(base, name):
    return float(re.search(r'\[\[parameters\]\]\nname = "%s"\nvalue = ([^\n]*)' % re.escape(name), base).group(1))


def search(grid, key, start, walk):
    """The grid value with the least key(v); with walk, walked from `start` (see docstring)."""
    cache = {}

    def k(v):
        if v not in cache:
            cache[v] = key(v)
        return cache[v]
    if not walk:
        return min(grid, key=k)
    i = min(range(len(grid)), key=lambda j: abs(grid[j] - start))
    best = grid[i]
    k(best)
    for d in (-1, 1):
        j, misses = i + d, 0
        while 0 <= j < len(grid) and misses < 2:
            if k(grid[j]) < k(best):
                best, misses = grid[j], 0
            else:
                misses += 1
            j += d
    return best


def grid2(name, base, text, knobs, n):
    """docs/calibrate_presets.py's fit for `name` over `knobs` (its grid, its loss)."""
    metrics = presets.CAL[name][1]
    best = None
    for combo in itertools.product(*[k[2] for k in knobs]):
        t = text
        for kn, v in zip(knobs, combo):
            t = presets.edit(t, kn, v)
        rows = run(base, {name: t}, n)
        loss = presets.loss(rows, metrics)
        d = {r["metric"]: num(r) for r in rows}
        print(f"   {name} " + ", ".join(f"{kn[0]}.{kn[1]}={v:g}" for kn, v in zip(knobs, combo))
              + "  " + "  ".join(f"{m} {d[m]:.3f}" for m in metrics if m in d) + f"  loss {loss:.3f}", flush=True)
        if best is None or loss < best[0]:
            best = (loss, combo, t)
    print(f"   chosen: " + ", ".join(f"{kn[0]}.{kn[1]}={v:g}" for kn, v in zip(knobs, best[1]))
          + f" (loss {best[0]:.3f})", flush=True)
    return best[2]


def a_a_knobs(name):
    return [k for k in presets.CAL[name][0] if k[0] == "a_A"]


def build(values, base, texts):
    """Apply a chain's chosen values (keys as printed in its `values` line) to shipped texts."""
    base, texts = base, dict(texts)
    for p in ("axi-cel", "cilta-cel", "liso-cel"):
        for f in ("value", "omega2"):
            texts[p] = presets.edit(texts[p], ("a_A", f, None), values[f"{p} a_A {f}"])
    texts["ide-cel"] = crs.with_pe(texts["ide-cel"], values["ide-cel p_E"])
    for p in tisacel.PRESETS:
        texts[p] = tisacel.with_factor(texts[p], values["tisa-cel factor f"])
    base = with_base_neg_odds(base, values["base neg_odds"], values["base neg_odds omega2"])
    for p in prodresp.PRESETS:
        texts[p] = prodresp.with_odds(texts[p], values[f"{p} neg_odds"])
    for k in list(expect.SHIPPED) + ["f_41BB_EA", "tcz_discretion"]:
        base = icans.set_param(base, k, values[k])
    return base, texts


def counts(res):
    c = {s: [0, 0] for s in ("in", "out")}
    for r in res.values():
        c[r["sample"]][0] += r["within"] == "yes"
        c[r["sample"]][1] += 1
    w, t = c["in"][0] + c["out"][0], c["in"][1] + c["out"][1]
    return f"{t} targets, {w} within; in-sample {c['in'][0]}/{c['in'][1]}, out-of-sample {c['out'][0]}/{c['out'][1]}", c


def conditions(res):
    c = counts(res)[1]
    rows = [(p, m) for p in ("cilta-cel", "ide-cel") for m in ("crs_any_incidence", "icans_any_incidence")]
    ok = all(res[k]["within"] == "yes" for k in rows)
    return (f"out-of-sample {c['out'][0]}/{c['out'][1]} >= 25: {c['out'][0] >= 25}; CARTITUDE-1/KarMMa CRS+ICANS any "
            + ", ".join(f"{p} {m.split('_')[0]} {num(res[(p, m)]):.3f} {res[(p, m)]['within']}" for p, m in rows)
            + f" -> all within: {ok}")


def main():
    args = sys.argv[1:]
    walk = "--walk" in args
    extra = {int(a) for i, a in enumerate(args) if i and args[i - 1] == "--table"}
    nums = [a for i, a in enumerate(args) if not a.startswith("--") and not (i and args[i - 1] in ("--table", "--values"))]
    n = int(nums[0]) if nums else 2000
    base0 = open(os.path.join(ROOT, "models", "cartox.toml")).read()
    texts0 = {p: open(os.path.join(ROOT, "models", p + ".toml")).read() for p in ALL}
    if "--values" in args:
        values = json.loads(args[args.index("--values") + 1])
        base, texts = build(values, base0, texts0)
        if "--write" in args:
            # the lead's adoption command only; the measurement never writes models/
            open(os.path.join(ROOT, "models", "cartox.toml"), "w").write(base)
            for p, t in texts.items():
                open(os.path.join(ROOT, "models", p + ".toml"), "w").write(t)
            print("written into models/ (sources still describe the n = 200 fits: update them)")
            return
        tables(base0, texts0, base, texts, sorted({200} | extra | set(map(int, nums)), reverse=True))
        return
    print(f"calibration chain at n = {n}, seed 1 ({'walked' if walk else 'whole'} 1-D grids)", flush=True)
    base, texts = base0, dict(texts0)
    chosen = []  # (what, shipped, chain)

    print("1. axi-cel a_A value x omega2 (CAL['axi-cel'])", flush=True)
    texts["axi-cel"] = grid2("axi-cel", base, texts["axi-cel"], presets.CAL["axi-cel"][0], n)
    for f in ("value", "omega2"):
        chosen.append((f"axi-cel a_A {f}", field(texts0["axi-cel"], "a_A", f), field(texts["axi-cel"], "a_A", f)))

    print("2a. cilta-cel, liso-cel a_A value x omega2 (CAL a_A grids, exposure knobs at shipped)", flush=True)
    for p in ("cilta-cel", "liso-cel"):
        texts[p] = grid2(p, base, texts[p], a_a_knobs(p), n)
        for f in ("value", "omega2"):
            chosen.append((f"{p} a_A {f}", field(texts0[p], "a_A", f), field(texts[p], "a_A", f)))

    print("2b. ide-cel p_E (calibrate_crs.py)", flush=True)

    def pe_key(v):
        d = {r["metric"]: num(r) for r in run(base, {"ide-cel": crs.with_pe(texts["ide-cel"], v)}, n)}
        print(f"   p_E {v:<5} CRS any {d['crs_any_incidence']:.4f} >=3 {d['crs_severe_incidence']:.4f}"
              f" onset {d['crs_onset_median']:.2f} toci {d['tocilizumab_incidence']:.3f}"
              f" ICANS {d['icans_any_incidence']:.3f}", flush=True)
        return (abs(d["crs_any_incidence"] - crs.PUBLISHED["ide-cel"]), abs(v - crs.BASE))
    pe = search(crs.GRID, pe_key, field(texts0["ide-cel"], "p_E"), walk)
    texts["ide-cel"] = crs.with_pe(texts["ide-cel"], pe)
    print(f"   chosen p_E = {pe}", flush=True)
    chosen.append(("ide-cel p_E", field(texts0["ide-cel"], "p_E"), pe))

    print("2c. tisa-cel factor f (calibrate_tisacel_crs.py)", flush=True)

    def f_key(f):
        res = by_key(run(base, {p: tisacel.with_factor(texts[p], f) for p in tisacel.PRESETS}, n))
        loss = sum((num(res[(p, "crs_any_incidence")]) - pub) ** 2 for p, pub in tisacel.PRESETS.items())
        print(f"   f {f:<6} JULIET any {num(res[('tisa-cel-dlbcl', 'crs_any_incidence')]):.4f}"
              f" >=3 {num(res[('tisa-cel-dlbcl', 'crs_severe_incidence')]):.4f}"
              f"  ELIANA any {num(res[('tisa-cel-all', 'crs_any_incidence')]):.4f}  loss {loss:.5f}", flush=True)
        return (round(loss, 12), -f)
    f0 = field(texts0["tisa-cel-dlbcl"], "a_A") / tisacel.BASE_A_A
    f = search(tisacel.GRID, f_key, f0, walk)
    for p in tisacel.PRESETS:
        texts[p] = tisacel.with_factor(texts[p], f)
    print(f"   chosen f = {f}", flush=True)
    chosen.append(("tisa-cel factor f", round(f0, 4), f))

    print("3a. base neg_odds x omega2 on ZUMA-1 CR/ORR (calibrate_response.py)", flush=True)
    best = None
    for odds in resp.GRID_ODDS:
        for om in resp.GRID_OMEGA2:
            rows = run(with_base_neg_odds(base, odds, om), {"axi-cel": texts["axi-cel"]}, n)
            loss = resp.loss(rows)
            d = {r["metric"]: num(r) for r in rows}
            print(f"   neg_odds {odds:<7g} omega2 {om:<5g} CR {d['complete_response_incidence']:.3f}"
                  f" ORR {d['objective_response_incidence']:.3f} loss {loss:.3f}", flush=True)
            if best is None or loss < best[0]:
                best = (loss, odds, om)
    odds0, om0 = base_neg_odds(base0)
    base = with_base_neg_odds(base, best[1], best[2])
    print(f"   chosen neg_odds {best[1]}, omega2 {best[2]} (loss {best[0]:.3f})", flush=True)
    chosen += [("base neg_odds", odds0, best[1]), ("base neg_odds omega2", om0, best[2])]

    print("3b. product neg_odds on each trial's CR (calibrate_product_response.py)", flush=True)
    for p in prodresp.PRESETS:
        def odds_key(o, p=p):
            r = by_key(run(base, {p: prodresp.with_odds(texts[p], o)}, n))[(p, prodresp.FIT)]
            print(f"   {p} neg_odds {o:<8g} CR {num(r):.4f} (published {r['published']})", flush=True)
            return abs(num(r) - float(r["published"]))
        o0 = float(re.search(r"(?m)^neg_odds = \{ value = ([^,]+),", texts0[p]).group(1))
        o = search(prodresp.GRID, odds_key, o0, walk)
        texts[p] = prodresp.with_odds(texts[p], o)
        print(f"   chosen {p} neg_odds = {o:g}", flush=True)
        chosen.append((f"{p} neg_odds", o0, o))

    print("4. ICANS coordinate search (measure_expectation.py grid, calibrate_icans.py losses)", flush=True)

    def icans_base(v):
        b = base
        for k, x in v.items():
            b = icans.set_param(b, k, x)
        return b
    cache = {}

    def stage1(v):
        key = json.dumps(v, sort_keys=True)
        if key not in cache:
            rows = run(icans_base(v), {p: texts[p] for p in ("axi-cel", "ide-cel")}, n)
            cache[key] = expect.loss_of(rows, icans.ZUMA_KARMMA)
            print(f"   {v} loss {cache[key]:.3f}", flush=True)
        return cache[key]
    cur, best1 = expect.coordinate_search(stage1)
    scored = []
    for f41 in expect.F_41BB:
        rows = run(icans_base(dict(cur, f_41BB_EA=f41)), {"liso-cel": texts["liso-cel"]}, n)
        scored.append((expect.loss_of(rows, icans.TRANSCEND), f41))
        print(f"   f_41BB_EA {f41}: TRANSCEND loss {scored[-1][0]:.3f}", flush=True)
    ic = dict(cur, f_41BB_EA=min(scored)[1])
    print(f"   chosen {ic} (stage 1 loss {best1:.3f}; shipped {stage1(expect.SHIPPED):.3f})", flush=True)
    for k, x in ic.items():
        chosen.append((k, base_param(base0, k), x))
    base = icans_base(ic)

    print("5. tcz_discretion (calibrate_discretion.py rule)", flush=True)

    def p_key(v):
        res = by_key(run(icans.set_param(base, "tcz_discretion", v), {p: texts[p] for p in disc.PUBLISHED}, n))
        loss = sum((num(res[(p, "tocilizumab_incidence")]) - pub) ** 2 for p, pub in disc.PUBLISHED.items())
        print(f"   p {v:.2f} loss {loss:.5f} " + "  ".join(
            f"{p} toci {num(res[(p, 'tocilizumab_incidence')]):.3f}" for p in disc.PUBLISHED), flush=True)
        return (round(loss, 12), abs(v - 0.5))
    p0 = base_param(base0, "tcz_discretion")
    pv = search(disc.GRID, p_key, p0, walk)
    base = icans.set_param(base, "tcz_discretion", pv)
    print(f"   chosen tcz_discretion = {pv}", flush=True)
    chosen.append(("tcz_discretion", p0, pv))

    print(f"\n== chosen values at n = {n} (shipped -> chain)")
    for what, a, b in chosen:
        print(f"  {what:<28} {a:<10g} -> {b:g}{'' if abs(a - b) <= 1e-12 * max(abs(a), 1) else '   (moved)'}")

    values = {what: b for what, _, b in chosen}
    print("  values " + json.dumps(values))
    assert build(values, base0, texts0) == (base, texts), "build() does not reproduce the chain's copies"
    tables(base0, texts0, base, texts, sorted({n, 200} | extra, reverse=True))


def tables(base0, texts0, base, texts, sizes):
    for m in sizes:
        before, after = by_key(run(base0, texts0, m)), by_key(run(base, texts, m))
        print(f"\n== full table at n = {m}\n  shipped: {counts(before)[0]}\n  chain:   {counts(after)[0]}")
        print("  rows whose flag differs (product, metric, sample: shipped -> chain [range])")
        for key, r in after.items():
            b = before[key]
            if b["within"] != r["within"]:
                print(f"    {key[0]:<15} {key[1]:<36} {r['sample']:<3} {num(b):.4g} -> {num(r):.4g}"
                      f" [{r['low']}-{r['high']}] {b['within']} -> {r['within']}")
        print(f"  conditions, shipped: {conditions(before)}\n  conditions, chain:   {conditions(after)}")


if __name__ == "__main__":
    main()
