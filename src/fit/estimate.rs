//! Maximum-likelihood (or MAP) estimation for one patient, or several pooled.
//!
//! The unknowns are `x = (ln theta, ln sigma)`: the estimated parameters and the residual error
//! parameters of each observed quantity, all on the log scale. The objective is -2LL
//! ([`super::likelihood`]) plus, for `--prior typical`, `sum (ln theta - ln theta_pop)^2 / omega2`.
//! It is minimised by argmin's trust-region method with the Steihaug conjugate-gradient
//! subproblem: the gradient is exact given the Jacobian of the predictions, which is taken by
//! central finite differences in `ln theta` (step 1e-3, 2p model solves at a tolerance of 1e-8);
//! the Hessian is the Fisher information (Gauss-Newton; M3 terms by their exact curvature in the
//! standardised limit), so the method is Levenberg-Marquardt generalised to variance parameters
//! and censored terms. Standard errors come from the same matrix at the estimate:
//! `cov(x) = 2 H^-1` (H of -2LL).

use super::data::Patient;
use super::likelihood::{term, ErrorModel};
use crate::model::Model;
use crate::regimen::{Inputs, Scenario};
use crate::solve::{self, SolverOptions};
use crate::trajectory::Reader;
use argmin::core::{
    CostFunction, Executor, Gradient, Hessian, IterState, Problem, Solver, State,
    TerminationReason, TerminationStatus, KV,
};
use argmin::solver::trustregion::{Steihaug, TrustRegion};
use nalgebra::{DMatrix, DVector};
use std::cell::{Cell, RefCell};

/// Central-difference step in ln theta for the Jacobian of the predictions.
pub const JACOBIAN_STEP: f64 = 1e-3;
/// Convergence: the expected decrease of -2LL by a Newton step, `g' H^-1 g / 2`.
pub const DECREMENT_TOL: f64 = 1e-8;
/// When the trust region collapses: a minimum when the largest gradient component of -2LL with
/// respect to a log parameter is below this (a 1% change would move -2LL by 1e-5).
pub const GRADIENT_TOL: f64 = 1e-3;
/// Combined error model: the extra starts put one residual component this far (ln units) below
/// its start value.
pub const CORNER: f64 = 5.0;
/// Starts that end within this of the best -2LL count as reaching the same minimum.
pub const SAME_MINIMUM: f64 = 0.01;

/// How to estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Residual error model.
    pub error: ErrorModel,
    /// MAP with the model's omega2 as the prior of each estimated parameter that has one.
    pub prior_typical: bool,
    /// Number of starts: the typical values, then points of a Halton sequence within
    /// `start_spread` (ln units) of them.
    pub starts: usize,
    /// Half-width of the box of the extra starts, ln units (1 = a factor e either way).
    pub start_spread: f64,
    /// Trust-region iterations per start.
    pub max_iterations: u64,
    /// ODE solver for the predictions.
    pub solver: SolverOptions,
}

/// The optimum of one fit, on the log scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimum {
    /// x at the optimum: ln theta, then ln sigma per observed quantity.
    pub x: Vec<f64>,
    /// The objective there (-2LL, plus the prior penalty under MAP).
    pub ofv: f64,
    /// Covariance of x (`2 H^-1`), `None` when H is singular.
    pub cov: Option<DMatrix<f64>>,
    /// Iterations of the best start.
    pub iterations: u64,
    /// `converged`, `stalled` or `max_iterations`.
    pub status: &'static str,
    /// What happened, one line.
    pub message: String,
    /// Model solves made, all starts.
    pub solves: usize,
}

/// The objective of one fit.
pub struct Objective<'a> {
    model: &'a Model,
    patients: Vec<&'a Patient>,
    est: &'a [usize],
    error: ErrorModel,
    /// Observed quantities with residual parameters (dataset indices), in x order.
    obs_types: Vec<usize>,
    /// Per estimated parameter: (ln theta_pop, omega2) under MAP.
    prior: Vec<Option<(f64, f64)>>,
    solver: SolverOptions,
    solves: Cell<usize>,
    /// Observations (patient, index), flattened.
    obs: Vec<(usize, usize)>,
    /// Compared value per observation (`ln y` for the exponential model).
    compared: Vec<f64>,
    last: RefCell<Option<Cached>>,
    last_full: RefCell<Option<(Vec<f64>, Full)>>,
}

/// The last prediction: (ln theta, predictions or `None` when the run failed).
type Cached = (Vec<f64>, Option<Vec<f64>>);

