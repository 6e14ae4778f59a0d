//! A cartox scenario solved with diffsol: cartox's compiled right-hand side and analytic
//! Jacobian handed to diffsol's closure builder, integrated segment by segment between the
//! scenario's scheduled events (doses, breakpoints, model `[[events]]`) exactly as
//! `cartox::solve::solve` splits them, with the states and observables read on an output grid
//! from diffsol's own interpolant.
//!
//! Not covered (the caller reports them as not run): models with state-triggered events or
//! `delay(x, tau)`, and toxicity-triggered interventions (the workloads here have none).

use cartox::model::Model;
use cartox::regimen::Scenario;
use cartox::solve::{initial_state, scheduled_events};
use diffsol::{
    NalgebraLU, NalgebraMat, NalgebraVec, OdeBuilder, OdeEquationsImplicit, OdeSolverMethod,
    OdeSolverStopReason, VectorHost,
};
use std::cell::{Cell, RefCell};

type M = NalgebraMat<f64>;
type V = NalgebraVec<f64>;
type LS = NalgebraLU<f64>;

/// The diffsol methods measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffsolMethod {
    /// Variable-order BDF (orders 1-5), Newton with a dense LU (nalgebra); output from
    /// diffsol's own interpolant.
    Bdf,
    /// The same BDF, output from the cubic Hermite through the step ends (y and f(t, y), one
    /// right-hand side per step more): diffsol's BDF interpolant is wrong over a step after
    /// which the order or step size changed (docs/solvers.md).
    BdfHermite,
    /// ESDIRK with the TR-BDF2 tableau (order 2).
    TrBdf2,
    /// ESDIRK34 (order 3, embedded 4).
    Esdirk34,
    /// Explicit Tsitouras 5(4), for reference on non-stiff stretches.
    Tsit45,
}

impl DiffsolMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "diffsol-bdf" => Some(Self::Bdf),
            "diffsol-bdf-hermite" => Some(Self::BdfHermite),
            "diffsol-trbdf2" => Some(Self::TrBdf2),
            "diffsol-esdirk34" => Some(Self::Esdirk34),
            "diffsol-tsit45" => Some(Self::Tsit45),
            _ => None,
        }
    }
}

/// Work counters of one solve.
#[derive(Debug, Clone, Copy, Default)]
pub struct Work {
    pub steps: u64,
    pub rhs: u64,
    /// Full analytic Jacobians computed (each Newton matrix needs one).
    pub jac: u64,
    /// Jacobian-vector products requested by diffsol (one column each while it assembles its
    /// dense matrix).
    pub jac_mul: u64,
}

impl std::ops::AddAssign for Work {
    fn add_assign(&mut self, o: Work) {
        self.steps += o.steps;
        self.rhs += o.rhs;
        self.jac += o.jac;
        self.jac_mul += o.jac_mul;
    }
}

/// States (rows = grid points) and observables on the grid.
pub struct Sampled {
    pub states: Vec<Vec<f64>>,
    pub observables: Vec<Vec<f64>>,
}

/// Model time just below `t1` (as `cartox::solve::left_limit`): the right-hand side is never
/// evaluated at a segment's end, so a breakpoint's left branch is integrated exactly.
fn left_limit(t1: f64) -> f64 {
    t1 - 1e-12 * t1.abs().max(1.0)
}

/// The right-hand side and Jacobian of one segment (parameters fixed).
struct Equations<'a> {
    model: &'a Model,
    n: usize,
    t_last: f64,
    slots: RefCell<Vec<f64>>,
    /// The last Jacobian computed and the (t, y) it was computed at: diffsol assembles its
    /// dense matrix one column (one product with a unit vector) at a time, all at one (t, y).
    jac: RefCell<(f64, Vec<f64>, Vec<f64>)>,
    rhs_calls: Cell<u64>,
    jac_calls: Cell<u64>,
    jac_muls: Cell<u64>,
}

