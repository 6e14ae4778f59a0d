//! Inter-individual variability: virtual patients drawn from the variability declared in the model
//! file (`cartox population` writes them as a `sweep` input; `validate` and the web explorer run
//! them directly). No files, no threads: part of the simulation core.
//!
//! - Every parameter with `omega2` gets `theta_i = theta * exp(eta_i)`, `eta_i ~ N(0, omega2)`
//!   (log-normal, as in NONMEM/Stein 2019), then clipped to the parameter's declared bounds.
//! - Random effects are independent unless the model declares `[[correlations]]`: then
//!   `eta = L z`, with `z` the independent standard normals and `L` the Cholesky factor of the
//!   OMEGA matrix (`omega_ij = r_ij * sqrt(omega2_i * omega2_j)`) of the correlated parameters
//!   with `omega2 > 0`, computed once. An uncorrelated parameter (or one with `omega2 = 0`) keeps
//!   `eta_i = sqrt(omega2_i) * z_i`, so a model without correlations draws exactly as before.
//! - Covariates, when the model has a `[regimen]` with a default `weight`: body weight is
//!   log-normal with median = that weight and a coefficient of variation of `weight_cv`
//!   (default 20%: sigma^2 = ln(1 + CV^2)); when the regimen doses per kg (`dose_per_kg` and no
//!   flat `dose`), the column `dose` = dose_per_kg x weight is added.
//! - Yes/no draws (`bernoulli = true` parameters, e.g. a clinician's discretion to treat under a
//!   "may be considered" rule): value 1 with probability `value`, else 0, from a uniform draw
//!   `u < value`.
//! - Patient `i` (0-based) draws from its own ChaCha8 stream: seed `S`, stream `i`, in the order
//!   parameters (model order), then weight, then the yes/no draws (model order), so the bytes do
//!   not depend on the thread count and a model without yes/no draws draws exactly as before.

use crate::error::{Error, ModelError};
use crate::model::{correlation_block, correlation_matrix, Model};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A problem of the model's variability: prints `model `NAME`: MESSAGE`.
fn model_err(model: &Model, message: String) -> Error {
    Error::Model(ModelError::plain(
        &format!("model `{}`", model.name),
        message,
    ))
}

/// Default coefficient of variation of body weight.
pub const WEIGHT_CV: f64 = 0.2;

/// What is drawn for each patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// (parameter index, omega^2)
    pub params: Vec<(usize, f64)>,
    /// Per entry of `params`: `eta = sum of coefficient x z[k]` over its (k, coefficient), `z`
    /// the standard normals drawn for `params` in order (one row of `L`, without its zeros).
    pub mixing: Vec<Vec<(usize, f64)>>,
    /// Median body weight (kg), when weight is a covariate.
    pub weight_median: Option<f64>,
    pub weight_cv: f64,
    /// Dose per kg, when the dose follows weight.
    pub dose_per_kg: Option<f64>,
    /// (parameter index, probability of 1) of the yes/no draws.
    pub bernoulli: Vec<(usize, f64)>,
}

