//! The solution on one segment for the implicit one-step methods (radau5, rodas4): per accepted
//! step its end time, its size and a cubic dense-output polynomial stored as 4n coefficients.
//! The methods differ only in the polynomial's form ([`DenseStep`]); lookup, the `Segment`
//! trait and the storage are shared here.

use std::marker::PhantomData;

use super::{Hint, Segment};

/// A method's dense output on one accepted step.
pub(super) trait DenseStep: Send + Sync {
    /// The state at `t` within the step ending at `end` of size `h`, whose 4n coefficients are
    /// `coef`.
    fn eval(coef: &[f64], end: f64, h: f64, t: f64, out: &mut [f64]);
    /// Which block of n coefficients is the state at the step's end, when the method stores it
    /// (then `step_end` copies it instead of evaluating the polynomial).
    const END_STATE: Option<usize> = None;
}

pub(super) struct StepSegment<P> {
    pub(super) t0: f64,
    pub(super) y0: Vec<f64>,
    pub(super) ends: Vec<f64>,
    pub(super) h: Vec<f64>,
    pub(super) coef: Vec<f64>,
    method: PhantomData<fn() -> P>,
}

impl<P: DenseStep> StepSegment<P> {
    /// An empty segment starting at `t0` in state `y0`, with room for 32 steps before the
    /// first reallocation.
    pub(super) fn new(t0: f64, y0: &[f64]) -> Self {
        let n = y0.len();
        StepSegment {
            t0,
            y0: y0.to_vec(),
            ends: Vec::with_capacity(32),
            h: Vec::with_capacity(32),
            coef: Vec::with_capacity(32 * 4 * n),
            method: PhantomData,
        }
    }

    /// The dense output of step `i` at `t`.
    #[inline]
    fn eval_step(&self, i: usize, t: f64, out: &mut [f64]) {
        let n = self.y0.len();
        P::eval(
            &self.coef[4 * n * i..4 * n * (i + 1)],
            self.ends[i],
            self.h[i],
            t,
            out,
        );
    }
}

impl<P: DenseStep> Segment for StepSegment<P> {
    fn t0(&self) -> f64 {
        self.t0
    }
    fn t1(&self) -> f64 {
        *self.ends.last().unwrap_or(&self.t0)
    }
    fn eval(&self, t: f64, out: &mut [f64]) {
        if self.ends.is_empty() || t <= self.t0 {
            out.copy_from_slice(&self.y0);
            return;
        }
        let i = self
            .ends
            .partition_point(|&e| e < t)
            .min(self.ends.len() - 1);
        self.eval_step(i, t, out);
    }
    fn eval_from(&self, t: f64, hint: &mut Hint, out: &mut [f64]) {
        if self.ends.is_empty() || t <= self.t0 {
            out.copy_from_slice(&self.y0);
            return;
        }
        let i = super::first_at_or_after(&self.ends, t, &mut hint.step).min(self.ends.len() - 1);
        self.eval_step(i, t, out);
    }
    fn steps(&self) -> &[f64] {
        &self.ends
    }
    fn step_end(&self, k: usize, out: &mut [f64]) {
        match P::END_STATE {
            Some(b) => {
                let n = self.y0.len();
                let at = 4 * n * k + b * n;
                out[..n].copy_from_slice(&self.coef[at..at + n]);
            }
            None => self.eval(self.steps()[k], out),
        }
    }
}
