//! cartox's own Dormand-Prince 5(4) stepper for up to 24 states: the same coefficients, error
//! norm, step-size controller (Hairer's PI control with beta = 0.04), stiffness test (h |lambda|
//! above 3.25 from the last two stages, 15 hits without 6 misses between) and dense output as
//! ode_solvers 0.6.2's `Dopri5` (which follows Hairer's DOPRI5), operation for operation, so the
//! steps and values are bit for bit the same (the tests below compare them with the crate's).
//!
//! What differs is storage: the stages are fixed-size arrays on the stack, and the dense output
//! and step-end states go into flat vectors (5 n and n values per step) instead of a `Vec` of five
//! heap-allocated vectors per step plus a results vector. On a default-model sweep row the stepper
//! with its dense-output reads went from 1.80 M to 1.61 M instructions (callgrind; the rest of
//! the stepper's cost is the method's own arithmetic, which must stay the same to keep the bits).
#![allow(clippy::needless_range_loop)] // the kernels index several arrays by state

use std::sync::atomic::{AtomicUsize, Ordering};

/// The problem the stepper integrates: the right-hand side and the step-end callback (`true`
/// ends the integration after this step).
pub(super) trait Problem {
    fn f(&self, t: f64, y: &[f64], dy: &mut [f64]);
    fn solout(&mut self, t: f64, y: &[f64], dy: &[f64]) -> bool;
}

/// Settings, as ode_solvers' `Dopri5::from_param` takes them.
pub(super) struct Settings {
    pub t0: f64,
    pub t1: f64,
    pub rtol: f64,
    pub atol: f64,
    pub safety: f64,
    pub beta: f64,
    pub fac_min: f64,
    pub fac_max: f64,
    pub h_max: f64,
    /// First step; 0 computes it (Hairer's `hinit`).
    pub h: f64,
    pub n_max: u32,
    pub n_stiff: u32,
}

/// Why the integration stopped early.
pub(super) enum Stop {
    MaxSteps { x: f64, n_step: u32 },
    Underflow { x: f64 },
    Stiff { x: f64 },
}

/// Work counters (as ode_solvers' `Stats`).
#[derive(Default)]
pub(super) struct Counts {
    pub num_eval: u32,
    pub accepted: u32,
    pub rejected: u32,
}

/// The accepted steps: their ends, step-end states and dense-output coefficients.
pub(super) struct Dense {
    lower: f64,
    /// End of each accepted step (its magnitude, as ode_solvers keeps it).
    breaks: Vec<f64>,
    /// End of each accepted step.
    pub xs: Vec<f64>,
    h: Vec<f64>,
    /// Five coefficient vectors per step, `5 n` values.
    coef: Vec<f64>,
    /// State at each step end, `n` values per step.
    pub ys: Vec<f64>,
    /// The step the last [`Dense::evaluate`] used: readers go through the steps in order or
    /// stay in one (grid samples, a peak's refinement), so it is checked before searching.
    last: AtomicUsize,
}

impl Dense {
    fn new(n: usize, lower: f64) -> Self {
        // Steps of a long span of the default model (its first span takes ~130-170 steps; a
        // reallocation copies the storage: ~0.08 M instructions a sweep row at 128 steps).
        // Coefficients for the default model's 19 states: ~134 KB.
        const STEPS: usize = 176;
        Dense {
            lower,
            breaks: Vec::with_capacity(STEPS),
            xs: Vec::with_capacity(STEPS),
            h: Vec::with_capacity(STEPS),
            coef: Vec::with_capacity(5 * n * STEPS),
            ys: Vec::with_capacity(n * STEPS),
            last: AtomicUsize::new(0),
        }
    }

    /// The dense output at `x` (ode_solvers' `ContinuousOutputModel::evaluate`: the step whose
    /// end is the first at or after `x`); false outside `[lower, last end]`.
    /// `N` is the number of states (the loop is unrolled for it).
    pub fn evaluate<const N: usize>(&self, x: f64, out: &mut [f64]) -> bool {
        if x < self.lower {
            return false;
        }
        let index = self.locate(x);
        self.evaluate_step::<N>(index, x, out)
    }

