//! Helpers shared by the integration tests.
#![allow(dead_code)]

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::solve::{Method, SolverOptions};
use cartox::trajectory::Trajectory;
use std::path::Path;

/// Read a reference CSV: header and rows of numbers.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .map(|x| x.parse::<f64>().unwrap())
                .collect()
        })
        .collect();
    (header, rows)
}

pub fn tight(method: Method) -> SolverOptions {
    SolverOptions {
        method,
        rtol: 1e-10,
        atol: 1e-12,
        ..SolverOptions::default()
    }
}

/// Simulate `model` with default inputs and sample at `days`.
pub fn sample(model: &Model, inputs: &Inputs, days: &[f64], solver: SolverOptions) -> Trajectory {
    let end = *days.last().unwrap();
    let opts = RunOptions {
        days: end,
        dt: end,
        window: end,
        solver,
        ..RunOptions::default()
    };
    let run = cartox::run(model, inputs, &opts).unwrap();
    Trajectory::sample(model, &run.solution, &run.scenario.params, days)
}

/// Largest |a - b| / max|b| over a column.
pub fn column_scaled_error(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

/// A one-state delay differential equation, x' = -x(t - tau), with a delayed observable: the
/// fixture of the tests that check a feature also on a `delay()` model.
pub fn delay_model() -> Model {
    let text = r#"
[model]
name = "dde"
time_unit = "day"

[[parameters]]
name = "tau"
value = 1
unit = "day"

[[states]]
name = "x"
unit = "1"
initial = 1

[equations]
x = "-delay(x, tau)"

[[assignments]]
name = "lagged"
expr = "delay(x, 1) + x"
observe = true
"#;
    Model::from_toml(text, "dde.toml").unwrap()
}

/// A run's metric by name (panics, naming it, if the run has none).
pub fn metric(r: &cartox::run::Run, name: &str) -> cartox::run::Metric {
    r.metrics()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .1
}

/// A numeric metric that must be present.
pub fn number(r: &cartox::run::Run, name: &str) -> f64 {
    match metric(r, name) {
        cartox::run::Metric::Number(Some(x)) => x,
        m => panic!("{name}: {m:?}"),
    }
}

/// A text metric (a category such as the best response).
pub fn text(r: &cartox::run::Run, name: &str) -> String {
    match metric(r, name) {
        cartox::run::Metric::Text(t) => t,
        m => panic!("{name}: {m:?}"),
    }
}

/// The median of a sample (mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The population's CRS results split at the median of a per-patient covariate: (above, at or
/// below), for tests that a covariate raises CRS.
pub fn crs_above_and_below_median(
    runs: &[cartox::run::Run],
    covariate: &[f64],
) -> (
    Vec<cartox::toxicity::GradeResult>,
    Vec<cartox::toxicity::GradeResult>,
) {
    let cut = median(covariate.to_vec());
    let (mut hi, mut lo) = (Vec::new(), Vec::new());
    for (r, &x) in runs.iter().zip(covariate) {
        let c = r.toxicity.as_ref().unwrap().crs.clone().unwrap();
        if x > cut {
            hi.push(c)
        } else {
            lo.push(c)
        }
    }
    (hi, lo)
}
