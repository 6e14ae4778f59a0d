//! Dense LU factorisation with partial pivoting of radau5's real and complex iteration matrices
//! (u1/h I - J and (alpha + i beta)/h I - J), in place in storage allocated once per span.
//!
//! Why not nalgebra's `LU` (which radau5 used before): its generic `DMatrix` code allocates a
//! matrix per factorisation and was 60% of a Hanson 2016 radau5 run (8 states, 40 steps:
//! `LU::new` 14%, triangular solves 20%, the complex LU inlined in the stepper most of its 33%,
//! callgrind). These are the textbook loops of Hairer's `dec`/`sol` and `decc`/`solc`
//! (radau5's decsol.f): row-major, rows swapped as they are pivoted, one reciprocal per pivot,
//! zero multipliers skipped (the models' Jacobians are sparse), no allocation, and the loops run
//! over row slices (no bounds check in the inner loops: this halved their instructions).
//!
//! The solves run column by column (`b[i] -= L[i][k] x[k]` for all i > k, then the same with U
//! backwards) over a transposed copy of the factors made once per factorisation, with the row
//! swaps turned into one gather: each column update is then a contiguous vector operation with
//! no reduction, which the compiler packs into SIMD instructions without reordering any sum, so
//! every machine computes the same bits. Radau5 solves ~3-5 times per factorisation; on Hanson
//! 2016 (8 states) a real solve went from 551 to 253 instructions and a complex one from 1,262
//! to 968, the copies adding ~10% to a factorisation (callgrind; docs/solvers.md, seventh
//! session).

/// `$f(n, args)` with `n` a constant for the sizes of most models (1-16 states), so that the
/// compiler drops the bounds checks and lays out the short loops for that size (for n = 8 this
/// took a Hanson 2016 run's factorisations and solves from 117 M to 85 M instructions, callgrind); larger systems
/// take the general code.
macro_rules! small_n {
    ($n:expr, $f:ident($($arg:expr),*)) => {
        match $n {
            1 => $f(1, $($arg),*),
            2 => $f(2, $($arg),*),
            3 => $f(3, $($arg),*),
            4 => $f(4, $($arg),*),
            5 => $f(5, $($arg),*),
            6 => $f(6, $($arg),*),
            7 => $f(7, $($arg),*),
            8 => $f(8, $($arg),*),
            9 => $f(9, $($arg),*),
            10 => $f(10, $($arg),*),
            11 => $f(11, $($arg),*),
            12 => $f(12, $($arg),*),
            13 => $f(13, $($arg),*),
            14 => $f(14, $($arg),*),
            15 => $f(15, $($arg),*),
            16 => $f(16, $($arg),*),
            n => $f(n, $($arg),*),
        }
    };
}

/// LU factors of a real n x n matrix, row-major; `piv[k]` is the row swapped with row k. The
/// diagonal holds the reciprocals of U's pivots (as Hairer's `dec` multiplies by them).
pub(super) struct RealLu {
    n: usize,
    a: Vec<f64>,
    piv: Vec<usize>,
    /// The factors transposed (column k of L and U contiguous at `k n`), for the solves.
    t: Vec<f64>,
    /// The row swaps as one permutation: row k of the permuted system is row `perm[k]`.
    perm: Vec<usize>,
}

/// Swap rows `k < p` of the row-major n-column matrix `a`.
#[inline]
fn swap_rows(a: &mut [f64], n: usize, k: usize, p: usize) {
    let (top, bottom) = a.split_at_mut(p * n);
    top[k * n..(k + 1) * n].swap_with_slice(&mut bottom[..n]);
}

impl RealLu {
    pub fn new(n: usize) -> Self {
        RealLu {
            n,
            a: vec![0.0; n * n],
            piv: vec![0; n],
            t: vec![0.0; n * n],
            perm: vec![0; n],
        }
    }

