"""The Python API end to end, each result compared with the `cartox` binary's for the same
inputs."""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pandas as pd
import pytest

import cartox
from conftest import assert_sweep_equals_cli, cli_error, run_cli


def test_models_are_the_cli_list(cli):
    lines = run_cli(cli, "models").stdout.splitlines()[1:]
    assert cartox.models() == [line.split()[0] for line in lines]
    assert "cartox" in cartox.models() and len(cartox.models()) > 5


@pytest.mark.parametrize("model", cartox.models())
def test_describe_lists_every_parameter_as_the_cli_prints_it(cli, model):
    d = cartox.describe(model)
    text = run_cli(cli, "describe", model).stdout
    assert d["name"] == model
    assert text.startswith(f"{model} — {d['title']}\n")
    lines = text.splitlines()
    listed = lines[lines.index("Parameters:") + 1 :]
    listed = listed[: listed.index("")]
    assert len(d["parameters"]) == len([l for l in listed if re.match(r"^  \S", l)])
    for p in d["parameters"]:
        line = next(l for l in lines if l.startswith(f"  {p['name']:<14} = "))
        m = re.match(
            r"^  \S+\s+= (\S+) (.*?)(?: bounds \[(\S+), (\S+)\])?(?: omega2 (\S+))?$", line
        )
        assert m, line
        value, unit, lo, hi, omega2 = m.groups()
        assert float(value) == p["value"] and unit == p["unit"], line
        lower, upper = p["bounds"]
        if lo is None:
            assert lower is None and upper is None
        else:
            assert (lower is None and lo == "-inf") or float(lo) == lower
            assert (upper is None and hi == "inf") or float(hi) == upper
        assert (omega2 is None and p["omega2"] is None) or float(omega2) == p["omega2"]
        if p["source"]:
            assert f"      source: {p['source'].splitlines()[0]}" in lines
    states = [s["name"] for s in d["states"]]
    assert [f"  d{s}/dt = {d['equations'][s]}" for s in states] == [
        l for l in lines if l.startswith("  d") and "/dt = " in l
    ]
    for o in d["observables"]:
        assert f"  {o['name']:<14} [{o['unit']}] = {o['expression']}  — {o['description']}" in lines


def test_describe_the_default_model():
    d = cartox.describe("cartox")
    assert d["time_unit"] == "day" and d["file"] == "models/cartox.toml"
    assert [o["name"] for o in d["observables"]][:3] == ["antigen_negative_fraction", "cart_blood", "tumor"]
    assert d["regimen"]["dose_state"] == "P" and d["regimen"]["ld"] == "flu-cy"
    assert {l["name"] for l in d["lymphodepletion"]} >= {"none", "flu-cy"}


def test_describe_unknown_model_raises_the_cli_message(cli):
    with pytest.raises(cartox.CartoxError) as e:
        cartox.describe("no-such-model")
    assert str(e.value) == cli_error(cli, "describe", "no-such-model")
    assert isinstance(e.value, ValueError)


SCENARIOS = [
    (dict(dose=1e8, ld="flu-cy", params={"k_act": 0.5}, days=35, dt=0.25),
     ["--dose", "1e8", "--ld", "flu-cy", "--set", "k_act=0.5", "--days", "35", "--dt", "0.25"]),
    (dict(dose_per_kg=2e6, weight=70, tumor_burden=1e11, bridging=0.3,
          schedule=[(0, 0.1), (1, 0.3), (2, 0.6)], method="radau5", rtol=1e-7, atol=1e-10),
     ["--dose-per-kg", "2e6", "--weight", "70", "--tumor-burden", "1e11", "--bridging", "0.3",
      "--schedule", "0:0.1,1:0.3,2:0.6", "--method", "radau5", "--rtol", "1e-7", "--atol",
      "1e-10"]),
    (dict(ld="none", interventions=False, window=21, alarm_window=7),
     ["--ld", "none", "--no-interventions", "--window", "21", "--alarm-window", "7"]),
    (dict(model="hanson2016", days=20, dt=0.5), ["--model", "hanson2016", "--days", "20", "--dt", "0.5"]),
]


