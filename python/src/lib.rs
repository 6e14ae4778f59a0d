//! `cartox._cartox`: the Rust side of the `cartox` Python package. The functions here take and
//! return plain data (text, numbers, bytes of f64); `cartox/__init__.py` turns them into pandas
//! DataFrames. Solving runs with the GIL released (`Python::detach`).

mod model_info;
mod scenario;
mod settings;
mod table;

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use settings::Settings;
use std::collections::HashMap;

/// The allocator of the `cartox` binary (measured faster on sweeps, docs/sweep.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    cartox,
    CartoxError,
    PyValueError,
    "A cartox error: bad input, option, model file or failed solve. The message is the CLI's \
     one-line error (without its `error: ` prefix)."
);

/// A library error as the CLI prints it: the error and its causes, joined by `: `.
fn message(e: &cartox::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.join(": ")
}

/// A library error as a [`CartoxError`] with the CLI's message.
pub(crate) fn error(e: cartox::Error) -> PyErr {
    CartoxError::new_err(message(&e))
}

fn settings(
    model: String,
    values: HashMap<String, String>,
    set: Vec<(String, String)>,
    interventions: bool,
) -> Settings {
    Settings {
        model,
        values,
        set,
        interventions,
    }
}

/// Bundled models: (name, time unit, title).
#[pyfunction]
fn models() -> Vec<(String, String, String)> {
    model_info::models()
}

/// A model's description as JSON text.
#[pyfunction]
fn describe(py: Python<'_>, model: String) -> PyResult<String> {
    py.detach(|| {
        let m = cartox::Model::resolve(&model).map_err(error)?;
        Ok(model_info::describe(&m).to_string())
    })
}

/// A time course: (column, values) in column order.
type TimeCourse = Vec<(String, Vec<f64>)>;

/// One scenario: ([(column, values)], summary JSON text).
#[pyfunction]
fn simulate(
    py: Python<'_>,
    model: String,
    values: HashMap<String, String>,
    set: Vec<(String, String)>,
    interventions: bool,
) -> PyResult<(TimeCourse, String)> {
    let s = settings(model, values, set, interventions);
    py.detach(|| {
        let (model, inputs, opts) = s.prepare()?;
        let run = cartox::run(&model, &inputs, &opts).map_err(error)?;
        let tc = scenario::timecourse(&model, &run, &opts);
        let summary = scenario::summary(&model, &run, &opts)
            .map_err(error)?
            .to_string();
        Ok((tc, summary))
    })
}

/// Draw labelled scenarios (each: (label, [(input, value)])) overlaid, to `out`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn plot(
    py: Python<'_>,
    out: std::path::PathBuf,
    model: String,
    values: HashMap<String, String>,
    set: Vec<(String, String)>,
    interventions: bool,
    scenarios: Vec<(String, Vec<(String, String)>)>,
    panels: Vec<String>,
    width: u32,
    height: u32,
    title: Option<String>,
) -> PyResult<()> {
    let s = settings(model, values, set, interventions);
    py.detach(|| {
        let (model, base, opts) = s.prepare()?;
        let scenarios = if scenarios.is_empty() {
            vec![(model.name.clone(), vec![])]
        } else {
            scenarios
        };
        let mut runs = Vec::with_capacity(scenarios.len());
        for (label, cells) in &scenarios {
            let mut inputs = base.clone();
            for (name, value) in cells {
                inputs.set(&model, name, value).map_err(|e| {
                    CartoxError::new_err(format!("scenario `{label}`, {name}: {e}"))
                })?;
            }
            let run = cartox::run(&model, &inputs, &opts).map_err(|e| {
                CartoxError::new_err(format!("scenario `{label}`: {}", message(&e)))
            })?;
            runs.push(run);
        }
        let labelled: Vec<(&str, &cartox::Run)> = scenarios
            .iter()
            .map(|(l, _)| l.as_str())
            .zip(runs.iter())
            .collect();
        let fig = cartox::plot::FigureOptions {
            panels,
            width,
            height,
            title,
        };
        cartox::plot::draw_runs(&model, &labelled, &opts, &fig, &out).map_err(error)
    })
}

