//! `--method radau5` (also `stiff`): the Radau IIA method of order 5 (3-stage collocation at
//! c = (4 - sqrt 6)/10, (4 + sqrt 6)/10, 1), after Hairer & Wanner's RADAU5 (Solving Ordinary
//! Differential Equations II, section IV.8, and their radau5.f):
//! - the stage equations are transformed so that each simplified Newton iteration solves with
//!   one real LU of (u1/h I - J) and one complex LU of ((alpha + i beta)/h I - J), factorised
//!   once per step size;
//! - Jacobian from the span's analytic Jacobian when one is given (`Span::jacobian`), else by
//!   forward differences (increment sqrt(1e-16 max(1e-5, |y_j|))), kept while the Newton
//!   iteration contracts fast;
//! - error estimate (u1/h I - J)^-1 (f(y0) + (e1 Z1 + e2 Z2 + e3 Z3)/h), measured against
//!   rtol' = 0.1 rtol^(2/3), atol' = rtol' atol/rtol (so that the global error is ~ rtol), and
//!   Gustafsson's predictive step-size controller;
//! - continuous output: each step's collocation polynomial (cubic).
//!
//! Why not the Radau5 of the differential-equations crate (0.7.0), which cartox used before:
//! measured on Dwivedi 2014 (BIOMD0000000534, 39 states, 0-48 h, against libRoadRunner):
//! - a scalar rtol/atol is transformed to rtol' once per state instead of once (its `Tolerance`
//!   index gives the same scalar for every state), so rtol' tends to 1e-3 whatever `--rtol`
//!   says and atol' grows as rtol shrinks: worst error 8e-2 at rtol 1e-6, 66 at rtol 1e-12;
//! - given per-state tolerance vectors instead, it converged (7.5e-7 at rtol 1e-8) but stopped
//!   with "step size underflow" at rtol 1e-10 and 1e-12: after a rejected step it keeps the LU
//!   factors of the previous step size (and the old Jacobian), so the Newton iteration diverges
//!   at every smaller step size it tries.
//!
//! Neither can be worked around through its options. See docs/solvers.md.

use super::lu::{ComplexLu, RealLu};
use super::steps::{DenseStep, StepSegment};
use super::{JacobianFn, Segment, Span, Stats, Watcher};
use crate::error::SolveFailure;
use crate::model::Model;

// Method coefficients (radau5.f).
const C: [f64; 3] = [0.1550510257216822, 0.6449489742783178, 1.0];
const C1M1: f64 = C[0] - 1.0;
const C2M1: f64 = C[1] - 1.0;
const C1MC2: f64 = C[0] - C[1];
const DD: [f64; 3] = [-10.048809399827416, 1.382142733160749, -1.0 / 3.0];
const U1: f64 = 3.637834252744496;
const ALPH: f64 = 2.6810828736277523;
const BETA: f64 = 3.0504301992474105;
/// The transformation to the real and complex stage systems, and its inverse.
#[rustfmt::skip]
const T: [[f64; 3]; 3] = [
    [0.09123239487089295, -0.1412552950209542, -0.030029194105147424],
    [0.241717932707107, 0.20412935229379994, 0.3829421127572619],
    [0.966048182615093, 1.0, 0.0],
];
#[rustfmt::skip]
const TI: [[f64; 3]; 3] = [
    [4.325579890063155, 0.33919925181580984, 0.5417705399358749],
    [-4.178718591551905, -0.32768282076106237, 0.47662355450055044],
    [-0.5028726349457868, 2.571926949855605, -0.5960392048282249],
];
// Controller settings (radau5.f defaults).
/// Most Newton iterations per step.
const NIT: usize = 7;
const SAFE: f64 = 0.9;
/// Keep the Jacobian when the Newton iteration contracted faster than this: RADAU5's WORK(3), 0.01
/// here where radau5.f defaults to 0.001 (advised for small systems; ~0.1 when Jacobians are
/// costly). The Jacobian here is analytic and cheap, but each new one also means new LU factors,
/// which are the cost. Measured on Hanson 2016, see docs/solvers.md (sixth session).
const THET: f64 = 0.01;
/// Keep h and the factors when the new step size would be h times a factor in [QUOT1, QUOT2]
/// (RADAU5's WORK(5), WORK(6); radau5.f's defaults 1 and 1.2, its advice for large systems 0.99
/// and 2).
const QUOT1: f64 = 1.0;
const QUOT2: f64 = 1.5;
/// Per step, h shrinks at most FACL = 5x and grows at most 1/FACR = 8x.
const FACL: f64 = 5.0;
const FACR: f64 = 0.125;
const UROUND: f64 = 1e-16;

