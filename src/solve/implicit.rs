//! `--method bdf`: the variable-order BDF of the differential-equations crate (0.7.0), for stiff
//! models. `--method radau5` is cartox's own Radau IIA (radau.rs; `integrate` hands it over).
//!
//! Continuous output: the cubic through the four step ends around the requested time. The crate's
//! own BDF interpolant is not used: when the step size changes after a step, it rescales its
//! backward differences to the new size before the output is read but evaluates them with the
//! old size (bdf/adaptive.rs: `apply_step_factor` at the end of `step`, `h_prev` in
//! `interpolate`). Cubic Hermite between 8 of its interpolated points per step was up to 8e-3
//! off (column-scaled) on Dwivedi 2014 at rtol 1e-6 and 3.6e-4 at 1e-12; the step-end cubic is
//! 4.6e-6 off at both (docs/solvers.md).

use super::{Segment, Span, Stats};
use crate::error::SolveFailure;
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

/// The solution at the solver's step ends, read between them from the cubic through the four
/// nearest step ends (fewer when the segment has fewer).
struct StepEndSegment {
    t: Vec<f64>,
    y: Vec<Vec<f64>>,
}

impl Segment for StepEndSegment {
    fn t0(&self) -> f64 {
        self.t[0]
    }
    fn t1(&self) -> f64 {
        *self.t.last().unwrap()
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        // t lies in (t[i - 1], t[i]]; the stencil is t[i - 2..=i + 1], shifted into range.
        let last = self.t.len() - 1;
        let i = self.t.partition_point(|&x| x < t).clamp(1, last);
        let hi = (i + 1).min(last);
        let lo = hi.saturating_sub(3);
        let hi = (lo + 3).min(last);
        out.fill(0.0);
        for a in lo..=hi {
            let l: f64 = (lo..=hi)
                .filter(|&b| b != a)
                .map(|b| (t - self.t[b]) / (self.t[a] - self.t[b]))
                .product();
            for (o, y) in out.iter_mut().zip(&self.y[a]) {
                *o += l * y;
            }
        }
    }
    fn steps(&self) -> &[f64] {
        &self.t[1..]
    }
}

/// Integrate `[t0, t1]` with `opts.method` (BDF here: states as `[f64; N]`, up to 64 states).
pub(super) fn integrate(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    if span.opts.method == super::Method::Radau5 {
        return super::radau::integrate(span, stats);
    }
    macro_rules! dispatch {
        ($($k:literal)*) => {
            match span.y0.len() {
                $( $k => run::<$k>(span, stats), )*
                // Larger models are padded with inert zero states up to the next const size.
                25..=32 => run::<32>(span, stats),
                33..=48 => run::<48>(span, stats),
                49..=64 => run::<64>(span, stats),
                n => Err((span.t0, format!("--method bdf supports up to 64 states, the model has {n}").into())),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

fn run<const N: usize>(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
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
    let solved = IVP::ode(&rhs, t0, t1, y0a)
        .method(
            BackwardDifferentiationFormula::adaptive()
                .h0(1e-4 * (t1 - t0))
                .rtol(opts.rtol)
                .atol(opts.atol)
                .max_steps(opts.max_steps as usize),
        )
        .solve();
    let sol = solved.map_err(|e| match e {
        Error::StepSize { t, .. } => (t, SolveFailure::StepSizeUnderflow { explicit: false }),
        Error::MaxSteps { t, .. } => (
            t,
            SolveFailure::MaxSteps {
                steps: None,
                explicit: false,
            },
        ),
        Error::Stiffness { t, .. } => (t, "stiffness".into()),
        Error::LinearAlgebra { t, msg, .. } => (t, format!("linear algebra failure: {msg}").into()),
        other => (t0, format!("{other:?}").into()),
    })?;
    stats.accepted_steps += sol.steps.accepted as u64;
    stats.bdf_steps += sol.steps.accepted as u64;
    stats.rejected_steps += sol.steps.rejected as u64;
    stats.rhs_evaluations += sol.evals.function as u64;
    let mut t: Vec<f64> = Vec::new();
    let mut y: Vec<Vec<f64>> = Vec::new();
    for (ti, yi) in sol.iter() {
        if yi.iter().any(|v| !v.is_finite()) {
            return Err((*ti, SolveFailure::NonFinite));
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
    Ok(Box::new(StepEndSegment { t, y }))
}