    /// Factorise `diag I - jac` (`jac` row-major n x n); false when the matrix is singular or
    /// not finite.
    pub fn factor_shifted(&mut self, diag: f64, jac: &[f64]) -> bool {
        let (a, piv) = (&mut self.a[..], &mut self.piv[..]);
        let (t, perm) = (&mut self.t[..], &mut self.perm[..]);
        small_n!(self.n, real_factor(a, piv, diag, jac, t, perm))
    }

    /// Solve A x = b in place.
    pub fn solve(&self, b: &mut [f64]) {
        small_n!(self.n, real_solve(&self.t, &self.perm, b))
    }
}

/// [`RealLu::factor_shifted`] for size `n`.
#[inline(always)]
fn real_factor(
    n: usize,
    a: &mut [f64],
    piv: &mut [usize],
    diag: f64,
    jac: &[f64],
    t: &mut [f64],
    perm: &mut [usize],
) -> bool {
    let a = &mut a[..n * n];
    let piv = &mut piv[..n];
    for (x, &j) in a.iter_mut().zip(&jac[..n * n]) {
        *x = -j;
    }
    for i in 0..n {
        a[i * n + i] += diag;
    }
    for k in 0..n {
        let (mut p, mut big) = (k, a[k * n + k].abs());
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > big {
                (p, big) = (i, v);
            }
        }
        piv[k] = p;
        if big == 0.0 || !big.is_finite() {
            return false;
        }
        if p != k {
            swap_rows(a, n, k, p);
        }
        let inv = 1.0 / a[k * n + k];
        a[k * n + k] = inv;
        let (top, rest) = a.split_at_mut((k + 1) * n);
        let krow = &top[k * n + k + 1..(k + 1) * n];
        for row in rest.chunks_exact_mut(n) {
            // Zero multipliers are skipped (the models' Jacobians are sparse).
            if row[k] == 0.0 {
                continue;
            }
            let l = row[k] * inv;
            row[k] = l;
            for (x, &u) in row[k + 1..].iter_mut().zip(krow) {
                *x -= l * u;
            }
        }
    }
    transpose(n, a, t);
    permutation(n, piv, perm);
    true
}

/// `t` = `a` transposed (n x n).
#[inline(always)]
fn transpose(n: usize, a: &[f64], t: &mut [f64]) {
    let t = &mut t[..n * n];
    for (i, row) in a[..n * n].chunks_exact(n).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            t[j * n + i] = x;
        }
    }
}

/// The successive row swaps `piv` as one permutation.
#[inline(always)]
fn permutation(n: usize, piv: &[usize], perm: &mut [usize]) {
    let (piv, perm) = (&piv[..n], &mut perm[..n]);
    for (k, p) in perm.iter_mut().enumerate() {
        *p = k;
    }
    for (k, &p) in piv.iter().enumerate() {
        perm.swap(k, p);
    }
}

/// Up to this many states the solves work on a local copy of the right-hand side (kept in
/// registers when the size is a compile-time constant).
const LOCAL: usize = 16;

/// [`RealLu::solve`] for size `n`.
#[inline(always)]
fn real_solve(n: usize, t: &[f64], perm: &[usize], b: &mut [f64]) {
    let (t, perm, b) = (&t[..n * n], &perm[..n], &mut b[..n]);
    if n <= LOCAL {
        let mut x = [0.0f64; LOCAL];
        let x = &mut x[..n];
        for (x, &p) in x.iter_mut().zip(perm) {
            *x = b[p];
        }
        real_columns(n, t, x);
        b.copy_from_slice(x);
    } else {
        let x: Vec<f64> = perm.iter().map(|&p| b[p]).collect();
        b.copy_from_slice(&x);
        real_columns(n, t, b);
    }
}