/// The model's right-hand side with an evaluation counter (also rosenbrock.rs's).
pub(super) struct Rhs<'a> {
    pub model: &'a Model,
    pub slots: Vec<f64>,
    /// See `dopri::Rhs::t_last`.
    pub t_last: f64,
    pub evals: u64,
}

impl<'a> Rhs<'a> {
    /// The span's right-hand side: its model with the span's parameters, time held just inside
    /// the span's end.
    pub fn for_span(span: &Span<'a>) -> Self {
        Rhs {
            model: span.model,
            slots: span.model.slots_with_params(span.params),
            t_last: super::left_limit(span.t1),
            evals: 0,
        }
    }

    pub fn f(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        self.evals += 1;
        self.model.rhs(&mut self.slots, t.min(self.t_last), y, dy);
    }
}

/// The implicit methods' stop rules before step number `nsteps` (counted from 1) from `t` with
/// size `h`: more steps than allowed, or a step too small to move `t` (or not finite).
pub(super) fn step_allowed(
    nsteps: u64,
    t: f64,
    h: f64,
    max_steps: u32,
) -> Result<(), (f64, SolveFailure)> {
    if nsteps > u64::from(max_steps) {
        return Err((
            t,
            SolveFailure::MaxSteps {
                steps: None,
                explicit: false,
            },
        ));
    }
    if 0.1 * h.abs() <= t.abs() * UROUND || !h.is_finite() {
        return Err((t, SolveFailure::StepSizeUnderflow { explicit: false }));
    }
    Ok(())
}

/// A first step size with no previous step to continue from: |y| / |y'| / 100 in the error
/// weights (`inv` = their reciprocals), as explicit codes start; 1e-6 when either is tiny.
pub(super) fn first_step(n: usize, y: &[f64], dy: &[f64], inv: &[f64]) -> f64 {
    let (d0, d1) = (rms(n, y, inv), rms(n, dy, inv));
    if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    }
}

/// Root mean square of `v / scal`, given `inv = 1 / scal` (one division per state and step
/// instead of one per state and norm).
#[inline(always)]
fn rms(n: usize, v: &[f64], inv: &[f64]) -> f64 {
    mean_square(n, v, inv).sqrt()
}

/// Mean square of `v / scal`, given `inv = 1 / scal`.
#[inline(always)]
fn mean_square(n: usize, v: &[f64], inv: &[f64]) -> f64 {
    let s: f64 = v[..n]
        .iter()
        .zip(&inv[..n])
        .map(|(x, w)| (x * w) * (x * w))
        .sum();
    s / n as f64
}

/// `x^(1/4)` as two square roots (correctly rounded each; `powf` costs ten times as much and
/// the step-size controller calls it twice per step).
#[inline(always)]
fn fourth_root(x: f64) -> f64 {
    x.sqrt().sqrt()
}

/// The LU factors of the real and the complex iteration matrix for one step size (storage
/// allocated once per span, refilled at each factorisation).
struct Factors {
    real: RealLu,
    complex: ComplexLu,
}

impl Factors {
    /// Factorise u1/h I - J and (alpha + i beta)/h I - J; false when either is singular.
    fn factorise(&mut self, jac: &[f64], h: f64) -> bool {
        self.real.factor_shifted(U1 / h, jac)
            && self.complex.factor_shifted(ALPH / h, BETA / h, jac)
    }
}

/// Radau IIA's dense output: per accepted step the collocation polynomial
/// y(s) = a0 + s (a1 + (s - c2 + 1) (a2 + (s - c1 + 1) a3)), s = (t - end)/h in [-1, 0], stored
/// as [a0, a1, a2, a3] (4n values).
pub(super) struct Collocation;