    /// [`evaluate`](Self::evaluate) of the components `which` only (`out[i]` for `i` in
    /// `which`; the rest of `out` untouched): the same step and, component by component, the
    /// same operations, so the same bits.
    pub fn evaluate_some<const N: usize>(&self, x: f64, which: &[usize], out: &mut [f64]) -> bool {
        if x < self.lower {
            return false;
        }
        let index = self.locate(x);
        if index == self.breaks.len() {
            return false;
        }
        let (theta, theta1, c) = self.polynomial(index, x, N);
        let n = N;
        for &i in which {
            let mut r = c[4 * n + i];
            r = c[3 * n + i] + r * theta1;
            r = c[2 * n + i] + r * theta;
            r = c[n + i] + r * theta1;
            out[i] = c[i] + r * theta;
        }
        true
    }

    /// The step holding `x` (>= `lower`): `breaks.len()` past the last step.
    #[inline]
    fn locate(&self, x: f64) -> usize {
        // The ends increase strictly, so this is the index ode_solvers' binary search finds: the
        // end equal to `x`, else the first end after it: the one step with
        // `breaks[index - 1] < x <= breaks[index]`, tried first at the last step read and the
        // next one.
        let b = &self.breaks;
        let starts_before = |i: usize| i == 0 || b[i - 1] < x;
        let last = self.last.load(Ordering::Relaxed);
        if last < b.len() && x <= b[last] && starts_before(last) {
            last
        } else if last + 1 < b.len() && x <= b[last + 1] && b[last] < x {
            last + 1
        } else {
            b.partition_point(|&e| e < x)
        }
    }

    /// [`evaluate`](Self::evaluate) for increasing `x`: the step found by scanning forward from
    /// `*from` (the last read's step, updated), the same step and value.
    pub fn evaluate_from<const N: usize>(&self, x: f64, from: &mut usize, out: &mut [f64]) -> bool {
        if x < self.lower {
            return false;
        }
        let index = super::first_at_or_after(&self.breaks, x, from);
        self.evaluate_step::<N>(index, x, out)
    }

    /// The dense output of step `index` at `x`; false past the last step.
    #[inline]
    fn evaluate_step<const N: usize>(&self, index: usize, x: f64, out: &mut [f64]) -> bool {
        if index == self.breaks.len() {
            return false;
        }
        let (theta, theta1, c) = self.polynomial(index, x, N);
        let n = N;
        for (i, o) in out[..N].iter_mut().enumerate() {
            let mut r = c[4 * n + i];
            r = c[3 * n + i] + r * theta1;
            r = c[2 * n + i] + r * theta;
            r = c[n + i] + r * theta1;
            *o = c[i] + r * theta;
        }
        true
    }

    /// Step `index` (< the step count) becomes the last read; its theta, 1 - theta at `x`
    /// and its coefficients.
    #[inline(always)]
    fn polynomial(&self, index: usize, x: f64, n: usize) -> (f64, f64, &[f64]) {
        self.last.store(index, Ordering::Relaxed);
        let lower = if index == 0 {
            self.lower
        } else {
            self.breaks[index - 1]
        };
        let theta = (x - lower) / self.h[index];
        (
            theta,
            1.0 - theta,
            &self.coef[5 * n * index..5 * n * (index + 1)],
        )
    }
}

const A: [[f64; 6]; 6] = [
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const D: [f64; 7] = [
    -12715105075.0 / 11282082432.0,
    0.0,
    87487479700.0 / 32700410799.0,
    -10690763975.0 / 1880347072.0,
    701980252875.0 / 199316789632.0,
    -1453857185.0 / 822651844.0,
    69997945.0 / 29380423.0,
];
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

fn sign(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a.abs()
    } else {
        -a.abs()
    }
}

/// `a . a` as nalgebra computes it for `SVector<f64, N>` (its summation order).
fn dot<const N: usize>(a: [f64; N]) -> f64 {
    let v = nalgebra::SVector::<f64, N>::from(a);
    v.dot(&v)
}

/// `dst = src` in two halves: each at most 128 bytes for up to 32 states, which the compiler
/// copies inline, where a copy of the whole vector (136 bytes for the default model's 17
/// states) is a call to `memcpy`, ten per step (5% of a sweep row's time, perf).
#[inline(always)]
fn copy<const N: usize>(dst: &mut [f64; N], src: &[f64; N]) {
    let h = N / 2;
    dst[..h].copy_from_slice(&src[..h]);
    dst[h..].copy_from_slice(&src[h..]);
}

