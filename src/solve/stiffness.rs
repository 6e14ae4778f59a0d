//! Stiffness measures shared by `auto`'s two directions: the spectral radius of the Jacobian
//! (power iteration) and a forward-difference Jacobian of the model's right-hand side.

use crate::model::Model;
use nalgebra::{DMatrix, DVector};

/// Spectral radius of `jac` by power iteration: the geometric mean of the growth factors
/// |J x_k| / |x_k| over iterations 8-23 (from a fixed vector with no zero component), which
/// tends to |lambda_max| also for a complex pair. Infinite when the Jacobian is not finite.
pub(super) fn spectral_radius(jac: &DMatrix<f64>) -> f64 {
    let n = jac.nrows();
    let mut x = DVector::from_fn(n, |i, _| 1.0 + (0.618_033_988_75 * i as f64).fract());
    x /= x.norm();
    let (mut log_sum, mut count) = (0.0, 0);
    for it in 0..24 {
        let jx = jac * &x;
        let r = jx.norm();
        if !r.is_finite() {
            return f64::INFINITY;
        }
        if r == 0.0 {
            return 0.0;
        }
        if it >= 8 {
            log_sum += r.ln();
            count += 1;
        }
        x = jx / r;
    }
    (log_sum / f64::from(count)).exp()
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
    let mut jac = DMatrix::zeros(n, n);
    let mut yp = y.to_vec();
    let mut f1 = vec![0.0; n];
    for j in 0..n {
        let delta = (1e-16 * y[j].abs().max(1e-5)).sqrt();
        yp[j] = y[j] + delta;
        model.rhs(slots, t, &yp, &mut f1);
        yp[j] = y[j];
        for i in 0..n {
            jac[(i, j)] = (f1[i] - f0[i]) / delta;
        }
    }
    spectral_radius(&jac)
}
