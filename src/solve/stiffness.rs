//! Stiffness measures shared by `auto`'s two directions: the spectral radius of the Jacobian
//! (power iteration) and a forward-difference Jacobian of the model's right-hand side.

use crate::model::Model;

/// `out = jac x` for `jac` row-major n x n.
#[inline(always)]
fn mat_vec(n: usize, jac: &[f64], x: &[f64], out: &mut [f64]) {
    for (o, row) in out[..n].iter_mut().zip(jac[..n * n].chunks_exact(n)) {
        *o = row.iter().zip(&x[..n]).map(|(a, b)| a * b).sum();
    }
}

/// [`mat_vec`] with the size known at compile time for up to 24 states (the states dopri5's own
/// stepper runs at fixed size; the default model has 17): the same sums in the same order.
fn mat_vec_sized(n: usize, jac: &[f64], x: &[f64], out: &mut [f64]) {
    macro_rules! sized {
        ($($k:literal)*) => {
            match n {
                $( $k => mat_vec($k, jac, x, out), )*
                _ => mat_vec(n, jac, x, out),
            }
        };
    }
    sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

/// The fixed start of the power iteration (no zero component; not normalised).
fn start_vector(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 1.0 + (0.618_033_988_75 * i as f64).fract())
        .collect()
}

/// Scale `x` to unit length.
fn normalise(x: &mut [f64]) {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    x.iter_mut().for_each(|v| *v /= norm);
}

/// `iters` power iterations on `jac` from `x` (unit length; left at the last iterate): the
/// geometric mean of the growth factors |J x_k| / |x_k| from iteration `skip` on, which tends to
/// |lambda_max| also for a complex pair; infinite when J x is not finite, 0 when it vanishes
/// (`x` is then cleared).
fn power_iteration(jac: &[f64], n: usize, x: &mut Vec<f64>, iters: u32, skip: u32) -> f64 {
    let mut jx = [0.0f64; 64];
    let mut jx_heap = Vec::new();
    let jx: &mut [f64] = if n <= jx.len() {
        &mut jx[..n]
    } else {
        jx_heap.resize(n, 0.0);
        &mut jx_heap
    };
    let (mut log_sum, mut count) = (0.0, 0);
    for it in 0..iters {
        mat_vec_sized(n, jac, x, jx);
        let r = jx.iter().map(|v| v * v).sum::<f64>().sqrt();
        if r == 0.0 || !r.is_finite() {
            x.clear();
            return if r == 0.0 { 0.0 } else { f64::INFINITY };
        }
        if it >= skip {
            log_sum += r.ln();
            count += 1;
        }
        for (a, b) in x.iter_mut().zip(jx.iter()) {
            *a = b / r;
        }
    }
    (log_sum / f64::from(count)).exp()
}

/// Spectral radius of `jac` (row-major n x n) by power iteration, warm-started from `x` (the
/// previous call's last iterate, updated; empty on the first call): from the fixed start,
/// iterations 8-23 are averaged; warm, iterations 4-7 (the Jacobian of the next check is
/// close to the last one, so its dominant direction is already there: a third of the work).
/// Infinite when the Jacobian is not finite, 0 when J x vanishes.
pub(super) fn spectral_radius(jac: &[f64], n: usize, x: &mut Vec<f64>) -> f64 {
    let (iters, skip) = if x.len() == n { (8, 4) } else { (24, 8) };
    if x.len() != n {
        *x = start_vector(n);
        normalise(x);
    }
    power_iteration(jac, n, x, iters, skip)
}

/// A lower bound of rho(J): |trace J| / n, the magnitude of the mean eigenvalue.
pub(super) fn trace_bound(jac: &[f64], n: usize) -> f64 {
    (0..n).map(|i| jac[i * n + i]).sum::<f64>().abs() / n as f64
}

/// h rho(J) >= `level` for `jac` (row-major n x n), cheaply: false at once when h min(||J||_inf,
/// ||J||_1) (an upper bound of h rho(J)) is below `level`; else a power iteration warm-started
/// from `x` (the previous call's vector, updated; empty on the first call, then the fixed start
/// of [`spectral_radius`] and 16 iterations averaging the last 10), 8 iterations averaging the
/// growth of the last 4. A
/// Jacobian that is not finite gives no answer (None).
pub(super) fn stability_limited(
    jac: &[f64],
    n: usize,
    h: f64,
    level: f64,
    x: &mut Vec<f64>,
) -> Option<bool> {
    // The smaller of the row-sum and the column-sum norm (both bound rho(J)).
    let mut norm = 0.0f64;
    let mut cols = [0.0f64; 64];
    for row in jac.chunks_exact(n) {
        norm = norm.max(row.iter().map(|a| a.abs()).sum());
        for (c, a) in cols.iter_mut().zip(row) {
            *c += a.abs();
        }
    }
    if n <= cols.len() {
        norm = norm.min(cols[..n].iter().fold(0.0f64, |m, &c| m.max(c)));
    }
    if !norm.is_finite() {
        return None;
    }
    if h * norm < level {
        return Some(false);
    }
    // |trace J| / n, a lower bound of rho(J), already at or above the level: stiff.
    if h * trace_bound(jac, n) >= level {
        return Some(true);
    }
    let (iters, skip) = if x.len() == n { (8, 4) } else { (16, 6) };
    if x.len() != n {
        *x = start_vector(n);
    }
    let norm0 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(norm0 > 0.0 && norm0.is_finite()) {
        x.clear();
        return None;
    }
    x.iter_mut().for_each(|v| *v /= norm0);
    let rho = power_iteration(jac, n, x, iters, skip);
    Some(rho.is_finite() && h * rho >= level)
}

/// Spectral radius of the model's Jacobian at (t, y), f0 = f(t, y), the Jacobian by forward
/// differences (n right-hand-side evaluations, as radau5 makes it).
pub(super) fn jacobian_radius(
    model: &Model,
    slots: &mut [f64],
    t: f64,
    y: &[f64],
    f0: &[f64],
) -> f64 {
    let n = y.len();
    let mut jac = vec![0.0; n * n];
    let mut yp = y.to_vec();
    let mut x = Vec::new();
    let mut f1 = vec![0.0; n];
    for j in 0..n {
        let delta = (1e-16 * y[j].abs().max(1e-5)).sqrt();
        yp[j] = y[j] + delta;
        model.rhs(slots, t, &yp, &mut f1);
        yp[j] = y[j];
        for i in 0..n {
            jac[i * n + j] = (f1[i] - f0[i]) / delta;
        }
    }
    spectral_radius(&jac, n, &mut x)
}
