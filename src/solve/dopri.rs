//! The default integrator: ode_solvers' Dopri5 with its continuous output model.
//!
//! Work-arounds for what `../shared/reference/rust-stack.md` measured of ode_solvers 0.6.2:
//! - its stiffness detection ends the integration with an error: off for `--method dopri5`
//!   (`n_stiff = u32::MAX`, it aborted long runs), on at every step for `--method auto`, which
//!   takes the error as the signal to continue with radau5 from the last accepted step
//!   (`auto.rs`); the test only reads the step's stages, so the solution is the same either way;
//! - the evenly spaced (`dx`) output is wrong at `t_end`, so it is not used: every output point is
//!   read from the continuous output model, which is exact at step ends, including the last;
//! - states are `SVector<f64, N>` for N <= 24 (6-7x faster than `DVector`, whose every vector
//!   operation allocates), `DVector` above.

use super::{dp5, Hint, JacobianFn, Segment, Span, Stats, Watcher};
use crate::error::SolveFailure;
use crate::model::{delay::Past, Model};
use nalgebra::{allocator::Allocator, Const, DefaultAllocator, Dim, Dyn, OVector};
use ode_solvers::continuous_output_model::ContinuousOutputModel;
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dopri5, OutputType, System};
use std::cell::{Cell, RefCell};

/// Values beyond this magnitude are treated as a blow-up.
const BLOW_UP: f64 = 1e100;

struct Rhs<'a> {
    model: &'a Model,
    slots: RefCell<Vec<f64>>,
    /// Latest time the right-hand side is evaluated at: just inside the segment's end, so a
    /// discontinuity placed exactly at an event or breakpoint is seen from the left.
    t_last: f64,
    /// Set by `solout` when a state becomes non-finite or blows up: (time, message).
    failure: &'a Cell<Option<(f64, &'static str)>>,
    /// The span's watched levels.
    watcher: Watcher<'a>,
    /// Set by `solout` when a watched level was crossed at the end of a step.
    stopped_at: &'a Cell<Option<f64>>,
    /// Right-hand-side evaluations (ode_solvers reports its own count only on success).
    evals: &'a Cell<u64>,
    /// End of the previous accepted step.
    t_prev: f64,
    /// auto: dopri5 steps taken in the solve so far, for the Jacobian check (`check_stiff`).
    auto_steps: Option<&'a Cell<u64>>,
    /// Set by `solout` when the Jacobian check found the problem stiff.
    stiff_at: &'a Cell<Option<f64>>,
    /// The solution's past, for a model with `delay(x, tau)` (see `model::delay`).
    past: Option<&'a Past<'a>>,
    scratch: RefCell<Vec<f64>>,
    /// The span's analytic Jacobian (auto's early check) and its buffer.
    jacobian: Option<&'a JacobianFn<'a>>,
    /// `jacobian` is the model's own: the check reads its non-zero entries alone into `jac`.
    models_jacobian: bool,
    jac: Vec<f64>,
    /// Early checks in a row that found the step stability-limited.
    stiff_hits: u32,
    /// The power iteration's vector, carried from check to check (warm start).
    power_vector: Vec<f64>,
    /// The Jacobian column by column (scratch of `stiffness::stability_limited`).
    jac_cols: Vec<f64>,
    /// Analytic Jacobians evaluated by the early check.
    jacobians: &'a Cell<u64>,
}

impl Drop for Rhs<'_> {
    fn drop(&mut self) {
        self.model.recycle_slots(self.slots.take());
    }
}

/// auto's second stiffness check: once a solve has taken `CHECK_AFTER` dopri5 steps, and every
/// `CHECK_EVERY` steps after, h rho(J) at the step end (forward-difference Jacobian, power
/// iteration); at or above `STIFF_H_RHO` the step size is limited by stability, the problem is
/// stiff. It catches what Hairer's test misses when h |lambda| hovers just under its threshold
/// of 3.25 (the default model with IL-6 eliminated at 100/day: 2.4-3.3 from day 1 on, 904
/// steps in 28 days); a solve of fewer steps is cheap whatever the method and never pays for it.
const CHECK_AFTER: u64 = 500;
const CHECK_EVERY: u64 = 100;
const STIFF_H_RHO: f64 = 2.5;

