//! `x^y` as every evaluator computes it (the expression tree, the instruction interpreter and the
//! machine code call this one function), so that they agree bit for bit.
//!
//! An exponent written as an integer in `-16..=16` is compiled to multiplications
//! ([`Node::Powi`](super::Node::Powi)). An exponent that is a *name* (a parameter such as the
//! default model's Hill coefficient `n_EA = 4` in `EA^n_EA`) is only known at run time; when its
//! value is such an integer, [`pow`] computes the same multiplications, so `EA^n_EA` gives the
//! bits of `EA^4`, instead of calling the C library's `pow` (one of the costliest calls of a
//! default-model run). Any other exponent goes to [`f64::powf`].
//!
//! Accuracy: glibc's `pow` is correctly rounded in practice; square-and-multiply for `|k| <= 16`
//! rounds at most 8 times, and each squaring doubles the relative error it inherits, so for results
//! in the normal range the relative difference from `powf` is at most about `(|k| + 1)` units in
//! the last place (`x^16`: ~2e-15), well inside the 1e-14 the solvers' tolerances leave untouched
//! (tests below check every `k` against `powf` on values spread over the exponent range).

/// `x^y` with the integer rule above.
#[inline]
pub fn pow(x: f64, y: f64) -> f64 {
    // `as i32` saturates and sends NaN to 0; the comparison back rejects both.
    let k = y as i32;
    if k as f64 == y && (-16..=16).contains(&k) {
        powi(x, k)
    } else {
        x.powf(y)
    }
}

/// `x^k` by compiler-rt's `__powidf2` (what [`f64::powi`] calls and what
/// `ProgramBuilder::powi` emits as instructions), in its order: the result starts at 1 (and
/// `1 * a` is exact), a negative exponent takes `1 / r` at the end. Written out so that the
/// machine code's call does not take a second call, and so that the rule does not depend on the
/// target's runtime library.
#[inline]
pub fn powi(x: f64, k: i32) -> f64 {
    let mut b = k.unsigned_abs();
    let mut a = x;
    let mut r = 1.0;
    loop {
        if b & 1 == 1 {
            r *= a;
        }
        b /= 2;
        if b == 0 {
            break;
        }
        a *= a;
    }
    if k < 0 {
        1.0 / r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bases over the whole exponent range, both signs, and the special values.
    fn bases() -> Vec<f64> {
        let mut xs = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            3.0,
            1e-300,
            5e-324,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        xs.extend(
            (0..400)
                .map(|i| (i as f64 * 0.173 - 34.0).exp2() * if i % 2 == 0 { 1.0 } else { -1.3 }),
        );
        xs
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn integer_exponents_are_the_bits_of_powi() {
        // The runtime rule gives what a written integer exponent (compiled to `__powidf2`'s
        // multiplications, `f64::powi`) gives, for every exponent it takes.
        for k in -16i32..=16 {
            for x in bases() {
                assert!(same(pow(x, f64::from(k)), x.powi(k)), "{x:e}^{k}");
                assert!(same(powi(x, k), x.powi(k)), "{x:e}^{k}");
            }
        }
        assert!(same(pow(2.5, -0.0), 1.0));
        assert!(same(pow(f64::NAN, 0.0), 1.0));
    }

    #[test]
    fn integer_exponents_are_within_1e_14_of_powf() {
        // Relative difference from the C library's pow for results in the normal range, for
        // every exponent the rule takes; the worst case must stay below 1e-14 (issue 12:
        // machine code and interpreter within 1e-14).
        let mut worst: f64 = 0.0;
        for k in -16i32..=16 {
            for x in bases() {
                let (a, b) = (pow(x, f64::from(k)), x.powf(f64::from(k)));
                if b.is_finite() && b.abs() >= f64::MIN_POSITIVE && b != 0.0 {
                    let rel = ((a - b) / b).abs();
                    assert!(rel < 1e-14, "{x:e}^{k}: {a:e} vs powf {b:e} ({rel:e})");
                    worst = worst.max(rel);
                } else if !b.is_nan() && b.is_infinite() {
                    assert_eq!(a, b, "{x:e}^{k}");
                }
            }
        }
        // The rule does change bits (so this test compares something): some result differs.
        assert!(worst > 0.0 && worst < 4e-15, "worst {worst:e}");
    }

    #[test]
    fn other_exponents_are_powf() {
        for y in [
            0.5,
            -0.5,
            4.000000000000001,
            17.0,
            -17.0,
            1e10,
            f64::NAN,
            f64::INFINITY,
        ] {
            for x in bases() {
                assert!(same(pow(x, y), x.powf(y)), "{x:e}^{y}");
            }
        }
    }
}
