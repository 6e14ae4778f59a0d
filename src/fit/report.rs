//! Outputs of a fit: the estimates table, the correlations (long format) and the predictions
//! (at the data times and on a fine grid), as CSV lines.
//!
//! Estimates (`--out`), one row per patient (or `pooled`): `ID`, each estimated parameter,
//! `se_<name>` of each, the residual error parameters and their `se_`, `ofv`, `aic`, `bic`,
//! `n_obs`, `n_blq`, `iterations`, `status`, `message`, then the 95% interval of every estimate
//! as `lo_<name>`, `hi_<name>`.
//!
//! Correlations (`--correlations`): `ID,row,column,r` for each pair of estimates (log scale).
//!
//! Predictions (`--predictions`): `ID,kind,TIME,OBS,DV,BLQ,IPRED,PRED,IWRES`: `kind` is `data` (at
//! an observation) or `grid` (a fine grid from day 0 to the last observation); `IPRED` uses the
//! patient's estimates, `PRED` the typical values (the model's, with the patient's covariates and
//! regimen); `IWRES` is the standardised residual on the error model's scale.

use super::data::{Dataset, Patient};
use super::estimate::predict_patient;
use super::likelihood::ErrorModel;
use super::{residual_names, Fit, Settings};
use crate::model::{Model, Quantity};
use crate::output::{csv_line, fmt_num};
use crate::regimen::{Inputs, Scenario};
use crate::solve;
use crate::trajectory::Reader;

/// Points of the fine prediction grid per patient.
pub const GRID_POINTS: usize = 200;

/// Names of all estimates: parameters, then residual parameters.
pub fn estimate_names(
    model: &Model,
    ds: &Dataset,
    est: &[usize],
    error: ErrorModel,
) -> Vec<String> {
    est.iter()
        .map(|&i| model.parameters[i].name.clone())
        .chain(residual_names(ds, error))
        .collect()
}

/// The header of the estimates table.
pub fn estimates_header(names: &[String], n_params: usize) -> String {
    let mut h: Vec<String> = vec!["ID".into()];
    h.extend(names[..n_params].iter().cloned());
    h.extend(names[..n_params].iter().map(|n| format!("se_{n}")));
    h.extend(names[n_params..].iter().cloned());
    h.extend(names[n_params..].iter().map(|n| format!("se_{n}")));
    for c in [
        "ofv",
        "aic",
        "bic",
        "n_obs",
        "n_blq",
        "iterations",
        "status",
        "message",
    ] {
        h.push(c.into());
    }
    h.extend(names.iter().map(|n| format!("lo_{n}")));
    h.extend(names.iter().map(|n| format!("hi_{n}")));
    csv_line(h.iter().map(String::as_str))
}

fn num(x: f64) -> String {
    if x.is_finite() {
        fmt_num(x)
    } else {
        String::new()
    }
}

/// One row of the estimates table (empty cells where a value is missing or the fit failed).
pub fn estimates_line(fit: &Fit, names: &[String], n_params: usize) -> String {
    let k = names.len();
    let mut row: Vec<String> = vec![fit.id.clone()];
    match &fit.result {
        Ok(e) => {
            row.extend(e.value[..n_params].iter().map(|v| num(*v)));
            row.extend(e.se[..n_params].iter().map(|v| num(*v)));
            row.extend(e.value[n_params..].iter().map(|v| num(*v)));
            row.extend(e.se[n_params..].iter().map(|v| num(*v)));
            row.extend([num(e.ofv), num(e.aic), num(e.bic)]);
            row.extend([e.n_obs.to_string(), e.n_censored.to_string()]);
            row.extend([
                e.iterations.to_string(),
                e.status.clone(),
                e.message.clone(),
            ]);
            row.extend(e.lower.iter().map(|v| num(*v)));
            row.extend(e.upper.iter().map(|v| num(*v)));
        }
        Err(m) => {
            row.extend(std::iter::repeat_n(String::new(), 2 * k + 5));
            row.extend([String::new(), "failed".into(), m.clone()]);
            row.extend(std::iter::repeat_n(String::new(), 2 * k));
        }
    }
    csv_line(row.iter().map(String::as_str))
}

/// The correlations table: header and one line per pair (a <= b) of every fit with a covariance.
pub fn correlation_lines(fits: &[Fit], names: &[String]) -> Vec<String> {
    let mut out = vec![csv_line(["ID", "row", "column", "r"])];
    for f in fits {
        let Ok(e) = &f.result else { continue };
        let Some(r) = &e.correlation else { continue };
        for a in 0..names.len() {
            for b in a..names.len() {
                if r[(a, b)].is_finite() {
                    out.push(csv_line([
                        f.id.as_str(),
                        names[a].as_str(),
                        names[b].as_str(),
                        &fmt_num(r[(a, b)]),
                    ]));
                }
            }
        }
    }
    out
}

/// One observation with its predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// Days.
    pub time: f64,
    /// Index into [`Dataset::obs_names`].
    pub obs: usize,
    /// The observed value (the limit when censored).
    pub dv: f64,
    /// Below the limit of quantification.
    pub censored: bool,
    /// Individual prediction (NaN when the fit failed).
    pub ipred: f64,
    /// Typical-value prediction.
    pub pred: f64,
    /// Standardised residual (NaN when censored or failed).
    pub iwres: f64,
}

/// Curves of one observed quantity on the grid: (obs index, days, IPRED, PRED).
pub type GridCurve = (usize, Vec<f64>, Vec<f64>, Vec<f64>);

