//! `--method rodas4`: the linearly implicit Rosenbrock method RODAS4 of Hairer & Wanner (Solving
//! Ordinary Differential Equations II, section IV.7; the coefficients of their rodas.f), for
//! stiff models:
//! - 6 stages, order 4 with an embedded order-3 solution, L-stable and stiffly accurate (the
//!   last two stages are the embedded and the final solution, so the error estimate is the last
//!   stage's increment);
//! - per step one Jacobian (the span's analytic one when given, else forward differences, as
//!   radau5) and one real LU of 1/(gamma h) I - J, gamma = 1/4; no Newton iteration: each stage
//!   is one right-hand side and one pair of triangular solves;
//! - a right-hand side that reads time gets the term h d_i df/dt (df/dt by a forward difference
//!   in t, once per step); one that does not (`uses_time` false) skips it;
//! - error measured with atol + rtol max(|y0|, |y1|) as rodas.f does (rtol and atol used as
//!   given: RODAS4's local error is already of the size the tolerance names), step sizes in
//!   [h/5, 6 h] per step with Gustafsson's predictive controller (rodas.f's defaults);
//! - continuous output of order 3: y(s) = (1 - s) y0 + s (y1 + (1 - s) (c2 + s c3)), s in
//!   [0, 1] across the step, c2 and c3 combinations of the stages (rodas.f's CONTRO).
//!
//! See docs/solvers.md ("tenth session") for its accuracy and cost against radau5 on Hanson.

use super::lu::RealLu;
use super::radau::{first_step, jacobian, step_allowed, Rhs};
use super::steps::{DenseStep, StepSegment};
use super::{Segment, Span, Stats, Watcher};
use crate::error::SolveFailure;
use crate::model::Model;

// RODAS4's coefficients (Hairer & Wanner, rodas.f, METH = 1).
const GAMMA: f64 = 0.25;
/// Stage times c_i (c5 = c6 = 1).
const CS: [f64; 6] = [0.0, 0.386, 0.21, 0.63, 1.0, 1.0];
/// d_i: the df/dt weights (zero for stages 5 and 6).
const D: [f64; 6] = [0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0];
/// Stage inputs Y_i = y0 + sum_j A[i][j] k_j; row 6 is the embedded solution (row 5 plus k5).
#[rustfmt::skip]
const A: [[f64; 5]; 6] = [
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [1.544, 0.0, 0.0, 0.0, 0.0],
    [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0],
    [3.314825187068521, 2.896124015972201, 0.9986419139977817, 0.0, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1.0],
];
/// The stage couplings: (1/(gamma h) I - J) k_i = f(Y_i) + sum_j (G[i][j] / h) k_j + h d_i f_t.
#[rustfmt::skip]
const G: [[f64; 5]; 6] = [
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0],
    [-0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0],
    [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616, 0.0],
    [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
     -6.058818238834054],
];
/// Dense output: c2 = sum_j H2[j] k_j, c3 = sum_j H3[j] k_j (stages 1-5).
const H2: [f64; 5] = [
    10.12623508344586,
    -7.487995877610167,
    -34.80091861555747,
    -7.992771707568823,
    1.025137723295662,
];
const H3: [f64; 5] = [
    -0.6762803392801253,
    6.087714651680015,
    16.43084320892478,
    24.76722511418386,
    -6.594389125716872,
];
// Controller settings (rodas.f defaults).
const SAFE: f64 = 0.9;
/// Per step, h shrinks at most FACL = 5x and grows at most 1/FACR = 6x.
const FACL: f64 = 5.0;
const FACR: f64 = 1.0 / 6.0;
const UROUND: f64 = 1e-16;

/// Whether the model's right-hand side can read time (slot 0) in an equation or an assignment.
pub(super) fn uses_time(model: &Model) -> bool {
    let mut slots = Vec::new();
    for e in &model.equations {
        e.slots(&mut slots);
    }
    for a in &model.assignments {
        a.expr.slots(&mut slots);
    }
    slots.contains(&0)
}

