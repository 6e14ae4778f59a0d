//! Solve: integrate a model for one scenario, segment by segment between events (infusions,
//! model breakpoints, triggered interventions), keeping the solver's continuous (dense) output so
//! any time point — output grid or threshold crossing — is read from the solution itself.
//!
//! Methods: `auto` (the default, `auto.rs`: dopri5, switching to radau5 while the problem is
//! stiff), `dopri5` (ode_solvers' explicit Dormand-Prince 5(4)), and for stiff models `radau5`
//! (Radau IIA after Hairer & Wanner's RADAU5, `radau.rs`: the differential-equations crate's
//! Radau5 measurably fails, see there), `rodas4` (the Rosenbrock method RODAS4 of Hairer &
//! Wanner, `rosenbrock.rs`) and `bdf` (the differential-equations crate's variable-order BDF).
//! See `docs/solvers.md`.

mod auto;
mod cpu;
mod dopri;
mod dp5;
mod implicit;
mod lu;
mod radau;
mod rosenbrock;
mod schedule;
mod state_events;
mod steps;
mod stiffness;
mod watch;

pub(crate) use cpu::copy_short;
#[cfg(target_arch = "x86_64")]
pub(crate) use cpu::use_avx2;
pub(crate) use watch::Watcher;

use crate::model::{Model, Quantity};
use crate::regimen::Scenario;

pub use schedule::{initial_state, scheduled_events, Event};

/// Integration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// dopri5 while the problem is not stiff, radau5 while it is (`auto.rs`).
    Auto,
    /// Explicit Dormand-Prince 5(4) with 4th-order dense output (ode_solvers).
    Dopri5,
    /// Implicit Radau IIA of order 5 for stiff models (`radau.rs`).
    Radau5,
    /// Implicit variable-order BDF for stiff models (differential-equations).
    Bdf,
    /// Linearly implicit Rosenbrock RODAS4, order 4(3), for stiff models (`rosenbrock.rs`).
    Rodas4,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Method::Auto),
            "dopri5" | "rk45" => Some(Method::Dopri5),
            "radau5" | "radau" | "stiff" => Some(Method::Radau5),
            "bdf" => Some(Method::Bdf),
            "rodas4" | "rodas" | "rosenbrock" => Some(Method::Rodas4),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Dopri5 => "dopri5",
            Method::Radau5 => "radau5",
            Method::Bdf => "bdf",
            Method::Rodas4 => "rodas4",
        }
    }
}

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    pub method: Method,
    pub rtol: f64,
    pub atol: f64,
    /// Maximum accepted + rejected steps per segment.
    pub max_steps: u32,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            method: Method::Auto,
            rtol: 1e-6,
            atol: 1e-9,
            max_steps: 500_000,
        }
    }
}

/// A failed solve (defined with the library's error type).
pub use crate::error::{SolveError, SolveFailure};

/// The continuous solution of one integration segment `[t0, t1]` (model time units).
pub trait Segment: Send + Sync {
    fn t0(&self) -> f64;
    fn t1(&self) -> f64;
    /// State at time `t` in `[t0, t1]`.
    fn eval(&self, t: f64, out: &mut [f64]);
    /// End times of the solver's accepted steps (the last equals `t1`).
    fn steps(&self) -> &[f64];
    /// State at the end of accepted step `k` (`eval` at `steps()[k]`; a method that keeps its
    /// step-end states returns them without interpolating).
    fn step_end(&self, k: usize, out: &mut [f64]) {
        self.eval(self.steps()[k], out)
    }
    /// [`eval`](Self::eval) of the components `which` only: `out[i]` for every `i` in `which`
    /// is `eval`'s, bit for bit; the other entries of `out` may or may not be written. For
    /// readers of one or a few states (a graded quantity, an observable's inputs).
    fn eval_some(&self, t: f64, which: &[usize], out: &mut [f64]) {
        let _ = which;
        self.eval(t, out)
    }
    /// [`eval`](Self::eval) for times read in increasing order (an output grid): `hint` keeps
    /// where the last read was, so the step holding `t` is found by scanning forward from there
    /// instead of a binary search. The same step and the same value as `eval` for any `t`.
    fn eval_from(&self, t: f64, hint: &mut Hint, out: &mut [f64]) {
        let _ = hint;
        self.eval(t, out)
    }
}

/// Where the last [`Segment::eval_from`] read was (start with `Hint::default()` per segment).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hint {
    /// Position among a chain's pieces, and the piece it gave.
    piece_pos: usize,
    piece: usize,
    /// Position among a piece's steps.
    step: usize,
}