impl Design {
    /// The model's variability; an error when it declares none.
    pub fn from_model(model: &Model, weight_cv: f64) -> Result<Design> {
        if !(weight_cv.is_finite() && weight_cv >= 0.0) {
            return Err(Error::Options {
                option: "--weight-cv".to_string(),
                message: format!("--weight-cv must be a non-negative number, got {weight_cv}"),
            });
        }
        let params: Vec<(usize, f64)> = model
            .parameters
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.omega2.map(|o| (i, o)))
            .collect();
        let bernoulli: Vec<(usize, f64)> = model
            .parameters
            .iter()
            .enumerate()
            .filter(|(_, p)| p.bernoulli)
            .map(|(i, p)| (i, p.value))
            .collect();
        if params.is_empty() && bernoulli.is_empty() {
            return Err(Error::Options {
                option: "--model".to_string(),
                message: format!(
                    "model `{}` declares no inter-individual variability: no parameter has `omega2` (add e.g. `omega2 = 0.09` to a [[parameters]] entry of the model file)",
                    model.name
                ),
            });
        }
        for &(i, o) in &params {
            if !(o.is_finite() && o >= 0.0) {
                return Err(model_err(
                    model,
                    format!(
                        "parameter `{}`: omega2 must be a finite number >= 0, got {o}",
                        model.parameters[i].name
                    ),
                ));
            }
        }
        let mixing = mixing(model, &params)?;
        let (mut weight_median, mut dose_per_kg) = (None, None);
        if let Some(h) = &model.regimen {
            weight_median = h.weight;
            if h.dose.is_none() && weight_median.is_some() {
                dose_per_kg = h.dose_per_kg;
            }
        }
        Ok(Design {
            params,
            mixing,
            weight_median,
            weight_cv,
            dose_per_kg,
            bernoulli,
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
        for &(i, _) in &self.bernoulli {
            names.push(model.parameters[i].name.clone());
        }
        names
    }

    /// The values of patient `i` (0-based), in column order.
    pub fn patient(&self, model: &Model, seed: u64, i: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i);
        let mut out = Vec::with_capacity(self.params.len() + 2);
        let z: Vec<f64> = self
            .params
            .iter()
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        for (&(j, _), row) in self.params.iter().zip(&self.mixing) {
            let p = &model.parameters[j];
            let eta = row.iter().fold(0.0, |s, &(k, c)| s + c * z[k]);
            let mut v = p.value * eta.exp();
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
        for &(_, prob) in &self.bernoulli {
            let u: f64 = rand::Rng::random(&mut rng);
            out.push(if u < prob { 1.0 } else { 0.0 });
        }
        out
    }
}

/// The rows of `L` (see [`Design::mixing`]): `sqrt(omega2)` on the diagonal for an uncorrelated
/// parameter; the Cholesky factor of OMEGA over the correlated parameters with `omega2 > 0`.
fn mixing(model: &Model, params: &[(usize, f64)]) -> Result<Vec<Vec<(usize, f64)>>> {
    let mut rows: Vec<Vec<(usize, f64)>> = params
        .iter()
        .enumerate()
        .map(|(k, &(_, o))| vec![(k, o.sqrt())])
        .collect();
    let omega2 = |p: usize| params.iter().find(|q| q.0 == p).map_or(0.0, |q| q.1);
    // Only the correlations between two parameters that vary: a parameter with omega2 = 0 has
    // eta = 0 whatever its correlations (its row and column of OMEGA are zero).
    let live: Vec<_> = model
        .correlations
        .iter()
        .filter(|c| c.between.iter().all(|&p| omega2(p) > 0.0))
        .cloned()
        .collect();
    let mut done: Vec<usize> = Vec::new();
    for c in &live {
        if done.contains(&c.between[0]) {
            continue;
        }
        let block = correlation_block(&live, c.between[0]);
        done.extend(&block);
        let names = || -> Vec<&str> {
            block
                .iter()
                .map(|&p| model.parameters[p].name.as_str())
                .collect()
        };
        let Some(r) = correlation_matrix(&live, &block) else {
            return Err(model_err(
                model,
                format!(
                    "the correlation matrix of {} is not positive definite",
                    names().join(", ")
                ),
            ));
        };
        let sd: Vec<f64> = block.iter().map(|&p| omega2(p).sqrt()).collect();
        let omega = nalgebra::DMatrix::from_fn(block.len(), block.len(), |i, j| {
            if i == j {
                omega2(block[i])
            } else {
                r[(i, j)] * sd[i] * sd[j]
            }
        });
        let Some(chol) = nalgebra::Cholesky::new(omega) else {
            return Err(model_err(
                model,
                format!(
                    "the OMEGA matrix of {} is not positive definite",
                    names().join(", ")
                ),
            ));
        };
        let l = chol.l();
        // Position of each block parameter among `params` (the order of the draws).
        let pos: Vec<usize> = block
            .iter()
            .map(|&p| params.iter().position(|q| q.0 == p).expect("has omega2"))
            .collect();
        for (i, &pi) in pos.iter().enumerate() {
            rows[pi] = (0..=i)
                .filter(|&j| l[(i, j)] != 0.0)
                .map(|j| (pos[j], l[(i, j)]))
                .collect();
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    /// Without correlations every patient is exactly the independent draw
    /// `theta * exp(sqrt(omega2) * z)` (clipped), `z` in model order: the file format of
    /// populations drawn before correlations existed.
    #[test]
    fn without_correlations_draws_are_independent_as_before() {
        for name in ["cartox", "axi-cel"] {
            let model = Model::resolve(name).unwrap();
            assert!(model.correlations.is_empty());
            let d = Design::from_model(&model, WEIGHT_CV).unwrap();
            for i in 0..200u64 {
                let mut rng = ChaCha8Rng::seed_from_u64(7);
                rng.set_stream(i);
                let got = d.patient(&model, 7, i);
                for (k, &(j, omega2)) in d.params.iter().enumerate() {
                    let p = &model.parameters[j];
                    let z: f64 = StandardNormal.sample(&mut rng);
                    let mut v = p.value * (omega2.sqrt() * z).exp();
                    if let Some(l) = p.lower {
                        v = v.max(l);
                    }
                    if let Some(u) = p.upper {
                        v = v.min(u);
                    }
                    assert_eq!(got[k].to_bits(), v.to_bits(), "{name} patient {i}");
                }
            }
        }
    }

    /// The mixing rows are the Cholesky factor of OMEGA: for two parameters,
    /// `L = [[s1, 0], [r s2, s2 sqrt(1 - r^2)]]`.
    #[test]
    fn mixing_is_the_cholesky_factor_of_omega() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cartox.toml"),
        )
        .unwrap()
            + "\n[[correlations]]\nbetween = [\"rho_E\", \"k_act\"]\nr = -0.4\n";
        let model = Model::from_toml(&text, "c.toml").unwrap();
        let d = Design::from_model(&model, WEIGHT_CV).unwrap();
        let pos = |n: &str| {
            let j = model.parameter_index(n).unwrap();
            d.params.iter().position(|p| p.0 == j).unwrap()
        };
        let (k, r) = (pos("k_act"), pos("rho_E"));
        let (s1, s2) = (d.params[k].1.sqrt(), d.params[r].1.sqrt());
        assert_eq!(d.mixing[k], vec![(k, s1)]);
        assert_eq!(d.mixing[r].len(), 2);
        assert_eq!(d.mixing[r][0].0, k);
        assert!((d.mixing[r][0].1 - -0.4 * s2).abs() < 1e-15);
        assert_eq!(d.mixing[r][1].0, r);
        assert!((d.mixing[r][1].1 - s2 * (1.0f64 - 0.16).sqrt()).abs() < 1e-15);
        for (i, row) in d.mixing.iter().enumerate() {
            if i != k && i != r {
                assert_eq!(row, &vec![(i, d.params[i].1.sqrt())]);
            }
        }
    }
}