@pytest.mark.parametrize("kwargs,flags", SCENARIOS)
def test_simulate_equals_the_cli_time_course_and_summary(cli, tmp_path, kwargs, flags):
    tc, summary = cartox.simulate(**kwargs)
    run_cli(cli, "simulate", *flags, "--out", str(tmp_path / "tc.csv"),
            "--summary", str(tmp_path / "s.json"))
    want = pd.read_csv(tmp_path / "tc.csv", float_precision="round_trip")
    pd.testing.assert_frame_equal(tc, want.astype(np.float64), check_exact=True)
    assert summary == json.loads((tmp_path / "s.json").read_text())
    assert tc["time"].iloc[-1] == pytest.approx(float(kwargs.get("days", 28)))


def test_simulate_summary_reads_as_numbers():
    tc, s = cartox.simulate(dose=1e8)
    peak = tc["cart_blood"].max()
    # The summary's Cmax comes from the continuous solution: at least the grid's maximum.
    assert s["cart_cmax"] >= peak > 0 and abs(s["cart_cmax"] - peak) / peak < 0.01
    assert s["units"]["cart_cmax"] == "cells/uL"
    assert s["crs_grade"] in (0, 1, 2, 3, 4)


ERRORS = [
    (dict(dose=-1), ["--dose", "-1"]),
    (dict(dose="abc"), ["--dose", "abc"]),
    (dict(ld="nope"), ["--ld", "nope"]),
    (dict(params={"nope": 1}), ["--set", "nope=1"]),
    (dict(params={"k_act": "x"}), ["--set", "k_act=x"]),
    (dict(days=0), ["--days", "0"]),
    (dict(dt=0), ["--dt", "0"]),
    (dict(method="euler"), ["--method", "euler"]),
    (dict(rtol=2), ["--rtol", "2"]),
    (dict(schedule="0:0.5"), ["--schedule", "0:0.5"]),
    (dict(model="no-such-model"), ["--model", "no-such-model"]),
]


@pytest.mark.parametrize("kwargs,flags", ERRORS)
def test_errors_raise_the_cli_message(cli, kwargs, flags):
    with pytest.raises(cartox.CartoxError) as e:
        cartox.simulate(**kwargs)
    assert str(e.value) == cli_error(cli, "simulate", *flags)


def sweep_table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({
        "ID": [f"p{i}" for i in range(n)],
        "dose": rng.lognormal(np.log(1e8), 0.8, n),
        "k_act": rng.uniform(0.2, 0.9, n),
        "ld": rng.choice(["none", "flu-cy"], n),
        "site": rng.choice(["A", "B, C"], n),
    })
    df.loc[3, "dose"] = -5.0            # a bad cell fails its row only
    df.loc[7, "ld"] = "nope"            # unknown regimen
    df.loc[11, "k_act"] = np.nan        # empty cell
    return df


def test_sweep_rows_equal_the_cli_csv(cli, tmp_path):
    df = sweep_table()
    df.to_csv(tmp_path / "p.csv", index=False)
    result = cartox.sweep(df, allow_extra=True, days=30, ld="flu-cy")
    p = run_cli(cli, "sweep", "--params", str(tmp_path / "p.csv"), "--out", str(tmp_path / "r.csv"),
                "--allow-extra", "--days", "30", "--ld", "flu-cy", "--quiet", ok=(3,))
    assert "3 of 60 rows" in p.stderr
    assert_sweep_equals_cli(result, tmp_path / "r.csv")
    assert list(result["status"]).count("error") == 3
    assert result.loc[3, "message"].startswith("row 4, column dose: ")
    assert result["cart_cmax"].dtype == np.float64
    assert str(result["alarm"].dtype) == "boolean"
    assert result.index.equals(df.index)