impl DenseStep for Collocation {
    #[inline]
    fn eval(coef: &[f64], end: f64, h: f64, t: f64, out: &mut [f64]) {
        // The state count as a compile-time constant for 1-16 states (as the stepper): the
        // loop is then unrolled without bounds checks; the same operations in the same order.
        macro_rules! sized {
            ($($k:literal)*) => {
                match coef.len() / 4 {
                    $( $k => collocation::<$k>(coef, end, h, t, out), )*
                    _ => collocation::<0>(coef, end, h, t, out),
                }
            };
        }
        sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }
}

/// [`Collocation::eval`] for `N` states (`N` = 0: any number, from `coef`).
#[inline(always)]
fn collocation<const N: usize>(coef: &[f64], end: f64, h: f64, t: f64, out: &mut [f64]) {
    let n = if N == 0 { coef.len() / 4 } else { N };
    let (a0, rest) = coef.split_at(n);
    let (a1, rest) = rest.split_at(n);
    let (a2, a3) = rest.split_at(n);
    let s = ((t - end) / h).clamp(-1.0, 0.0);
    let (s1, s2) = (s - C2M1, s - C1M1);
    let (a0, a1, a2, a3, out) = (&a0[..n], &a1[..n], &a2[..n], &a3[..n], &mut out[..n]);
    for j in 0..n {
        out[j] = a0[j] + s * (a1[j] + s1 * (a2[j] + s2 * a3[j]));
    }
}

/// Whether every entry is finite, without a branch per entry: the exponent bits of each
/// entry or-ed together into one flag (a vectorisable reduction), where `all(is_finite)`
/// stops at the first non-finite one (~7 instructions per entry).
#[inline]
fn all_finite(x: &[f64]) -> bool {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    x.iter()
        .fold(0u64, |acc, v| acc | u64::from(v.to_bits() & EXP == EXP))
        == 0
}

/// The Jacobian at (t, y), f0 = f(t, y), row-major into `jac`: the span's analytic Jacobian when
/// it has one and it is finite, else forward differences (`f1` is scratch).
pub(super) fn jacobian(
    rhs: &mut Rhs,
    analytic: Option<&JacobianFn<'_>>,
    t: f64,
    y: &mut [f64],
    f0: &[f64],
    f1: &mut [f64],
    jac: &mut [f64],
) {
    let n = y.len();
    if let Some(jf) = analytic {
        jf(&mut rhs.slots, t.min(rhs.t_last), y, jac);
        // Not finite (e.g. a fractional power of a state at 0): forward differences instead.
        if all_finite(jac) {
            return;
        }
    }
    for j in 0..n {
        let yj = y[j];
        let delta = (UROUND * yj.abs().max(1e-5)).sqrt();
        y[j] = yj + delta;
        rhs.f(t, y, f1);
        y[j] = yj;
        for i in 0..n {
            jac[i * n + j] = (f1[i] - f0[i]) / delta;
        }
    }
}

/// Integrate `[t0, t1]` with Radau IIA(5).
pub(super) fn integrate(
    span: Span,
    stats: &mut Stats,
) -> Result<Box<dyn Segment>, (f64, SolveFailure)> {
    integrate_piece(span, stats, None).map(|(seg, _)| seg)
}

/// For `--method auto`: when to hand a span back to the explicit method.
///
/// After each accepted step, h rho(J) is compared with [`NONSTIFF_H_RHO`], rho(J) the spectral
/// radius of the Jacobian (power iteration, [`spectral_radius`]): below it, an explicit step of
/// about this size is stable with room to spare, so the step size is limited by accuracy, not
/// by stiffness. After `steps` such steps in a row the span ends there (returned flag true).
/// While the problem stays stiff the Jacobian is refreshed for this test every `refresh`
/// accepted steps, `refresh` doubling each time (a stiff model pays little for it).
pub(super) struct NonStiffTest {
    pub steps: u32,
}

/// h rho(J) below which a Radau step counts as non-stiff (DOPRI5's stability boundary on the
/// negative real axis is about 3.3; one third of it leaves room for its larger accurate steps).
pub(super) const NONSTIFF_H_RHO: f64 = 1.0;
/// First interval (accepted steps) between Jacobian refreshes for the non-stiff test.
const REFRESH: u64 = 16;
/// Accepted steps between spectral radii for the non-stiff test while it fails.
const RHO_EVERY: u64 = 4;

