//! Evaluating design points: inputs -> runs -> output values, in parallel, order preserved.
//!
//! [`simulate_all`] is the one place that runs the model (a list of [`Inputs`], results in input
//! order, a panicking or failing run is an error for that entry only); everything else builds
//! inputs and reads outputs around it.

use super::outputs::OutputSpec;
use super::Factor;
use crate::model::Model;
use crate::output::fmt_num;
use crate::par::Pool;
use crate::regimen::Inputs;
use crate::run::{run, Run, RunOptions};

/// Runs per parallel chunk (memory is bounded by a chunk's inputs and results).
pub const CHUNK_RUNS: usize = 16384;

/// Run every entry of `inputs` (in parallel on `pool`) and map each run with `read`; results
/// are in input order whatever the number of threads.
pub fn simulate_all<T: Send>(
    model: &Model,
    inputs: &[Inputs],
    opts: &RunOptions,
    pool: &Pool,
    read: &(dyn Fn(&Run) -> T + Sync),
) -> Vec<Result<T, String>> {
    pool.map(inputs.iter().collect(), &|i: &Inputs| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(model, i, opts)))
            .map_err(|p| {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                format!("the solver panicked: {what}")
            })?
            .map(|r| read(&r))
            .map_err(|e| e.to_string())
    })
}

/// Virtual patients evaluated at every design point (common random numbers: the same patients
/// at every point).
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// Input names (parameters with variability, then `weight`, `dose` when covariates).
    pub names: Vec<String>,
    /// Per patient, per name: for a parameter the factor `exp(eta)` applied to its typical value
    /// (the design point's value when the parameter is varied), otherwise the absolute value
    /// (ignored when the design varies that input).
    pub patients: Vec<Vec<f64>>,
}

/// The outputs of every design point.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Per point, per output; all `None` when the point failed.
    pub values: Vec<Vec<Option<f64>>>,
    /// Per point, the first error (`None`: every run of the point succeeded).
    pub errors: Vec<Option<String>>,
    /// Model runs made.
    pub runs: usize,
    /// Model runs that failed.
    pub failed_runs: usize,
}

impl Evaluation {
    /// Points that failed.
    pub fn failed_points(&self) -> usize {
        self.errors.iter().filter(|e| e.is_some()).count()
    }
}

/// The inputs of one design point: `base`, then each factor at its value in `point`.
pub fn point_inputs(model: &Model, base: &Inputs, factors: &[Factor], point: &[f64]) -> Inputs {
    let mut inputs = base.clone();
    for (f, v) in factors.iter().zip(point) {
        if let Some(i) = model.parameter_index(&f.name) {
            inputs.params.retain(|(j, _)| *j != i);
            inputs.params.push((i, *v));
        } else {
            // ranges were checked against the input's rules when the factors were resolved
            let _ = inputs.set(model, &f.name, &fmt_num(*v));
        }
    }
    inputs
}

/// One patient of the population at a design point.
fn patient_inputs(
    model: &Model,
    point: &Inputs,
    factors: &[Factor],
    pop: &Population,
    k: usize,
) -> Inputs {
    let mut inputs = point.clone();
    for (name, x) in pop.names.iter().zip(&pop.patients[k]) {
        if let Some(i) = model.parameter_index(name) {
            let p = &model.parameters[i];
            let typical = inputs
                .params
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(p.value, |(_, v)| *v);
            let mut v = typical * x;
            if let Some(l) = p.lower {
                v = v.max(l);
            }
            if let Some(u) = p.upper {
                v = v.min(u);
            }
            inputs.params.retain(|(j, _)| *j != i);
            inputs.params.push((i, v));
        } else if !factors.iter().any(|f| &f.name == name) {
            let _ = inputs.set(model, name, &fmt_num(*x));
        }
    }
    inputs
}

/// Evaluate `outputs` at every point (values of `factors`, in order), each over the population
/// when one is given, else at the typical patient.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &Model,
    base: &Inputs,
    factors: &[Factor],
    points: &[Vec<f64>],
    population: Option<&Population>,
    outputs: &[OutputSpec],
    opts: &RunOptions,
    pool: &Pool,
) -> Evaluation {
    let per_point = population.map_or(1, |p| p.patients.len().max(1));
    let read = |r: &Run| -> Vec<Option<f64>> {
        let m = r.metrics();
        outputs.iter().map(|o| o.read(model, r, &m)).collect()
    };
    let mut values = Vec::with_capacity(points.len());
    let mut errors = Vec::with_capacity(points.len());
    let (mut runs, mut failed_runs) = (0, 0);
    // bounded memory: a chunk of points (and their patients) at a time
    let chunk = (CHUNK_RUNS / per_point).max(1);
    for (c, pts) in points.chunks(chunk).enumerate() {
        let mut inputs = Vec::with_capacity(pts.len() * per_point);
        for p in pts {
            let pi = point_inputs(model, base, factors, p);
            match population {
                Some(pop) if !pop.patients.is_empty() => {
                    for k in 0..pop.patients.len() {
                        inputs.push(patient_inputs(model, &pi, factors, pop, k));
                    }
                }
                _ => inputs.push(pi),
            }
        }
        let raw = simulate_all(model, &inputs, opts, pool, &read);
        runs += raw.len();
        failed_runs += raw.iter().filter(|r| r.is_err()).count();
        for (jj, group) in raw.chunks(per_point).enumerate() {
            let j = c * chunk + jj;
            if let Some((k, Err(e))) = group.iter().enumerate().find(|(_, r)| r.is_err()) {
                errors.push(Some(match population {
                    Some(_) => format!("point {}, patient {}: {e}", j + 1, k + 1),
                    None => format!("point {}: {e}", j + 1),
                }));
                values.push(vec![None; outputs.len()]);
                continue;
            }
            errors.push(None);
            let ok: Vec<&Vec<Option<f64>>> = group.iter().filter_map(|r| r.as_ref().ok()).collect();
            let row = outputs
                .iter()
                .enumerate()
                .map(|(o, spec)| {
                    let col: Vec<Option<f64>> = ok.iter().map(|v| v[o]).collect();
                    spec.aggregate(&col)
                })
                .collect();
            values.push(row);
        }
    }
    Evaluation {
        values,
        errors,
        runs,
        failed_runs,
    }
}
