//! `--method auto` (the default): dopri5 while the problem is not stiff, radau5 while it is.
//!
//! - dopri5 runs with Hairer's stiffness test at every accepted step (ode_solvers' own, as in
//!   DOPRI5: h |lambda| > 3.25, lambda estimated from the last two stages, at 15 steps without
//!   6 non-stiff ones between; `dopri.rs`). The test reads the stages without changing them, so
//!   on a problem that never turns stiff `auto` is bit-identical to `dopri5`.
//! - When it fires, integration continues from dopri5's last accepted step with radau5, which
//!   hands back to dopri5 after `back_after` accepted steps in a row with h rho(J) <= 1
//!   (`radau::NonStiffTest`): its step size is then limited by accuracy, not by stability.
//!   `back_after` starts at 10 and doubles at every return to radau5, so a problem on the edge
//!   does not switch back and forth.
//! - The method in use carries over segment boundaries (doses, breakpoints, interventions):
//!   stiffness is a property of the equations, which an event rarely changes.
//!
//! A segment integrated with both methods is a [`Chain`] of their segments.

use super::radau::{self, NonStiffTest};
use super::{dopri, Hint, Segment, Span, Stats};
use crate::error::SolveFailure;

/// Accepted radau5 steps in a row that must pass the non-stiff test before the first return to
/// dopri5 (doubling at each later one).
const BACK_AFTER: u32 = 10;

/// The method `auto` is using, carried from segment to segment.
#[derive(Debug, Clone)]
pub(crate) struct AutoState {
    stiff: bool,
    back_after: u32,
    /// dopri5 steps taken in the solve (for its Jacobian check).
    dopri_steps: u64,
    /// The method of the last piece integrated (true: radau5), to count switches.
    last_stiff: Option<bool>,
}

impl Default for AutoState {
    fn default() -> Self {
        AutoState {
            stiff: false,
            back_after: BACK_AFTER,
            dopri_steps: 0,
            last_stiff: None,
        }
    }
}

/// Integrate a span, switching between dopri5 and radau5 as the problem turns stiff and back.
pub(super) fn integrate(
    span: Span,
    stats: &mut Stats,
    state: &mut AutoState,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    let mut pieces: Vec<Box<dyn Segment>> = Vec::new();
    let mut y = span.y0.to_vec();
    let (mut t, mut h0) = (span.t0, span.h0);
    let steps_before = stats.accepted_steps;
    loop {
        let piece = Span {
            t0: t,
            y0: &y,
            h0,
            ..span
        };
        if state.last_stiff.is_some_and(|s| s != state.stiff) {
            stats.switches += 1;
        }
        state.last_stiff = Some(state.stiff);
        let (seg, switch) = if state.stiff {
            let test = NonStiffTest {
                steps: state.back_after,
            };
            radau::integrate_piece(piece, stats, Some(&test))?
        } else {
            dopri::integrate_piece(piece, stats, Some(&mut state.dopri_steps))?
        };
        let steps = seg.steps();
        if let [.., a, b] = steps {
            h0 = b - a;
        } else if let [b] = steps {
            h0 = b - t;
        }
        t = seg.t1();
        seg.eval(t, &mut y);
        pieces.push(seg);
        if !switch {
            break;
        }
        if state.stiff {
            state.back_after = state.back_after.saturating_mul(2);
        }
        state.stiff = !state.stiff;
        if t >= span.t1 {
            // Found stiff at the span's last step: the next span starts with radau5.
            break;
        }
        if stats.accepted_steps - steps_before > u64::from(span.opts.max_steps) {
            return Err((
                t,
                SolveFailure::MaxSteps {
                    steps: None,
                    explicit: false,
                },
            ));
        }
    }
    Ok(if pieces.len() == 1 {
        pieces.pop().unwrap()
    } else {
        Box::new(Chain::new(pieces))
    })
}

/// Consecutive segments of one span (integrated by different methods) as one segment.
pub(super) struct Chain {
    pieces: Vec<Box<dyn Segment>>,
    /// Start time of each piece.
    starts: Vec<f64>,
    /// The pieces' step ends, concatenated.
    steps: Vec<f64>,
    /// Index in `steps` of each piece's first step.
    first_step: Vec<usize>,
}

impl Chain {
    pub(super) fn new(pieces: Vec<Box<dyn Segment>>) -> Self {
        let mut steps = Vec::new();
        let mut first_step = Vec::new();
        for p in &pieces {
            first_step.push(steps.len());
            steps.extend_from_slice(p.steps());
        }
        Chain {
            starts: pieces.iter().map(|p| p.t0()).collect(),
            pieces,
            steps,
            first_step,
        }
    }
}

impl Segment for Chain {
    fn t0(&self) -> f64 {
        self.starts[0]
    }
    fn t1(&self) -> f64 {
        self.pieces.last().unwrap().t1()
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        // The piece holding t; at a switch time both give the same state.
        let i = self.starts.partition_point(|&s| s <= t).saturating_sub(1);
        self.pieces[i].eval(t, out)
    }
    fn eval_some(&self, t: f64, which: &[usize], out: &mut [f64]) {
        let i = self.starts.partition_point(|&s| s <= t).saturating_sub(1);
        self.pieces[i].eval_some(t, which, out)
    }
    fn steps(&self) -> &[f64] {
        &self.steps
    }
    fn eval_from(&self, t: f64, hint: &mut Hint, out: &mut [f64]) {
        // The pieces are dopri5's and radau5's segments (never chains): `hint.step` is theirs.
        let i = super::first_after(&self.starts, t, &mut hint.piece_pos).saturating_sub(1);
        if hint.piece != i {
            hint.piece = i;
            hint.step = 0;
        }
        self.pieces[i].eval_from(t, hint, out)
    }
    fn step_end(&self, k: usize, out: &mut [f64]) {
        let i = self.first_step.partition_point(|&f| f <= k) - 1;
        self.pieces[i].step_end(k - self.first_step[i], out)
    }
}