/// The point stage `S` (1..=6) evaluates, `y + sum_j k_j h a_Sj`, in one pass over the states:
/// each element's terms are added in ode_solvers' order (`y_next = y`, then `y_next += k_j h a`
/// for j = 0, 1, ..., zero coefficients included), so the bits are its bits; ode_solvers makes
/// one pass over the vector per term, which loads and stores `y_next` `S` times.
#[inline(always)]
fn stage_point<const N: usize, const S: usize>(
    y_next: &mut [f64; N],
    y: &[f64; N],
    k: &[[f64; N]; 7],
    h: f64,
) {
    let a = &A[S - 1];
    for i in 0..N {
        let mut s = y[i];
        for j in 0..S {
            s += k[j][i] * h * a[j];
        }
        y_next[i] = s;
    }
}

/// Hairer's initial step (ode_solvers' `hinit`).
fn hinit<const N: usize, P: Problem>(p: &P, s: &Settings, x: f64, y: &[f64; N], h_max: f64) -> f64 {
    let mut f0 = [0.0; N];
    p.f(x, y, &mut f0);
    let posneg = sign(1.0, s.t1 - x);
    let (mut d0, mut d1) = (0.0, 0.0);
    for i in 0..N {
        let sci = s.atol + y[i].abs() * s.rtol;
        d0 += (y[i] / sci) * (y[i] / sci);
        d1 += (f0[i] / sci) * (f0[i] / sci);
    }
    let tol = 1.0e-10;
    let mut h0 = if d0 < tol || d1 < tol {
        1.0e-6
    } else {
        0.01 * (d0 / d1).sqrt()
    };
    h0 = h0.min(h_max);
    h0 = sign(h0, posneg);
    let mut y1 = [0.0; N];
    for i in 0..N {
        y1[i] = y[i] + f0[i] * h0;
    }
    let mut f1 = [0.0; N];
    p.f(x + h0, &y1, &mut f1);
    let mut d2 = 0.0;
    for i in 0..N {
        let sci = s.atol + y[i].abs() * s.rtol;
        d2 += ((f1[i] - f0[i]) / sci) * ((f1[i] - f0[i]) / sci);
    }
    d2 = d2.sqrt() / h0;
    let h1 = if d1.sqrt().max(d2.abs()) <= 1.0e-15 {
        1.0e-6_f64.max(h0.abs() * 1.0e-3)
    } else {
        (0.01 / (d1.sqrt().max(d2))).powf(1.0 / 5.0)
    };
    sign((100.0 * h0.abs()).min(h1.min(h_max)), posneg)
}

/// Integrate `p` from `s.t0` to `s.t1` (or until `solout` returns true).
pub(super) fn integrate<const N: usize, P: Problem>(
    p: &mut P,
    y0: &[f64],
    s: &Settings,
) -> (Dense, Counts, Result<(), Stop>) {
    let mut dense = Dense::new(N, s.t0);
    let mut counts = Counts::default();
    #[cfg(target_arch = "x86_64")]
    if super::use_avx2() {
        // SAFETY: the CPU has AVX2 (`use_avx2`).
        let result = unsafe { core_avx2::<N, P>(p, y0, s, &mut dense, &mut counts) };
        return (dense, counts, result);
    }
    let result = core::<N, P>(p, y0, s, &mut dense, &mut counts);
    (dense, counts, result)
}

/// [`core`] compiled for AVX2 (see [`super::use_avx2`]: the same operations, the same bits).
/// Measured on the default-model sweep row: dopri5's own loops ~10% fewer cycles (perf).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn core_avx2<const N: usize, P: Problem>(
    p: &mut P,
    y0: &[f64],
    s: &Settings,
    dense: &mut Dense,
    counts: &mut Counts,
) -> Result<(), Stop> {
    core::<N, P>(p, y0, s, dense, counts)
}

