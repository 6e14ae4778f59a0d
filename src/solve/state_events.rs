//! State-triggered events (`[[events]]` with a `trigger`), with the SBML event semantics:
//!
//! * an event *fires* when its trigger turns from false to true (before the start the trigger
//!   holds its `initial_value`, so a trigger true at t = 0 with `initial_value = false` fires
//!   then); the crossing is located on the solver's continuous (dense) output by bisection on the
//!   trigger itself, to the last bit of the time axis;
//! * it *executes* `delay` later (the delay is evaluated when it fires); a non-`persistent` event
//!   whose trigger turns false before that is cancelled;
//! * the new values are computed when it fires (`values_at_trigger`) or when it executes;
//! * events executing at the same time run one by one by decreasing `priority` (evaluated then;
//!   events without a priority after those with one, in firing order, then file order; between
//!   equal priorities SBML picks at random: a fixed-seed generator, so a solve is repeatable), and
//!   after each execution every trigger is evaluated again: an event set off by another fires at
//!   once, a cancelled one drops out.
//!
//! dopri5 and radau5 end an integration span at the end of the first step where a trigger
//! changed ([`super::Watcher`]); [`StateEvents::first_change`] looks at the triggers at every step
//! end and, inside long steps, at least 2,000 times per solved span, bisects the first change, the
//! segment is cut there ([`Cut`]), and [`StateEvents::settle`] applies what happens at that time.
//! A model without triggered events never reaches this file (its solve is unchanged).

use super::Segment;
use crate::model::delay::Past;
use crate::model::{EventTarget, Model};

/// Executions allowed at one time before the events are declared to loop without end.
const MAX_EXECUTIONS_AT_ONCE: usize = 10_000;

/// Looks at the triggers per solved span, at least (inside long solver steps).
const SCANS_PER_SPAN: f64 = 2000.0;

/// A fired event waiting for its execution time.
struct Pending {
    event: usize,
    /// Execution time, model units.
    at: f64,
    /// The new values, when computed at firing.
    values: Option<Vec<f64>>,
    /// Firing order.
    seq: u64,
}

/// The events' state along one solve: each trigger's current value and the pending executions.
pub(crate) struct StateEvents<'a> {
    model: &'a Model,
    slots: Vec<f64>,
    /// Each trigger's value at the current time (before the start: its `initial_value`).
    now: Vec<bool>,
    pending: Vec<Pending>,
    seq: u64,
    y: Vec<f64>,
    /// Longest time between two looks at the triggers (1/2000 of the solved span).
    scan: f64,
    /// State of the generator that breaks ties between equal priorities.
    random: u64,
    /// Working space for `delay(x, tau)`.
    scratch: Vec<f64>,
}

impl<'a> StateEvents<'a> {
    /// The model's triggered events before the start of a solve over `[0, t_end]` (`None` when
    /// it has none).
    pub fn new(model: &'a Model, params: &[f64], t_end: f64) -> Option<Self> {
        if model.state_events.is_empty() {
            return None;
        }
        Some(StateEvents {
            model,
            slots: model.slots_with_params(params),
            now: model.state_events.iter().map(|e| e.initial_value).collect(),
            pending: Vec::new(),
            seq: 0,
            y: vec![0.0; model.n_states()],
            scan: t_end / SCANS_PER_SPAN,
            random: 0,
            scratch: Vec::new(),
        })
    }

    /// Fill the slot buffer for (t, y) with `params` and evaluate the assignments.
    /// `past`: the solution so far, for a model with `delay(x, tau)`.
    fn load(&mut self, t: f64, y: &[f64], params: &[f64], past: Option<&Past>) {
        let n = y.len();
        self.slots[0] = t;
        self.slots[1..1 + n].copy_from_slice(y);
        self.slots[1 + n..1 + n + params.len()].copy_from_slice(params);
        if let Some(past) = past {
            self.model
                .fill_delays(&mut self.slots, t, past, &mut self.scratch);
        }
        self.model.eval_assignments(&mut self.slots);
    }

    /// Event `i`'s trigger on the loaded slots.
    fn trigger(&self, i: usize) -> bool {
        self.model.state_events[i].trigger.eval(&self.slots) != 0.0
    }

    /// The earliest pending execution time.
    pub fn next_due(&self) -> Option<f64> {
        self.pending.iter().map(|p| p.at).reduce(f64::min)
    }

    /// Event `i`'s new values on the loaded slots.
    fn values(&self, i: usize) -> Vec<f64> {
        let set = &self.model.state_events[i].set;
        set.iter().map(|(_, e, _)| e.eval(&self.slots)).collect()
    }

