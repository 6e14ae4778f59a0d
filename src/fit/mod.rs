//! Fitting the model to patient data: `cartox fit`.
//!
//! [`read_data`] reads observations and dose records in the NONMEM / mrgsolve convention
//! ([`data`]); [`fit`] estimates chosen parameters for each patient (or for all patients pooled)
//! by maximum likelihood, or MAP with the model's `omega2` as a log-normal prior, under a residual
//! error model ([`likelihood`]), from several starts ([`estimate`]); [`report`] writes the
//! estimates, correlations and predictions. Patients are fitted in parallel through
//! [`crate::par::Pool`]; each fit is sequential and deterministic, so the output does not depend
//! on the number of threads. A patient whose fit fails gets its row with `status` = `failed` and
//! the reason in `message`.
//!
//! Estimated parameters and residual parameters are on the log scale; standard errors of a
//! parameter are reported on its natural scale by the delta method (`se = theta * se(ln theta)`)
//! and its 95% interval is `exp(ln theta +- 1.96 se(ln theta))`.

pub mod data;
pub mod estimate;
pub mod likelihood;
pub mod report;

pub use data::{read_data, Dataset, Observation, Patient};
pub use estimate::Settings;
pub use likelihood::ErrorModel;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::par::Pool;
use estimate::{optimise, Objective};
use nalgebra::DMatrix;

/// Standard normal quantile of 0.975.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// The estimated parameters of `--estimate a,b,c`, by model index.
///
/// Errors ([`Error::Options`], `--estimate`): an unknown or repeated name, or a parameter whose
/// value is not positive (it cannot be estimated on the log scale).
pub fn parameters(model: &Model, names: &str) -> Result<Vec<usize>> {
    let bad = |message: String| Error::Options {
        option: "--estimate".into(),
        message,
    };
    let mut out = vec![];
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let i = model.parameter_index(n).ok_or_else(|| {
            bad(format!(
                "--estimate: unknown parameter `{n}` of model `{}` (see `cartox describe {}`)",
                model.name, model.name
            ))
        })?;
        if out.contains(&i) {
            return Err(bad(format!("--estimate: `{n}` is listed twice")));
        }
        if model.parameters[i].value.is_nan() || model.parameters[i].value <= 0.0 {
            return Err(bad(format!(
                "--estimate: `{n}` = {} is not positive: parameters are estimated on the log scale",
                model.parameters[i].value
            )));
        }
        out.push(i);
    }
    if out.is_empty() {
        return Err(bad("--estimate: name at least one parameter".into()));
    }
    Ok(out)
}

/// Names of the residual error parameters for a dataset: `exp_sd`, or `exp_sd_<obs>` per
/// observed quantity when there are several.
pub fn residual_names(ds: &Dataset, error: ErrorModel) -> Vec<String> {
    let mut out = vec![];
    for o in &ds.obs_names {
        for n in error.param_names() {
            out.push(if ds.obs_names.len() > 1 {
                format!("{n}_{o}")
            } else {
                n.to_string()
            });
        }
    }
    out
}

/// The estimates of one fit, on the natural scale; residual parameters of observed quantities
/// the patient has no data for are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimates {
    /// Estimates: parameters, then residual parameters (as [`residual_names`]).
    pub value: Vec<f64>,
    /// Standard errors (delta method; NaN when the information matrix is singular).
    pub se: Vec<f64>,
    /// 95% interval, lower end.
    pub lower: Vec<f64>,
    /// 95% interval, upper end.
    pub upper: Vec<f64>,
    /// Correlations of the log-scale estimates (same order), when the covariance exists.
    pub correlation: Option<DMatrix<f64>>,
    /// -2 log-likelihood (plus the prior penalty under MAP).
    pub ofv: f64,
    /// `ofv + 2 k`, k = estimated parameters + residual parameters.
    pub aic: f64,
    /// `ofv + k ln n`, n = observations.
    pub bic: f64,
    /// Observations, censored ones included.
    pub n_obs: usize,
    /// Censored (below LLOQ) observations.
    pub n_censored: usize,
    /// Trust-region iterations of the best start.
    pub iterations: u64,
    /// `converged`, `stalled` or `max_iterations`.
    pub status: String,
    /// One line: the stopping rule and how many starts reached the best minimum.
    pub message: String,
    /// Model solves, all starts.
    pub solves: usize,
}

/// One row of the result: a patient (or `pooled`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The patient's `ID`, or `pooled`.
    pub id: String,
    /// The estimates, or why the fit failed.
    pub result: std::result::Result<Estimates, String>,
}

