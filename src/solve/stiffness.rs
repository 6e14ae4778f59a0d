//! Stiffness measures shared by `auto`'s two directions: the spectral radius of the Jacobian
//! (power iteration) and a forward-difference Jacobian of the model's right-hand side.

use crate::model::Model;

/// `out = J x` from `cols`, J stored column by column (`cols[j * n + i]` = J[i][j]): each
/// `out[i]` is the sum over j = 0, 1, ..., n - 1 of J[i][j] x[j], added in that order from the
/// start value of `f64`'s `sum`, i.e. the bits of the row-by-row
/// `row.iter().zip(x).map(|(a, b)| a * b).sum()`. The rows are summed side by side in an array
/// of `N` accumulators, which the compiler keeps in vector registers (two rows per
/// instruction): fewer instructions than the row-by-row sums.
#[inline(always)]
fn mat_vec<const N: usize>(cols: &[f64], x: &[f64], out: &mut [f64]) {
    let start: f64 = std::iter::empty::<f64>().sum();
    let mut acc = [start; N];
    for (col, &xj) in cols[..N * N].chunks_exact(N).zip(&x[..N]) {
        let col: &[f64; N] = col.try_into().expect("a column has N entries");
        for (o, &a) in acc.iter_mut().zip(col) {
            *o += a * xj;
        }
    }
    out[..N].copy_from_slice(&acc);
}

/// [`mat_vec`] for any `n` (the same sums in the same order, accumulated in `out`).
fn mat_vec_any(n: usize, cols: &[f64], x: &[f64], out: &mut [f64]) {
    let out = &mut out[..n];
    out.fill(std::iter::empty::<f64>().sum());
    for (col, &xj) in cols[..n * n].chunks_exact(n).zip(&x[..n]) {
        for (o, &a) in out.iter_mut().zip(col) {
            *o += a * xj;
        }
    }
}

/// `jac` (row-major n x n) column by column into `cols`, as [`mat_vec`] reads it.
#[inline(always)]
fn transpose<const N: usize>(jac: &[f64], cols: &mut [f64]) {
    let cols = &mut cols[..N * N];
    for (i, row) in jac[..N * N].chunks_exact(N).enumerate() {
        let row: &[f64; N] = row.try_into().expect("a row has N entries");
        for (j, &a) in row.iter().enumerate() {
            cols[j * N + i] = a;
        }
    }
}

/// [`transpose`] for any `n`.
fn transpose_any(n: usize, jac: &[f64], cols: &mut [f64]) {
    for (i, row) in jac[..n * n].chunks_exact(n).enumerate() {
        for (j, &a) in row.iter().enumerate() {
            cols[j * n + i] = a;
        }
    }
}

