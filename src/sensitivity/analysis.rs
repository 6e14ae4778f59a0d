//! Global analyses end to end: design -> evaluation -> estimators -> tidy rows.

use super::design;
use super::estimators::{self, Bootstrap, Estimate};
use super::evaluate::{evaluate, Evaluation, Population};
use super::outputs::OutputSpec;
use super::{Factor, IndexRow};
use crate::model::Model;
use crate::par::Pool;
use crate::regimen::Inputs;
use crate::run::RunOptions;

/// What a global analysis needs besides its method settings.
pub struct Setup<'a> {
    pub model: &'a Model,
    pub base: &'a Inputs,
    pub factors: &'a [Factor],
    pub outputs: &'a [OutputSpec],
    pub population: Option<&'a Population>,
    pub opts: &'a RunOptions,
    pub pool: &'a Pool,
    pub seed: u64,
    pub bootstrap: Bootstrap,
}

/// A finished global analysis.
pub struct Global {
    pub rows: Vec<IndexRow>,
    /// The design in the unit cube and in input values (one row per evaluated point).
    pub unit: Vec<Vec<f64>>,
    pub points: Vec<Vec<f64>>,
    pub evaluation: Evaluation,
}

fn to_values(factors: &[Factor], unit: &[Vec<f64>]) -> Vec<Vec<f64>> {
    unit.iter()
        .map(|u| factors.iter().zip(u).map(|(f, x)| f.value(*x)).collect())
        .collect()
}

fn column(ev: &Evaluation, o: usize) -> Vec<Option<f64>> {
    ev.values.iter().map(|v| v[o]).collect()
}

fn rows_of(label: &str, factors: &[Factor], es: Vec<Estimate>) -> Vec<IndexRow> {
    es.into_iter()
        .map(|e| IndexRow {
            output: label.to_string(),
            parameter: e
                .factors
                .iter()
                .map(|&i| factors[i].name.as_str())
                .collect::<Vec<_>>()
                .join(":"),
            index: e.index,
            value: e.value,
            ci_low: e.ci.map(|c| c.0),
            ci_high: e.ci.map(|c| c.1),
            n_rows: e.n_rows,
        })
        .collect()
}

fn run_design(s: &Setup, unit: Vec<Vec<f64>>) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Evaluation) {
    let points = to_values(s.factors, &unit);
    let ev = evaluate(
        s.model,
        s.base,
        s.factors,
        &points,
        s.population,
        s.outputs,
        s.opts,
        s.pool,
    );
    (unit, points, ev)
}

/// Sobol indices from `n` base rows (`n (k + 2)` points, `n (2k + 2)` with second order).
pub fn sobol(s: &Setup, n: usize, second_order: bool) -> Global {
    let k = s.factors.len();
    let (unit, points, ev) = run_design(s, design::saltelli(k, n, s.seed, second_order));
    let mut rows = vec![];
    for (o, spec) in s.outputs.iter().enumerate() {
        let es = estimators::sobol(&column(&ev, o), k, second_order, &s.bootstrap);
        rows.extend(rows_of(&spec.label, s.factors, es));
    }
    Global {
        rows,
        unit,
        points,
        evaluation: ev,
    }
}

/// Morris elementary effects from `r` trajectories on a `levels`-level grid.
pub fn morris(s: &Setup, r: usize, levels: usize) -> Global {
    let k = s.factors.len();
    let (unit, points, ev) = run_design(s, design::morris(k, r, levels, s.seed));
    let mut rows = vec![];
    for (o, spec) in s.outputs.iter().enumerate() {
        let es = estimators::morris(&unit, &column(&ev, o), k, &s.bootstrap);
        rows.extend(rows_of(&spec.label, s.factors, es));
    }
    Global {
        rows,
        unit,
        points,
        evaluation: ev,
    }
}