def test_sweep_without_id_numbers_rows_and_equals_the_cli(cli, tmp_path):
    df = pd.DataFrame({"dose": [1e7, 1e8, 1e9], "rho_E": [0.5, 0.6, 0.7]})
    df.to_csv(tmp_path / "p.csv", index=False)
    result = cartox.sweep(df, model="axi-cel")
    run_cli(cli, "sweep", "--model", "axi-cel", "--params", str(tmp_path / "p.csv"),
            "--out", str(tmp_path / "r.csv"), "--quiet")
    assert_sweep_equals_cli(result, tmp_path / "r.csv")
    assert list(result["ID"]) == [1, 2, 3]


def test_sweep_does_not_depend_on_jobs():
    df = sweep_table(90)
    one = cartox.sweep(df, jobs=1, allow_extra=True)
    two = cartox.sweep(df, jobs=2, allow_extra=True)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_sweep_bad_header_raises_the_cli_message(cli, tmp_path):
    df = pd.DataFrame({"dose": [1e8], "colour": ["red"]})
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(cartox.CartoxError) as e:
        cartox.sweep(df)
    # The CLI puts the file first: `--params FILE: <message>`.
    assert cli_error(cli, "sweep", "--params", str(tmp_path / "p.csv"), "--out",
                     str(tmp_path / "r.csv")) == f"--params {tmp_path / 'p.csv'}: {e.value}"
    assert "unknown column `colour`" in str(e.value)


def test_sweep_of_an_empty_table_has_the_columns():
    r = cartox.sweep(pd.DataFrame({"dose": pd.Series([], dtype=float)}))
    assert list(r.columns) == ["ID", *cartox.METRIC_NAMES, "status", "message"] and len(r) == 0


@pytest.mark.parametrize("model,n,seed", [("cartox", 500, 7), ("axi-cel", 300, 42)])
def test_population_equals_the_cli(cli, tmp_path, model, n, seed):
    got = cartox.population(n, seed, model=model)
    run_cli(cli, "population", "--n", str(n), "--seed", str(seed), "--model", model,
            "--out", str(tmp_path / "pop.csv"))
    want = pd.read_csv(tmp_path / "pop.csv", float_precision="round_trip")
    # CSV carries no types: a yes/no (bernoulli) parameter such as tcz_discretion is written as 0/1
    # and pandas reads it as int64; the API returns every parameter as float64. Values stay exact.
    want = want.astype({c: "float64" for c in got.columns if got[c].dtype == "float64"})
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_population_then_sweep_equals_the_cli(cli, tmp_path):
    pop = cartox.population(40, 11)
    pop.to_csv(tmp_path / "pop.csv", index=False)
    run_cli(cli, "sweep", "--params", str(tmp_path / "pop.csv"), "--out", str(tmp_path / "r.csv"),
            "--quiet")
    assert_sweep_equals_cli(cartox.sweep(pop), tmp_path / "r.csv")


def test_population_of_a_model_without_variability_raises(cli, tmp_path):
    with pytest.raises(cartox.CartoxError) as e:
        cartox.population(5, 1, model="hanson2016")
    assert str(e.value) == cli_error(cli, "population", "--n", "5", "--seed", "1", "--model",
                                     "hanson2016", "--out", str(tmp_path / "x.csv"))


def test_plot_svg_is_the_cli_figure(cli, tmp_path):
    out = cartox.plot(tmp_path / "py.svg", dose=2e8, ld="flu-cy", title="one patient")
    run_cli(cli, "simulate", "--dose", "2e8", "--ld", "flu-cy", "--title", "one patient",
            "--plot", str(tmp_path / "cli.svg"))
    assert (tmp_path / "py.svg").read_bytes() == (tmp_path / "cli.svg").read_bytes()
    assert out == str(tmp_path / "py.svg")


def test_plot_overlay_is_the_cli_scenarios_figure(cli, tmp_path):
    cartox.plot(tmp_path / "py.svg", scenarios={"dose 1e7": {"dose": 1e7}, "dose 1e9": {"dose": 1e9}},
                panels=["cart_blood", "crs_drive"])
    run_cli(cli, "scenarios", "--vary", "dose=1e7,1e9", "--panels", "cart_blood,crs_drive",
            "--plot", str(tmp_path / "cli.svg"))
    assert (tmp_path / "py.svg").read_bytes() == (tmp_path / "cli.svg").read_bytes()


