//! Local sensitivities at the typical patient: `S = d ln y / d ln p`.
//!
//! For each parameter `p0`, the model is run at `p0 e^(+-h)` and `p0 e^(+-h/2)`; the central
//! differences `D(s) = (y(p0 e^s) - y(p0 e^-s)) / (2 s y0)` have error `O(s^2)`, so the Richardson
//! combination `(4 D(h/2) - D(h)) / 3` is `O(h^4)`, and `|D(h/2) - D(h)|` (about 4x the error
//! of `D(h/2)`, far above that of the combination) is reported as its error bound. A value
//! is missing when `y0 = 0` (no logarithmic sensitivity) or a run fails.
//! Finite differences need the solver tolerance well below `h`: the CLI uses `rtol = 1e-10`
//! for this method unless told otherwise.

use super::evaluate::simulate_all;
use super::outputs::OutputSpec;
use super::{Index, IndexRow};
use crate::error::{Error, InputError};
use crate::model::Model;
use crate::par::Pool;
use crate::regimen::{Inputs, Scenario};
use crate::run::{Run, RunOptions};
use crate::Result;

/// Default log step.
pub const DEFAULT_STEP: f64 = 0.01;

/// Runs per parameter (besides the one base run).
const RUNS: usize = 4;

/// Sensitivities of whole time courses: per parameter, per grid time, per observable.
#[derive(Debug, Clone, PartialEq)]
pub struct Timecourses {
    pub time: Vec<f64>,
    pub observables: Vec<String>,
    /// `[parameter][time][observable]`, `None` where the observable is 0 or a run failed.
    pub values: Vec<Vec<Vec<Option<f64>>>>,
}

/// The result of a local analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub rows: Vec<IndexRow>,
    pub timecourses: Option<Timecourses>,
    pub runs: usize,
    /// (number of failed runs, first message)
    pub failed: (usize, Option<String>),
}

/// `(value, error)` from `y0`, `y(+-h)` and `y(+-h/2)`.
pub fn richardson(y0: f64, [yp, ym, yp2, ym2]: [f64; 4], h: f64) -> Option<(f64, f64)> {
    if y0 == 0.0 || !y0.is_finite() {
        return None;
    }
    let d1 = (yp - ym) / (2.0 * h * y0);
    let d2 = (yp2 - ym2) / (h * y0);
    let r = (4.0 * d2 - d1) / 3.0;
    (r.is_finite()).then_some((r, (d2 - d1).abs()))
}

type Read = (Vec<Option<f64>>, Option<Vec<Vec<f64>>>);