/// `out = J x` ([`mat_vec`]) for the state count `n`.
/// Sizes up to 24 (the states dopri5's own stepper runs at fixed size; the default model has
/// 19) are known at compile time.
#[inline(always)]
fn mat_vec_sized(n: usize, cols: &[f64], x: &[f64], out: &mut [f64]) {
    macro_rules! sized {
        ($($k:literal)*) => {
            match n {
                $( $k => mat_vec::<$k>(cols, x, out), )*
                _ => mat_vec_any(n, cols, x, out),
            }
        };
    }
    sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

/// `jac` (row-major n x n) column by column into `cols` (resized to n x n; every entry is
/// written, so no zeroing when it already has that length).
fn columns(jac: &[f64], n: usize, cols: &mut Vec<f64>) {
    if cols.len() != n * n {
        cols.resize(n * n, 0.0);
    }
    macro_rules! sized {
        ($($k:literal)*) => {
            match n {
                $( $k => transpose::<$k>(jac, cols), )*
                _ => transpose_any(n, jac, cols),
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

/// `iters` power iterations on J (`cols`: column by column, [`columns`]) from `x` (unit length; left at the last iterate): the
/// geometric mean of the growth factors |J x_k| / |x_k| from iteration `skip` on, which tends to
/// |lambda_max| also for a complex pair; infinite when J x is not finite, 0 when it vanishes
/// (`x` is then cleared).
fn power_iteration(cols: &[f64], n: usize, x: &mut Vec<f64>, iters: u32, skip: u32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if super::use_avx2() {
        // SAFETY: the CPU has AVX2 (`use_avx2`).
        return unsafe { power_iteration_avx2(cols, n, x, iters, skip) };
    }
    power_iteration_in(cols, n, x, iters, skip)
}

/// [`power_iteration_in`] compiled for AVX2 (see [`super::use_avx2`]: the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn power_iteration_avx2(
    cols: &[f64],
    n: usize,
    x: &mut Vec<f64>,
    iters: u32,
    skip: u32,
) -> f64 {
    power_iteration_in(cols, n, x, iters, skip)
}

/// [`power_iteration`] itself.
#[inline(always)]
fn power_iteration_in(cols: &[f64], n: usize, x: &mut Vec<f64>, iters: u32, skip: u32) -> f64 {
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
        mat_vec_sized(n, cols, x, jx);
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
    let mut cols = Vec::new();
    columns(jac, n, &mut cols);
    power_iteration(&cols, n, x, iters, skip)
}

/// A lower bound of rho(J): |trace J| / n, the magnitude of the mean eigenvalue.
pub(super) fn trace_bound(jac: &[f64], n: usize) -> f64 {
    (0..n).map(|i| jac[i * n + i]).sum::<f64>().abs() / n as f64
}

/// min(||J||_inf, ||J||_1) for `jac` (row-major n x n; the column sums only up to 64 states):
/// each row's sum of |J[i][j]| in the order j = 0, 1, ...; each column's in the order i = 0, 1, ....
fn norm_bound(jac: &[f64], n: usize) -> f64 {
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
    norm
}

/// [`norm_bound`] with the size known at compile time (the same sums in the same order, so the
/// same bits; the column sums in vector registers), writing J column by column into `cols` on
/// the way (as [`columns`] does).
#[inline(always)]
fn norm_and_columns<const N: usize>(jac: &[f64], cols: &mut [f64]) -> f64 {
    let cols = &mut cols[..N * N];
    let mut norm = 0.0f64;
    let mut sums = [0.0f64; N];
    for (i, row) in jac[..N * N].chunks_exact(N).enumerate() {
        let row: &[f64; N] = row.try_into().expect("a row has N entries");
        norm = norm.max(row.iter().map(|a| a.abs()).sum());
        for (c, a) in sums.iter_mut().zip(row) {
            *c += a.abs();
        }
        for (j, &a) in row.iter().enumerate() {
            cols[j * N + i] = a;
        }
    }
    norm.min(sums.iter().fold(0.0f64, |m, &c| m.max(c)))
}

/// h rho(J) >= `level` for `jac` (row-major n x n), cheaply: false at once when h min(||J||_inf,
/// ||J||_1) (an upper bound of h rho(J)) is below `level`; else a power iteration warm-started
/// from `x` (the previous call's vector, updated; empty on the first call, then the fixed start
/// of [`spectral_radius`] and 16 iterations averaging the last 10), 8 iterations averaging the
/// growth of the last 4. A
/// Jacobian that is not finite gives no answer (None). `jac_cols` is scratch (the Jacobian column
/// by column for the power iteration), kept by the caller to avoid an allocation per check.
pub(super) fn stability_limited(
    jac: &[f64],
    n: usize,
    h: f64,
    level: f64,
    x: &mut Vec<f64>,
    jac_cols: &mut Vec<f64>,
) -> Option<bool> {
    // The smaller of the row-sum and the column-sum norm (both bound rho(J)); up to 24 states,
    // J column by column into `jac_cols` on the way (for the power iteration).
    let transposed = n <= 24;
    let norm = if transposed {
        if jac_cols.len() != n * n {
            jac_cols.resize(n * n, 0.0);
        }
        macro_rules! sized {
            ($($k:literal)*) => {
                match n {
                    $( $k => norm_and_columns::<$k>(jac, jac_cols), )*
                    _ => unreachable!("n <= 24"),
                }
            };
        }
        sized!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
    } else {
        norm_bound(jac, n)
    };
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
    let (iters, skip) = warm_start(x, n)?;
    if !transposed {
        columns(jac, n, jac_cols);
    }
    let rho = power_iteration(jac_cols, n, x, iters, skip);
    Some(rho.is_finite() && h * rho >= level)
}

/// The power iteration's start for the early stiffness checks: the previous check's vector
/// `x` (8 iterations, the first 4 not tested for convergence) or, without one for `n` states,
/// the fixed start vector (16, 6); normalised in place. `None` (and `x` cleared) when its norm
/// is 0 or not finite.
fn warm_start(x: &mut Vec<f64>, n: usize) -> Option<(u32, u32)> {
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
    Some((iters, skip))
}

/// [`stability_limited`] for the Jacobian given by its structurally non-zero entries (`vals[k]`
/// at `sparsity[k]`, row-major, each (row, column) once; +0 elsewhere, as
/// [`Model::jacobian`](crate::model::Model::jacobian) writes the matrix and
/// [`Model::jacobian_entries`](crate::model::Model::jacobian_entries) gives its entries): the
/// same answer and the same warm vector, bit for bit, without the n x n matrix's zeroing and
/// filling. The norm bound's row and column sums and the trace skip only terms that are +0 in
/// the dense matrix, which change no sum of absolute values and only the sign of a zero
/// trace: the same norm, and |trace|. The power iteration runs on the dense matrix column by
/// column in `jac_cols`, whose entries outside the pattern are +0: it is zeroed when its
/// length is not n x n, and otherwise only ever written here, at the pattern's positions, so
/// the caller keeps it for one pattern (one model) only.
pub(super) fn stability_limited_sparse(
    vals: &[f64],
    sparsity: &[(usize, usize)],
    n: usize,
    h: f64,
    level: f64,
    x: &mut Vec<f64>,
    jac_cols: &mut Vec<f64>,
) -> Option<bool> {
    // Row sums of |J[i][j]| (columns in increasing order), their maximum over the rows in
    // order; column sums (rows in increasing order) up to 64 states, as `norm_bound`.
    let mut norm = 0.0f64;
    let mut sums = [0.0f64; 64];
    let with_columns = n <= sums.len();
    let mut k = 0;
    for i in 0..n {
        let mut row = 0.0f64;
        while k < sparsity.len() && sparsity[k].0 == i {
            let a = vals[k].abs();
            row += a;
            if with_columns {
                sums[sparsity[k].1] += a;
            }
            k += 1;
        }
        norm = norm.max(row);
    }
    if with_columns {
        norm = norm.min(sums[..n].iter().fold(0.0f64, |m, &c| m.max(c)));
    }
    if !norm.is_finite() {
        return None;
    }
    if h * norm < level {
        return Some(false);
    }
    // |trace J| / n.
    let trace: f64 = vals
        .iter()
        .zip(sparsity)
        .filter(|(_, (i, j))| i == j)
        .map(|(a, _)| *a)
        .sum();
    if h * (trace.abs() / n as f64) >= level {
        return Some(true);
    }
    let (iters, skip) = warm_start(x, n)?;
    if jac_cols.len() != n * n {
        jac_cols.clear();
        jac_cols.resize(n * n, 0.0);
    }
    for (&a, &(i, j)) in vals.iter().zip(sparsity) {
        jac_cols[j * n + i] = a;
    }
    let rho = power_iteration(jac_cols, n, x, iters, skip);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The row-by-row product the power iteration used before [`mat_vec`] (the reference).
    fn mat_vec_rows(n: usize, jac: &[f64], x: &[f64], out: &mut [f64]) {
        for (o, row) in out[..n].iter_mut().zip(jac[..n * n].chunks_exact(n)) {
            *o = row.iter().zip(&x[..n]).map(|(a, b)| a * b).sum();
        }
    }

    /// The power iteration as it was with [`mat_vec_rows`] (the reference).
    fn power_iteration_rows(jac: &[f64], n: usize, x: &mut Vec<f64>, iters: u32, skip: u32) -> f64 {
        let mut jx = vec![0.0; n];
        let (mut log_sum, mut count) = (0.0, 0);
        for it in 0..iters {
            mat_vec_rows(n, jac, x, &mut jx);
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

    /// `stability_limited` as it was, row by row (the reference).
    fn stability_limited_rows(
        jac: &[f64],
        n: usize,
        h: f64,
        level: f64,
        x: &mut Vec<f64>,
    ) -> Option<bool> {
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
        let rho = power_iteration_rows(jac, n, x, iters, skip);
        Some(rho.is_finite() && h * rho >= level)
    }

    /// The stiffness check gives the old row-by-row check's answers and leaves the same warm
    /// vector, bit for bit, over checks in a row (cold, then warm) on Jacobians of 2-30 states,
    /// at step sizes where the norm bound, the trace bound and the power iteration decide, and
    /// with non-finite entries.
    #[test]
    fn stability_check_equals_row_by_row() {
        let mut seed = 3;
        let mut decided_by_power = 0;
        for n in [2, 3, 7, 16, 19, 24, 25, 30] {
            for h in [1e-9, 1e-4, 1e-2, 0.3, 10.0] {
                let (mut xa, mut xb, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
                for check in 0..6 {
                    let mut jac = matrix(n, &mut seed);
                    if check == 4 {
                        jac[n + 1] = if n % 2 == 0 { f64::NAN } else { f64::INFINITY };
                    }
                    let want = stability_limited_rows(&jac, n, h, 2.5, &mut xa);
                    let got = stability_limited(&jac, n, h, 2.5, &mut xb, &mut scratch);
                    assert_eq!(want, got, "n = {n}, h = {h}, check {check}");
                    assert_eq!(xa.len(), xb.len());
                    for (a, b) in xa.iter().zip(&xb) {
                        assert_eq!(a.to_bits(), b.to_bits(), "n = {n}, h = {h}");
                    }
                    decided_by_power += usize::from(!xa.is_empty() && want.is_some());
                }
            }
        }
        assert!(decided_by_power > 50, "{decided_by_power}");
    }

    /// The check on the structurally non-zero entries alone gives the dense check's answer and
    /// warm vector bit for bit over runs of checks (warm vectors and scratch carried):
    /// pseudo-random sparsity patterns (empty rows, missing diagonals) with values
    /// spanning many magnitudes, zeros and negative zeros among them, a NaN or infinite entry
    /// in one check of each run, n = 1..70 (the norm's column sums stop at 64 states), five step
    /// sizes.
    #[test]
    fn sparse_stability_check_equals_dense() {
        let mut seed = 5;
        let (mut decided_by_power, mut answers) = (0, 0);
        for n in [1, 2, 3, 7, 16, 19, 24, 25, 30, 70] {
            for h in [1e-9, 1e-4, 1e-2, 0.3, 10.0] {
                let (mut xa, mut xb) = (Vec::new(), Vec::new());
                let (mut scratch, mut cols) = (Vec::new(), Vec::new());
                // One pattern per run, as a model's Jacobian has.
                let pattern: Vec<(usize, usize)> = {
                    let mask = matrix(n, &mut seed);
                    (0..n * n)
                        .filter(|&k| mask[k] != 0.0 && (k / n) % 5 != 3)
                        .map(|k| (k / n, k % n))
                        .collect()
                };
                for check in 0..6 {
                    let values = matrix(n, &mut seed);
                    let mut vals: Vec<f64> = pattern
                        .iter()
                        .enumerate()
                        .map(|(k, _)| values[k % values.len()])
                        .collect();
                    if check == 4 && !vals.is_empty() {
                        let k = vals.len() / 2;
                        vals[k] = if n % 2 == 0 { f64::NAN } else { f64::INFINITY };
                    }
                    // The dense matrix as `Jacobian::fill` writes it: +0 outside the pattern.
                    let mut jac = vec![0.0; n * n];
                    for (&(i, j), &a) in pattern.iter().zip(&vals) {
                        jac[i * n + j] = a;
                    }
                    let want = stability_limited(&jac, n, h, 2.5, &mut xa, &mut scratch);
                    let got =
                        stability_limited_sparse(&vals, &pattern, n, h, 2.5, &mut xb, &mut cols);
                    assert_eq!(want, got, "n = {n}, h = {h}, check {check}");
                    assert_eq!(xa.len(), xb.len(), "n = {n}, h = {h}, check {check}");
                    for (a, b) in xa.iter().zip(&xb) {
                        assert_eq!(a.to_bits(), b.to_bits(), "n = {n}, h = {h}");
                    }
                    decided_by_power += usize::from(!xa.is_empty() && want.is_some());
                    answers += usize::from(want == Some(true));
                }
            }
        }
        assert!(decided_by_power > 50, "{decided_by_power}");
        assert!(answers > 20, "{answers}");
    }

    /// Pseudo-random matrix entries spanning many magnitudes, both signs, with exact zeros and
    /// negative zeros (sparse Jacobians are mostly zeros).
    fn matrix(n: usize, seed: &mut u64) -> Vec<f64> {
        (0..n * n)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (*seed >> 11) as f64 / (1u64 << 53) as f64;
                match *seed % 7 {
                    0..=2 => 0.0,
                    3 => -0.0,
                    _ => (u - 0.5) * 10f64.powi((*seed % 13) as i32 - 6),
                }
            })
            .collect()
    }

    /// The column-by-column product gives the row-by-row sums bit for bit, at every size the
    /// compile-time dispatch covers and beyond it.
    #[test]
    fn column_product_equals_row_sums_bit_for_bit() {
        let mut seed = 7;
        for n in 1..=30 {
            for _ in 0..20 {
                let jac = matrix(n, &mut seed);
                let x = matrix(1, &mut seed)
                    .into_iter()
                    .chain(matrix(n, &mut seed))
                    .take(n)
                    .collect::<Vec<_>>();
                let (mut want, mut got) = (vec![1.0; n], vec![2.0; n]);
                mat_vec_rows(n, &jac, &x, &mut want);
                let mut cols = Vec::new();
                columns(&jac, n, &mut cols);
                mat_vec_sized(n, &cols, &x, &mut got);
                for i in 0..n {
                    assert_eq!(want[i].to_bits(), got[i].to_bits(), "n = {n}, row {i}");
                }
            }
        }
    }

    /// The power iteration (cold and warm, as `spectral_radius` and `stability_limited` run it)
    /// gives the reference's growth factor and last iterate bit for bit, so every stiffness
    /// decision is the same.
    #[test]
    fn power_iteration_equals_row_by_row_bit_for_bit() {
        let mut seed = 11;
        let mut nonzero = 0;
        for n in [2, 5, 17, 19, 24, 27] {
            for _ in 0..10 {
                let jac = matrix(n, &mut seed);
                let mut start = start_vector(n);
                normalise(&mut start);
                for (iters, skip) in [(24, 8), (16, 6), (8, 4)] {
                    let (mut xa, mut xb) = (start.clone(), start.clone());
                    let want = power_iteration_rows(&jac, n, &mut xa, iters, skip);
                    let mut cols = Vec::new();
                    columns(&jac, n, &mut cols);
                    let got = power_iteration(&cols, n, &mut xb, iters, skip);
                    assert_eq!(want.to_bits(), got.to_bits(), "n = {n}");
                    assert_eq!(xa.len(), xb.len());
                    for (a, b) in xa.iter().zip(&xb) {
                        assert_eq!(a.to_bits(), b.to_bits(), "n = {n}");
                    }
                    nonzero += usize::from(want > 0.0);
                }
                let mut xs = Vec::new();
                let got = spectral_radius(&jac, n, &mut xs);
                let mut xr = start_vector(n);
                normalise(&mut xr);
                let want = power_iteration_rows(&jac, n, &mut xr, 24, 8);
                assert_eq!(want.to_bits(), got.to_bits(), "n = {n}");
                assert_eq!(xs.len(), xr.len());
                for (a, b) in xs.iter().zip(&xr) {
                    assert_eq!(a.to_bits(), b.to_bits(), "n = {n}");
                }
            }
        }
        // The comparisons above compared real growth factors, not only zeros.
        assert!(nonzero > 100, "{nonzero}");
    }

    /// Both compiled copies of the power iteration (plain SSE2, and AVX2 where the CPU has it:
    /// `power_iteration` runs that one there) give the row-by-row reference's growth factor and
    /// last iterate bit for bit, at every size of the compile-time dispatch and beyond it.
    #[test]
    fn both_compiled_power_iterations_equal_the_reference() {
        let mut seed = 23;
        let mut compared = 0;
        for n in 1..=30 {
            for _ in 0..6 {
                let jac = matrix(n, &mut seed);
                let mut cols = Vec::new();
                columns(&jac, n, &mut cols);
                let mut start = start_vector(n);
                normalise(&mut start);
                for (iters, skip) in [(24, 8), (16, 6), (8, 4)] {
                    let mut xr = start.clone();
                    let want = power_iteration_rows(&jac, n, &mut xr, iters, skip);
                    let mut runs: Vec<(&str, f64, Vec<f64>)> = Vec::new();
                    let mut x = start.clone();
                    runs.push((
                        "plain",
                        power_iteration_in(&cols, n, &mut x, iters, skip),
                        x,
                    ));
                    #[cfg(target_arch = "x86_64")]
                    if is_x86_feature_detected!("avx2") {
                        let mut x = start.clone();
                        // SAFETY: the CPU has AVX2 (checked).
                        let r = unsafe { power_iteration_avx2(&cols, n, &mut x, iters, skip) };
                        runs.push(("avx2", r, x));
                    }
                    for (name, got, x) in runs {
                        assert_eq!(want.to_bits(), got.to_bits(), "{name}, n = {n}");
                        assert_eq!(x.len(), xr.len(), "{name}, n = {n}");
                        for (a, b) in x.iter().zip(&xr) {
                            assert_eq!(a.to_bits(), b.to_bits(), "{name}, n = {n}");
                        }
                        compared += usize::from(want > 0.0);
                    }
                }
            }
        }
        assert!(compared > 300, "{compared}");
    }
}
