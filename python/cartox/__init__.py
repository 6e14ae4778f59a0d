"""cartox: CAR T-cell therapy simulation from Python.

The functions mirror the ``cartox`` command line and return pandas objects:

- :func:`models` and :func:`describe`: the bundled model library (``cartox models``,
  ``cartox describe``).
- :func:`simulate`: one scenario, its time course and summary (``cartox simulate --out
  --summary``).
- :func:`sweep`: every row of a parameter table, in parallel (``cartox sweep``).
- :func:`population`: virtual patients from the model's variability (``cartox population``).
- :func:`plot`: a figure of one or several scenarios (``cartox simulate --plot``).

Inputs have the command line's names and meaning (``dose`` in CAR-T cells, ``dose_per_kg`` in
cells/kg with ``weight`` in kg, ``ld`` a lymphodepletion regimen of the model, ``days`` and
``dt`` in days after infusion, ``params`` like ``--set NAME=VALUE``), and the same values give
the same numbers as the CLI. Problems raise :class:`CartoxError` (a ``ValueError``) with the
CLI's one-line message. The solver runs without the GIL.

Grades and metrics are *modelled* risk from a mathematical model; nothing here is clinical
advice.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _cartox
from ._cartox import CartoxError

__all__ = [
    "CartoxError",
    "METRIC_NAMES",
    "describe",
    "models",
    "plot",
    "population",
    "simulate",
    "sweep",
]

#: A value as the command line takes it: a number, or text (``"1e8"``, ``"flu-cy"``).
Value = Union[int, float, str]

#: The metric columns of a sweep, in order (``cartox sweep``'s columns between ``ID`` and
#: ``status``).
METRIC_NAMES: List[str] = list(_cartox.metric_names())

#: The model used when none is named.
DEFAULT_MODEL = "cartox"


def _text(value: Any) -> str:
    """A value as text, as ``DataFrame.to_csv`` writes it (floats in shortest round-trip form)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _schedule_text(schedule: Union[str, Sequence[Tuple[float, float]]]) -> str:
    if isinstance(schedule, str):
        return schedule
    return ",".join(f"{_text(day)}:{_text(fraction)}" for day, fraction in schedule)


def _settings(
    dose: Optional[Value],
    dose_per_kg: Optional[Value],
    weight: Optional[Value],
    schedule: Union[str, Sequence[Tuple[float, float]], None],
    ld: Optional[str],
    tumor_burden: Optional[Value],
    bridging: Optional[Value],
    days: Value,
    dt: Value,
    window: Optional[Value],
    alarm_window: Optional[Value],
    method: str,
    rtol: Value,
    atol: Value,
    params: Optional[Mapping[str, Value]],
) -> Tuple[Dict[str, str], List[Tuple[str, str]]]:
    values = {
        "dose": dose,
        "dose_per_kg": dose_per_kg,
        "weight": weight,
        "schedule": None if schedule is None else _schedule_text(schedule),
        "ld": ld,
        "tumor_burden": tumor_burden,
        "bridging": bridging,
        "days": days,
        "dt": dt,
        "window": window,
        "alarm_window": alarm_window,
        "method": method,
        "rtol": rtol,
        "atol": atol,
    }
    text = {k: _text(v) for k, v in values.items() if v is not None}
    sets = [(str(k), _text(v)) for k, v in (params or {}).items()]
    return text, sets


def models() -> List[str]:
    """Names of the bundled models, as ``cartox models`` lists them.

    >>> "cartox" in models()
    True
    """
    return [name for name, _unit, _title in _cartox.models()]