/// With the model's analytic Jacobian (which costs no right-hand-side evaluations), the same
/// test also runs early: from dopri5's `EARLY_AFTER`-th step of the solve to its
/// `EARLY_UNTIL`-th, every `EARLY_EVERY` steps, and the problem is stiff at `EARLY_HITS` such
/// checks in a row with h rho(J) >=
/// `STIFF_H_RHO` (`stiffness::stability_limited`: a norm bound first, then a warm-started power
/// iteration): on Hanson 2016 (dopri5 held at h rho(J) 3.0-3.4 from hour ~15) auto moves to
/// radau5 at dopri5's step ~20 instead of ~145 (Hairer's test, which still runs, fired there).
/// A Jacobian that is not finite (a state at 0 under a fractional power) counts as no answer.
/// Every 5 steps since the checks became cheap (|trace J| / n, a lower bound of rho(J), settles
/// most of them without a power iteration): Hanson 2016 switches at dopri5's step ~20.
/// Only early: the default model and its presets reach dopri5's stability boundary for a
/// stretch near day 28 (h rho(J) >= 2.5 for 20 steps and more from step ~140), where a handful of
/// radau5 steps would save nothing; the solve pays for at most 11 checks (Jacobian, norm bounds,
/// 8 warm power iterations); later, Hairer's test and the check every 100 steps stand.
const EARLY_AFTER: u64 = 10;
const EARLY_EVERY: u64 = 5;
const EARLY_HITS: u32 = 3;
const EARLY_UNTIL: u64 = 60;

impl<D: Dim> System<f64, OVector<f64, D>> for Rhs<'_>
where
    DefaultAllocator: Allocator<D>,
{
    #[inline]
    fn system(&self, t: f64, y: &OVector<f64, D>, dy: &mut OVector<f64, D>) {
        dp5::Problem::f(self, t, y.as_slice(), dy.as_mut_slice());
    }

    fn solout(&mut self, t: f64, y: &OVector<f64, D>, dy: &OVector<f64, D>) -> bool {
        dp5::Problem::solout(self, t, y.as_slice(), dy.as_slice())
    }
}

impl dp5::Problem for Rhs<'_> {
    #[inline]
    fn f(&self, t: f64, y: &[f64], dy: &mut [f64]) {
        self.evals.set(self.evals.get() + 1);
        let mut v = self.slots.borrow_mut();
        let t = t.min(self.t_last);
        if let Some(past) = self.past {
            let scratch = &mut self.scratch.borrow_mut();
            self.model.fill_delays(&mut v, t, past, scratch);
        }
        self.model.rhs(&mut v, t, y, dy);
    }

    fn solout(&mut self, t: f64, y: &[f64], dy: &[f64]) -> bool {
        // One pass without early exit (vectorised) over the states: every state within
        // +-1e100 (false for NaN). Only a failing step looks for which of the two it is.
        if !y.iter().fold(true, |ok, v| ok & (v.abs() <= BLOW_UP)) {
            let failure = if y.iter().any(|v| !v.is_finite()) {
                "a state became NaN or infinite"
            } else {
                "a state blew up (|value| > 1e100)"
            };
            self.failure.set(Some((t, failure)));
            return true;
        }
        let k = self.auto_steps.map_or(0, |steps| {
            steps.set(steps.get() + 1);
            steps.get()
        });
        // A watched level was crossed: end the span here (the trigger examines it).
        let hit = self.watcher.crossed(t, y);
        if hit {
            self.stopped_at.set(Some(t));
            return true;
        }
        let h = t - self.t_prev;
        self.t_prev = t;
        if let (Some(jf), true) = (self.jacobian, self.auto_steps.is_some()) {
            if (EARLY_AFTER..=EARLY_UNTIL).contains(&k)
                && (k - EARLY_AFTER).is_multiple_of(EARLY_EVERY)
            {
                let mut v = self.slots.borrow_mut();
                let (tt, n) = (t.min(self.t_last), y.len());
                let limited = if self.models_jacobian {
                    // The model's Jacobian: its structurally non-zero entries alone (the dense
                    // check's answer, see `stability_limited_sparse`; `jac_cols` is only
                    // written there, for this model's pattern).
                    let sparsity = self.model.jacobian_sparsity();
                    self.jac.resize(sparsity.len(), 0.0);
                    self.model.jacobian_entries(&mut v, tt, y, &mut self.jac);
                    self.jacobians.set(self.jacobians.get() + 1);
                    super::stiffness::stability_limited_sparse(
                        &self.jac,
                        sparsity,
                        n,
                        h,
                        STIFF_H_RHO,
                        &mut self.power_vector,
                        &mut self.jac_cols,
                    )
                } else {
                    // Allocated at the first check a span makes (the Jacobian fills all of it).
                    self.jac.resize(n * n, 0.0);
                    jf(&mut v, tt, y, &mut self.jac);
                    self.jacobians.set(self.jacobians.get() + 1);
                    super::stiffness::stability_limited(
                        &self.jac,
                        n,
                        h,
                        STIFF_H_RHO,
                        &mut self.power_vector,
                        &mut self.jac_cols,
                    )
                };
                if limited == Some(true) {
                    self.stiff_hits += 1;
                    if self.stiff_hits >= EARLY_HITS {
                        self.stiff_at.set(Some(t));
                        return true;
                    }
                } else {
                    self.stiff_hits = 0;
                }
            }
        }
        if self.auto_steps.is_some()
            && k >= CHECK_AFTER
            && (k - CHECK_AFTER).is_multiple_of(CHECK_EVERY)
        {
            let mut v = self.slots.borrow_mut();
            let (tt, f) = (t.min(self.t_last), dy);
            let rho = super::stiffness::jacobian_radius(self.model, &mut v, tt, y, f);
            self.evals.set(self.evals.get() + y.len() as u64);
            if h * rho >= STIFF_H_RHO {
                self.stiff_at.set(Some(t));
                return true;
            }
        }
        false
    }
}