/// `xs.partition_point(|&x| x < t)` for `xs` sorted ascending, scanning forward from `*from`
/// (a binary search only when `t` lies before it); `*from` is left at the result.
#[inline]
pub(crate) fn first_at_or_after(xs: &[f64], t: f64, from: &mut usize) -> usize {
    let mut i = (*from).min(xs.len());
    // Not `xs[i - 1] < t` (also when `t` is NaN, as partition_point then gives 0).
    if i > 0 && xs[i - 1].partial_cmp(&t) != Some(std::cmp::Ordering::Less) {
        i = xs.partition_point(|&x| x < t);
    } else {
        while i < xs.len() && xs[i] < t {
            i += 1;
        }
    }
    *from = i;
    i
}

/// `xs.partition_point(|&x| x <= t)` for `xs` sorted ascending, as [`first_at_or_after`].
#[inline]
pub(crate) fn first_after(xs: &[f64], t: f64, from: &mut usize) -> usize {
    let mut i = (*from).min(xs.len());
    // Not `xs[i - 1] <= t`.
    if i > 0
        && !matches!(
            xs[i - 1].partial_cmp(&t),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        )
    {
        i = xs.partition_point(|&x| x <= t);
    } else {
        while i < xs.len() && xs[i] <= t {
            i += 1;
        }
    }
    *from = i;
    i
}

/// Where the last [`Solution::state_from`] read was: for reading a solution at increasing times.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    pos: usize,
    seg: Option<usize>,
    hint: Hint,
}

/// Solver work counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted_steps: u64,
    pub rejected_steps: u64,
    pub rhs_evaluations: u64,
    /// Accepted steps taken by each method (they add up to `accepted_steps`).
    pub dopri5_steps: u64,
    pub radau5_steps: u64,
    pub bdf_steps: u64,
    pub rodas4_steps: u64,
    /// Changes of method within the solve (`auto`).
    pub switches: u64,
    /// Jacobians evaluated by radau5 and rodas4 (analytic or by finite differences) and by
    /// auto's early stiffness check during dopri5 (analytic).
    pub jacobian_evaluations: u64,
}

impl Stats {
    /// The methods that took steps, with their accepted steps, in the order dopri5, radau5, bdf,
    /// rodas4.
    pub fn methods(&self) -> Vec<(Method, u64)> {
        [
            (Method::Dopri5, self.dopri5_steps),
            (Method::Radau5, self.radau5_steps),
            (Method::Bdf, self.bdf_steps),
            (Method::Rodas4, self.rodas4_steps),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .collect()
    }

    /// One line on the work done, e.g. "691 steps (dopri5 22, radau5 669; 1 switch), 5227
    /// right-hand-side evaluations"; the breakdown only when the method was `auto`.
    pub fn describe(&self, method: Method) -> String {
        let mut s = format!("{} steps", self.accepted_steps);
        if method == Method::Auto {
            let parts: Vec<String> = self
                .methods()
                .iter()
                .map(|(m, n)| format!("{} {n}", m.as_str()))
                .collect();
            let switches = match self.switches {
                0 => String::new(),
                1 => "; 1 switch".into(),
                k => format!("; {k} switches"),
            };
            s += &format!(" ({}{switches})", parts.join(", "));
        }
        s + &format!(", {} right-hand-side evaluations", self.rhs_evaluations)
    }
}

/// A continuous solution over `[0, end]` made of segments split at events.
pub struct Solution {
    pub n_states: usize,
    /// Model time units per day.
    pub per_day: f64,
    segments: Vec<Box<dyn Segment>>,
    /// Start time of each segment (model units), for lookups.
    starts: Vec<f64>,
    /// Parameter values in force on each segment (interventions change them).
    seg_params: Vec<Vec<f64>>,
    /// The state before the start (the history `delay(x, tau)` reads there).
    before_start: Vec<f64>,
    pub stats: Stats,
}

impl Solution {
    /// End of the solution, in days.
    pub fn end_day(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.t1()) / self.per_day
    }

    /// Index of the segment holding model time `t` (the later one at a boundary).
    pub(crate) fn segment_index(&self, t: f64) -> usize {
        self.starts.partition_point(|&s| s <= t).saturating_sub(1)
    }

    /// Number of segments (integration spans between events).
    pub(crate) fn n_segments(&self) -> usize {
        self.segments.len()
    }