/// A sweep: check the header, run every row. Returns (ID column position, extras as (position,
/// name), [(metric, kind, data)], ok bytes, messages); `kind` is `number` (bytes of native f64), `flag` (bytes of i8: 1, 0, -1
/// missing) or `text` (a list of str).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn sweep<'py>(
    py: Python<'py>,
    model: String,
    values: HashMap<String, String>,
    set: Vec<(String, String)>,
    interventions: bool,
    header: Vec<String>,
    cells: Vec<Vec<String>>,
    index: Vec<u64>,
    jobs: usize,
    allow_extra: bool,
) -> PyResult<SweepResult<'py>> {
    let s = settings(model, values, set, interventions);
    if cells.len() != header.len() || cells.iter().any(|c| c.len() != index.len()) {
        return Err(CartoxError::new_err(
            "internal: the table's columns and rows do not match".to_string(),
        ));
    }
    // Ctrl-C (KeyboardInterrupt) stops a long sweep between chunks of rows.
    let mut interrupted: Option<PyErr> = None;
    let table = py.detach(|| -> PyResult<table::Table> {
        let (model, base, opts) = s.prepare()?;
        let cols = table::columns(&model, &header, allow_extra).map_err(error)?;
        let mut stop = || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                interrupted = Some(e);
                true
            }
        };
        table::run(&model, base, opts, &cols, &cells, &index, jobs, &mut stop).map_err(error)
    })?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    let metrics = PyList::empty(py);
    for (name, col) in table.metrics {
        let item: (String, &str, Py<PyAny>) = match col {
            table::Column::Number(v) => {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
                (name, "number", PyBytes::new(py, &bytes).into_any().unbind())
            }
            table::Column::Flag(v) => {
                let bytes: Vec<u8> = v.iter().map(|&x| x as u8).collect();
                (name, "flag", PyBytes::new(py, &bytes).into_any().unbind())
            }
            table::Column::Text(v) => (name, "text", v.into_pyobject(py)?.into_any().unbind()),
        };
        metrics.append(item)?;
    }
    let ok: Vec<u8> = table.ok.iter().map(|&b| b as u8).collect();
    Ok((
        table.id,
        table.extras,
        metrics,
        PyBytes::new(py, &ok),
        table.message,
    ))
}

/// What [`sweep`] returns.
type SweepResult<'py> = (
    Option<usize>,
    Vec<(usize, String)>,
    Bound<'py, PyList>,
    Bound<'py, PyBytes>,
    Vec<String>,
);

/// Virtual patients: (column names after `ID`, [bytes of native f64 per column]).
#[pyfunction]
fn population<'py>(
    py: Python<'py>,
    model: String,
    n: usize,
    seed: u64,
    weight_cv: f64,
) -> PyResult<(Vec<String>, Vec<Bound<'py, PyBytes>>)> {
    let (names, cols) = py.detach(|| {
        let m = cartox::Model::resolve(&model).map_err(error)?;
        table::population(&m, n, seed, weight_cv).map_err(error)
    })?;
    let data = cols
        .iter()
        .map(|c| {
            let bytes: Vec<u8> = c.iter().flat_map(|x| x.to_ne_bytes()).collect();
            PyBytes::new(py, &bytes)
        })
        .collect();
    Ok((names, data))
}

/// The metric column names of a sweep, in order.
#[pyfunction]
fn metric_names() -> Vec<&'static str> {
    cartox::run::METRIC_NAMES.to_vec()
}

#[pymodule]
fn _cartox(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CartoxError", m.py().get_type::<CartoxError>())?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(plot, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(population, m)?)?;
    m.add_function(wrap_pyfunction!(metric_names, m)?)?;
    Ok(())
}
