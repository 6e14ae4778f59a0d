//! The objective: -2 log-likelihood of the observations under a residual error model, M3 terms
//! for censored observations, and the log-normal prior of MAP estimation.
//!
//! For a prediction `f` and an observation `y`, with `mu` = `f` (`ln f` for the exponential
//! model, where `y` is compared as `ln y`) and variance `v`:
//!
//! * observed: `(y - mu)^2 / v + ln v + ln 2 pi`
//! * censored below `L` (M3, Beal 2001): `-2 ln Phi((L - mu) / sqrt v)`
//!
//! | model | `v` | parameters |
//! |---|---|---|
//! | `exponential` | `exp_sd^2` (on the log scale) | `exp_sd` |
//! | `proportional` | `(prop_cv f)^2` | `prop_cv` |
//! | `additive` | `add_sd^2` | `add_sd` |
//! | `combined` | `add_sd^2 + (prop_cv f)^2` | `add_sd`, `prop_cv` |
//!
//! Each term also yields its gradient and its Fisher-information curvature with respect to the
//! prediction and the log of each residual parameter; [`super::estimate`] chains these through
//! the Jacobian of the predictions (Gauss-Newton / Fisher scoring, always positive semi-definite).

use crate::error::{Error, Result};

/// ln(2 pi)
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Residual error model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorModel {
    /// Log-normal: `ln y = ln f + eps`, `eps ~ N(0, exp_sd^2)` (NONMEM's log-transform-both-sides).
    Exponential,
    /// `y = f (1 + eps)`, `eps ~ N(0, prop_cv^2)`.
    Proportional,
    /// `y = f + eps`, `eps ~ N(0, add_sd^2)`.
    Additive,
    /// `y = f + eps`, `var eps = add_sd^2 + (prop_cv f)^2`.
    Combined,
}

impl ErrorModel {
    /// From the `--error` text.
    pub fn parse(text: &str) -> Result<ErrorModel> {
        Ok(match text {
            "exponential" => ErrorModel::Exponential,
            "proportional" => ErrorModel::Proportional,
            "additive" => ErrorModel::Additive,
            "combined" => ErrorModel::Combined,
            other => {
                return Err(Error::Options {
                    option: "--error".into(),
                    message: format!(
                    "--error `{other}`: expected exponential, proportional, additive or combined"
                ),
                })
            }
        })
    }

    /// Name as `--error` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorModel::Exponential => "exponential",
            ErrorModel::Proportional => "proportional",
            ErrorModel::Additive => "additive",
            ErrorModel::Combined => "combined",
        }
    }

    /// Names of the residual error parameters (standard deviations, or CV as a fraction).
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            ErrorModel::Exponential => &["exp_sd"],
            ErrorModel::Proportional => &["prop_cv"],
            ErrorModel::Additive => &["add_sd"],
            ErrorModel::Combined => &["add_sd", "prop_cv"],
        }
    }

    /// Number of residual error parameters.
    pub fn n_params(self) -> usize {
        self.param_names().len()
    }

    /// The compared value of an observation (`ln y` for the exponential model): `None` when the
    /// model cannot compare it (a non-positive value on the log scale).
    pub fn observed(self, y: f64) -> Option<f64> {
        match self {
            ErrorModel::Exponential => (y > 0.0).then(|| y.ln()),
            _ => Some(y),
        }
    }

    /// Residual parameter starts (log scale) from the residuals of `pairs` (prediction,
    /// observation) of uncensored observations.
    pub fn start(self, pairs: &[(f64, f64)]) -> Vec<f64> {
        let rms = |r: &dyn Fn(f64, f64) -> f64| -> f64 {
            let v: Vec<f64> = pairs
                .iter()
                .map(|&(f, y)| r(f, y))
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                return 0.3;
            }
            (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
        };
        let clamp = |x: f64, typ: f64| x.clamp(typ * 1e-3, typ * 1e3).max(1e-12).ln();
        let scale = rms(&|_, y| y).max(1e-300);
        let log_sd = clamp(rms(&|f, y| y.ln() - f.ln()), 1.0);
        let rel_sd = clamp(rms(&|f, y| (y - f) / f), 1.0);
        let abs_sd = clamp(rms(&|f, y| y - f), scale);
        match self {
            ErrorModel::Exponential => vec![log_sd],
            ErrorModel::Proportional => vec![rel_sd],
            ErrorModel::Additive => vec![abs_sd],
            ErrorModel::Combined => vec![(abs_sd.exp() * 0.1).ln(), rel_sd],
        }
    }
}

/// One observation's term of -2LL: value, gradient and curvature with respect to
/// `(f, s_1..s_q)` (`s` = ln of the residual parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Contribution to -2LL.
    pub value: f64,
    /// Gradient, length 1 + q.
    pub grad: Vec<f64>,
    /// Fisher-information (Gauss-Newton) curvature, (1 + q)^2, row-major.
    pub hess: Vec<f64>,
}