#[derive(Clone)]
struct Full {
    grad: DVector<f64>,
    hess: DMatrix<f64>,
}

impl<'a> Objective<'a> {
    /// The objective for `patients` (pooled when several) estimating parameters `est`.
    /// Errors: an observation the error model cannot compare (a value <= 0 on the log scale).
    pub fn new(
        model: &'a Model,
        patients: Vec<&'a Patient>,
        est: &'a [usize],
        settings: &Settings,
    ) -> Result<Objective<'a>, String> {
        let mut obs_types = vec![];
        let mut obs = vec![];
        let mut compared = vec![];
        for (pi, p) in patients.iter().enumerate() {
            for (k, o) in p.observations.iter().enumerate() {
                let c = settings.error.observed(o.value).ok_or_else(|| {
                    format!(
                        "row {}: DV {} cannot be compared on the log scale (exponential error model); use --error additive or combined, or mark it BLQ",
                        o.row, o.value
                    )
                })?;
                if !obs_types.contains(&o.obs) {
                    obs_types.push(o.obs);
                }
                obs.push((pi, k));
                compared.push(c);
            }
        }
        if obs.is_empty() {
            return Err("no observations".into());
        }
        obs_types.sort_unstable();
        let prior = est
            .iter()
            .map(|&i| {
                let p = &model.parameters[i];
                match (settings.prior_typical, p.omega2) {
                    (true, Some(w)) if w > 0.0 && p.value > 0.0 => Some((p.value.ln(), w)),
                    _ => None,
                }
            })
            .collect();
        Ok(Objective {
            model,
            patients,
            est,
            error: settings.error,
            obs_types,
            prior,
            solver: settings.solver,
            solves: Cell::new(0),
            obs,
            compared,
            last: RefCell::new(None),
            last_full: RefCell::new(None),
        })
    }

    /// Number of unknowns.
    pub fn dim(&self) -> usize {
        self.est.len() + self.obs_types.len() * self.error.n_params()
    }

    /// Observed quantities with residual parameters, in x order (dataset indices).
    pub fn obs_types(&self) -> &[usize] {
        &self.obs_types
    }

    /// Number of observations (censored included).
    pub fn n_obs(&self) -> usize {
        self.obs.len()
    }

    /// The inputs of patient `p` at parameters `u` (ln theta); `None` outside a declared bound.
    pub fn inputs(&self, p: &Patient, u: &[f64]) -> Option<Inputs> {
        let mut inputs = p.inputs.clone();
        for (&i, &ui) in self.est.iter().zip(u) {
            let v = ui.exp();
            let par = &self.model.parameters[i];
            if !v.is_finite()
                || par.lower.is_some_and(|l| v < l)
                || par.upper.is_some_and(|h| v > h)
            {
                return None;
            }
            inputs.params.retain(|(j, _)| *j != i);
            inputs.params.push((i, v));
        }
        Some(inputs)
    }

    /// Predictions at every observation for ln theta = `u`; `None` when a run fails.
    pub fn predict(&self, u: &[f64]) -> Option<Vec<f64>> {
        if let Some((key, f)) = self.last.borrow().as_ref() {
            if key == u {
                return f.clone();
            }
        }
        let f = self.predict_uncached(u);
        *self.last.borrow_mut() = Some((u.to_vec(), f.clone()));
        f
    }

    fn predict_uncached(&self, u: &[f64]) -> Option<Vec<f64>> {
        let mut per_patient = Vec::with_capacity(self.patients.len());
        for p in &self.patients {
            let inputs = self.inputs(p, u)?;
            per_patient.push(predict_patient(self.model, p, &inputs, &self.solver)?);
            self.solves.set(self.solves.get() + 1);
        }
        Some(self.obs.iter().map(|&(pi, k)| per_patient[pi][k]).collect())
    }

    fn sigma<'x>(&self, x: &'x [f64], obs: usize) -> &'x [f64] {
        let q = self.error.n_params();
        let t = self.obs_types.iter().position(|&o| o == obs).unwrap_or(0);
        let start = self.est.len() + t * q;
        &x[start..start + q]
    }

    fn censored(&self, i: usize) -> bool {
        let (pi, k) = self.obs[i];
        self.patients[pi].observations[k].censored
    }

    fn obs_type(&self, i: usize) -> usize {
        let (pi, k) = self.obs[i];
        self.patients[pi].observations[k].obs
    }

    /// The objective at `x` (infinite where a run fails or a prediction is unusable).
    pub fn value(&self, x: &[f64]) -> f64 {
        let p = self.est.len();
        let Some(f) = self.predict(&x[..p]) else {
            return f64::INFINITY;
        };
        let mut total = self.prior_value(&x[..p]);
        for (i, fi) in f.iter().enumerate() {
            let s = self.sigma(x, self.obs_type(i));
            match term(self.error, self.compared[i], self.censored(i), *fi, s) {
                Some(t) => total += t.value,
                None => return f64::INFINITY,
            }
        }
        total
    }

    fn prior_value(&self, u: &[f64]) -> f64 {
        self.prior
            .iter()
            .zip(u)
            .filter_map(|(pr, ui)| pr.map(|(m, w)| (ui - m).powi(2) / w))
            .sum()
    }

    /// Residual parameter starts (ln) from the predictions at `u`.
    pub fn sigma_start(&self, u: &[f64]) -> Option<Vec<f64>> {
        let f = self.predict(u)?;
        let mut out = vec![];
        for &t in &self.obs_types {
            let pairs: Vec<(f64, f64)> = (0..f.len())
                .filter(|&i| self.obs_type(i) == t && !self.censored(i))
                .map(|i| {
                    let (pi, k) = self.obs[i];
                    (f[i], self.patients[pi].observations[k].value)
                })
                .collect();
            out.extend(self.error.start(&pairs));
        }
        Some(out)
    }

    /// Gradient and Fisher-information Hessian of the objective at `x`.
    fn full(&self, x: &[f64]) -> Result<Full, String> {
        if let Some((key, full)) = self.last_full.borrow().as_ref() {
            if key == x {
                return Ok(full.clone());
            }
        }
        let p = self.est.len();
        let n = self.dim();
        let u = &x[..p];
        let f = self
            .predict(u)
            .ok_or("the model cannot be solved at the current estimate")?;
        // Jacobian of the predictions, central differences (one-sided at a bound)
        let mut jac = DMatrix::<f64>::zeros(f.len(), p);
        for k in 0..p {
            let shifted = |d: f64| {
                let mut v = u.to_vec();
                v[k] += d;
                self.predict_uncached(&v)
            };
            let (col, width) = match (shifted(JACOBIAN_STEP), shifted(-JACOBIAN_STEP)) {
                (Some(a), Some(b)) => (
                    a.iter().zip(&b).map(|(a, b)| a - b).collect::<Vec<_>>(),
                    2.0 * JACOBIAN_STEP,
                ),
                (Some(a), None) => (
                    a.iter().zip(&f).map(|(a, b)| a - b).collect(),
                    JACOBIAN_STEP,
                ),
                (None, Some(b)) => (
                    f.iter().zip(&b).map(|(a, b)| a - b).collect(),
                    JACOBIAN_STEP,
                ),
                (None, None) => {
                    return Err(format!(
                        "the model cannot be solved next to the current estimate of `{}`",
                        self.model.parameters[self.est[k]].name
                    ))
                }
            };
            for (i, c) in col.iter().enumerate() {
                jac[(i, k)] = c / width;
            }
        }
        let mut grad = DVector::<f64>::zeros(n);
        let mut hess = DMatrix::<f64>::zeros(n, n);
        let q = self.error.n_params();
        for (i, fi) in f.iter().enumerate() {
            let t_pos = self
                .obs_types
                .iter()
                .position(|&o| o == self.obs_type(i))
                .unwrap_or(0);
            let s_start = p + t_pos * q;
            let s = &x[s_start..s_start + q];
            let t = term(self.error, self.compared[i], self.censored(i), *fi, s)
                .ok_or("a prediction is unusable at the current estimate")?;
            // map the term's (f, s) coordinates onto x
            let m = 1 + q;
            let mut d = DMatrix::<f64>::zeros(m, n);
            for k in 0..p {
                d[(0, k)] = jac[(i, k)];
            }
            for j in 0..q {
                d[(1 + j, s_start + j)] = 1.0;
            }
            let tg = DVector::from_column_slice(&t.grad);
            let th = DMatrix::from_row_slice(m, m, &t.hess);
            grad += d.transpose() * tg;
            hess += d.transpose() * th * &d;
        }
        for (k, pr) in self.prior.iter().enumerate() {
            if let Some((m, w)) = pr {
                grad[k] += 2.0 * (u[k] - m) / w;
                hess[(k, k)] += 2.0 / w;
            }
        }
        let full = Full { grad, hess };
        *self.last_full.borrow_mut() = Some((x.to_vec(), full.clone()));
        Ok(full)
    }

    /// Covariance of x at `x`: `2 H^-1`, `None` when the information matrix is singular.
    pub fn covariance(&self, x: &[f64]) -> Option<DMatrix<f64>> {
        let full = self.full(x).ok()?;
        let inv = full.hess.clone().cholesky()?.inverse();
        let cov = inv * 2.0;
        cov.iter().all(|v| v.is_finite()).then_some(cov)
    }

    /// Model solves made so far.
    pub fn solves(&self) -> usize {
        self.solves.get()
    }
}