    /// Start time of each segment (model time units): 0, then every time where integration
    /// stopped and restarted (doses, breakpoints, events, interventions).
    pub fn segment_starts(&self) -> &[f64] {
        &self.starts
    }

    /// Segment `i` and the parameter values in force on it.
    pub(crate) fn segment(&self, i: usize) -> (&dyn Segment, &[f64]) {
        (self.segments[i].as_ref(), &self.seg_params[i])
    }

    /// State at `day` (right-continuous: at an event time, the state just after the event).
    pub fn state_at(&self, day: f64, out: &mut [f64]) {
        let t = day * self.per_day;
        let seg = &self.segments[self.segment_index(t)];
        seg.eval(t.clamp(seg.t0(), seg.t1()), out);
    }

    /// [`state_at`](Self::state_at) for days read in increasing order (an output grid): the
    /// same values, the segment and step found by scanning forward from the last read
    /// (`cursor`, `Cursor::default()` at first). Returns the index of the segment read, whose
    /// parameters are those in force ([`params_at`](Self::params_at)).
    pub fn state_from(&self, day: f64, cursor: &mut Cursor, out: &mut [f64]) -> usize {
        let t = day * self.per_day;
        let i = first_after(&self.starts, t, &mut cursor.pos).saturating_sub(1);
        if cursor.seg != Some(i) {
            cursor.seg = Some(i);
            cursor.hint = Hint::default();
        }
        let seg = &self.segments[i];
        seg.eval_from(t.clamp(seg.t0(), seg.t1()), &mut cursor.hint, out);
        i
    }

    /// State at model time `t`, which may be before the start (the initial state there): what
    /// `delay(x, tau)` reads ([`Model::fill_delays`]).
    pub fn past_state(&self, t: f64, out: &mut [f64]) {
        past_state(
            &self.segments,
            &self.before_start,
            f64::INFINITY,
            &[],
            t,
            out,
        )
    }

    /// Parameter values in force at `day` (right-continuous like `state_at`).
    pub fn params_at(&self, day: f64) -> &[f64] {
        &self.seg_params[self.segment_index(day * self.per_day)]
    }
}

/// The state at model time `s` from the segments integrated so far: the state before the start
/// for `s < 0`, `y_now` from `t_now` (the start of the span being integrated) on.
fn past_state(
    segments: &[Box<dyn Segment>],
    before: &[f64],
    t_now: f64,
    y_now: &[f64],
    s: f64,
    out: &mut [f64],
) {
    if s < 0.0 || segments.is_empty() && s < t_now {
        out.copy_from_slice(before);
    } else if s >= t_now {
        out.copy_from_slice(y_now);
    } else {
        let i = segments.partition_point(|g| g.t0() <= s).saturating_sub(1);
        let g = &segments[i];
        g.eval(s.clamp(g.t0(), g.t1()), out);
    }
}

/// The next time after `t` where a span of a model with delays ends: at most the shortest
/// delay on, and at the next multiple of each delay (where the start's discontinuity
/// propagates). An error for a delay that is not finite and > 0.
fn delay_stop(model: &Model, params: &[f64], t: f64, stop: f64) -> Result<f64, String> {
    let v = model.slots_with_params(params);
    let mut stop = stop;
    for tau in model.delay_times(&v) {
        if !(tau.is_finite() && tau > 0.0) {
            return Err(format!("a delay is {tau}: it must be finite and > 0"));
        }
        // A multiple of tau within rounding of t, or of the stop, is not cut at again.
        let close = 1e-9 * tau.max(t.abs()).max(stop.abs());
        let mut next = ((t / tau).floor() + 1.0) * tau;
        if next - t <= close {
            next += tau;
        }
        let cut = (t + tau).min(next);
        if cut < stop - close {
            stop = cut;
        }
    }
    Ok(stop)
}

/// How close (model time units) two segment boundaries must be to count as one: relative 1e-12,
/// as [`left_limit`].
pub(crate) fn boundary_tolerance(t: f64) -> f64 {
    1e-12 * t.abs().max(1.0)
}

/// A time just below `t1` (relative 1e-12): the right-hand side is never evaluated at a segment's
/// end itself, so `if(t < Tmax, ...)` with a breakpoint at Tmax integrates the left branch exactly.
pub(crate) fn left_limit(t1: f64) -> f64 {
    t1 - 1e-12 * t1.abs().max(1.0)
}