/// RODAS4's dense output: per accepted step [y0, y1, c2, c3] (4n values),
/// y(s) = (1 - s) y0 + s (y1 + (1 - s) (c2 + s c3)), s = 1 + (t - end)/h in [0, 1]; y1 is the
/// state at the step's end.
pub(super) struct Rodas;

impl DenseStep for Rodas {
    #[inline]
    fn eval(coef: &[f64], end: f64, h: f64, t: f64, out: &mut [f64]) {
        let n = coef.len() / 4;
        let (y0, rest) = coef.split_at(n);
        let (y1, rest) = rest.split_at(n);
        let (c2, c3) = rest.split_at(n);
        let s = (1.0 + (t - end) / h).clamp(0.0, 1.0);
        let s1 = 1.0 - s;
        let (y1, c2, c3, out) = (&y1[..n], &c2[..n], &c3[..n], &mut out[..n]);
        for j in 0..n {
            out[j] = s1 * y0[j] + s * (y1[j] + s1 * (c2[j] + s * c3[j]));
        }
    }
    const END_STATE: Option<usize> = Some(1);
}

/// Integrate `[t0, t1]` with RODAS4.
pub(super) fn integrate(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    // The state count as a compile-time constant for 1-16 states (as radau5 and the LU kernels).
    macro_rules! sized {
        ($($k:literal)*) => {
            match span.y0.len() {
                $( $k => piece::<$k>(span, stats), )*
                _ => piece::<0>(span, stats),
            }
        };
    }
    sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// Root mean square of `v / scal`, given `inv = 1 / scal`.
#[inline(always)]
fn rms(n: usize, v: &[f64], inv: &[f64]) -> f64 {
    let s: f64 = v[..n]
        .iter()
        .zip(&inv[..n])
        .map(|(x, w)| (x * w) * (x * w))
        .sum();
    (s / n as f64).sqrt()
}

/// [`integrate`] for `N` states (`N` = 0: any number, read from the span).
fn piece<const N: usize>(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    let (model, t0, t1, opts, h0) = (span.model, span.t0, span.t1, span.opts, span.h0);
    let n = if N == 0 { span.y0.len() } else { N };
    let y0 = &span.y0[..n];
    let mut watcher = Watcher::new(&span);
    let mut rhs = Rhs::for_span(&span);
    let (rtol, atol) = (opts.rtol, opts.atol);
    let timed = uses_time(model);
    let mut seg = StepSegment::<Rodas>::new(t0, y0);
    let (mut t, mut y) = (t0, y0.to_vec());
    let mut dy1 = vec![0.0; n];
    let mut dy = vec![0.0; n];
    let mut fx = vec![0.0; n];
    let mut ynew = vec![0.0; n];
    let mut inv = vec![0.0; n];
    let mut k = vec![0.0; 6 * n];
    let mut jac = vec![0.0; n * n];
    let mut lu = RealLu::new(n);
    let h_max = t1 - t0;
    let mut h = if h0 > 0.0 {
        h0
    } else {
        // No previous step to continue from: |y| / |y'| / 100 (as radau5 starts).
        rhs.f(t, &y, &mut dy1);
        for (w, y) in inv.iter_mut().zip(&y) {
            *w = 1.0 / (atol + rtol * y.abs());
        }
        first_step(n, &y, &dy1, &inv)
    }
    .min(h_max);
    let mut last = t + 1.0001 * h >= t1;
    if last {
        h = t1 - t;
    }
    let (mut reject, mut need_jac) = (false, true);
    let (mut hacc, mut erracc) = (h, 1e-2f64);
    let (mut naccpt, mut nsteps, mut nsing) = (0u64, 0u64, 0u32);
    loop {
        if need_jac {
            // f, J (and df/dt) at the step's start; kept through rejected steps.
            rhs.f(t, &y, &mut dy1);
            jacobian(&mut rhs, span.jacobian, t, &mut y, &dy1, &mut dy, &mut jac);
            stats.jacobian_evaluations += 1;
            if timed {
                let delta = (UROUND * t.abs().max(1e-5)).sqrt();
                // Forward in t unless that would read past the span's end (then backward).
                let tt = if t + delta <= rhs.t_last {
                    t + delta
                } else {
                    t - delta
                };
                rhs.f(tt, &y, &mut fx);
                let dt = tt - t;
                for (d, &f0) in fx.iter_mut().zip(&dy1) {
                    *d = (*d - f0) / dt;
                }
            }
            need_jac = false;
        }
        nsteps += 1;
        step_allowed(nsteps, t, h, opts.max_steps)?;
        if !lu.factor_shifted(1.0 / (GAMMA * h), &jac) {
            nsing += 1;
            if nsing >= 5 {
                return Err((t, SolveFailure::SingularMatrix));
            }
            (h, reject, last) = (h * 0.5, true, false);
            continue;
        }
        // The six stages.
        let inv_h = 1.0 / h;
        for i in 0..6 {
            let (done, rest) = k.split_at_mut(i * n);
            let ki = &mut rest[..n];
            let f = if i == 0 {
                &dy1[..n]
            } else {
                for j in 0..n {
                    let mut s = y[j];
                    for (l, &a) in A[i][..i].iter().enumerate() {
                        s += a * done[l * n + j];
                    }
                    ynew[j] = s;
                }
                rhs.f(t + CS[i] * h, &ynew[..n], &mut dy[..n]);
                &dy[..n]
            };
            for j in 0..n {
                let mut s = f[j];
                for (l, &g) in G[i][..i].iter().enumerate() {
                    s += g * inv_h * done[l * n + j];
                }
                ki[j] = s;
            }
            if timed && D[i] != 0.0 {
                let hd = h * D[i];
                for (x, &d) in ki.iter_mut().zip(&fx[..n]) {
                    *x += hd * d;
                }
            }
            lu.solve(ki);
        }
        // ynew holds the embedded solution (stage 6's input); the solution adds k6, which is
        // the error estimate.
        let k6 = &k[5 * n..6 * n];
        for j in 0..n {
            ynew[j] += k6[j];
            inv[j] = 1.0 / (atol + rtol * y[j].abs().max(ynew[j].abs()));
        }
        let err = rms(n, k6, &inv);
        let err = if err.is_finite() {
            err.max(1e-10)
        } else {
            1e10
        };
        let mut fac = (err.sqrt().sqrt() / SAFE).clamp(FACR, FACL);
        let mut hnew = h / fac;
        if err > 1.0 {
            stats.rejected_steps += 1;
            (h, reject, last) = (hnew, true, false);
            continue;
        }
        // Accepted.
        naccpt += 1;
        if naccpt > 1 {
            // Gustafsson's predictive controller.
            let facgus = ((hacc / h) * (err * err / erracc).sqrt().sqrt() / SAFE).clamp(FACR, FACL);
            fac = fac.max(facgus);
            hnew = h / fac;
        }
        (hacc, erracc) = (h, err.max(1e-2));
        seg.coef.extend_from_slice(&y[..n]);
        seg.coef.extend_from_slice(&ynew[..n]);
        for w in [&H2, &H3] {
            for j in 0..n {
                let mut s = 0.0;
                for (l, &wl) in w.iter().enumerate() {
                    s += wl * k[l * n + j];
                }
                seg.coef.push(s);
            }
        }
        y[..n].copy_from_slice(&ynew[..n]);
        t = if last { t1 } else { t + h };
        if y[..n].iter().any(|v| !v.is_finite()) {
            return Err((t, SolveFailure::NonFinite));
        }
        seg.ends.push(t);
        seg.h.push(h);
        if last || watcher.crossed(t, &y) {
            break;
        }
        hnew = hnew.min(h_max);
        if reject {
            hnew = hnew.min(h);
        }
        reject = false;
        if t + 1.0001 * hnew >= t1 {
            (h, last) = (t1 - t, true);
        } else {
            h = hnew;
        }
        need_jac = true;
    }
    stats.accepted_steps += naccpt;
    stats.rodas4_steps += naccpt;
    stats.rhs_evaluations += rhs.evals;
    Ok(Box::new(seg))
}