/// Forward and back substitution, column by column, on the permuted right-hand side `x`.
#[inline(always)]
fn real_columns(n: usize, t: &[f64], x: &mut [f64]) {
    for (k, col) in t.chunks_exact(n).enumerate() {
        let (head, tail) = x.split_at_mut(k + 1);
        let xk = head[k];
        for (xi, &l) in tail.iter_mut().zip(&col[k + 1..]) {
            *xi -= l * xk;
        }
    }
    for (k, col) in t.chunks_exact(n).enumerate().rev() {
        let (head, tail) = x.split_at_mut(k);
        let xk = tail[0] * col[k];
        tail[0] = xk;
        for (xi, &u) in head.iter_mut().zip(&col[..k]) {
            *xi -= u * xk;
        }
    }
}

/// LU factors of a complex n x n matrix, real and imaginary parts row-major (the diagonal holds
/// the reciprocals of U's pivots, as in Hairer's `decc`).
pub(super) struct ComplexLu {
    n: usize,
    re: Vec<f64>,
    im: Vec<f64>,
    piv: Vec<usize>,
    /// As in [`RealLu`]: the factors transposed and the swaps as one permutation.
    tre: Vec<f64>,
    tim: Vec<f64>,
    perm: Vec<usize>,
}

impl ComplexLu {
    pub fn new(n: usize) -> Self {
        ComplexLu {
            n,
            re: vec![0.0; n * n],
            im: vec![0.0; n * n],
            piv: vec![0; n],
            tre: vec![0.0; n * n],
            tim: vec![0.0; n * n],
            perm: vec![0; n],
        }
    }

    /// Factorise `(dr + i di) I - jac` (`jac` real, row-major n x n); false when singular or
    /// not finite.
    pub fn factor_shifted(&mut self, dr: f64, di: f64, jac: &[f64]) -> bool {
        let (re, im, piv) = (&mut self.re[..], &mut self.im[..], &mut self.piv[..]);
        let out = (&mut self.tre[..], &mut self.tim[..], &mut self.perm[..]);
        small_n!(self.n, complex_factor(re, im, piv, (dr, di), jac, out))
    }

    /// Solve A x = b in place, b = br + i bi.
    pub fn solve(&self, br: &mut [f64], bi: &mut [f64]) {
        small_n!(
            self.n,
            complex_solve(&self.tre, &self.tim, &self.perm, br, bi)
        )
    }
}

/// [`ComplexLu::factor_shifted`] for size `n`.
#[inline(always)]
fn complex_factor(
    n: usize,
    re: &mut [f64],
    im: &mut [f64],
    piv: &mut [usize],
    (dr, di): (f64, f64),
    jac: &[f64],
    (tre, tim, perm): (&mut [f64], &mut [f64], &mut [usize]),
) -> bool {
    let re = &mut re[..n * n];
    let im = &mut im[..n * n];
    let piv = &mut piv[..n];
    for (x, &j) in re.iter_mut().zip(&jac[..n * n]) {
        *x = -j;
    }
    im.fill(0.0);
    for i in 0..n {
        re[i * n + i] += dr;
        im[i * n + i] = di;
    }
    for k in 0..n {
        let (mut p, mut big) = (k, re[k * n + k].abs() + im[k * n + k].abs());
        for i in k + 1..n {
            let v = re[i * n + k].abs() + im[i * n + k].abs();
            if v > big {
                (p, big) = (i, v);
            }
        }
        piv[k] = p;
        if big == 0.0 || !big.is_finite() {
            return false;
        }
        if p != k {
            swap_rows(re, n, k, p);
            swap_rows(im, n, k, p);
        }
        // 1 / pivot.
        let (pr, pi) = (re[k * n + k], im[k * n + k]);
        let den = pr * pr + pi * pi;
        let (vr, vi) = (pr / den, -pi / den);
        re[k * n + k] = vr;
        im[k * n + k] = vi;
        let (rtop, rrest) = re.split_at_mut((k + 1) * n);
        let (itop, irest) = im.split_at_mut((k + 1) * n);
        let ukr = &rtop[k * n + k + 1..(k + 1) * n];
        let uki = &itop[k * n + k + 1..(k + 1) * n];
        for (rrow, irow) in rrest.chunks_exact_mut(n).zip(irest.chunks_exact_mut(n)) {
            let (ar, ai) = (rrow[k], irow[k]);
            if ar == 0.0 && ai == 0.0 {
                continue;
            }
            let (lr, li) = (ar * vr - ai * vi, ai * vr + ar * vi);
            rrow[k] = lr;
            irow[k] = li;
            for (((xr, xi), &ur), &ui) in rrow[k + 1..]
                .iter_mut()
                .zip(irow[k + 1..].iter_mut())
                .zip(ukr)
                .zip(uki)
            {
                *xr -= lr * ur - li * ui;
                *xi -= lr * ui + li * ur;
            }
        }
    }
    transpose(n, re, tre);
    transpose(n, im, tim);
    permutation(n, piv, perm);
    true
}