/// An analytic Jacobian for the implicit methods: `(v, t, y, jac)` writes d f_i / d y_j of the
/// right-hand side at (t, y) into `jac[i * n + j]` (row-major, n x n), `v` being the model's slot
/// buffer with the segment's parameter values (as for `Model::rhs`). Without one, radau5 uses
/// forward differences.
pub type JacobianFn<'a> = dyn Fn(&mut [f64], f64, &[f64], &mut [f64]) + 'a;

/// One integration request: the model with fixed parameter values, from `y0` at `t0` to `t1`
/// (model time units); `h0` is a first step size to try (0 = let the method estimate one).
#[derive(Clone, Copy)]
pub(crate) struct Span<'a> {
    pub model: &'a Model,
    pub params: &'a [f64],
    pub t0: f64,
    pub t1: f64,
    pub y0: &'a [f64],
    pub opts: &'a SolverOptions,
    pub h0: f64,
    /// Quantities and levels to watch: dopri5 and radau5 end the span early, at the end of the
    /// first step where one of them has risen from below its level to at or above it.
    pub watch: &'a [(Quantity, f64)],
    /// Analytic Jacobian for radau5 (finite differences without one).
    pub jacobian: Option<&'a JacobianFn<'a>>,
    /// `jacobian` is the model's own ([`Model::jacobian`]): auto's early stiffness check then
    /// reads its structurally non-zero entries alone ([`Model::jacobian_entries`]).
    pub models_jacobian: bool,
    /// The solution's past, for a model with `delay(x, tau)` (dopri5 only): the span is no
    /// longer than the shortest delay, so every time looked up is before its start.
    pub past: Option<&'a crate::model::delay::Past<'a>>,
}

/// Integrate one segment with the method the options name (`auto` carries its state from one
/// segment to the next).
pub(crate) fn integrate_segment(
    span: Span,
    stats: &mut Stats,
    auto: &mut auto::AutoState,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    if span.y0.is_empty() {
        return Ok(Box::new(Stateless([span.t0, span.t1])));
    }
    match span.opts.method {
        Method::Auto => auto::integrate(span, stats, auto),
        Method::Dopri5 => dopri::integrate(span, stats),
        Method::Radau5 | Method::Bdf => implicit::integrate(span, stats),
        Method::Rodas4 => rosenbrock::integrate(span, stats),
    }
}

/// The segment of a model without states (only parameters, assignments and events): nothing
/// to integrate.
struct Stateless([f64; 2]);

impl Segment for Stateless {
    fn t0(&self) -> f64 {
        self.0[0]
    }
    fn t1(&self) -> f64 {
        self.0[1]
    }
    fn eval(&self, _: f64, _: &mut [f64]) {}
    fn steps(&self) -> &[f64] {
        &self.0[1..]
    }
}

/// bdf with triggered events integrates at most this fraction of the span at a time.
const BDF_EVENT_CHUNKS: f64 = 100.0;

/// Triggered-event crossings in a row with time advancing by at most 1e-9 (relative) before
/// the solve is stopped as looping (a reset that re-arms its own trigger at once).
const MAX_STALLED_EVENTS: u32 = 10_000;

/// Longest integration chunk while a trigger is armed, days, for bdf (which does not end a span
/// early on a watched level).
const TRIGGER_CHUNK_DAYS: f64 = 1.0;

/// Something that can stop a segment early: given the segment just integrated, return the time
/// (model units) of the first event inside it, or at its end, and the change to apply there.
pub trait Trigger {
    /// True while the trigger may still produce events.
    fn armed(&self) -> bool {
        true
    }

    /// Levels whose up-crossing may start an event: integration stops at the end of the step
    /// where one is crossed, so the event is found without integrating past it.
    fn watch(&self) -> Vec<(Quantity, f64)> {
        Vec::new()
    }

    /// The next day at which the trigger already knows something happens (a decided event, or
    /// a condition that will be met then unless the solution changes course): integration stops
    /// there.
    fn next_due(&self) -> Option<f64> {
        None
    }

    fn check(&mut self, model: &Model, params: &[f64], seg: &dyn Segment) -> Option<(f64, Event)>;
}

/// Solve a scenario from day 0 to `end_day` with the scheduled events and optional triggers.
/// radau5 (under `radau5` and `auto`) and rodas4 use the model's analytic Jacobian
/// ([`Model::jacobian`]).
pub fn solve(
    model: &Model,
    sc: &Scenario,
    end_day: f64,
    opts: &SolverOptions,
    trigger: Option<&mut dyn Trigger>,
) -> Result<Solution, SolveError> {
    let analytic = |v: &mut [f64], t: f64, y: &[f64], jac: &mut [f64]| model.jacobian(v, t, y, jac);
    solve_inner(model, sc, end_day, opts, trigger, Some(&analytic), true)
}