def describe(model: str = DEFAULT_MODEL) -> Dict[str, Any]:
    """A model's contents, as ``cartox describe`` prints them, as a dict.

    Keys: ``name``, ``title``, ``description``, ``file``, ``time_unit``; ``states`` (name, unit,
    initial, description), ``parameters`` (name, value, unit, description, source, ``bounds``
    as ``[lower, upper]`` with ``None`` for no bound, ``omega2``), ``correlations``,
    ``assignments``, ``equations`` (state -> right-hand side), ``observables`` (name, unit,
    expression, description), ``events``, ``regimen`` (default dose, weight, tumor burden,
    lymphodepletion; ``None`` without one), ``lymphodepletion``, ``references``.

    ``model`` is a bundled model's name or the path of a model file (TOML, or SBML .xml).
    """
    return json.loads(_cartox.describe(str(model)))


def simulate(
    model: str = DEFAULT_MODEL,
    *,
    dose: Optional[Value] = None,
    dose_per_kg: Optional[Value] = None,
    weight: Optional[Value] = None,
    schedule: Union[str, Sequence[Tuple[float, float]], None] = None,
    ld: Optional[str] = None,
    tumor_burden: Optional[Value] = None,
    bridging: Optional[Value] = None,
    params: Optional[Mapping[str, Value]] = None,
    days: Value = 28.0,
    dt: Value = 0.1,
    window: Optional[Value] = None,
    alarm_window: Optional[Value] = None,
    interventions: bool = True,
    method: str = "auto",
    rtol: Value = 1e-6,
    atol: Value = 1e-9,
) -> Tuple[pd.DataFrame, Dict[str, Any]]:
    """Simulate one scenario: ``cartox simulate`` with the same flags.

    Args:
        model: bundled model name or path to a model file (TOML, SBML).
        dose: total infused dose, CAR-T cells (or ``dose_per_kg`` cells/kg with ``weight`` kg).
        schedule: split infusion, ``[(day, fraction), ...]`` or ``"0:0.1,1:0.3,2:0.6"``.
        ld: lymphodepletion regimen declared by the model (``"none"``, ``"flu-cy"``...).
        tumor_burden: tumor burden at lymphodepletion, cells.
        bridging: fraction of the tumor removed by bridging therapy (0-1).
        params: parameters or ``<state>_0`` initial values by name (``--set NAME=VALUE``).
        days, dt: simulated span and output grid, days.
        window, alarm_window: monitoring and early-alarm windows, days (model defaults).
        interventions: fire the model's toxicity-triggered interventions.
        method, rtol, atol: integration method (auto, dopri5, radau5, rodas4, bdf) and tolerances.

    Returns:
        ``(timecourse, summary)``: the time course of ``--out`` (``time`` in days, every state,
        every observable, then ``crs_grade``/``icans_grade``, NaN outside the monitoring
        window) and the summary of ``--summary`` as a dict (``cart_cmax``, ``cart_tmax``,
        ``crs_grade``, ``units``, ``solver``...; JSON ``null`` is ``None``).

    Raises:
        CartoxError: with the CLI's message, e.g. ``--dose: `dose` = -1 must not be negative``.
    """
    values, sets = _settings(
        dose, dose_per_kg, weight, schedule, ld, tumor_burden, bridging,
        days, dt, window, alarm_window, method, rtol, atol, params,
    )
    columns, summary = _cartox.simulate(str(model), values, sets, bool(interventions))
    timecourse = pd.DataFrame({name: np.asarray(v, dtype=np.float64) for name, v in columns})
    return timecourse, json.loads(summary)


def _cells(column: pd.Series) -> List[str]:
    """The cells of a column as ``DataFrame.to_csv`` writes them (missing values empty)."""
    dtype = column.dtype
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return ["" if x != x else repr(x) for x in column.to_numpy(dtype=np.float64).tolist()]
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return [str(x) for x in column.tolist()]
    return ["" if _missing(v) else _text(v) for v in column.tolist()]


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and v != v