impl<'a> Equations<'a> {
    fn new(model: &'a Model, params: &[f64], t1: f64) -> Self {
        let n = model.n_states();
        Equations {
            model,
            n,
            t_last: left_limit(t1),
            slots: RefCell::new(model.slots_with_params(params)),
            jac: RefCell::new((f64::NAN, vec![f64::NAN; n], vec![0.0; n * n])),
            rhs_calls: Cell::new(0),
            jac_calls: Cell::new(0),
            jac_muls: Cell::new(0),
        }
    }

    fn rhs(&self, y: &[f64], t: f64, dy: &mut [f64]) {
        self.rhs_calls.set(self.rhs_calls.get() + 1);
        let mut v = self.slots.borrow_mut();
        self.model.rhs(&mut v, t.min(self.t_last), y, dy);
    }

    /// J(t, y) v.
    fn jac_mul(&self, y: &[f64], t: f64, x: &[f64], out: &mut [f64]) {
        self.jac_muls.set(self.jac_muls.get() + 1);
        let t = t.min(self.t_last);
        let mut cache = self.jac.borrow_mut();
        let (ct, cy, jac) = &mut *cache;
        if *ct != t || cy.as_slice() != y {
            self.jac_calls.set(self.jac_calls.get() + 1);
            let mut v = self.slots.borrow_mut();
            self.model.jacobian(&mut v, t, y, jac);
            *ct = t;
            cy.copy_from_slice(y);
        }
        let n = self.n;
        for (i, o) in out.iter_mut().enumerate() {
            let row = &jac[i * n..(i + 1) * n];
            *o = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
    }

    fn work(&self) -> Work {
        Work {
            steps: 0,
            rhs: self.rhs_calls.get(),
            jac: self.jac_calls.get(),
            jac_mul: self.jac_muls.get(),
        }
    }
}

/// Integrate one segment `[t0, t1]` from `y0`, writing the grid points in `[t0, t1)` (and `t1`
/// itself when `last`) into `out` through `emit`. Returns the state at `t1`.
#[allow(clippy::too_many_arguments)]
fn segment(
    eq: &Equations,
    method: DiffsolMethod,
    t0: f64,
    t1: f64,
    y0: &[f64],
    rtol: f64,
    atol: f64,
    grid: &[f64],
    next: &mut usize,
    last: bool,
    emit: &mut dyn FnMut(usize, f64, &[f64]),
) -> Result<(Vec<f64>, u64), String> {
    let n = eq.n;
    let y0v = y0.to_vec();
    let mut problem = OdeBuilder::<M>::new()
        .t0(t0)
        .rtol(rtol)
        .atol(vec![atol; n])
        .rhs_implicit(
            |x: &V, _p: &V, t: f64, y: &mut V| eq.rhs(x.as_slice(), t, y.as_mut_slice()),
            |x: &V, _p: &V, t: f64, v: &V, y: &mut V| {
                eq.jac_mul(x.as_slice(), t, v.as_slice(), y.as_mut_slice())
            },
        )
        .init(
            move |_p: &V, _t: f64, y: &mut V| y.as_mut_slice().copy_from_slice(&y0v),
            n,
        )
        .build()
        .map_err(|e| e.to_string())?;
    // diffsol's smallest step is 1e-13 model time units by default, an absolute floor that
    // stops its BDF at t = 0 on Hardiansyah 2019 (a first transient in seconds) and at day 9.3
    // of Chaudhury 2020 (EC50) at rtol 1e-10; cartox's methods have none. 1e-20 here (env
    // DIFFSOL_MIN_STEP to change it, e.g. 1e-13 for diffsol's default).
    problem.ode_options.min_timestep = std::env::var("DIFFSOL_MIN_STEP")
        .map(|m| m.parse().expect("DIFFSOL_MIN_STEP: a number"))
        .unwrap_or(1e-20);
    // Newton stops at this fraction of the error-test tolerance (diffsol's default 0.2); env
    // DIFFSOL_NEWTON_TOL to change it.
    if let Ok(x) = std::env::var("DIFFSOL_NEWTON_TOL") {
        problem.ode_options.nonlinear_solver_tolerance =
            x.parse().expect("DIFFSOL_NEWTON_TOL: a number");
    }
    match method {
        DiffsolMethod::Bdf => {
            let s = problem.bdf::<LS>().map_err(|e| e.to_string())?;
            drive(s, t0, t1, grid, next, last, emit)
        }
        DiffsolMethod::BdfHermite => {
            let s = problem.bdf::<LS>().map_err(|e| e.to_string())?;
            drive_hermite(s, eq, t0, t1, y0, grid, next, last, emit)
        }
        DiffsolMethod::TrBdf2 => {
            let s = problem.tr_bdf2::<LS>().map_err(|e| e.to_string())?;
            drive(s, t0, t1, grid, next, last, emit)
        }
        DiffsolMethod::Esdirk34 => {
            let s = problem.esdirk34::<LS>().map_err(|e| e.to_string())?;
            drive(s, t0, t1, grid, next, last, emit)
        }
        DiffsolMethod::Tsit45 => {
            let s = problem.tsit45().map_err(|e| e.to_string())?;
            drive(s, t0, t1, grid, next, last, emit)
        }
    }
}

/// Step a diffsol solver to `t1`, interpolating the grid points passed on the way.
///
/// The stop time is set only once the next step would pass `t1`, after the grid points of the
/// step just taken are read: diffsol's BDF shortens its step to hit the stop time at the end of
/// `step()`, rescaling its backward differences to the new, much smaller step size, and its
/// interpolant over the step just taken is then lost to cancellation (Hanson 2016: C_e 8714
/// instead of 16.46 one step before 720 h). `STOP_EARLY` (env `DIFFSOL_STOP_EARLY`) sets it
/// up front instead, as `solve_dense` does, to show the effect.
fn drive<'a, Eqn, S>(
    mut s: S,
    t0: f64,
    t1: f64,
    grid: &[f64],
    next: &mut usize,
    last: bool,
    emit: &mut dyn FnMut(usize, f64, &[f64]),
) -> Result<(Vec<f64>, u64), String>
where
    Eqn: OdeEquationsImplicit<T = f64, V = V, M = M> + 'a,
    S: OdeSolverMethod<'a, Eqn>,
{
    let _ = t0;
    let early = std::env::var("DIFFSOL_STOP_EARLY").is_ok();
    let mut stop_set = false;
    let mut steps = 0u64;
    const MAX_STEPS: u64 = 500_000;
    loop {
        if !stop_set && (early || s.state().t + s.state().h >= t1) {
            s.set_stop_time(t1).map_err(|e| e.to_string())?;
            stop_set = true;
        }
        let reason = s.step().map_err(|e| e.to_string())?;
        steps += 1;
        if steps > MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} steps"));
        }
        let t = s.state().t;
        if stop_set && !early && !matches!(reason, OdeSolverStopReason::TstopReached) {
            // A step after the stop time was set that did not reach it (its first try was
            // rejected): its interpolant may be lost as above.
            SHORTENED.with(|c| c.set(c.get() + 1));
        }
        while *next < grid.len() && grid[*next] < t {
            let y = s.interpolate(grid[*next]).map_err(|e| e.to_string())?;
            emit(*next, grid[*next], y.as_slice());
            *next += 1;
        }
        if matches!(reason, OdeSolverStopReason::TstopReached) {
            break;
        }
    }
    let y: Vec<f64> = s.state().y.as_slice().to_vec();
    if y.iter().any(|v| !v.is_finite()) {
        return Err("non-finite state".into());
    }
    if last {
        while *next < grid.len() && grid[*next] <= t1 * (1.0 + 1e-14) {
            emit(*next, grid[*next], &y);
            *next += 1;
        }
    }
    Ok((y, steps))
}