/// [`solve`] with a given Jacobian for radau5 (under `radau5` and `auto`); `None` uses forward
/// differences (the fallback, and a cross-check of the analytic one).
pub fn solve_with_jacobian(
    model: &Model,
    sc: &Scenario,
    end_day: f64,
    opts: &SolverOptions,
    trigger: Option<&mut dyn Trigger>,
    jacobian: Option<&JacobianFn<'_>>,
) -> Result<Solution, SolveError> {
    solve_inner(model, sc, end_day, opts, trigger, jacobian, false)
}

/// [`solve_with_jacobian`]; `models_jacobian`: `jacobian` is [`Model::jacobian`] ([`solve`]).
fn solve_inner(
    model: &Model,
    sc: &Scenario,
    end_day: f64,
    opts: &SolverOptions,
    trigger: Option<&mut dyn Trigger>,
    jacobian: Option<&JacobianFn<'_>>,
    models_jacobian: bool,
) -> Result<Solution, SolveError> {
    let per_day = model.time_unit.per_day();
    let fail = |t: f64, failure: SolveFailure| SolveError {
        model: model.name.clone(),
        day: t / per_day,
        failure,
    };
    if !(end_day > 0.0 && end_day.is_finite()) {
        return Err(fail(
            0.0,
            format!("the simulated span must be > 0 days, got {end_day}").into(),
        ));
    }
    let mut events = scheduled_events(model, sc, end_day);
    let mut y = initial_state(model, sc);
    let before_start = y.clone();
    // delay(x, tau): dopri5 only (auto stays explicit), in spans no longer than the delay.
    let delayed = model.has_delays();
    let explicit = SolverOptions {
        method: Method::Dopri5,
        ..*opts
    };
    let opts = match opts.method {
        Method::Radau5 | Method::Bdf | Method::Rodas4 if delayed => {
            return Err(fail(
                0.0,
                format!(
                    "--method {}: a model with delay(x, tau) is integrated with dopri5 (use \
                     --method dopri5 or auto)",
                    opts.method.as_str()
                )
                .into(),
            ))
        }
        Method::Auto if delayed => &explicit,
        _ => opts,
    };
    let mut params = sc.params.clone();
    let mut triggered = state_events::StateEvents::new(model, &params, end_day * per_day);
    if let Some(se) = triggered.as_mut() {
        let at_start = |_: f64, out: &mut [f64]| out.copy_from_slice(&before_start);
        let past: Option<&crate::model::delay::Past> = delayed.then_some(&at_start);
        se.settle(0.0, &mut y, &mut params, past)
            .map_err(|m| fail(0.0, m.into()))?;
    }
    let mut stats = Stats::default();
    let mut segments: Vec<Box<dyn Segment>> = Vec::new();
    let mut t = 0.0;
    let t_end = end_day * per_day;
    let mut trigger = trigger;
    let mut next = 0;
    let mut seg_params: Vec<Vec<f64>> = Vec::new();
    // Step size to resume with after a segment boundary (continuing where the solver was).
    let mut h_hint = 0.0;
    // auto: the method in use, carried over segment boundaries.
    let mut auto = auto::AutoState::default();
    // Triggered events located (almost) at the start of their segment, in a row.
    let mut stalled = 0;
    while t < t_end {
        // A boundary within `tiny` of `t` is `t` itself: an event's day and the time a trigger
        // located it can differ by a rounding error, and integrating that gap (a step of
        // ~1e-16 days) would stop the solver with a step-size underflow.
        let tiny = boundary_tolerance(t);
        if t_end - t <= tiny {
            break;
        }
        let mut stop = events
            .get(next)
            .map_or(t_end, |e| (e.day * per_day).min(t_end));
        if let Some(se) = triggered.as_ref() {
            if let Some(due) = se.next_due().filter(|&d| d > t + tiny) {
                stop = stop.min(due);
            }
            if opts.method == Method::Bdf {
                // bdf does not end a span at a trigger change: short chunks bound the work
                // discarded after a located event.
                stop = stop.min(t + t_end / BDF_EVENT_CHUNKS);
            }
        }
        let mut watch = Vec::new();
        if let Some(tr) = trigger.as_deref().filter(|tr| tr.armed()) {
            if let Some(due) = tr.next_due().map(|d| d * per_day).filter(|&d| d > t + tiny) {
                stop = stop.min(due);
            }
            if opts.method == Method::Bdf {
                // bdf integrates in short chunks instead, so a trigger found in a chunk discards
                // at most one chunk of work.
                stop = stop.min(t + TRIGGER_CHUNK_DAYS * per_day);
            } else {
                watch = tr.watch();
            }
        }
        if delayed {
            stop = delay_stop(model, &params, t, stop).map_err(|m| fail(t, m.into()))?;
        }
        let y_now = if delayed { y.clone() } else { Vec::new() };
        let (segs, before, t_now) = (&segments, &before_start, t);
        let past_fn =
            move |s: f64, out: &mut [f64]| past_state(segs, before, t_now, &y_now, s, out);
        let past: Option<&crate::model::delay::Past> = delayed.then_some(&past_fn);
        let event_now = events
            .get(next)
            .is_some_and(|e| e.day * per_day <= t + tiny);
        if stop > t + tiny || (stop > t && !event_now) {
            let span = Span {
                model,
                params: &params,
                t0: t,
                t1: stop,
                y0: &y,
                opts,
                h0: h_hint,
                watch: &watch,
                jacobian,
                models_jacobian,
                past,
            };
            let auto_at_start = auto.clone();
            let seg = integrate_segment(span, &mut stats, &mut auto)
                .map_err(|(at, msg)| fail(at, msg))?;
            let mut seg = seg;
            if let Some(se) = triggered.as_mut() {
                // Cut the segment where a model event's trigger changes.
                if let Some(tc) = se.first_change(seg.as_ref(), &params, past) {
                    stalled = if tc - t <= 1e-9 * t.abs().max(1.0) {
                        stalled + 1
                    } else {
                        0
                    };
                    if stalled > MAX_STALLED_EVENTS {
                        return Err(fail(
                            t,
                            format!(
                                "triggers keep changing without time advancing (more than \
                                 {MAX_STALLED_EVENTS} times near t = {t}): an event re-arms \
                                 its own trigger"
                            )
                            .into(),
                        ));
                    }
                    seg = Box::new(state_events::Cut::new(seg, tc));
                }
            }
            if let Some(tr) = trigger.as_deref_mut() {
                if let Some((tc, ev)) = tr.check(model, &params, seg.as_ref()) {
                    if tc <= seg.t0() + boundary_tolerance(seg.t0()) {
                        // The event falls at the segment's start (within rounding): apply it and
                        // integrate again.
                        ev.apply(model, t, &mut y, &mut params);
                        if let Some(se) = triggered.as_mut() {
                            se.settle(t, &mut y, &mut params, past)
                                .map_err(|m| fail(t, m.into()))?;
                        }
                        auto = auto_at_start;
                        continue;
                    }
                    if tc < seg.t1() {
                        // Cut the segment at the triggered event and re-integrate up to it exactly
                        // (to the end: the trigger has already seen this part).
                        let exact = Span {
                            t1: tc,
                            watch: &[],
                            ..span
                        };
                        auto = auto_at_start;
                        seg = integrate_segment(exact, &mut stats, &mut auto)
                            .map_err(|(at, msg)| fail(at, msg))?;
                    }
                    let pos = events.partition_point(|e| e.day <= ev.day);
                    events.insert(pos, ev);
                }
            }
            seg.eval(seg.t1(), &mut y);
            t = seg.t1();
            let steps = seg.steps();
            if steps.len() >= 2 {
                h_hint = steps[steps.len() - 1] - steps[steps.len() - 2];
            }
            segments.push(seg);
            seg_params.push(params.clone());
        }
        // Apply every event at this time.
        while let Some(e) = events.get(next) {
            if e.day * per_day > t + boundary_tolerance(t) {
                break;
            }
            e.apply(model, t, &mut y, &mut params);
            next += 1;
        }
        if let Some(se) = triggered.as_mut() {
            let y_now = if delayed { y.clone() } else { Vec::new() };
            let (segs, before, t_now) = (&segments, &before_start, t);
            let past_fn =
                move |s: f64, out: &mut [f64]| past_state(segs, before, t_now, &y_now, s, out);
            let past: Option<&crate::model::delay::Past> = delayed.then_some(&past_fn);
            se.settle(t, &mut y, &mut params, past)
                .map_err(|m| fail(t, m.into()))?;
        }
    }
    Ok(Solution {
        n_states: model.n_states(),
        per_day,
        starts: segments.iter().map(|s| s.t0()).collect(),
        segments,
        seg_params,
        before_start,
        stats,
    })
}
