//! `cartox.simulate(...)` and `cartox.plot(...)`: one scenario through the library, giving what
//! `cartox simulate --out tc.csv --summary s.json --plot fig` writes.

use cartox::model::Model;
use cartox::run::{Run, RunOptions};
use serde_json::Value;

/// The time course of `cartox simulate --out`: (column, values) for `time` (days), every
/// state, every observable, then `crs_grade` and `icans_grade` (NaN: not graded, or after the
/// monitoring window) when the model grades toxicity (the library's own grade columns).
pub fn timecourse(model: &Model, run: &Run, opts: &RunOptions) -> Vec<(String, Vec<f64>)> {
    let tr = run.trajectory(model, opts);
    let mut cols = vec![("time".to_string(), tr.time.clone())];
    for (j, name) in tr.state_names.iter().enumerate() {
        cols.push((name.clone(), tr.states.column(j).to_vec()));
    }
    for (j, name) in tr.observable_names.iter().enumerate() {
        cols.push((name.clone(), tr.observables.column(j).to_vec()));
    }
    for (name, col) in cartox::output::grade_columns(run, &tr) {
        cols.push((name.to_string(), col));
    }
    cols
}

/// The summary JSON of `cartox simulate --summary`, key for key (the library writes both).
pub fn summary(model: &Model, run: &Run, opts: &RunOptions) -> cartox::Result<Value> {
    cartox::output::summary_json(model, run, opts)
}
