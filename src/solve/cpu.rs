//! CPU-level helpers of the solvers: which compiled copy of the hot loops runs (AVX2 or plain),
//! and copies of short state vectors without a call to libc's `memcpy`.

/// Whether the hot numeric loops (dopri5's stepper, the stiffness check's power iteration) run
/// in their copies compiled for AVX2 (4 doubles per vector instruction instead of SSE2's 2): the
/// CPU has AVX2 and `CARTOX_AVX2=0` is not set (for comparison; read once). The copies are the
/// same source compiled with the AVX2 target feature alone (no FMA: no multiply-add is fused,
/// and the compiler never reorders floating-point operations), so each value gets the same IEEE
/// operations in the same order: the same bits (tests in `dp5` and `stiffness`).
#[cfg(target_arch = "x86_64")]
pub(crate) fn use_avx2() -> bool {
    static USE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USE.get_or_init(|| {
        std::env::var_os("CARTOX_AVX2").is_none_or(|v| v != "0") && is_x86_feature_detected!("avx2")
    })
}

/// `dst.copy_from_slice(src)` for a state vector: up to 31 values as fixed-size pieces of
/// 16, 8, 4, 2 and 1 (the binary digits of the length; each piece at most 128 bytes, which the
/// compiler copies inline), longer ones by `copy_from_slice`. A copy of a run-time length is a
/// call to libc's `memcpy` (~30-40 cycles for the default model's 19 states, 152 bytes); a sweep
/// row made ~1,000 of them (4% of its time, perf, eleventh session). Same values either way.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [f64], src: &[f64]) {
    let n = src.len();
    assert_eq!(dst.len(), n, "copy_short: lengths differ");
    if n >= 32 {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    macro_rules! piece {
        ($($k:literal)*) => {$(
            if n & $k != 0 {
                dst[i..i + $k].copy_from_slice(&src[i..i + $k]);
                i += $k;
            }
        )*};
    }
    piece!(16 8 4 2 1);
    debug_assert_eq!(i, n);
}

#[cfg(test)]
mod copy_tests {
    use super::copy_short;

    /// `copy_short` writes what `copy_from_slice` writes (the bits, NaN payloads and signed
    /// zeros included), at every length its pieces cover and beyond.
    #[test]
    fn copy_short_equals_copy_from_slice() {
        for n in 0..=70 {
            let src: Vec<f64> = (0..n)
                .map(|i| match i % 4 {
                    0 => -0.0,
                    1 => f64::from_bits(0x7ff8_0000_0000_0000 | i as u64),
                    _ => (i as f64 + 0.5) * if i % 3 == 0 { -1e300 } else { 1e-300 },
                })
                .collect();
            let mut want = vec![7.0; n];
            want.copy_from_slice(&src);
            let mut got = vec![7.0; n];
            copy_short(&mut got, &src);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n = {n}");
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn copy_short_rejects_different_lengths() {
        copy_short(&mut [0.0; 3], &[1.0; 4]);
    }
}