/// Predictions of one patient's observations at `inputs`; `None` when the run fails.
pub fn predict_patient(
    model: &Model,
    p: &Patient,
    inputs: &Inputs,
    solver: &SolverOptions,
) -> Option<Vec<f64>> {
    let sc = Scenario::prepare(model, inputs).ok()?;
    let days = p.last_time().max(1e-3);
    let sol = solve::solve(model, &sc, days, solver, None).ok()?;
    let out: Vec<f64> = p
        .observations
        .iter()
        .map(|o| Reader::new(model, &sol, &sc.params, o.quantity).at(o.time))
        .collect();
    Some(out)
}

type Param = DVector<f64>;
type St = IterState<Param, Param, (), DMatrix<f64>, (), f64>;

/// argmin's view of an [`Objective`].
struct Wrapped<'o, 'a>(&'o Objective<'a>);

impl CostFunction for Wrapped<'_, '_> {
    type Param = Param;
    type Output = f64;
    fn cost(&self, x: &Param) -> Result<f64, argmin::core::Error> {
        Ok(self.0.value(x.as_slice()))
    }
}

impl Gradient for Wrapped<'_, '_> {
    type Param = Param;
    type Gradient = Param;
    fn gradient(&self, x: &Param) -> Result<Param, argmin::core::Error> {
        self.0
            .full(x.as_slice())
            .map(|f| f.grad)
            .map_err(argmin::core::Error::msg)
    }
}