/// Integrate `[t0, t1]` with Radau IIA(5); with a non-stiff test (`--method auto`), end early
/// when it passes (the bool is then true).
pub(super) fn integrate_piece(
    span: Span,
    stats: &mut Stats,
    nonstiff: Option<&NonStiffTest>,
) -> Result<(Box<dyn Segment>, bool), (f64, SolveFailure)> {
    // The stepper with the state count as a compile-time constant for 1-16 states (as the LU
    // kernels): the compiler then unrolls its short vector loops and drops their bounds checks.
    macro_rules! sized {
        ($($k:literal)*) => {
            match span.y0.len() {
                $( $k => piece::<$k>(span, stats, nonstiff), )*
                _ => piece::<0>(span, stats, nonstiff),
            }
        };
    }
    sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// [`integrate_piece`] for `N` states (`N` = 0: any number, read from the span).
fn piece<const N: usize>(
    span: Span,
    stats: &mut Stats,
    nonstiff: Option<&NonStiffTest>,
) -> Result<(Box<dyn Segment>, bool), (f64, SolveFailure)> {
    let (t0, t1, opts, h0) = (span.t0, span.t1, span.opts, span.h0);
    let n = if N == 0 { span.y0.len() } else { N };
    let y0 = &span.y0[..n];
    let mut watcher = Watcher::new(&span);
    let mut rhs = Rhs::for_span(&span);
    let rtol = 0.1 * opts.rtol.powf(2.0 / 3.0);
    let atol = rtol * opts.atol / opts.rtol;
    let fnewt = (10.0 * UROUND / rtol).max(0.03f64.min(rtol.sqrt()));
    // The error weights' reciprocals 1 / (atol + rtol |y|).
    let scale = |y: &[f64], inv: &mut [f64]| {
        for (w, y) in inv[..n].iter_mut().zip(&y[..n]) {
            *w = 1.0 / (atol + rtol * y.abs());
        }
    };
    let mut seg = StepSegment::<Collocation>::new(t0, y0);
    let (mut t, mut y) = (t0, y0.to_vec());
    let mut f0 = vec![0.0; n];
    rhs.f(t, &y, &mut f0);
    let mut scal = vec![0.0; n];
    scale(&y, &mut scal);
    let h_max = t1 - t0;
    let mut h = if h0 > 0.0 {
        h0
    } else {
        // No previous step to continue from.
        first_step(n, &y, &f0, &scal)
    }
    .min(h_max);
    let mut last = t + 1.0001 * h >= t1;
    if last {
        h = t1 - t;
    }
    // Newton and controller state (radau5.f names).
    let (mut first, mut reject, mut caljac) = (true, false, false);
    let (mut faccon, mut dynold, mut thqold) = (1.0f64, 0.0f64, 1.0f64);
    let (mut hold, mut hacc, mut erracc) = (h, h, 1e-2f64);
    let (mut naccpt, mut nsteps, mut nsing) = (0u64, 0u64, 0u32);
    let mut jac = vec![0.0; n * n];
    let mut lu = Factors {
        real: RealLu::new(n),
        complex: ComplexLu::new(n),
    };
    // A Jacobian is needed / the factors are those of the current Jacobian and h.
    let (mut need_jac, mut factored) = (true, false);
    // The non-stiff test (auto): rho(J), accepted steps since the last Jacobian, the refresh
    // interval, non-stiff steps in a row, and whether the span ended on it.
    let (mut rho, mut since_jac, mut refresh, mut nonstiff_run) = (f64::INFINITY, 0u64, REFRESH, 0);
    let mut since_rho = RHO_EVERY;
    // Whether `rho` is only the lower bound |trace J| / n (enough to fail the test).
    let mut rho_lower = false;
    // The power iteration's last vector (warm start of the next rho).
    let mut power_vector = Vec::new();
    let mut ended_nonstiff = false;
    let mut z = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut f = z.clone();
    let mut k = z.clone();
    let mut cont = z.clone();
    let mut tmp = vec![0.0; n];
    let mut b1 = vec![0.0; n];
    loop {
        if need_jac {
            jacobian(&mut rhs, span.jacobian, t, &mut y, &f0, &mut tmp, &mut jac);
            stats.jacobian_evaluations += 1;
            (need_jac, caljac, factored) = (false, true, false);
            // rho(J) for the non-stiff test: at most every RHO_EVERY accepted steps while the
            // test fails (the power iteration costs more than an analytic Jacobian), at every
            // Jacobian while it passes.
            if nonstiff.is_some() && (since_rho >= RHO_EVERY || nonstiff_run > 0) {
                // |trace J| / n <= rho(J): when that already fails the test, the power
                // iteration waits until a step passes it with this bound.
                let lower = super::stiffness::trace_bound(&jac, n);
                if h * lower > NONSTIFF_H_RHO {
                    (rho, rho_lower) = (lower, true);
                } else {
                    rho = super::stiffness::spectral_radius(&jac, n, &mut power_vector);
                    rho_lower = false;
                }
                since_rho = 0;
            }
            since_jac = 0;
        }
        if !factored {
            factored = lu.factorise(&jac, h);
            if !factored {
                nsing += 1;
                if nsing >= 5 {
                    return Err((t, SolveFailure::SingularMatrix));
                }
                (h, reject, last) = (h * 0.5, true, false);
                need_jac = !caljac;
                continue;
            }
        }
        nsteps += 1;
        step_allowed(nsteps, t, h, opts.max_steps)?;
        // Starting values for the Newton iteration: the last step's polynomial extrapolated.
        for (i, zi) in z.iter_mut().enumerate() {
            if first {
                zi.fill(0.0);
                continue;
            }
            let cq = C[i] * h / hold;
            let [c0, c1, c2] = &cont;
            let (c0, c1, c2) = (&c0[..n], &c1[..n], &c2[..n]);
            for (((zj, &c0), &c1), &c2) in zi[..n].iter_mut().zip(c0).zip(c1).zip(c2) {
                *zj = cq * (c0 + (cq - C2M1) * (c1 + (cq - C1M1) * c2));
            }
        }
        {
            let [z0, z1, z2] = &z;
            let (z0, z1, z2) = (&z0[..n], &z1[..n], &z2[..n]);
            for (i, fi) in f.iter_mut().enumerate() {
                for (((fj, &a), &b), &c) in fi[..n].iter_mut().zip(z0).zip(z1).zip(z2) {
                    *fj = TI[i][0] * a + TI[i][1] * b + TI[i][2] * c;
                }
            }
        }
        // Simplified Newton iteration on the transformed stage values f (z = T f); on failure,
        // the factor to multiply h with before trying again.
        faccon = faccon.max(UROUND).powf(0.8);
        let mut theta = THET;
        let mut newt = 0;
        let (fac1, alphn, betan) = (U1 / h, ALPH / h, BETA / h);
        let newton: Result<(), f64> = loop {
            if newt >= NIT {
                break Err(0.5);
            }
            for (i, (zi, ki)) in z.iter().zip(k.iter_mut()).enumerate() {
                for ((x, &a), &b) in tmp[..n].iter_mut().zip(&y[..n]).zip(&zi[..n]) {
                    *x = a + b;
                }
                rhs.f(t + C[i] * h, &tmp, ki);
            }
            {
                // The right-hand sides, solved in place in z.
                let ([k0, k1, k2], [f0s, f1s, f2s]) = (&k, &f);
                let (k0, k1, k2) = (&k0[..n], &k1[..n], &k2[..n]);
                let (f0s, f1s, f2s) = (&f0s[..n], &f1s[..n], &f2s[..n]);
                let [b1, b2r, b2i] = &mut z;
                let (b1, b2r, b2i) = (&mut b1[..n], &mut b2r[..n], &mut b2i[..n]);
                for j in 0..n {
                    let w = |i: usize| TI[i][0] * k0[j] + TI[i][1] * k1[j] + TI[i][2] * k2[j];
                    b1[j] = w(0) - fac1 * f0s[j];
                    b2r[j] = w(1) - alphn * f1s[j] + betan * f2s[j];
                    b2i[j] = w(2) - alphn * f2s[j] - betan * f1s[j];
                }
            }
            {
                let [z0, z1, z2] = &mut z;
                lu.real.solve(&mut z0[..n]);
                lu.complex.solve(&mut z1[..n], &mut z2[..n]);
            }
            newt += 1;
            let dyno = (z.iter().map(|zi| mean_square(n, zi, &scal)).sum::<f64>() / 3.0).sqrt();
            if !dyno.is_finite() {
                break Err(0.5);
            }
            if newt > 1 && newt < NIT {
                let thq = dyno / dynold;
                theta = if newt == 2 {
                    thq
                } else {
                    (thq * thqold).sqrt()
                };
                thqold = thq;
                if theta >= 0.99 {
                    break Err(0.5);
                }
                faccon = theta / (1.0 - theta);
                let left = (NIT - 1 - newt) as i32;
                let dyth = faccon * dyno * theta.powi(left) / fnewt;
                if dyth >= 1.0 {
                    // Too slow to converge in the iterations left.
                    let qnewt = dyth.clamp(1e-4, 20.0);
                    break Err(0.8 * qnewt.powf(-1.0 / (4.0 + f64::from(left))));
                }
            }
            dynold = dyno.max(UROUND);
            {
                let ([z0, z1, z2], [f0s, f1s, f2s]) = (&mut z, &mut f);
                let (z0, z1, z2) = (&mut z0[..n], &mut z1[..n], &mut z2[..n]);
                let (f0s, f1s, f2s) = (&mut f0s[..n], &mut f1s[..n], &mut f2s[..n]);
                for j in 0..n {
                    let (a, b, c) = (f0s[j] + z0[j], f1s[j] + z1[j], f2s[j] + z2[j]);
                    (f0s[j], f1s[j], f2s[j]) = (a, b, c);
                    z0[j] = T[0][0] * a + T[0][1] * b + T[0][2] * c;
                    z1[j] = T[1][0] * a + T[1][1] * b + T[1][2] * c;
                    z2[j] = T[2][0] * a + T[2][1] * b + T[2][2] * c;
                }
            }
            if faccon * dyno <= fnewt {
                break Ok(());
            }
        };
        if let Err(q) = newton {
            stats.rejected_steps += 1;
            (h, reject, last) = (h * q, true, false);
            factored = false;
            need_jac = !caljac;
            continue;
        }
        // Error estimate (u1/h I - J)^-1 (f(y0) + (dd . z)/h); after a rejection, once more
        // with f(y0 + err) in place of f(y0) (stiff components).
        {
            let [z0, z1, z2] = &z;
            for (((((x, b), &a0), &a1), &a2), &f) in tmp[..n]
                .iter_mut()
                .zip(b1[..n].iter_mut())
                .zip(&z0[..n])
                .zip(&z1[..n])
                .zip(&z2[..n])
                .zip(&f0[..n])
            {
                *x = (DD[0] * a0 + DD[1] * a1 + DD[2] * a2) / h;
                *b = *x + f;
            }
        }
        lu.real.solve(&mut b1);
        let mut err = rms(n, &b1, &scal).max(1e-10);
        if err >= 1.0 && (first || reject) {
            let [fy, y1, _] = &mut k;
            for j in 0..n {
                y1[j] = y[j] + b1[j];
            }
            rhs.f(t, y1, fy);
            for j in 0..n {
                b1[j] = fy[j] + tmp[j];
            }
            lu.real.solve(&mut b1);
            err = rms(n, &b1, &scal).max(1e-10);
        }
        let fac = SAFE.min(SAFE * (1 + 2 * NIT) as f64 / (newt + 2 * NIT) as f64);
        let mut quot = (fourth_root(err) / fac).clamp(FACR, FACL);
        let mut hnew = h / quot;
        if err >= 1.0 {
            stats.rejected_steps += 1;
            h = if first { 0.1 * h } else { hnew };
            (reject, last) = (true, false);
            factored = false;
            need_jac = !caljac;
            continue;
        }
        // Accepted.
        first = false;
        naccpt += 1;
        if naccpt > 1 {
            // Gustafsson's predictive controller.
            let facgus = ((hacc / h) * fourth_root(err * err / erracc) / SAFE).clamp(FACR, FACL);
            quot = quot.max(facgus);
            hnew = h / quot;
        }
        (hacc, erracc, hold) = (h, err.max(1e-2), h);
        t = if last { t1 } else { t + h };
        {
            let ([z0, z1, z2], [c0, c1, c2]) = (&z, &mut cont);
            let (z0, z1, z2) = (&z0[..n], &z1[..n], &z2[..n]);
            let (c0, c1, c2, y) = (&mut c0[..n], &mut c1[..n], &mut c2[..n], &mut y[..n]);
            for j in 0..n {
                y[j] += z2[j];
                c0[j] = (z1[j] - z2[j]) / C2M1;
                let ak = (z0[j] - z1[j]) / C1MC2;
                let acont3 = (ak - z0[j] / C[0]) / C[1];
                c1[j] = (ak - c0[j]) / C1M1;
                c2[j] = c1[j] - acont3;
            }
        }
        if y[..n].iter().any(|v| !v.is_finite()) {
            return Err((t, SolveFailure::NonFinite));
        }
        seg.ends.push(t);
        seg.h.push(h);
        seg.coef.extend_from_slice(&y[..n]);
        for c in &cont {
            seg.coef.extend_from_slice(&c[..n]);
        }
        scale(&y, &mut scal);
        caljac = false;
        // The end of the span, or a watched level crossed: the segment ends here.
        if last || watcher.crossed(t, &y) {
            break;
        }
        let mut refresh_jac = false;
        if let Some(test) = nonstiff {
            since_jac += 1;
            since_rho += 1;
            if rho_lower && h * rho <= NONSTIFF_H_RHO {
                rho = super::stiffness::spectral_radius(&jac, n, &mut power_vector);
                rho_lower = false;
            }
            if h * rho <= NONSTIFF_H_RHO {
                nonstiff_run += 1;
                if nonstiff_run >= test.steps {
                    ended_nonstiff = true;
                    break;
                }
            } else {
                nonstiff_run = 0;
                if since_jac >= refresh {
                    (refresh_jac, refresh) = (true, 2 * refresh);
                }
            }
        }
        rhs.f(t, &y, &mut f0);
        hnew = hnew.min(h_max);
        if reject {
            hnew = hnew.min(h);
        }
        reject = false;
        if t + 1.0001 * hnew >= t1 {
            (h, last) = (t1 - t, true);
        } else {
            // Keep h and the factors when the change would be small (and the iteration fast).
            if theta <= THET && (QUOT1..=QUOT2).contains(&(hnew / h)) && !refresh_jac {
                continue;
            }
            h = hnew;
        }
        factored = false;
        need_jac = theta > THET || refresh_jac;
    }
    stats.accepted_steps += naccpt;
    stats.radau5_steps += naccpt;
    stats.rhs_evaluations += rhs.evals;
    Ok((Box::new(seg), ended_nonstiff))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*) for random test data.
    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            // In [-1e3, 1e3), with magnitudes spread over many decades.
            let m = u as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            m * 10f64.powi((u % 7) as i32 - 3)
        }
    }

    /// The size-specialised collocation polynomials give the general code's values bit for bit,
    /// for every specialised size, at times inside, at the ends of and outside the step.
    #[test]
    fn sized_collocation_matches_the_general_code() {
        let mut r = rng(0x9e37_79b9_7f4a_7c15);
        for n in 1..=18 {
            for _ in 0..20 {
                let coef: Vec<f64> = (0..4 * n).map(|_| r()).collect();
                let (end, h) = (50.0 + r().abs(), 0.1 + r().abs());
                for t in [
                    end - 1.3 * h,
                    end - h,
                    end - 0.37 * h,
                    end - 1e-9,
                    end,
                    end + h,
                ] {
                    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
                    Collocation::eval(&coef, end, h, t, &mut a);
                    collocation::<0>(&coef, end, h, t, &mut b);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "n = {n}, t = {t}");
                }
            }
        }
    }

    /// `all_finite` agrees with `is_finite` entry by entry: random matrices, each with one entry
    /// replaced by an infinity, a NaN, the largest finite value or a subnormal in turn.
    #[test]
    fn all_finite_agrees_with_is_finite() {
        let mut r = rng(12345);
        for n in [1usize, 2, 3, 8, 13, 39] {
            let jac: Vec<f64> = (0..n * n).map(|_| r()).collect();
            assert!(all_finite(&jac));
            for special in [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
                f64::MAX,
                f64::MIN_POSITIVE / 4.0,
                -0.0,
            ] {
                for k in [0, n * n / 2, n * n - 1] {
                    let mut m = jac.clone();
                    m[k] = special;
                    assert_eq!(
                        all_finite(&m),
                        m.iter().all(|x| x.is_finite()),
                        "n = {n}, entry {k} = {special}"
                    );
                }
            }
        }
        assert!(all_finite(&[]));
    }
}
