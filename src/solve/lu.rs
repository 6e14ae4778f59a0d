//! Dense LU factorisation with partial pivoting of radau5's real and complex iteration matrices
//! (u1/h I - J and (alpha + i beta)/h I - J), in place in storage allocated once per span.
//!
//! Why not nalgebra's `LU` (which radau5 used before): its generic `DMatrix` code allocates a
//! matrix per factorisation and was 60% of a Hanson 2016 radau5 run (8 states, 40 steps:
//! `LU::new` 14%, triangular solves 20%, the complex LU inlined in the stepper most of its 33%,
//! callgrind). These are the textbook loops of Hairer's `dec`/`sol` and `decc`/`solc`
//! (radau5's decsol.f): row-major, rows swapped as they are pivoted, zero multipliers skipped
//! (the models' Jacobians are sparse), no allocation.

/// LU factors of a real n x n matrix, row-major; `piv[k]` is the row swapped with row k.
pub(super) struct RealLu {
    n: usize,
    a: Vec<f64>,
    piv: Vec<usize>,
}

impl RealLu {
    pub fn new(n: usize) -> Self {
        RealLu {
            n,
            a: vec![0.0; n * n],
            piv: vec![0; n],
        }
    }

    /// Factorise `diag I - jac` (`jac` row-major n x n); false when the matrix is singular or
    /// not finite.
    pub fn factor_shifted(&mut self, diag: f64, jac: &[f64]) -> bool {
        let n = self.n;
        for (i, (row, jrow)) in self
            .a
            .chunks_exact_mut(n)
            .zip(jac.chunks_exact(n))
            .enumerate()
        {
            for (x, &j) in row.iter_mut().zip(jrow) {
                *x = -j;
            }
            row[i] += diag;
        }
        let a = &mut self.a;
        for k in 0..n {
            let (mut p, mut big) = (k, a[k * n + k].abs());
            for i in k + 1..n {
                let v = a[i * n + k].abs();
                if v > big {
                    (p, big) = (i, v);
                }
            }
            self.piv[k] = p;
            if big == 0.0 || !big.is_finite() {
                return false;
            }
            if p != k {
                for j in 0..n {
                    a.swap(k * n + j, p * n + j);
                }
            }
            let pivot = a[k * n + k];
            let (top, rest) = a.split_at_mut((k + 1) * n);
            let krow = &top[k * n..];
            for row in rest.chunks_exact_mut(n) {
                if row[k] == 0.0 {
                    continue;
                }
                let l = row[k] / pivot;
                row[k] = l;
                for j in k + 1..n {
                    row[j] -= l * krow[j];
                }
            }
        }
        true
    }

    /// Solve A x = b in place.
    pub fn solve(&self, b: &mut [f64]) {
        let (n, a) = (self.n, &self.a);
        for k in 0..n {
            b.swap(k, self.piv[k]);
        }
        for i in 1..n {
            let row = &a[i * n..i * n + i];
            let s: f64 = row.iter().zip(&b[..i]).map(|(l, x)| l * x).sum();
            b[i] -= s;
        }
        for i in (0..n).rev() {
            let row = &a[i * n..(i + 1) * n];
            let s: f64 = row[i + 1..]
                .iter()
                .zip(&b[i + 1..])
                .map(|(u, x)| u * x)
                .sum();
            b[i] = (b[i] - s) / row[i];
        }
    }
}

/// LU factors of a complex n x n matrix, real and imaginary parts row-major.
pub(super) struct ComplexLu {
    n: usize,
    re: Vec<f64>,
    im: Vec<f64>,
    piv: Vec<usize>,
}

/// (a + ib) / (c + id)
#[inline]
fn cdiv(a: f64, b: f64, c: f64, d: f64) -> (f64, f64) {
    let den = c * c + d * d;
    ((a * c + b * d) / den, (b * c - a * d) / den)
}

impl ComplexLu {
    pub fn new(n: usize) -> Self {
        ComplexLu {
            n,
            re: vec![0.0; n * n],
            im: vec![0.0; n * n],
            piv: vec![0; n],
        }
    }

    /// Factorise `(dr + i di) I - jac` (`jac` real, row-major n x n); false when singular or
    /// not finite.
    pub fn factor_shifted(&mut self, dr: f64, di: f64, jac: &[f64]) -> bool {
        let n = self.n;
        for (x, &j) in self.re.iter_mut().zip(jac) {
            *x = -j;
        }
        self.im.fill(0.0);
        for i in 0..n {
            self.re[i * n + i] += dr;
            self.im[i * n + i] = di;
        }
        let (re, im) = (&mut self.re, &mut self.im);
        for k in 0..n {
            let (mut p, mut big) = (k, re[k * n + k].abs() + im[k * n + k].abs());
            for i in k + 1..n {
                let v = re[i * n + k].abs() + im[i * n + k].abs();
                if v > big {
                    (p, big) = (i, v);
                }
            }
            self.piv[k] = p;
            if big == 0.0 || !big.is_finite() {
                return false;
            }
            if p != k {
                for j in 0..n {
                    re.swap(k * n + j, p * n + j);
                    im.swap(k * n + j, p * n + j);
                }
            }
            let (pr, pi) = (re[k * n + k], im[k * n + k]);
            for i in k + 1..n {
                let (ar, ai) = (re[i * n + k], im[i * n + k]);
                if ar == 0.0 && ai == 0.0 {
                    continue;
                }
                let (lr, li) = cdiv(ar, ai, pr, pi);
                re[i * n + k] = lr;
                im[i * n + k] = li;
                for j in k + 1..n {
                    let (ur, ui) = (re[k * n + j], im[k * n + j]);
                    re[i * n + j] -= lr * ur - li * ui;
                    im[i * n + j] -= lr * ui + li * ur;
                }
            }
        }
        true
    }

    /// Solve A x = b in place, b = br + i bi.
    pub fn solve(&self, br: &mut [f64], bi: &mut [f64]) {
        let (n, re, im) = (self.n, &self.re, &self.im);
        for k in 0..n {
            br.swap(k, self.piv[k]);
            bi.swap(k, self.piv[k]);
        }
        for i in 1..n {
            let (mut sr, mut si) = (br[i], bi[i]);
            for j in 0..i {
                let (lr, li) = (re[i * n + j], im[i * n + j]);
                sr -= lr * br[j] - li * bi[j];
                si -= lr * bi[j] + li * br[j];
            }
            (br[i], bi[i]) = (sr, si);
        }
        for i in (0..n).rev() {
            let (mut sr, mut si) = (br[i], bi[i]);
            for j in i + 1..n {
                let (ur, ui) = (re[i * n + j], im[i * n + j]);
                sr -= ur * br[j] - ui * bi[j];
                si -= ur * bi[j] + ui * br[j];
            }
            (br[i], bi[i]) = cdiv(sr, si, re[i * n + i], im[i * n + i]);
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
}