/// What a span's right-hand side reports back (read after the integration).
#[derive(Default)]
struct Cells {
    failure: Cell<Option<(f64, &'static str)>>,
    stopped_at: Cell<Option<f64>>,
    evals: Cell<u64>,
    stiff_at: Cell<Option<f64>>,
    jacobians: Cell<u64>,
}

impl<'a> Rhs<'a> {
    fn new(span: &Span<'a>, cells: &'a Cells, auto_steps: Option<&'a Cell<u64>>) -> Self {
        Rhs {
            model: span.model,
            slots: RefCell::new(span.model.pooled_slots(span.params)),
            t_last: super::left_limit(span.t1),
            failure: &cells.failure,
            watcher: Watcher::new(span),
            stopped_at: &cells.stopped_at,
            evals: &cells.evals,
            t_prev: span.t0,
            auto_steps,
            stiff_at: &cells.stiff_at,
            past: span.past,
            scratch: RefCell::new(Vec::new()),
            jacobian: span.jacobian,
            models_jacobian: span.models_jacobian,
            jac: Vec::new(),
            stiff_hits: 0,
            power_vector: Vec::new(),
            jac_cols: Vec::new(),
            jacobians: &cells.jacobians,
        }
    }
}

struct DopriSegment<D: Dim>
where
    DefaultAllocator: Allocator<D>,
{
    t0: f64,
    t1: f64,
    dense: ContinuousOutputModel<f64, OVector<f64, D>>,
    steps: Vec<f64>,
    /// State at each step end, `n` values per step.
    ys: Vec<f64>,
    y1: Vec<f64>,
}

impl<D: Dim> Segment for DopriSegment<D>
where
    DefaultAllocator: Allocator<D>,
    OVector<f64, D>: Send + Sync,
{
    fn t0(&self) -> f64 {
        self.t0
    }
    fn t1(&self) -> f64 {
        self.t1
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        if t >= self.t1 {
            out.copy_from_slice(&self.y1);
            return;
        }
        match self.dense.evaluate(t) {
            Some(y) => out.copy_from_slice(y.as_slice()),
            None => out.copy_from_slice(&self.y1),
        }
    }
    fn steps(&self) -> &[f64] {
        &self.steps
    }
    fn step_end(&self, k: usize, out: &mut [f64]) {
        let n = out.len();
        out.copy_from_slice(&self.ys[k * n..(k + 1) * n]);
    }
}

/// Integrate a span. For auto (`auto_steps`: the dopri5 steps of the solve so far, updated),
/// also end early, the bool then true, when the problem is found stiff: by Hairer's test, h
/// |lambda| > 3.25 with lambda estimated from the last two stages at 15 accepted steps without 6
/// non-stiff ones between (ode_solvers' own, at every step), or by the Jacobian check
/// ([`CHECK_AFTER`]).
fn run<D: Dim + 'static>(
    span: Span,
    stats: &mut Stats,
    auto_steps: Option<&mut u64>,
) -> Result<(Box<dyn Segment>, bool), (f64, SolveFailure)>
where
    DefaultAllocator: Allocator<D>,
    OVector<f64, D>: Send + Sync + std::ops::Mul<f64, Output = OVector<f64, D>>,
{
    let Span {
        t0,
        t1,
        y0,
        opts,
        h0,
        ..
    } = span;
    let h0 = h0.min(t1 - t0);
    let n = y0.len();
    let y =
        OVector::<f64, D>::from_iterator_generic(D::from_usize(n), Const::<1>, y0.iter().copied());
    let cells = Cells::default();
    let auto_steps = auto_steps.map(Cell::from_mut);
    let rhs = Rhs::new(&span, &cells, auto_steps);
    let Cells {
        failure,
        stopped_at,
        evals,
        stiff_at,
        jacobians,
    } = &cells;
    let mut stepper = Dopri5::from_param(
        rhs,
        t0,
        t1,
        0.0,
        y,
        opts.rtol,
        opts.atol,
        0.9,
        0.04,
        0.2,
        10.0,
        t1 - t0,
        h0,
        opts.max_steps,
        if auto_steps.is_some() { 1 } else { u32::MAX },
        OutputType::Continuous,
    );
    let mut dense = ContinuousOutputModel::new();
    let result = stepper.integrate_with_continuous_output_model(&mut dense);
    let mut stiff = stiff_at.get().is_some();
    stats.jacobian_evaluations += jacobians.get();
    let detect_stiffness = auto_steps.is_some();
    match result {
        Ok(s) => {
            stats.accepted_steps += s.accepted_steps as u64;
            stats.dopri5_steps += s.accepted_steps as u64;
            stats.rejected_steps += s.rejected_steps as u64;
            stats.rhs_evaluations += s.num_eval as u64;
        }
        Err(IntegrationError::StiffnessDetected { .. }) if detect_stiffness => {
            // The solution stands up to the last accepted step; the step that completed the
            // test is discarded (counted as rejected).
            stiff = true;
            let accepted = stepper.results().get().0.len() as u64;
            stats.accepted_steps += accepted;
            stats.dopri5_steps += accepted;
            stats.rejected_steps += 1;
            stats.rhs_evaluations += evals.get();
        }
        Err(IntegrationError::StepSizeUnderflow { x }) => {
            return Err((x, SolveFailure::StepSizeUnderflow { explicit: true }))
        }
        Err(IntegrationError::MaxNumStepReached { x, n_step }) => {
            return Err((
                x,
                SolveFailure::MaxSteps {
                    steps: Some(n_step as u64),
                    explicit: true,
                },
            ))
        }
        Err(IntegrationError::StiffnessDetected { x }) => return Err((x, SolveFailure::Stiff)),
    }
    if let Some((t, msg)) = failure.get() {
        return Err((t, msg.to_string().into()));
    }
    let (xs, ys) = stepper.results().get();
    if xs.is_empty() {
        return Err((t0, "no step accepted".into()));
    }
    let y1: Vec<f64> = ys
        .last()
        .map(|v| v.as_slice().to_vec())
        .unwrap_or_else(|| y0.to_vec());
    let steps = xs.clone();
    let ys: Vec<f64> = ys.iter().flat_map(|v| v.iter().copied()).collect();
    // The span ends early when a watched level was crossed, or at the last accepted step when
    // stiffness was detected.
    let t1 = match stopped_at.get() {
        Some(t) => t,
        None if stiff => *steps.last().unwrap(),
        None => t1,
    };
    let seg = DopriSegment {
        t0,
        t1,
        dense,
        steps,
        ys,
        y1,
    };
    Ok((Box::new(seg), stiff))
}

