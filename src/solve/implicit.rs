//! The implicit integrators for stiff models, from the differential-equations crate:
//! `--method radau5` (Radau IIA, order 5; also `stiff`) and `--method bdf` (variable-order BDF).
//! See docs/solvers.md for the measurement that made Radau5 the recommended stiff method. The
//! crate's dense solout gives several interpolated points per step; between those points the
//! segment interpolates with cubic Hermite polynomials using the model's own derivatives.

use super::{Segment, Span, Stats};
use crate::model::Model;
use differential_equations::prelude::*;
use std::cell::RefCell;

struct Rhs<'a> {
    model: &'a Model,
    slots: RefCell<Vec<f64>>,
    /// See `dopri::Rhs::t_last`.
    t_last: f64,
}

impl<const N: usize> ODE<f64, [f64; N]> for Rhs<'_> {
    fn diff(&self, t: f64, y: &[f64; N], dydt: &mut [f64; N]) {
        // States beyond the model's own (padding up to the const size) stay at 0.
        let n = self.model.n_states();
        let mut v = self.slots.borrow_mut();
        self.model
            .rhs(&mut v, t.min(self.t_last), &y[..n], &mut dydt[..n]);
        dydt[n..].fill(0.0);
    }
}

struct HermiteSegment {
    t: Vec<f64>,
    y: Vec<Vec<f64>>,
    dy: Vec<Vec<f64>>,
    steps: Vec<f64>,
}

impl Segment for HermiteSegment {
    fn t0(&self) -> f64 {
        self.t[0]
    }
    fn t1(&self) -> f64 {
        *self.t.last().unwrap()
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        let i = self
            .t
            .partition_point(|&x| x <= t)
            .clamp(1, self.t.len() - 1)
            - 1;
        let (ta, tb) = (self.t[i], self.t[i + 1]);
        let h = tb - ta;
        if h <= 0.0 {
            out.copy_from_slice(&self.y[i + 1]);
            return;
        }
        let s = ((t - ta) / h).clamp(0.0, 1.0);
        let h00 = (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s);
        let h10 = s * (1.0 - s) * (1.0 - s);
        let h01 = s * s * (3.0 - 2.0 * s);
        let h11 = s * s * (s - 1.0);
        for (k, o) in out.iter_mut().enumerate() {
            *o = h00 * self.y[i][k]
                + h10 * h * self.dy[i][k]
                + h01 * self.y[i + 1][k]
                + h11 * h * self.dy[i + 1][k];
        }
    }
    fn steps(&self) -> &[f64] {
        &self.steps
    }
}

/// Integrate `[t0, t1]` implicitly (states as `[f64; N]`; up to 64 states).
pub(super) fn integrate(span: Span, stats: &mut Stats) -> Result<Box<dyn Segment>, (f64, String)> {
    macro_rules! dispatch {
        ($($k:literal)*) => {
            match span.y0.len() {
                $( $k => run::<$k>(span, stats), )*
                // Larger models are padded with inert zero states up to the next const size.
                25..=32 => run::<32>(span, stats),
                33..=48 => run::<48>(span, stats),
                49..=64 => run::<64>(span, stats),
                n => Err((span.t0, format!("the implicit methods support up to 64 states, the model has {n}"))),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

fn run<const N: usize>(span: Span, stats: &mut Stats) -> Result<Box<dyn Segment>, (f64, String)> {
    let Span {
        model,
        params,
        t0,
        t1,
        y0,
        opts,
        ..
    } = span;
    let rhs = Rhs {
        model,
        slots: RefCell::new(model.slots_with_params(params)),
        t_last: super::left_limit(t1),
    };
    let mut y0a = [0.0; N];
    y0a[..y0.len()].copy_from_slice(y0);
    let problem = IVP::ode(&rhs, t0, t1, y0a).dense(8);
    let solved = match opts.method {
        super::Method::Bdf => problem
            .method(
                BackwardDifferentiationFormula::adaptive()
                    .h0(1e-4 * (t1 - t0))
                    .rtol(opts.rtol)
                    .atol(opts.atol)
                    .max_steps(opts.max_steps as usize),
            )
            .solve(),
        _ => problem
            .method(
                ImplicitRungeKutta::radau5()
                    // 0 selects Hairer's Newton tolerance max(10 uround / rtol, min(0.03,
                    // sqrt(rtol))); the crate's fixed default (3.2e-3) caps accuracy near 1e-3.
                    .newton_tol(0.0)
                    .rtol(opts.rtol)
                    .atol(opts.atol)
                    .max_steps(opts.max_steps as usize),
            )
            .solve(),
    };
    let sol = solved.map_err(|e| match e {
        Error::StepSize { t, .. } => (t, "step size underflow".to_string()),
        Error::MaxSteps { t, .. } => (t, "too many steps".to_string()),
        Error::Stiffness { t, .. } => (t, "stiffness".to_string()),
        Error::LinearAlgebra { t, msg, .. } => (t, format!("linear algebra failure: {msg}")),
        other => (t0, format!("{other:?}")),
    })?;
    stats.accepted_steps += sol.steps.accepted as u64;
    stats.rejected_steps += sol.steps.rejected as u64;
    stats.rhs_evaluations += sol.evals.function as u64;
    let mut t: Vec<f64> = Vec::new();
    let mut y: Vec<Vec<f64>> = Vec::new();
    for (ti, yi) in sol.iter() {
        if yi.iter().any(|v| !v.is_finite()) {
            return Err((*ti, "a state became NaN or infinite".into()));
        }
        if t.last().is_some_and(|&last| *ti <= last) {
            continue;
        }
        t.push(*ti);
        y.push(yi[..y0.len()].to_vec());
    }
    if t.len() < 2 || (t.last().unwrap() - t1).abs() > 1e-9 * t1.abs().max(1.0) {
        return Err((
            t.last().copied().unwrap_or(t0),
            "the implicit solver stopped early".into(),
        ));
    }
    let mut v = model.slots_with_params(params);
    let dy = t
        .iter()
        .zip(&y)
        .map(|(&ti, yi)| {
            let mut d = vec![0.0; yi.len()];
            model.rhs(&mut v, ti.min(super::left_limit(t1)), yi, &mut d);
            d
        })
        .collect();
    let steps = t[1..].to_vec();
    Ok(Box::new(HermiteSegment { t, y, dy, steps }))
}