impl Hessian for Wrapped<'_, '_> {
    type Param = Param;
    type Hessian = DMatrix<f64>;
    fn hessian(&self, x: &Param) -> Result<DMatrix<f64>, argmin::core::Error> {
        self.0
            .full(x.as_slice())
            .map(|f| f.hess)
            .map_err(argmin::core::Error::msg)
    }
}

/// argmin's trust-region method with a stopping rule: the Newton decrement `g' H^-1 g / 2`
/// below [`DECREMENT_TOL`], or 25 rejected steps in a row (the radius has collapsed).
#[derive(Clone)]
struct Stopping<S> {
    inner: S,
    rejected: usize,
    done: Option<(&'static str, String)>,
}

fn decrement(state: &St) -> Option<f64> {
    let g = state.get_gradient()?;
    let h = state.get_hessian()?;
    let chol = h.clone().cholesky()?;
    Some(g.dot(&chol.solve(g)) / 2.0)
}

impl<O, S: Solver<O, St>> Solver<O, St> for Stopping<S> {
    fn name(&self) -> &str {
        "trust region (Steihaug)"
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        state: St,
    ) -> Result<(St, Option<KV>), argmin::core::Error> {
        self.inner.init(problem, state)
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        state: St,
    ) -> Result<(St, Option<KV>), argmin::core::Error> {
        let before = state.get_cost();
        let (st, kv) = self.inner.next_iter(problem, state)?;
        if st.get_cost() < before {
            self.rejected = 0;
        } else {
            self.rejected += 1;
        }
        let dec = decrement(&st);
        if dec.is_some_and(|d| d < DECREMENT_TOL) {
            self.done = Some((
                "converged",
                format!("expected decrease of -2LL below {DECREMENT_TOL:e}"),
            ));
        } else if self.rejected >= 25 {
            // the radius has collapsed: no decrease in any direction at the precision of the
            // model solves; a minimum when the gradient is negligible there
            let d = dec.map_or("n/a".to_string(), |d| format!("{d:.2e}"));
            let g = st.get_gradient().map_or(f64::INFINITY, |g| g.amax());
            self.done = Some(if g < GRADIENT_TOL || dec.is_some_and(|d| d < 1e-3) {
                (
                    "converged",
                    format!("no further decrease at numerical precision (largest gradient {g:.2e}, expected decrease {d})"),
                )
            } else {
                (
                    "stalled",
                    format!("the trust region collapsed (largest gradient {g:.2e}, expected decrease {d})"),
                )
            });
        }
        Ok((st, kv))
    }