/// A patient's predictions: at the data and on a grid, per observed quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientPredictions {
    /// `ID`.
    pub id: String,
    /// At the observations, in file order.
    pub data: Vec<DataPoint>,
    /// Per observed quantity of the patient: (obs index, days, IPRED, PRED).
    pub grid: Vec<GridCurve>,
}

/// Predictions of every patient with the estimates of `fits` (one per patient, or one pooled).
pub fn predictions(
    model: &Model,
    ds: &Dataset,
    fits: &[Fit],
    est: &[usize],
    settings: &Settings,
) -> Vec<PatientPredictions> {
    let n_obs = ds.obs_names.len();
    let q = settings.error.n_params();
    ds.patients
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let fit = if fits.len() == 1 && ds.patients.len() > 1 {
                &fits[0]
            } else {
                &fits[k]
            };
            let fitted = fit.result.as_ref().ok().map(|e| {
                let mut inputs = p.inputs.clone();
                for (j, &i) in est.iter().enumerate() {
                    inputs.params.retain(|(m, _)| *m != i);
                    inputs.params.push((i, e.value[j]));
                }
                let sig: Vec<Vec<f64>> = (0..n_obs)
                    .map(|o| e.value[est.len() + o * q..est.len() + (o + 1) * q].to_vec())
                    .collect();
                (inputs, sig)
            });
            one(model, p, fitted.as_ref(), settings)
        })
        .collect()
}

fn one(
    model: &Model,
    p: &Patient,
    fitted: Option<&(Inputs, Vec<Vec<f64>>)>,
    settings: &Settings,
) -> PatientPredictions {
    let nan = || vec![f64::NAN; p.observations.len()];
    let pred = predict_patient(model, p, &p.inputs, &settings.solver).unwrap_or_else(nan);
    let ipred = fitted
        .and_then(|(inputs, _)| predict_patient(model, p, inputs, &settings.solver))
        .unwrap_or_else(nan);
    let data = p
        .observations
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let iwres = match fitted {
                Some((_, sig)) if !o.censored => {
                    iwres(settings.error, o.value, ipred[k], &sig[o.obs])
                }
                _ => f64::NAN,
            };
            DataPoint {
                time: o.time,
                obs: o.obs,
                dv: o.value,
                censored: o.censored,
                ipred: ipred[k],
                pred: pred[k],
                iwres,
            }
        })
        .collect();
    let end = p.last_time().max(1e-3);
    let days: Vec<f64> = (0..=GRID_POINTS)
        .map(|i| end * i as f64 / GRID_POINTS as f64)
        .collect();
    let mut kinds: Vec<(usize, Quantity)> = vec![];
    for o in &p.observations {
        if !kinds.iter().any(|(k, _)| *k == o.obs) {
            kinds.push((o.obs, o.quantity));
        }
    }
    let curve = |inputs: Option<&Inputs>| -> Vec<Vec<f64>> {
        let run = inputs.and_then(|i| {
            let sc = Scenario::prepare(model, i).ok()?;
            let sol = solve::solve(model, &sc, end, &settings.solver, None).ok()?;
            Some((sc, sol))
        });
        kinds
            .iter()
            .map(|(_, q)| match &run {
                Some((sc, sol)) => {
                    let mut r = Reader::new(model, sol, &sc.params, *q);
                    days.iter().map(|d| r.at(*d)).collect()
                }
                None => vec![f64::NAN; days.len()],
            })
            .collect()
    };
    let ip = curve(fitted.map(|f| &f.0));
    let tp = curve(Some(&p.inputs));
    let grid = kinds
        .iter()
        .zip(ip.into_iter().zip(tp))
        .map(|((o, _), (i, t))| (*o, days.clone(), i, t))
        .collect();
    PatientPredictions {
        id: p.id.clone(),
        data,
        grid,
    }
}

fn iwres(error: ErrorModel, y: f64, f: f64, sig: &[f64]) -> f64 {
    let s: Vec<f64> = sig.iter().map(|v| v.ln()).collect();
    let (Some(yc), true) = (
        error.observed(y),
        f > 0.0 || error != ErrorModel::Exponential,
    ) else {
        return f64::NAN;
    };
    let mu = if error == ErrorModel::Exponential {
        f.ln()
    } else {
        f
    };
    let sd = match error {
        ErrorModel::Exponential | ErrorModel::Additive => s[0].exp(),
        ErrorModel::Proportional => s[0].exp() * f.abs(),
        ErrorModel::Combined => ((2.0 * s[0]).exp() + (2.0 * s[1]).exp() * f * f).sqrt(),
    };
    (yc - mu) / sd
}

/// The predictions table: header, then the data rows and grid rows of each patient.
pub fn prediction_lines(ds: &Dataset, preds: &[PatientPredictions]) -> Vec<String> {
    let mut out = vec![csv_line([
        "ID", "kind", "TIME", "OBS", "DV", "BLQ", "IPRED", "PRED", "IWRES",
    ])];
    for p in preds {
        for d in &p.data {
            out.push(csv_line([
                p.id.as_str(),
                "data",
                &fmt_num(d.time),
                ds.obs_names[d.obs].as_str(),
                &fmt_num(d.dv),
                if d.censored { "1" } else { "0" },
                &num(d.ipred),
                &num(d.pred),
                &num(d.iwres),
            ]));
        }
        for (o, days, ip, tp) in &p.grid {
            for (k, d) in days.iter().enumerate() {
                out.push(csv_line([
                    p.id.as_str(),
                    "grid",
                    &fmt_num(*d),
                    ds.obs_names[*o].as_str(),
                    "",
                    "",
                    &num(ip[k]),
                    &num(tp[k]),
                    "",
                ]));
            }
        }
    }
    out
}