/// Fit every patient of `ds` (or all pooled into one row) on `pool`, in data order.
///
/// Errors ([`Error::Options`]): an estimated parameter that the data also set as a covariate.
pub fn fit(
    model: &Model,
    ds: &Dataset,
    est: &[usize],
    settings: &Settings,
    pooled: bool,
    pool: &Pool,
) -> Result<Vec<Fit>> {
    for p in &ds.patients {
        if let Some((i, _)) = p.inputs.params.iter().find(|(i, _)| est.contains(i)) {
            return Err(Error::Options {
                option: "--estimate".into(),
                message: format!(
                    "--estimate: `{}` is also a covariate column of {} (ID {}): estimate it or set it, not both",
                    model.parameters[*i].name, ds.file, p.id
                ),
            });
        }
    }
    let groups: Vec<(String, Vec<&Patient>)> = if pooled {
        vec![("pooled".into(), ds.patients.iter().collect())]
    } else {
        ds.patients
            .iter()
            .map(|p| (p.id.clone(), vec![p]))
            .collect()
    };
    Ok(
        pool.map(groups, &|(id, patients): (String, Vec<&Patient>)| Fit {
            id,
            result: std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                fit_group(model, ds, patients, est, settings)
            }))
            .unwrap_or_else(|_| Err("the solver panicked".into())),
        }),
    )
}

fn fit_group(
    model: &Model,
    ds: &Dataset,
    patients: Vec<&Patient>,
    est: &[usize],
    settings: &Settings,
) -> std::result::Result<Estimates, String> {
    let n_censored = patients
        .iter()
        .flat_map(|p| &p.observations)
        .filter(|o| o.censored)
        .count();
    let obj = Objective::new(model, patients, est, settings)?;
    let u_typical: Vec<f64> = est
        .iter()
        .map(|&i| model.parameters[i].value.ln())
        .collect();
    let opt = optimise(&obj, &u_typical, settings)?;
    let p = est.len();
    let q = settings.error.n_params();
    let names = residual_names(ds, settings.error).len();
    let k_all = p + names;
    // positions of x in the full list of names
    let mut pos: Vec<usize> = (0..p).collect();
    for &t in obj.obs_types() {
        pos.extend((0..q).map(|j| p + t * q + j));
    }
    let mut value = vec![f64::NAN; k_all];
    let mut se = vec![f64::NAN; k_all];
    let mut lower = vec![f64::NAN; k_all];
    let mut upper = vec![f64::NAN; k_all];
    for (k, &at) in pos.iter().enumerate() {
        let x = opt.x[k];
        value[at] = x.exp();
        if let Some(c) = &opt.cov {
            let s = c[(k, k)].sqrt();
            se[at] = x.exp() * s;
            lower[at] = (x - Z_975 * s).exp();
            upper[at] = (x + Z_975 * s).exp();
        }
    }
    let correlation = opt.cov.as_ref().map(|c| {
        let mut r = DMatrix::from_element(k_all, k_all, f64::NAN);
        for (a, &pa) in pos.iter().enumerate() {
            for (b, &pb) in pos.iter().enumerate() {
                r[(pa, pb)] = c[(a, b)] / (c[(a, a)] * c[(b, b)]).sqrt();
            }
        }
        r
    });
    let k = obj.dim() as f64;
    let n = obj.n_obs();
    Ok(Estimates {
        value,
        se,
        lower,
        upper,
        correlation,
        ofv: opt.ofv,
        aic: opt.ofv + 2.0 * k,
        bic: opt.ofv + k * (n as f64).ln(),
        n_obs: n,
        n_censored,
        iterations: opt.iterations,
        status: opt.status.to_string(),
        message: opt.message,
        solves: opt.solves,
    })
}

/// The objective (-2LL, plus the prior penalty under MAP) of `patients` at the given parameter
/// values and residual parameters (natural scale, in the order of the objective's quantities):
/// for checking an estimate against other values, e.g. the true ones of simulated data.
pub fn objective_at(
    model: &Model,
    patients: Vec<&Patient>,
    est: &[usize],
    settings: &Settings,
    theta: &[f64],
    sigma: &[f64],
) -> std::result::Result<f64, String> {
    let obj = Objective::new(model, patients, est, settings)?;
    let x: Vec<f64> = theta.iter().chain(sigma).map(|v| v.ln()).collect();
    if x.len() != obj.dim() {
        return Err(format!("expected {} values, got {}", obj.dim(), x.len()));
    }
    Ok(obj.value(&x))
}