def test_plot_png_and_errors(tmp_path):
    cartox.plot(tmp_path / "f.png", width=400, height=500)
    data = (tmp_path / "f.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 400 and int.from_bytes(data[20:24], "big") == 500
    with pytest.raises(cartox.CartoxError, match="no_such_panel"):
        cartox.plot(tmp_path / "g.svg", panels=["no_such_panel"])
    with pytest.raises(cartox.CartoxError, match=r"scenario `bad`, dose: "):
        cartox.plot(tmp_path / "g.svg", scenarios={"bad": {"dose": -1}})
    assert not (tmp_path / "g.svg").exists()


def test_the_gil_is_released_while_solving():
    """While the extension solves a sweep on another thread, Python code keeps running here: the
    middle half of the native call sees many iterations of this thread's loop (with the GIL held
    it would see none)."""
    from cartox import _cartox

    n = 600
    cells = [[repr(1e7 * (1 + i % 50)) for i in range(n)]]
    stamps = []
    span = {}

    def solve():
        t0 = time.perf_counter()
        _cartox.sweep("cartox", {}, [], True, ["dose"], cells, list(range(n)), 1, False)
        span["t"] = (t0, time.perf_counter())

    worker = threading.Thread(target=solve)
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    t0, t1 = span["t"]
    middle = [s for s in stamps if t0 + 0.25 * (t1 - t0) < s < t0 + 0.75 * (t1 - t0)]
    assert len(middle) > 100, (len(middle), t1 - t0)


def test_bad_arguments():
    with pytest.raises(TypeError):
        cartox.sweep([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(cartox.CartoxError, match="jobs"):
        cartox.sweep(pd.DataFrame({"dose": [1e8]}), jobs=-1)
    with pytest.raises(cartox.CartoxError, match="number_rows"):
        cartox.sweep(pd.DataFrame({"dose": [1e8]}), number_rows="bogus")
    # The CLI's clap refuses the pair (a usage message); the same words here.
    with pytest.raises(cartox.CartoxError, match="'--dose <CELLS>' cannot be used with"):
        cartox.simulate(dose=1e8, dose_per_kg=1e6, weight=70)


class _Stop(Exception):
    pass


def test_ctrl_c_stops_a_long_sweep_inside_the_extension():
    """SIGINT during a sweep raises out of the native call itself (between chunks of rows), not
    after all rows have run: the profiler sees the extension function end with an exception."""
    import os
    import signal
    import sys

    from cartox import _cartox

    n = 40_000
    cells = [[repr(1e8)] * n]
    events = []

    def profile(frame, event, arg):
        if event in ("c_return", "c_exception") and getattr(arg, "__name__", "") == "sweep":
            events.append(event)

    def handler(signum, frame):
        raise _Stop()

    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        sys.setprofile(profile)
        timer.start()
        with pytest.raises(_Stop):
            _cartox.sweep("cartox", {}, [], True, ["dose"], cells, list(range(n)), 1, False)
    finally:
        sys.setprofile(None)
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert events == ["c_exception"]


@pytest.mark.parametrize("model", cartox.models())
def test_every_bundled_model_simulates_as_the_cli(cli, tmp_path, model):
    tc, summary = cartox.simulate(model, days=14, dt=0.5)
    run_cli(cli, "simulate", "--model", model, "--days", "14", "--dt", "0.5",
            "--out", str(tmp_path / "tc.csv"), "--summary", str(tmp_path / "s.json"))
    want = pd.read_csv(tmp_path / "tc.csv", float_precision="round_trip")
    pd.testing.assert_frame_equal(tc, want.astype(np.float64), check_exact=True)
    assert summary == json.loads((tmp_path / "s.json").read_text())