    fn terminate(&mut self, _state: &St) -> TerminationStatus {
        match &self.done {
            Some(_) => TerminationStatus::Terminated(TerminationReason::SolverConverged),
            None => TerminationStatus::NotTerminated,
        }
    }
}

/// One start, from `x0`: (x, ofv, iterations, status, message).
fn run_start(
    obj: &Objective,
    x0: Vec<f64>,
    max_iterations: u64,
) -> Result<(Vec<f64>, f64, u64, &'static str, String), String> {
    let solver = Stopping {
        inner: TrustRegion::new(Steihaug::new())
            .with_radius(1.0)
            .and_then(|t| t.with_max_radius(4.0))
            .map_err(|e| e.to_string())?,
        rejected: 0,
        done: None,
    };
    let res = Executor::new(Wrapped(obj), solver)
        .configure(|s| s.param(DVector::from_vec(x0)).max_iters(max_iterations))
        .run()
        .map_err(|e| e.to_string())?;
    let state = res.state();
    let x = state
        .get_best_param()
        .ok_or("no estimate")?
        .as_slice()
        .to_vec();
    let (status, message) = match &res.solver.done {
        Some((s, m)) => (*s, m.clone()),
        None => (
            "max_iterations",
            format!("stopped after {max_iterations} iterations"),
        ),
    };
    Ok((x, state.get_best_cost(), state.get_iter(), status, message))
}

/// The i-th point (1-based) of the Halton sequence in `dim` dimensions, in [0, 1).
fn halton(i: usize, dim: usize) -> Vec<f64> {
    const PRIMES: [usize; 16] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53];
    (0..dim)
        .map(|d| {
            let b = PRIMES[d % PRIMES.len()];
            let (mut f, mut r, mut n) = (1.0, 0.0, i);
            while n > 0 {
                f /= b as f64;
                r += f * (n % b) as f64;
                n /= b;
            }
            r
        })
        .collect()
}

/// Minimise from several starts and keep the best; the covariance at the best.
pub fn optimise(
    obj: &Objective,
    u_typical: &[f64],
    settings: &Settings,
) -> Result<Optimum, String> {
    let p = u_typical.len();
    let mut results = vec![];
    let mut first_error = None;
    for k in 0..settings.starts.max(1) {
        let u0: Vec<f64> = if k == 0 {
            u_typical.to_vec()
        } else {
            halton(k, p)
                .iter()
                .zip(u_typical)
                .map(|(h, u)| u + settings.start_spread * (2.0 * h - 1.0))
                .collect()
        };
        let Some(s0) = obj.sigma_start(&u0) else {
            first_error.get_or_insert_with(|| {
                format!("start {}: the model cannot be solved there", k + 1)
            });
            continue;
        };
        // combined error: the first start is also tried from the nearly-proportional and the
        // nearly-additive corner (add_sd or prop_cv x e^-5): the likelihood often has a
        // minimum in the interior and another where one component vanishes
        let mut sigmas = vec![s0.clone()];
        if k == 0 && settings.error == ErrorModel::Combined {
            for component in 0..2 {
                let mut s = s0.clone();
                for j in (component..s.len()).step_by(2) {
                    s[j] -= CORNER;
                }
                sigmas.push(s);
            }
        }
        for s in sigmas {
            let mut x0 = u0.clone();
            x0.extend(s);
            match run_start(obj, x0, settings.max_iterations) {
                Ok(r) if r.1.is_finite() => results.push(r),
                Ok(_) => {
                    first_error
                        .get_or_insert_with(|| format!("start {}: no finite objective", k + 1));
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| format!("start {}: {e}", k + 1));
                }
            }
        }
    }
    let Some(best) = results.iter().min_by(|a, b| a.1.total_cmp(&b.1)).cloned() else {
        return Err(first_error.unwrap_or_else(|| "no start succeeded".into()));
    };
    let same = results
        .iter()
        .filter(|r| r.1 - best.1 <= SAME_MINIMUM)
        .count();
    let (x, ofv, iterations, status, msg) = best;
    let cov = obj.covariance(&x);
    let mut message = format!(
        "{msg}; best of {} starts ({same} reached it within {SAME_MINIMUM} of -2LL)",
        results.len()
    );
    if cov.is_none() {
        message.push_str("; the information matrix is singular: no standard errors");
    }
    Ok(Optimum {
        x,
        ofv,
        cov,
        iterations,
        status,
        message,
        solves: obj.solves(),
    })
}