/// [`ComplexLu::solve`] for size `n`.
#[inline(always)]
fn complex_solve(
    n: usize,
    tre: &[f64],
    tim: &[f64],
    perm: &[usize],
    br: &mut [f64],
    bi: &mut [f64],
) {
    let (tre, tim, perm) = (&tre[..n * n], &tim[..n * n], &perm[..n]);
    let (br, bi) = (&mut br[..n], &mut bi[..n]);
    if n <= LOCAL {
        let (mut xr, mut xi) = ([0.0f64; LOCAL], [0.0f64; LOCAL]);
        let (xr, xi) = (&mut xr[..n], &mut xi[..n]);
        for ((xr, xi), &p) in xr.iter_mut().zip(xi.iter_mut()).zip(perm) {
            (*xr, *xi) = (br[p], bi[p]);
        }
        complex_columns(n, tre, tim, xr, xi);
        br.copy_from_slice(xr);
        bi.copy_from_slice(xi);
    } else {
        let xr: Vec<f64> = perm.iter().map(|&p| br[p]).collect();
        let xi: Vec<f64> = perm.iter().map(|&p| bi[p]).collect();
        br.copy_from_slice(&xr);
        bi.copy_from_slice(&xi);
        complex_columns(n, tre, tim, br, bi);
    }
}

