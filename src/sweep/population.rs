//! Virtual populations: patients drawn from the inter-individual variability declared in the model
//! file, written as a `sweep` input.
//!
//! - Every parameter with `omega2` gets `theta_i = theta * exp(eta_i)`, `eta_i ~ N(0, omega2)`
//!   (log-normal, as in NONMEM/Stein 2019), then clipped to the parameter's declared bounds.
//!   Random effects are independent (the model format has no correlations yet).
//! - Covariates, when the model has a `[regimen]` with a default `weight`: body weight is
//!   log-normal with median = that weight and a coefficient of variation of `weight_cv`
//!   (default 20%: sigma^2 = ln(1 + CV^2)); when the regimen doses per kg (`dose_per_kg` and no
//!   flat `dose`), the column `dose` = dose_per_kg x weight is added.
//! - Patient `i` (0-based) draws from its own ChaCha8 stream: seed `S`, stream `i`, in the order
//!   parameters (model order) then weight, so the bytes do not depend on the thread count.

use super::csv_line;
use crate::model::Model;
use crate::output::fmt_num;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::io::Write;

/// Default coefficient of variation of body weight.
pub const WEIGHT_CV: f64 = 0.2;

/// What is drawn for each patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// (parameter index, omega^2)
    pub params: Vec<(usize, f64)>,
    /// Median body weight (kg), when weight is a covariate.
    pub weight_median: Option<f64>,
    pub weight_cv: f64,
    /// Dose per kg, when the dose follows weight.
    pub dose_per_kg: Option<f64>,
}

impl Design {
    /// The model's variability; an error when it declares none.
    pub fn from_model(model: &Model, weight_cv: f64) -> Result<Design> {
        if !(weight_cv.is_finite() && weight_cv >= 0.0) {
            bail!("--weight-cv must be a non-negative number, got {weight_cv}");
        }
        let params: Vec<(usize, f64)> = model
            .parameters
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.omega2.map(|o| (i, o)))
            .collect();
        if params.is_empty() {
            bail!(
                "model `{}` declares no inter-individual variability: no parameter has `omega2` (add e.g. `omega2 = 0.09` to a [[parameters]] entry of the model file)",
                model.name
            );
        }
        let (mut weight_median, mut dose_per_kg) = (None, None);
        if let Some(h) = &model.regimen {
            weight_median = h.weight;
            if h.dose.is_none() && weight_median.is_some() {
                dose_per_kg = h.dose_per_kg;
            }
        }
        Ok(Design {
            params,
            weight_median,
            weight_cv,
            dose_per_kg,
        })
    }

    /// Column names, after `ID`.
    pub fn names(&self, model: &Model) -> Vec<String> {
        let mut names: Vec<String> = self
            .params
            .iter()
            .map(|(i, _)| model.parameters[*i].name.clone())
            .collect();
        if self.weight_median.is_some() {
            names.push("weight".into());
        }
        if self.dose_per_kg.is_some() {
            names.push("dose".into());
        }
        names
    }

    /// The values of patient `i` (0-based), in column order.
    pub fn patient(&self, model: &Model, seed: u64, i: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i);
        let mut out = Vec::with_capacity(self.params.len() + 2);
        for &(j, omega2) in &self.params {
            let p = &model.parameters[j];
            let z: f64 = StandardNormal.sample(&mut rng);
            let mut v = p.value * (omega2.sqrt() * z).exp();
            if let Some(l) = p.lower {
                v = v.max(l);
            }
            if let Some(u) = p.upper {
                v = v.min(u);
            }
            out.push(v);
        }
        if let Some(median) = self.weight_median {
            let sigma = (1.0 + self.weight_cv * self.weight_cv).ln().sqrt();
            let z: f64 = StandardNormal.sample(&mut rng);
            let w = median * (sigma * z).exp();
            out.push(w);
            if let Some(per_kg) = self.dose_per_kg {
                out.push(per_kg * w);
            }
        }
        out
    }
}

/// Write `n` patients (`ID` 1..n, then [`Design::names`]) with `jobs` threads (0: one per core).
pub fn write_population(
    model: &Model,
    design: &Design,
    n: usize,
    seed: u64,
    jobs: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let names = design.names(model);
    let mut header = vec!["ID"];
    header.extend(names.iter().map(String::as_str));
    out.write_all(csv_line(header).as_bytes())?;
    let chunk = 8192usize;
    let mut start = 0usize;
    while start < n {
        let end = (start + chunk).min(n);
        let lines: Vec<String> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|i| {
                    let mut line = (i + 1).to_string();
                    for v in design.patient(model, seed, i as u64) {
                        line.push(',');
                        line.push_str(&fmt_num(v));
                    }
                    line.push('\n');
                    line
                })
                .collect()
        });
        for l in &lines {
            out.write_all(l.as_bytes())?;
        }
        start = end;
    }
    Ok(())
}
