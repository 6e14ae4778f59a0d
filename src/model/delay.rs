//! `delay(x, tau)`: the value of the expression `x` at `t - tau` (SBML's `delay` csymbol), read
//! from the solution's past.
//!
//! Each distinct `delay(...)` of a model has a slot after the assignments; it is an input of the
//! compiled programs, like time. Whoever evaluates the model at time `t` (the solvers, the
//! output grid) first calls [`Model::fill_delays`] with a function giving the state at any
//! earlier time: the states there, then the assignments `x` needs, then `x` itself are evaluated
//! with the parameters in force. Before the start the states keep their initial values (their
//! `rate_of` is 0) while time runs back: `delay(sin(t), 1)` at t = 0 is `sin(-1)`, as the SBML
//! Test Suite expects (cases 00937, 01318, 01400).
//! `tau` is an expression of parameters (a constant delay, > 0); the solver integrates in spans
//! no longer than the shortest delay ([`Model::delay_window`]), so every time it looks up lies
//! in the part of the solution already computed.

use super::{Model, Node};

/// One `delay(x, tau)` of a model.
#[derive(Debug, Clone)]
pub struct Delayed {
    /// The name the expressions use for it: `delay(<x>, <tau>)` as written.
    pub name: String,
    /// `x`: an expression of t, states, parameters and assignments (no delay in it).
    pub expr: Node,
    /// `tau`: an expression of parameters.
    pub tau: Node,
    /// The slot its value is written into.
    pub slot: usize,
    /// The assignments `expr` needs (positions in evaluation order), in evaluation order.
    pub needs: Vec<usize>,
}

/// The state at an earlier time `s` (model time units; `s` may be before the start, where the
/// history is the initial state), written into `out`.
pub type Past<'a> = dyn Fn(f64, &mut [f64]) + 'a;

impl Model {
    /// True when some expression of the model uses `delay(x, tau)`.
    pub fn has_delays(&self) -> bool {
        !self.delays.is_empty()
    }

    /// The delays `tau` with the parameters in `v` (a value vector with parameters set), in the
    /// order of [`Model::delays`].
    pub fn delay_times(&self, v: &[f64]) -> Vec<f64> {
        self.delays.iter().map(|d| d.tau.eval(v)).collect()
    }

    /// The shortest delay with the parameters in `v`; `None` without delays.
    pub fn delay_window(&self, v: &[f64]) -> Option<f64> {
        self.delay_times(v).into_iter().reduce(f64::min)
    }

    /// Write each `delay(x, tau)` at time `t` into its slot of `v` (parameters set), reading
    /// the past states from `past`; `scratch` is working space.
    pub fn fill_delays(&self, v: &mut [f64], t: f64, past: &Past<'_>, scratch: &mut Vec<f64>) {
        let n = self.states.len();
        for d in &self.delays {
            let s = t - d.tau.eval(v);
            scratch.clear();
            scratch.extend_from_slice(v);
            scratch[0] = s;
            past(s, &mut scratch[1..1 + n]);
            for &k in &d.needs {
                let slot = self.assignment_slots[k];
                let a = &self.assignments[k];
                // Before the start the states stand still: their derivatives are 0.
                scratch[slot] = if s < 0.0 && crate::expr::rate_of_target(&a.name).is_some() {
                    0.0
                } else {
                    a.expr.eval(scratch)
                };
            }
            v[d.slot] = d.expr.eval(scratch);
        }
    }

    /// The assignments an expression needs (see `assignments_needed_by`), for the compiler.
    pub(super) fn needed_assignments(&self, expr: &Node) -> Vec<usize> {
        self.assignments_needed_by(expr)
    }
}