/// A span integrated by cartox's own stepper ([`dp5`]): the same steps and values as ode_solvers'
/// `Dopri5`, its dense output read from flat storage.
struct FixedSegment<const N: usize> {
    t0: f64,
    t1: f64,
    dense: dp5::Dense,
    y1: Vec<f64>,
}

impl<const N: usize> Segment for FixedSegment<N> {
    fn t0(&self) -> f64 {
        self.t0
    }
    fn t1(&self) -> f64 {
        self.t1
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        if t >= self.t1 || !self.dense.evaluate::<N>(t, out) {
            super::copy_short(out, &self.y1);
        }
    }
    fn eval_some(&self, t: f64, which: &[usize], out: &mut [f64]) {
        if t >= self.t1 || !self.dense.evaluate_some::<N>(t, which, out) {
            super::copy_short(out, &self.y1);
        }
    }
    fn eval_from(&self, t: f64, hint: &mut Hint, out: &mut [f64]) {
        if t >= self.t1 || !self.dense.evaluate_from::<N>(t, &mut hint.step, out) {
            super::copy_short(out, &self.y1);
        }
    }
    fn steps(&self) -> &[f64] {
        &self.dense.xs
    }
    fn step_end(&self, k: usize, out: &mut [f64]) {
        let n = out.len();
        super::copy_short(out, &self.dense.ys[k * n..(k + 1) * n]);
    }
}