thread_local! {
    /// Steps taken after the stop time was set that did not reach it (see [`drive`]).
    pub static SHORTENED: Cell<u64> = const { Cell::new(0) };
}

/// As [`drive`], but the grid points from the cubic Hermite through the step ends.
#[allow(clippy::too_many_arguments)]
fn drive_hermite<'a, Eqn, S>(
    mut s: S,
    eq: &Equations,
    t0: f64,
    t1: f64,
    y0: &[f64],
    grid: &[f64],
    next: &mut usize,
    last: bool,
    emit: &mut dyn FnMut(usize, f64, &[f64]),
) -> Result<(Vec<f64>, u64), String>
where
    Eqn: OdeEquationsImplicit<T = f64, V = V, M = M> + 'a,
    S: OdeSolverMethod<'a, Eqn>,
{
    let n = eq.n;
    s.set_stop_time(t1).map_err(|e| e.to_string())?;
    let mut steps = 0u64;
    let (mut ta, mut ya, mut fa) = (t0, y0.to_vec(), vec![0.0; n]);
    eq.rhs(&ya, ta, &mut fa);
    let mut fb = vec![0.0; n];
    let mut out = vec![0.0; n];
    loop {
        let reason = s.step().map_err(|e| e.to_string())?;
        steps += 1;
        if steps > 500_000 {
            return Err("more than 500000 steps".into());
        }
        let tb = s.state().t;
        let yb = s.state().y.as_slice().to_vec();
        eq.rhs(&yb, tb, &mut fb);
        let h = tb - ta;
        while *next < grid.len() && grid[*next] < tb {
            let x = (grid[*next] - ta) / h;
            let (h00, h10) = ((1.0 + 2.0 * x) * (1.0 - x).powi(2), x * (1.0 - x).powi(2));
            let (h01, h11) = (x * x * (3.0 - 2.0 * x), x * x * (x - 1.0));
            for i in 0..n {
                out[i] = h00 * ya[i] + h10 * h * fa[i] + h01 * yb[i] + h11 * h * fb[i];
            }
            emit(*next, grid[*next], &out);
            *next += 1;
        }
        ta = tb;
        ya = yb;
        std::mem::swap(&mut fa, &mut fb);
        if matches!(reason, OdeSolverStopReason::TstopReached) {
            break;
        }
    }
    if ya.iter().any(|v| !v.is_finite()) {
        return Err("non-finite state".into());
    }
    if last {
        while *next < grid.len() && grid[*next] <= t1 * (1.0 + 1e-14) {
            emit(*next, grid[*next], &ya);
            *next += 1;
        }
    }
    Ok((ya, steps))
}