    /// The first time inside `seg` where a trigger differs from its value at the segment's start
    /// (the earliest located crossing), if any.
    pub fn first_change(
        &mut self,
        seg: &dyn Segment,
        params: &[f64],
        past: Option<&Past>,
    ) -> Option<f64> {
        let mut y = std::mem::take(&mut self.y);
        let mut lo = seg.t0();
        let mut found = None;
        'steps: for (k, &step_end) in seg.steps().iter().enumerate() {
            // Step ends, and points at most `scan` apart inside long steps: a trigger that
            // turns true and false again within one step is seen when it stays true for `scan`.
            let pieces = ((step_end - lo) / self.scan).ceil().clamp(1.0, 1e4) as usize;
            let start = lo;
            for j in 1..=pieces {
                let hi = if j == pieces {
                    seg.step_end(k, &mut y);
                    step_end
                } else {
                    let t = start + (step_end - start) * j as f64 / pieces as f64;
                    seg.eval(t, &mut y);
                    t
                };
                self.load(hi, &y, params, past);
                let changed: Vec<usize> = (0..self.now.len())
                    .filter(|&i| self.trigger(i) != self.now[i])
                    .collect();
                if !changed.is_empty() {
                    let tc = changed
                        .into_iter()
                        .map(|i| self.bisect(i, seg, params, past, lo, hi, &mut y))
                        .fold(hi, f64::min);
                    found = Some(tc);
                    break 'steps;
                }
                lo = hi;
            }
        }
        self.y = y;
        found
    }

    /// The crossing of trigger `i` in `(lo, hi]`: the earliest time (to the last bit) at which
    /// it differs from its current value, given that it does at `hi` and not at `lo`.
    #[allow(clippy::too_many_arguments)]
    fn bisect(
        &mut self,
        i: usize,
        seg: &dyn Segment,
        params: &[f64],
        past: Option<&Past>,
        mut lo: f64,
        mut hi: f64,
        y: &mut [f64],
    ) -> f64 {
        loop {
            let mid = lo + 0.5 * (hi - lo);
            if mid <= lo || mid >= hi {
                return hi;
            }
            seg.eval(mid, y);
            self.load(mid, y, params, past);
            if self.trigger(i) != self.now[i] {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    }

    /// Everything that happens at time `t`: triggers that turned true fire, triggers that turned
    /// false cancel their non-persistent executions, and the executions due run by priority,
    /// each followed by a new look at the triggers.
    pub fn settle(
        &mut self,
        t: f64,
        y: &mut [f64],
        params: &mut [f64],
        past: Option<&Past>,
    ) -> Result<(), String> {
        for _ in 0..MAX_EXECUTIONS_AT_ONCE {
            self.load(t, y, params, past);
            for i in 0..self.now.len() {
                let value = self.trigger(i);
                if value && !self.now[i] {
                    self.fire(i, t)?;
                } else if !value && self.now[i] && !self.model.state_events[i].persistent {
                    self.pending.retain(|p| p.event != i);
                }
                self.now[i] = value;
            }
            let model = self.model;
            let priority = |p: &Pending| {
                let e = &model.state_events[p.event];
                e.priority.as_ref().map_or(f64::NEG_INFINITY, |n| {
                    let x = n.eval(&self.slots);
                    if x.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        x
                    }
                })
            };
            let best = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.at <= t)
                .max_by(|(_, a), (_, b)| {
                    priority(a)
                        .total_cmp(&priority(b))
                        .then(b.seq.cmp(&a.seq))
                        .then(b.event.cmp(&a.event))
                })
                .map(|(k, p)| (k, priority(p)));
            let Some((mut k, top)) = best else {
                return Ok(());
            };
            if top > f64::NEG_INFINITY {
                // Equal explicit priorities: SBML picks one at random.
                let tied: Vec<usize> = (0..self.pending.len())
                    .filter(|&j| self.pending[j].at <= t && priority(&self.pending[j]) == top)
                    .collect();
                if tied.len() > 1 {
                    k = tied[(self.next_random() % tied.len() as u64) as usize];
                }
            }
            let p = self.pending.remove(k);
            let values = p.values.unwrap_or_else(|| self.values(p.event));
            let event = &self.model.state_events[p.event];
            for ((target, _, _), x) in event.set.iter().zip(values) {
                match *target {
                    EventTarget::State(j) => y[j] = x,
                    EventTarget::Parameter(j) => params[j] = x,
                }
            }
        }
        Err(format!(
            "the events keep executing at t = {t} (more than {MAX_EXECUTIONS_AT_ONCE} at one time)"
        ))
    }

    /// The next number of a fixed-seed splitmix64 sequence (the same solve gives the same
    /// choices).
    fn next_random(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Event `i` fires at `t` (slots loaded there): queue its execution.
    fn fire(&mut self, i: usize, t: f64) -> Result<(), String> {
        let event = &self.model.state_events[i];
        let delay = event.delay.as_ref().map_or(0.0, |d| d.eval(&self.slots));
        if !(delay.is_finite() && delay >= 0.0) {
            return Err(format!(
                "event `{}` fired at t = {t} with delay {delay} (must be a finite time >= 0)",
                event.name
            ));
        }
        let values = event.values_at_trigger.then(|| self.values(i));
        self.seq += 1;
        self.pending.push(Pending {
            event: i,
            at: t + delay,
            values,
            seq: self.seq,
        });
        Ok(())
    }
}

/// A segment cut short at `t1` (a located event): the steps before it, then `t1`.
pub(crate) struct Cut {
    inner: Box<dyn Segment>,
    steps: Vec<f64>,
}

impl Cut {
    pub fn new(inner: Box<dyn Segment>, t1: f64) -> Self {
        let mut steps: Vec<f64> = inner.steps().iter().copied().filter(|&s| s < t1).collect();
        steps.push(t1);
        Cut { inner, steps }
    }
}

impl Segment for Cut {
    fn t0(&self) -> f64 {
        self.inner.t0()
    }
    fn t1(&self) -> f64 {
        self.steps[self.steps.len() - 1]
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        self.inner.eval(t, out)
    }
    fn eval_some(&self, t: f64, which: &[usize], out: &mut [f64]) {
        self.inner.eval_some(t, which, out)
    }
    fn eval_from(&self, t: f64, hint: &mut super::Hint, out: &mut [f64]) {
        self.inner.eval_from(t, hint, out)
    }
    fn steps(&self) -> &[f64] {
        &self.steps
    }
    fn step_end(&self, k: usize, out: &mut [f64]) {
        if k + 1 < self.steps.len() {
            self.inner.step_end(k, out)
        } else {
            self.inner.eval(self.t1(), out)
        }
    }
}