/// Local sensitivities of `outputs` to each parameter in `names` at the patient `base`; with
/// `timecourses`, also of every observable on the `opts` output grid.
#[allow(clippy::too_many_arguments)]
pub fn local(
    model: &Model,
    base: &Inputs,
    names: &[String],
    outputs: &[OutputSpec],
    opts: &RunOptions,
    h: f64,
    timecourses: bool,
    pool: &Pool,
) -> Result<Local> {
    if !(h.is_finite() && h > 0.0 && h < 1.0) {
        return Err(opt_err!(
            "--step",
            "--step must be a number in (0, 1), got {h}"
        ));
    }
    let scenario = Scenario::prepare(model, base)?;
    let mut idx = Vec::with_capacity(names.len());
    for n in names {
        let i = model.parameter_index(n).ok_or_else(|| {
            opt_err!("--params", "--params: `{n}` is not a parameter of model `{}`: local sensitivities are d ln y / d ln p of parameters (see `cartox describe {}`)",
                model.name,
                model.name
            )
        })?;
        if scenario.params[i] == 0.0 {
            return Err(opt_err!(
                "--params",
                "--params: `{n}` is 0 at the typical patient: no logarithmic sensitivity"
            ));
        }
        idx.push(i);
    }
    let mut inputs = vec![base.clone()];
    for &i in &idx {
        let p0 = scenario.params[i];
        for s in [h, -h, h / 2.0, -h / 2.0] {
            let mut x = base.clone();
            x.params.retain(|(j, _)| *j != i);
            x.params.push((i, p0 * s.exp()));
            inputs.push(x);
        }
    }
    let read = |r: &Run| -> Read {
        let m = r.metrics();
        let ys = outputs.iter().map(|o| o.read(model, r, &m)).collect();
        let tc = timecourses.then(|| {
            let tr = r.trajectory(model, opts);
            (0..tr.time.len())
                .map(|k| tr.observables.row(k).to_vec())
                .collect()
        });
        (ys, tc)
    };
    let res = simulate_all(model, &inputs, opts, pool, &read);
    let failed = res.iter().filter(|r| r.is_err()).count();
    let first = res.iter().find_map(|r| r.as_ref().err().cloned());
    let base_run = res[0].as_ref().map_err(|e| {
        Error::Input(InputError {
            name: "typical patient".to_string(),
            message: format!("the typical patient's run fails: {e}"),
        })
    })?;
    let mut rows = vec![];
    for (o, spec) in outputs.iter().enumerate() {
        for (f, name) in names.iter().enumerate() {
            let runs = &res[1 + RUNS * f..1 + RUNS * (f + 1)];
            let ys: Option<Vec<f64>> = runs
                .iter()
                .map(|r| r.as_ref().ok().and_then(|r| r.0[o]))
                .collect();
            let est = base_run.0[o]
                .zip(ys)
                .and_then(|(y0, ys)| richardson(y0, [ys[0], ys[1], ys[2], ys[3]], h));
            let n_ok = 1 + runs.iter().filter(|r| r.is_ok()).count();
            rows.push(IndexRow {
                output: spec.label.clone(),
                parameter: name.clone(),
                index: Index::Local,
                value: est.map(|e| e.0),
                ci_low: est.map(|e| e.0 - e.1),
                ci_high: est.map(|e| e.0 + e.1),
                n_rows: n_ok,
            });
        }
    }
    let tcs = timecourses.then(|| {
        let tr_time = crate::trajectory::output_grid(opts.days, opts.dt);
        let base_tc = base_run.1.as_ref();
        let values = (0..names.len())
            .map(|f| {
                let runs: Vec<Option<&Vec<Vec<f64>>>> = res[1 + RUNS * f..1 + RUNS * (f + 1)]
                    .iter()
                    .map(|r| r.as_ref().ok().and_then(|r| r.1.as_ref()))
                    .collect();
                (0..tr_time.len())
                    .map(|k| {
                        (0..model.observables.len())
                            .map(|q| {
                                let y0 = base_tc?.get(k)?[q];
                                let mut ys = [0.0; 4];
                                for (slot, r) in ys.iter_mut().zip(&runs) {
                                    *slot = (*r)?.get(k)?[q];
                                }
                                richardson(y0, ys, h).map(|e| e.0)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Timecourses {
            time: tr_time,
            observables: model.observables.iter().map(|o| o.name.clone()).collect(),
            values,
        }
    });
    Ok(Local {
        rows,
        timecourses: tcs,
        runs: res.len(),
        failed: (failed, first),
    })
}

#[cfg(test)]
mod tests {
    use super::richardson;

    #[test]
    fn richardson_is_exact_to_fourth_order() {
        // y = p^3 at p0 = 2: d ln y / d ln p = 3
        let (p0, h) = (2.0f64, 0.01);
        let y = |s: f64| (p0 * f64::exp(s)).powi(3);
        let (v, e) = richardson(y(0.0), [y(h), y(-h), y(h / 2.0), y(-h / 2.0)], h).unwrap();
        assert!((v - 3.0).abs() < 1e-7, "{v}");
        assert!(e > (v - 3.0).abs());
        assert_eq!(richardson(0.0, [1.0; 4], h), None);
    }
}