/// Solve `sc` over `[0, end_day]` with a diffsol method; states and observables on `grid_days`.
pub fn solve(
    model: &Model,
    sc: &Scenario,
    end_day: f64,
    method: DiffsolMethod,
    rtol: f64,
    atol: f64,
    grid_days: &[f64],
) -> Result<(Sampled, Work), String> {
    if !model.state_events.is_empty() || model.has_delays() {
        return Err("state-triggered events or delays: not driven by this bench".into());
    }
    let per_day = model.time_unit.per_day();
    let grid: Vec<f64> = grid_days.iter().map(|d| d * per_day).collect();
    let events = scheduled_events(model, sc, end_day);
    let mut y = initial_state(model, sc);
    let mut params = sc.params.clone();
    let n = model.n_states();
    let no = model.observables.len();
    let mut out = Sampled {
        states: vec![vec![0.0; n]; grid.len()],
        observables: vec![vec![0.0; no]; grid.len()],
    };
    let mut work = Work::default();
    let t_end = end_day * per_day;
    let mut t = 0.0;
    let mut next = 0usize;
    let mut k = 0usize;
    while t < t_end {
        let stop = events
            .get(k)
            .map_or(t_end, |e| (e.day * per_day).min(t_end));
        if stop > t {
            let eq = Equations::new(model, &params, stop);
            let mut v = model.slots_with_params(&params);
            let mut emit = |i: usize, tt: f64, yy: &[f64]| {
                out.states[i].copy_from_slice(yy);
                model.observe(&mut v, tt, yy, &mut out.observables[i]);
            };
            let last = stop >= t_end;
            let (y1, steps) = segment(
                &eq, method, t, stop, &y, rtol, atol, &grid, &mut next, last, &mut emit,
            )
            .map_err(|e| format!("t = {t}: {e}"))?;
            let mut w = eq.work();
            w.steps = steps;
            work += w;
            y = y1;
            t = stop;
        }
        while let Some(e) = events.get(k) {
            if e.day * per_day > t {
                break;
            }
            e.apply(model, t, &mut y, &mut params);
            k += 1;
        }
    }
    Ok((out, work))
}