def sweep(
    table: pd.DataFrame,
    model: str = DEFAULT_MODEL,
    *,
    jobs: Optional[int] = None,
    allow_extra: bool = False,
    number_rows: str = "position",
    dose: Optional[Value] = None,
    dose_per_kg: Optional[Value] = None,
    weight: Optional[Value] = None,
    schedule: Union[str, Sequence[Tuple[float, float]], None] = None,
    ld: Optional[str] = None,
    tumor_burden: Optional[Value] = None,
    bridging: Optional[Value] = None,
    params: Optional[Mapping[str, Value]] = None,
    days: Value = 28.0,
    dt: Value = 0.1,
    window: Optional[Value] = None,
    alarm_window: Optional[Value] = None,
    interventions: bool = True,
    method: str = "auto",
    rtol: Value = 1e-6,
    atol: Value = 1e-9,
) -> pd.DataFrame:
    """Run every row of a parameter table: ``cartox sweep`` on ``table.to_csv()``.

    Columns of ``table``: an optional ``ID``, then parameter names, ``<state>_0`` and regimen
    inputs (``dose``, ``dose_per_kg``, ``weight``, ``tumor_burden``, ``ld``, ``bridging``,
    ``schedule``); a cell overrides the keyword settings (which are ``simulate``'s), a missing
    value (NaN, None) is an empty cell. Other columns are an error unless ``allow_extra``,
    which carries them through after ``ID``.

    Rows run in parallel on ``jobs`` threads (None or 0: one per core) with the GIL released; the
    result does not depend on ``jobs``. Ctrl-C (``KeyboardInterrupt``) stops a long sweep after
    the chunk of rows in hand.

    Returns:
        One row per input row, the index of ``table``: ``ID`` (the input's, else the 1-based
        row number), carried-through columns, the metrics of :data:`METRIC_NAMES` (numbers as
        float64 with NaN for "none", ``b_cell_aplasia`` and ``alarm`` as pandas ``boolean``,
        ``response``, ``best_response``, ``interventions`` as text), ``status`` (``"ok"`` or
        ``"error"``) and ``message`` (why the row failed, naming the row and column; empty
        when it ran). The values are those of the CLI's CSV for the same table. A failing row
        does not raise.

    ``number_rows="index"`` numbers the rows (default ``ID``, messages) by ``table.index + 1``
    instead of by position: a partition of a larger table (Dask) then reads like the whole
    table's CLI output.

    Raises:
        CartoxError: a bad header (unknown column), setting or ``jobs``, with the CLI's message.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"sweep: expected a pandas DataFrame, got {type(table).__name__}")
    if number_rows == "position":
        index = list(range(len(table)))
    elif number_rows == "index":
        if len(table) and not pd.api.types.is_integer_dtype(table.index.dtype):
            raise CartoxError("number_rows='index' needs an integer index (row numbers from 0)")
        index = [int(i) for i in table.index]
        if any(i < 0 for i in index):
            raise CartoxError("number_rows='index' needs an index of row numbers >= 0")
    else:
        raise CartoxError(f"number_rows must be 'position' or 'index', got {number_rows!r}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 0):
        raise CartoxError(f"jobs must be a whole number >= 0 (0 or None: one per core), got {jobs!r}")
    values, sets = _settings(
        dose, dose_per_kg, weight, schedule, ld, tumor_burden, bridging,
        days, dt, window, alarm_window, method, rtol, atol, params,
    )
    header = [str(c) for c in table.columns]
    cells = [_cells(table.iloc[:, k]) for k in range(table.shape[1])]
    id_pos, extras, metrics, ok, message = _cartox.sweep(
        str(model), values, sets, bool(interventions), header, cells, index,
        int(jobs or 0), bool(allow_extra),
    )
    n = len(table)
    out: Dict[str, Any] = {}
    if id_pos is None:
        out["ID"] = np.asarray(index, dtype=np.int64) + 1
    else:
        out["ID"] = table.iloc[:, id_pos].to_numpy()
    for pos, name in extras:
        out[name] = table.iloc[:, pos].to_numpy()
    for name, kind, data in metrics:
        if kind == "number":
            out[name] = np.frombuffer(data, dtype=np.float64).copy()
        elif kind == "flag":
            flags = np.frombuffer(data, dtype=np.int8)
            out[name] = pd.arrays.BooleanArray(flags == 1, flags < 0)
        else:
            out[name] = np.asarray(data, dtype=object) if n else np.asarray([], dtype=object)
    okv = np.frombuffer(ok, dtype=np.uint8).astype(bool)
    out["status"] = np.where(okv, "ok", "error").astype(object)
    out["message"] = np.asarray(message, dtype=object) if n else np.asarray([], dtype=object)
    return pd.DataFrame(out, index=table.index)


def population(
    n: int,
    seed: int,
    model: str = DEFAULT_MODEL,
    *,
    weight_cv: float = 0.2,
) -> pd.DataFrame:
    """Virtual patients drawn from the model's inter-individual variability: ``cartox population
    --n N --seed SEED``.

    Returns ``ID`` (1..n) then one float64 column per parameter with ``omega2`` (log-normal,
    correlated as the model's ``[[correlations]]`` say, clipped to bounds), ``weight`` (kg,
    log-normal with coefficient of variation ``weight_cv``) and ``dose`` (cells) when the model
    doses per kg. The same seed gives the same patients; the table is a valid :func:`sweep`
    input.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise CartoxError(f"--n must be a whole number >= 0, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise CartoxError(f"--seed must be a whole number in [0, 2^64), got {seed!r}")
    names, columns = _cartox.population(str(model), int(n), int(seed), float(weight_cv))
    out: Dict[str, Any] = {"ID": np.arange(1, n + 1, dtype=np.int64)}
    for name, data in zip(names, columns):
        out[name] = np.frombuffer(data, dtype=np.float64).copy()
    return pd.DataFrame(out)


def plot(
    out: Union[str, "os.PathLike[str]"],
    model: str = DEFAULT_MODEL,
    *,
    scenarios: Optional[Mapping[str, Mapping[str, Value]]] = None,
    panels: Optional[Sequence[str]] = None,
    width: int = 900,
    height: int = 1000,
    title: Optional[str] = None,
    dose: Optional[Value] = None,
    dose_per_kg: Optional[Value] = None,
    weight: Optional[Value] = None,
    schedule: Union[str, Sequence[Tuple[float, float]], None] = None,
    ld: Optional[str] = None,
    tumor_burden: Optional[Value] = None,
    bridging: Optional[Value] = None,
    params: Optional[Mapping[str, Value]] = None,
    days: Value = 28.0,
    dt: Value = 0.1,
    window: Optional[Value] = None,
    alarm_window: Optional[Value] = None,
    interventions: bool = True,
    method: str = "auto",
    rtol: Value = 1e-6,
    atol: Value = 1e-9,
) -> str:
    """Draw a figure to ``out`` (``.png`` or ``.svg``, written atomically) and return its path.

    Without ``scenarios``: the figure of ``cartox simulate --plot out`` for these settings (the
    model's default panels, grade thresholds, dose and intervention markers, monitoring and
    alarm windows). With ``scenarios`` (label -> inputs by sweep column name, e.g.
    ``{"1e7 cells": {"dose": 1e7}, "1e8 cells": {"dose": 1e8}}``): every scenario overlaid, one
    colour each, on top of the keyword settings. ``panels`` picks the states or observables
    drawn, one panel each.
    """
    values, sets = _settings(
        dose, dose_per_kg, weight, schedule, ld, tumor_burden, bridging,
        days, dt, window, alarm_window, method, rtol, atol, params,
    )
    scen = [
        (str(label), [(str(k), _text(v)) for k, v in inputs.items()])
        for label, inputs in (scenarios or {}).items()
    ]
    if scenarios is not None and not scen:
        raise CartoxError("plot: `scenarios` is empty")
    path = os.fspath(out)
    _cartox.plot(
        path, str(model), values, sets, bool(interventions), scen,
        [str(p) for p in (panels or [])], int(width), int(height), title,
    )
    return path