#[inline(always)]
fn core<const N: usize, P: Problem>(
    p: &mut P,
    y0: &[f64],
    s: &Settings,
    dense: &mut Dense,
    counts: &mut Counts,
) -> Result<(), Stop> {
    let mut y = [0.0; N];
    y.copy_from_slice(y0);
    let mut x = s.t0;
    let x_end = s.t1;
    let posneg = sign(1.0, x_end - x);
    let uround = f64::EPSILON;
    // The controller (ode_solvers' `Controller`).
    let alpha = 0.2 - s.beta * 0.75;
    let facc1 = 1.0 / s.fac_min;
    let facc2 = 1.0 / s.fac_max;
    let mut fac_old = 1.0e-4;
    let h_max = s.h_max.abs();
    let mut reject = false;

    let mut h = s.h;
    if h == 0.0 {
        h = hinit::<N, P>(p, s, x, &y, h_max);
        counts.num_eval += 2;
    }
    let mut n_step: u32 = 0;
    let mut last = false;
    let mut h_new: f64;
    let (mut non_stiff, mut iasti) = (0u32, 0u32);
    let mut k = [[0.0; N]; 7];
    p.f(x, &y, &mut k[0]);
    counts.num_eval += 1;
    let mut rcont4 = [0.0; N];
    while !last {
        if n_step > s.n_max {
            return Err(Stop::MaxSteps { x, n_step });
        }
        if 0.1 * h.abs() <= uround * x.abs() {
            return Err(Stop::Underflow { x });
        }
        if (x + 1.01 * h - x_end) * posneg > 0.0 {
            h = x_end - x;
            last = true;
        }
        n_step += 1;

        let mut y_next = [0.0; N];
        let mut y_stiff = [0.0; N];
        macro_rules! stages {
            ($($st:literal)*) => {$(
                stage_point::<N, $st>(&mut y_next, &y, &k, h);
                let (_, rest) = k.split_at_mut($st);
                p.f(x + h * C[$st], &y_next, &mut rest[0]);
                if $st == 5 {
                    copy(&mut y_stiff, &y_next);
                }
            )*};
        }
        stages!(1 2 3 4 5 6);
        let (k16, k6) = k.split_at_mut(6);
        copy(&mut k16[1], &k6[0]);
        counts.num_eval += 6;

        for i in 0..N {
            rcont4[i] = (k[0][i] * D[0]
                + k[2][i] * D[2]
                + k[3][i] * D[3]
                + k[4][i] * D[4]
                + k[5][i] * D[5]
                + k[1][i] * D[6])
                * h;
        }
        for i in 0..N {
            k[3][i] = (k[0][i] * E[0]
                + k[2][i] * E[2]
                + k[3][i] * E[3]
                + k[4][i] * E[4]
                + k[5][i] * E[5]
                + k[1][i] * E[6])
                * h;
        }
        let mut err = 0.0;
        for i in 0..N {
            let sc = s.atol + y[i].abs().max(y_next[i].abs()) * s.rtol;
            err += (k[3][i] / sc) * (k[3][i] / sc);
        }
        err = (err / N as f64).sqrt();

        // Step-size control.
        let fac11 = err.powf(alpha);
        let mut fac = fac11 * f64::powf(fac_old, -s.beta);
        fac = facc2.max(facc1.min(fac / s.safety));
        h_new = h / fac;
        if err <= 1.0 {
            fac_old = err.max(1.0e-4);
            if h_new.abs() > h_max {
                h_new = posneg * h_max;
            }
            if reject {
                h_new = posneg * h_new.abs().min(h.abs());
            }
            reject = false;

            counts.accepted += 1;
            if counts.accepted.is_multiple_of(s.n_stiff) || iasti > 0 {
                let mut dk = [0.0; N];
                let mut dy = [0.0; N];
                for i in 0..N {
                    dk[i] = k[1][i] - k[5][i];
                    dy[i] = y_next[i] - y_stiff[i];
                }
                let (num, den) = (dot(dk), dot(dy));
                let h_lamb = if den > 0.0 {
                    h * (num / den).sqrt()
                } else {
                    0.0
                };
                if h_lamb > 3.25 {
                    iasti += 1;
                    non_stiff = 0;
                    if iasti == 15 {
                        return Err(Stop::Stiff { x });
                    }
                } else {
                    non_stiff += 1;
                    if non_stiff == 6 {
                        iasti = 0;
                    }
                }
            }

            // Dense output of the step: y, ydiff, bspl, -k7 h + ydiff - bspl, rcont4.
            // Written into the spare capacity: `resize` first zeroed the 5 n values (a call to
            // `memset` per step).
            let n = N;
            let base = dense.coef.len();
            dense.coef.reserve(5 * n);
            let c = &mut dense.coef.spare_capacity_mut()[..5 * n];
            for i in 0..N {
                let ydiff = y_next[i] - y[i];
                let bspl = k[0][i] * h - ydiff;
                c[i].write(y[i]);
                c[n + i].write(ydiff);
                c[2 * n + i].write(bspl);
                c[3 * n + i].write(-k[1][i] * h + ydiff - bspl);
                c[4 * n + i].write(rcont4[i]);
            }
            // SAFETY: the 5 n values after `base` were written just above (every index
            // i, n + i, ..., 4 n + i for i < n), within the reserved capacity.
            unsafe { dense.coef.set_len(base + 5 * n) };
            let (k0, k1) = k.split_at_mut(1);
            copy(&mut k0[0], &k1[0]);
            copy(&mut y, &y_next);
            x += h;
            dense.breaks.push(x.abs());
            dense.xs.push(x);
            dense.h.push(h);
            dense.ys.extend_from_slice(&y_next);

            if p.solout(x, &y_next, &k[0]) {
                last = true;
            }
            if last {
                return Ok(());
            }
        } else {
            h_new = h / facc1.min(fac11 / s.safety);
            reject = true;
            last = false;
            if counts.accepted >= 1 {
                counts.rejected += 1;
            }
        }
        h = h_new;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The stepper against ode_solvers 0.6.2's `Dopri5` on the same problems: the same steps,
    //! step-end states, dense output, counts and stiffness stop, bit for bit.
    use super::*;
    use nalgebra::SVector;
    use ode_solvers::continuous_output_model::ContinuousOutputModel;
    use ode_solvers::{Dopri5, OutputType, System};

    /// Van der Pol with parameter `mu` (stiff for large mu), as both crates' problem.
    struct Vdp {
        mu: f64,
        stop_after: Option<f64>,
    }

    fn vdp(mu: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[1];
        dy[1] = mu * (1.0 - y[0] * y[0]) * y[1] - y[0];
    }

    impl Problem for Vdp {
        fn f(&self, _t: f64, y: &[f64], dy: &mut [f64]) {
            vdp(self.mu, y, dy);
        }
        fn solout(&mut self, t: f64, _y: &[f64], _dy: &[f64]) -> bool {
            self.stop_after.is_some_and(|s| t >= s)
        }
    }

    impl System<f64, SVector<f64, 2>> for Vdp {
        fn system(&self, _t: f64, y: &SVector<f64, 2>, dy: &mut SVector<f64, 2>) {
            vdp(self.mu, y.as_slice(), dy.as_mut_slice());
        }
        fn solout(&mut self, t: f64, _y: &SVector<f64, 2>, _dy: &SVector<f64, 2>) -> bool {
            self.stop_after.is_some_and(|s| t >= s)
        }
    }

    /// ode_solvers' DOPRI5 defaults on `[0, t1]` with atol 1e-9.
    fn settings(t1: f64, h: f64, rtol: f64, n_stiff: u32) -> Settings {
        Settings {
            t0: 0.0,
            t1,
            rtol,
            atol: 1e-9,
            safety: 0.9,
            beta: 0.04,
            fac_min: 0.2,
            fac_max: 10.0,
            h_max: t1,
            h,
            n_max: 100_000,
            n_stiff,
        }
    }

    fn compare(mu: f64, t1: f64, h: f64, rtol: f64, n_stiff: u32, stop_after: Option<f64>) {
        let y0 = [2.0, 0.0];
        let s = settings(t1, h, rtol, n_stiff);
        let mut ours = Vdp { mu, stop_after };
        let (dense, counts, result) = integrate::<2, _>(&mut ours, &y0, &s);
        let theirs = Vdp { mu, stop_after };
        let mut stepper = Dopri5::from_param(
            theirs,
            0.0,
            t1,
            0.0,
            SVector::<f64, 2>::from(y0),
            rtol,
            1e-9,
            0.9,
            0.04,
            0.2,
            10.0,
            t1,
            h,
            100_000,
            n_stiff,
            OutputType::Continuous,
        );
        let mut model = ContinuousOutputModel::new();
        let theirs_result = stepper.integrate_with_continuous_output_model(&mut model);
        match (&result, &theirs_result) {
            (Ok(()), Ok(st)) => {
                assert_eq!(counts.accepted, st.accepted_steps);
                assert_eq!(counts.rejected, st.rejected_steps);
                assert_eq!(counts.num_eval, st.num_eval);
            }
            (
                Err(Stop::Stiff { x }),
                Err(ode_solvers::dop_shared::IntegrationError::StiffnessDetected { x: x2 }),
            ) => assert_eq!(x.to_bits(), x2.to_bits()),
            _ => panic!("different outcomes (mu {mu})"),
        }
        let (xs, ys) = stepper.results().get();
        assert_eq!(dense.xs.len(), xs.len(), "steps (mu {mu})");
        assert!(xs.len() > 10, "{} steps", xs.len());
        for (k, (x, y)) in xs.iter().zip(ys).enumerate() {
            assert_eq!(dense.xs[k].to_bits(), x.to_bits(), "step {k}");
            assert_eq!(dense.ys[2 * k].to_bits(), y[0].to_bits(), "step {k}");
            assert_eq!(dense.ys[2 * k + 1].to_bits(), y[1].to_bits(), "step {k}");
        }
        let end = *xs.last().unwrap();
        let mut out = [0.0; 2];
        for i in 0..=1000 {
            let t = end * i as f64 / 1000.0;
            let theirs = model.evaluate(t).unwrap();
            assert!(dense.evaluate::<2>(t, &mut out));
            assert_eq!(out[0].to_bits(), theirs[0].to_bits(), "t {t}");
            assert_eq!(out[1].to_bits(), theirs[1].to_bits(), "t {t}");
        }
        assert!(
            !dense.evaluate::<2>(-1e-3, &mut out) && !dense.evaluate::<2>(end * 1.01, &mut out)
        );
        // Out of order (backwards, jumping, exactly at step ends and just after them): the step
        // remembered from the last read never changes which step is used.
        let mut times: Vec<f64> = (0..=1000).rev().map(|i| end * i as f64 / 1000.0).collect();
        for (k, x) in xs.iter().enumerate().step_by(3) {
            times.extend([*x, x.next_up(), xs[k / 2], 0.0, *x]);
        }
        for t in times.into_iter().filter(|&t| t <= end) {
            let theirs = model.evaluate(t).unwrap();
            assert!(dense.evaluate::<2>(t, &mut out));
            assert_eq!(out[0].to_bits(), theirs[0].to_bits(), "t {t}");
            assert_eq!(out[1].to_bits(), theirs[1].to_bits(), "t {t}");
            // One component alone: its bits, and the other entry left as it was.
            for i in 0..2 {
                let mut one = [f64::NAN; 2];
                assert!(dense.evaluate_some::<2>(t, &[i], &mut one));
                assert_eq!(
                    one[i].to_bits(),
                    theirs[i].to_bits(),
                    "t {t}, component {i}"
                );
                assert!(one[1 - i].is_nan());
            }
        }
        assert!(
            !dense.evaluate_some::<2>(-1e-3, &[0], &mut out)
                && !dense.evaluate_some::<2>(end * 1.01, &[1], &mut out)
        );
    }

    #[test]
    fn same_steps_and_values_as_ode_solvers() {
        // non-stiff, given first step and Hairer's initial step
        compare(1.0, 20.0, 1e-3, 1e-6, u32::MAX, None);
        compare(1.0, 20.0, 0.0, 1e-10, u32::MAX, None);
        // with rejected steps (stiff-ish, the test off)
        compare(50.0, 60.0, 1e-2, 1e-6, u32::MAX, None);
        // stopped by the callback
        compare(1.0, 20.0, 1e-3, 1e-6, u32::MAX, Some(7.5));
    }

    /// A 19-state problem (the default model's size, so that the vectorised loops run over
    /// several full vectors and a remainder): a ring of nonlinear couplings with a forcing,
    /// `stiff` adding a fast decaying component.
    struct Ring {
        stiff: f64,
        stop_after: Option<f64>,
    }

    impl Problem for Ring {
        fn f(&self, t: f64, y: &[f64], dy: &mut [f64]) {
            let n = y.len();
            for i in 0..n {
                let prev = y[(i + n - 1) % n];
                let rate = 0.3 + 0.05 * i as f64 + if i % 5 == 0 { self.stiff } else { 0.0 };
                dy[i] = -rate * y[i]
                    + prev * prev / (1.0 + y[i].abs())
                    + 0.1 * (t * (1.0 + i as f64)).sin();
            }
        }
        fn solout(&mut self, t: f64, _y: &[f64], _dy: &[f64]) -> bool {
            self.stop_after.is_some_and(|s| t >= s)
        }
    }

    /// [`core`] as compiled plainly and for AVX2 (which [`integrate`] runs where the CPU has
    /// it): the same steps, step-end states, dense-output coefficients, counts and stop, bit for
    /// bit (the tests above compare the AVX2 copy with ode_solvers on this machine).
    fn same_in_both_copies<const N: usize, P: Problem>(
        make: impl Fn() -> P,
        y0: &[f64],
        s: &Settings,
    ) {
        let run = |avx2: bool| {
            let mut p = make();
            let mut dense = Dense::new(N, s.t0);
            let mut counts = Counts::default();
            let result = if avx2 {
                #[cfg(target_arch = "x86_64")]
                {
                    // SAFETY: only called when the CPU has AVX2 (checked below).
                    unsafe { core_avx2::<N, P>(&mut p, y0, s, &mut dense, &mut counts) }
                }
                #[cfg(not(target_arch = "x86_64"))]
                unreachable!()
            } else {
                core::<N, P>(&mut p, y0, s, &mut dense, &mut counts)
            };
            let stop = match result {
                Ok(()) => None,
                Err(Stop::Stiff { x }) => Some((0, x.to_bits())),
                Err(Stop::MaxSteps { x, .. }) => Some((1, x.to_bits())),
                Err(Stop::Underflow { x }) => Some((2, x.to_bits())),
            };
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (
                (counts.accepted, counts.rejected, counts.num_eval, stop),
                [
                    bits(&dense.breaks),
                    bits(&dense.xs),
                    bits(&dense.h),
                    bits(&dense.coef),
                    bits(&dense.ys),
                ],
            )
        };
        let plain = run(false);
        assert!(plain.1[1].len() > 10, "{} steps", plain.1[1].len());
        assert_eq!(plain.1[3].len(), 5 * N * plain.1[1].len());
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            let avx2 = run(true);
            assert_eq!(plain.0, avx2.0, "counts and stop");
            for (a, b) in plain.1.iter().zip(&avx2.1) {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn plain_and_avx2_copies_take_the_same_steps() {
        let y0: Vec<f64> = (0..19).map(|i| 0.1 + 0.07 * i as f64).collect();
        for (stiff, rtol, h, n_stiff, stop_after) in [
            (0.0, 1e-6, 0.0, u32::MAX, None),
            (0.0, 1e-10, 1e-3, u32::MAX, None),
            (0.0, 1e-6, 0.0, u32::MAX, Some(12.5)),
            // fast component: rejected steps, and Hairer's stiffness test (on at every step)
            (400.0, 1e-6, 0.0, u32::MAX, None),
            (400.0, 1e-6, 0.0, 1, None),
        ] {
            same_in_both_copies::<19, _>(
                || Ring { stiff, stop_after },
                &y0,
                &settings(40.0, h, rtol, n_stiff),
            );
        }
        // Van der Pol (2 states), non-stiff and stopped as stiff.
        same_in_both_copies::<2, _>(
            || Vdp {
                mu: 1.0,
                stop_after: None,
            },
            &[2.0, 0.0],
            &settings(20.0, 1e-3, 1e-6, u32::MAX),
        );
        same_in_both_copies::<2, _>(
            || Vdp {
                mu: 1000.0,
                stop_after: None,
            },
            &[2.0, 0.0],
            &settings(3000.0, 1e-4, 1e-6, 1),
        );
    }

    #[test]
    fn same_stiffness_stop_as_ode_solvers() {
        // Van der Pol at mu = 1000 is stiff: Hairer's test fires at the same step
        compare(1000.0, 3000.0, 1e-4, 1e-6, 1, None);
    }
}