/// The -2LL term of one observation: `y` the compared value (see [`ErrorModel::observed`]; the
/// limit when `censored`), `f` the prediction, `s` the log residual parameters. `None` when the
/// prediction is unusable (non-finite, or not positive on the log scale).
pub fn term(model: ErrorModel, y: f64, censored: bool, f: f64, s: &[f64]) -> Option<Term> {
    if !f.is_finite() {
        return None;
    }
    let (mu, mu_f) = match model {
        ErrorModel::Exponential => {
            if f <= 0.0 {
                return None;
            }
            (f.ln(), 1.0 / f)
        }
        _ => (f, 1.0),
    };
    // v and its derivatives with respect to f and s
    let (v, v_f, v_s): (f64, f64, Vec<f64>) = match model {
        ErrorModel::Exponential | ErrorModel::Additive => {
            let v = (2.0 * s[0]).exp();
            (v, 0.0, vec![2.0 * v])
        }
        ErrorModel::Proportional => {
            let b2 = (2.0 * s[0]).exp();
            let v = b2 * f * f;
            (v, 2.0 * b2 * f, vec![2.0 * v])
        }
        ErrorModel::Combined => {
            let a2 = (2.0 * s[0]).exp();
            let b2 = (2.0 * s[1]).exp();
            let v = a2 + b2 * f * f;
            (v, 2.0 * b2 * f, vec![2.0 * a2, 2.0 * b2 * f * f])
        }
    };
    if !(v > 0.0 && v.is_finite()) {
        return None;
    }
    let n = 1 + s.len();
    // d mu and d v over (f, s)
    let mut dmu = vec![0.0; n];
    dmu[0] = mu_f;
    let mut dv = vec![0.0; n];
    dv[0] = v_f;
    dv[1..].copy_from_slice(&v_s);
    let mut hess = vec![0.0; n * n];
    let (value, grad) = if censored {
        let sd = v.sqrt();
        let z = (y - mu) / sd;
        let (ln_phi, lambda) = ln_cdf_and_mills(z);
        // dz = -dmu / sd - z / (2 v) dv
        let dz: Vec<f64> = (0..n)
            .map(|k| -dmu[k] / sd - z / (2.0 * v) * dv[k])
            .collect();
        let curv = 2.0 * lambda * (z + lambda);
        for a in 0..n {
            for b in 0..n {
                hess[a * n + b] = curv * dz[a] * dz[b];
            }
        }
        (
            -2.0 * ln_phi,
            dz.iter().map(|d| -2.0 * lambda * d).collect(),
        )
    } else {
        let r = y - mu;
        let c_mu = -2.0 * r / v;
        let c_v = 1.0 / v - r * r / (v * v);
        for a in 0..n {
            for b in 0..n {
                hess[a * n + b] = 2.0 * dmu[a] * dmu[b] / v + dv[a] * dv[b] / (v * v);
            }
        }
        (
            r * r / v + v.ln() + LN_2PI,
            (0..n).map(|k| c_mu * dmu[k] + c_v * dv[k]).collect(),
        )
    };
    value.is_finite().then_some(Term { value, grad, hess })
}

/// `ln Phi(z)` and the inverse Mills ratio `phi(z) / Phi(z)`, accurate in the lower tail.
pub fn ln_cdf_and_mills(z: f64) -> (f64, f64) {
    let ln_pdf = -0.5 * z * z - 0.5 * LN_2PI;
    if z > -30.0 {
        let cdf = 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
        let ln_cdf = cdf.ln();
        (ln_cdf, (ln_pdf - ln_cdf).exp())
    } else {
        // Phi(z) ~ phi(z) / -z * (1 - 1/z^2 + 3/z^4)
        let z2 = z * z;
        let series = 1.0 - 1.0 / z2 + 3.0 / (z2 * z2);
        let ln_cdf = ln_pdf - (-z).ln() + series.ln();
        (ln_cdf, -z / series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finite differences of the value match the analytic gradient, for every model, observed
    /// and censored.
    #[test]
    fn gradient_matches_finite_differences() {
        for model in [
            ErrorModel::Exponential,
            ErrorModel::Proportional,
            ErrorModel::Additive,
            ErrorModel::Combined,
        ] {
            for censored in [false, true] {
                let s: Vec<f64> = (0..model.n_params())
                    .map(|k| -1.0 + 0.3 * k as f64)
                    .collect();
                let y = model.observed(12.0).unwrap();
                let f = 10.0;
                let t = term(model, y, censored, f, &s).unwrap();
                let h = 1e-6;
                let fd_f = (term(model, y, censored, f + h, &s).unwrap().value
                    - term(model, y, censored, f - h, &s).unwrap().value)
                    / (2.0 * h);
                assert!(
                    (fd_f - t.grad[0]).abs() < 1e-6 * (1.0 + fd_f.abs()),
                    "{model:?} {censored}"
                );
                for k in 0..s.len() {
                    let mut sp = s.clone();
                    sp[k] += h;
                    let mut sm = s.clone();
                    sm[k] -= h;
                    let fd = (term(model, y, censored, f, &sp).unwrap().value
                        - term(model, y, censored, f, &sm).unwrap().value)
                        / (2.0 * h);
                    assert!((fd - t.grad[1 + k]).abs() < 1e-6 * (1.0 + fd.abs()));
                }
            }
        }
    }

    /// ln Phi against known values, and continuity where the tail expansion takes over.
    #[test]
    fn log_normal_cdf() {
        let (l0, m0) = ln_cdf_and_mills(0.0);
        assert!((l0 - 0.5f64.ln()).abs() < 1e-15);
        assert!((m0 - 2.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-14);
        // Phi(-1.959963984540054) = 0.025
        let (l, _) = ln_cdf_and_mills(-1.959_963_984_540_054);
        assert!((l - 0.025f64.ln()).abs() < 1e-12);
        let (a, ma) = ln_cdf_and_mills(-29.999_999);
        let (b, mb) = ln_cdf_and_mills(-30.000_001);
        assert!((a - b).abs() < 1e-4 && (ma - mb).abs() < 1e-4);
    }
}