/// [`run`] for `N` states with the fixed-size stepper of [`dp5`] (what ode_solvers' `Dopri5`
/// computes, without its per-step allocations).
fn run_fixed<const N: usize>(
    span: Span,
    stats: &mut Stats,
    auto_steps: Option<&mut u64>,
) -> Result<(Box<dyn Segment>, bool), (f64, SolveFailure)> {
    let (t0, t1, y0, opts) = (span.t0, span.t1, span.y0, span.opts);
    let h0 = span.h0.min(t1 - t0);
    let cells = Cells::default();
    let auto_steps = auto_steps.map(Cell::from_mut);
    let detect_stiffness = auto_steps.is_some();
    let mut rhs = Rhs::new(&span, &cells, auto_steps);
    let settings = dp5::Settings {
        t0,
        t1,
        rtol: opts.rtol,
        atol: opts.atol,
        safety: 0.9,
        beta: 0.04,
        fac_min: 0.2,
        fac_max: 10.0,
        h_max: t1 - t0,
        h: h0,
        n_max: opts.max_steps,
        n_stiff: if detect_stiffness { 1 } else { u32::MAX },
    };
    let (dense, counts, result) = dp5::integrate::<N, _>(&mut rhs, y0, &settings);
    drop(rhs);
    let mut stiff = cells.stiff_at.get().is_some();
    stats.jacobian_evaluations += cells.jacobians.get();
    match result {
        Ok(()) => {
            stats.accepted_steps += counts.accepted as u64;
            stats.dopri5_steps += counts.accepted as u64;
            stats.rejected_steps += counts.rejected as u64;
            stats.rhs_evaluations += counts.num_eval as u64;
        }
        Err(dp5::Stop::Stiff { .. }) if detect_stiffness => {
            // As in `run`: the solution stands up to the last accepted step.
            stiff = true;
            let accepted = dense.xs.len() as u64;
            stats.accepted_steps += accepted;
            stats.dopri5_steps += accepted;
            stats.rejected_steps += 1;
            stats.rhs_evaluations += cells.evals.get();
        }
        Err(dp5::Stop::Underflow { x }) => {
            return Err((x, SolveFailure::StepSizeUnderflow { explicit: true }))
        }
        Err(dp5::Stop::MaxSteps { x, n_step }) => {
            return Err((
                x,
                SolveFailure::MaxSteps {
                    steps: Some(n_step as u64),
                    explicit: true,
                },
            ))
        }
        Err(dp5::Stop::Stiff { x }) => return Err((x, SolveFailure::Stiff)),
    }
    if let Some((t, msg)) = cells.failure.get() {
        return Err((t, msg.to_string().into()));
    }
    if dense.xs.is_empty() {
        return Err((t0, "no step accepted".into()));
    }
    let n = y0.len();
    let y1 = dense.ys[dense.ys.len() - n..].to_vec();
    let t1 = match cells.stopped_at.get() {
        Some(t) => t,
        None if stiff => *dense.xs.last().unwrap(),
        None => t1,
    };
    let seg = FixedSegment::<N> { t0, t1, dense, y1 };
    Ok((Box::new(seg), stiff))
}

macro_rules! dispatch {
    ($n:expr, $args:tt ; $($k:literal)*) => {
        match $n {
            $( $k => run_fixed::<$k> $args, )*
            _ => run::<Dyn> $args,
        }
    };
}

/// Integrate a span with Dopri5, dispatching the state count to a const-sized vector.
pub(super) fn integrate(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    integrate_piece(span, stats, None).map(|(seg, _)| seg)
}

/// Integrate a span with Dopri5; for auto (`auto_steps`), end at the last accepted step once
/// the problem is found stiff (the bool is then true). See [`run`].
pub(super) fn integrate_piece(
    span: Span,
    stats: &mut Stats,
    auto_steps: Option<&mut u64>,
) -> Result<(Box<dyn Segment>, bool), (f64, SolveFailure)> {
    dispatch!(span.y0.len(), (span, stats, auto_steps);
        1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}