/// [`real_columns`] for the complex factors.
#[inline(always)]
fn complex_columns(n: usize, tre: &[f64], tim: &[f64], xr: &mut [f64], xi: &mut [f64]) {
    for (k, (cr, ci)) in tre.chunks_exact(n).zip(tim.chunks_exact(n)).enumerate() {
        let (hr, tr) = xr.split_at_mut(k + 1);
        let (hi, ti) = xi.split_at_mut(k + 1);
        let (ar, ai) = (hr[k], hi[k]);
        for (((yr, yi), &lr), &li) in tr
            .iter_mut()
            .zip(ti.iter_mut())
            .zip(&cr[k + 1..])
            .zip(&ci[k + 1..])
        {
            *yr -= lr * ar - li * ai;
            *yi -= lr * ai + li * ar;
        }
    }
    for (k, (cr, ci)) in tre
        .chunks_exact(n)
        .zip(tim.chunks_exact(n))
        .enumerate()
        .rev()
    {
        let (hr, tr) = xr.split_at_mut(k);
        let (hi, ti) = xi.split_at_mut(k);
        let (sr, si, vr, vi) = (tr[0], ti[0], cr[k], ci[k]);
        let (ar, ai) = (sr * vr - si * vi, si * vr + sr * vi);
        (tr[0], ti[0]) = (ar, ai);
        for (((yr, yi), &ur), &ui) in hr.iter_mut().zip(hi.iter_mut()).zip(&cr[..k]).zip(&ci[..k]) {
            *yr -= ur * ar - ui * ai;
            *yi -= ur * ai + ui * ar;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A x = b solved through the factors reproduces b (real and complex, with pivoting).
    #[test]
    fn factors_solve_shifted_systems() {
        let n = 4;
        // A Jacobian with a zero on the diagonal after the shift (forces a row swap) and sparse
        // entries.
        let jac = [
            2.0, 1.0, 0.0, 0.5, //
            -3.0, 0.0, 4.0, 0.0, //
            0.0, 2.5, -1.0, 1.0, //
            1.0, 0.0, 0.0, -7.0,
        ];
        let x = [1.0, -2.0, 0.5, 3.0];
        let mut lu = RealLu::new(n);
        assert!(lu.factor_shifted(2.0, &jac));
        let mut b: Vec<f64> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (f64::from(i == j) * 2.0 - jac[i * n + j]) * x[j])
                    .sum()
            })
            .collect();
        lu.solve(&mut b);
        for (u, v) in b.iter().zip(&x) {
            assert!((u - v).abs() < 1e-13, "{b:?}");
        }
        // Complex: ((1.5 + 2i) I - J) (x + i x/2) = b.
        let (dr, di) = (1.5, 2.0);
        let mut c = ComplexLu::new(n);
        assert!(c.factor_shifted(dr, di, &jac));
        let (mut br, mut bi) = (vec![0.0; n], vec![0.0; n]);
        for i in 0..n {
            for j in 0..n {
                let (ar, ai) = (
                    f64::from(i == j) * dr - jac[i * n + j],
                    f64::from(i == j) * di,
                );
                let (xr, xi) = (x[j], 0.5 * x[j]);
                br[i] += ar * xr - ai * xi;
                bi[i] += ar * xi + ai * xr;
            }
        }
        c.solve(&mut br, &mut bi);
        for j in 0..n {
            assert!((br[j] - x[j]).abs() < 1e-13 && (bi[j] - 0.5 * x[j]).abs() < 1e-13);
        }
        // Singular: the shift cancels the only entry.
        let mut one = RealLu::new(1);
        assert!(!one.factor_shifted(2.0, &[2.0]));
    }

    /// The general code (more states than the size-specialised kernels, [`LOCAL`]): a 20 x 20
    /// system whose pivots need row swaps, real and complex, against its known solution.
    #[test]
    fn large_systems_solve_through_the_general_code() {
        let n = 20;
        assert!(n > LOCAL);
        // A dense, non-symmetric Jacobian with small diagonal entries (so that rows are swapped).
        let jac: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                let v = ((i * 7 + j * 13) % 17) as f64 - 8.0;
                if i == j {
                    0.1 * v
                } else {
                    v
                }
            })
            .collect();
        let x: Vec<f64> = (0..n).map(|i| 1.0 + 0.25 * i as f64).collect();
        let a = |i: usize, j: usize, d: f64| f64::from(i == j) * d - jac[i * n + j];
        let mut lu = RealLu::new(n);
        assert!(lu.factor_shifted(0.5, &jac));
        assert!(lu.piv.iter().enumerate().any(|(k, &p)| p != k));
        let mut b: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a(i, j, 0.5) * x[j]).sum())
            .collect();
        lu.solve(&mut b);
        for (u, v) in b.iter().zip(&x) {
            assert!((u - v).abs() < 1e-10 * v.abs(), "{u} vs {v}");
        }
        let (dr, di) = (0.5, 3.0);
        let mut c = ComplexLu::new(n);
        assert!(c.factor_shifted(dr, di, &jac));
        let (mut br, mut bi) = (vec![0.0; n], vec![0.0; n]);
        for i in 0..n {
            for (j, &xj) in x.iter().enumerate() {
                let (ar, ai) = (a(i, j, dr), f64::from(i == j) * di);
                let (xr, xi) = (xj, -xj / 3.0);
                br[i] += ar * xr - ai * xi;
                bi[i] += ar * xi + ai * xr;
            }
        }
        c.solve(&mut br, &mut bi);
        for ((r, i), &xj) in br.iter().zip(&bi).zip(&x) {
            assert!((r - xj).abs() < 1e-10 * xj.abs(), "{r} vs {xj}");
            assert!(
                (i + xj / 3.0).abs() < 1e-10 * xj.abs(),
                "{i} vs {}",
                -xj / 3.0
            );
        }
    }
}
