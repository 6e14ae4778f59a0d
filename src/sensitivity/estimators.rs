//! Index estimators and their bootstrap confidence intervals (no model, no file system).
//!
//! Sobol (as SALib's `sobol.analyze`, on outputs standardised to mean 0 and variance 1 over the
//! rows used): `S1_i = mean(f_B (f_ABi - f_A)) / V` (Saltelli 2010), `ST_i = mean((f_A -
//! f_ABi)^2) / (2 V)` (Jansen 1999), `S2_ij = mean(f_BAi f_ABj - f_A f_B) / V - S1_i - S1_j`
//! (Saltelli 2002), `V` the variance (divisor n) of `f_A` and `f_B` together.
//! Morris: elementary effects `(y(x + d e_i) - y(x)) / d` per trajectory, `mu`, `mu*` = mean |EE|
//! and `sigma` (divisor r - 1).
//! Confidence intervals: percentile bootstrap over base rows (Sobol) or trajectories (Morris),
//! resamples drawn from one ChaCha8 stream of the seed.

use super::Index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One estimated index of one output.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub index: Index,
    /// Factor positions: one, or two for `S2`.
    pub factors: Vec<usize>,
    pub value: Option<f64>,
    pub ci: Option<(f64, f64)>,
    /// Model evaluations used.
    pub n_rows: usize,
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples (0: no intervals).
    pub resamples: usize,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    pub seed: u64,
}

/// The ChaCha8 stream of the bootstrap (far from the design's row streams).
const BOOTSTRAP_STREAM: u64 = u64::MAX - 1;

/// Resampled index lists (each of length `n`, drawn with replacement from `0..n`).
fn resamples(b: &Bootstrap, n: usize) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(b.seed);
    rng.set_stream(BOOTSTRAP_STREAM);
    (0..b.resamples)
        .map(|_| (0..n).map(|_| rng.random_range(0..n)).collect())
        .collect()
}

/// Percentile interval of `xs` (NaN dropped) at `level`.
pub fn percentile_ci(xs: &mut Vec<f64>, level: f64) -> Option<(f64, f64)> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let h = p * (xs.len() - 1) as f64;
        let (i, f) = (h.floor() as usize, h - h.floor());
        if i + 1 < xs.len() {
            xs[i] + f * (xs[i + 1] - xs[i])
        } else {
            xs[i]
        }
    };
    let a = (1.0 - level) / 2.0;
    Some((q(a), q(1.0 - a)))
}

/// Sobol indices of one output from a Saltelli design (rows in [`super::design::saltelli`]
/// order, `None` = missing). A base row is used only when all its values are present.
pub fn sobol(
    values: &[Option<f64>],
    k: usize,
    second_order: bool,
    boot: &Bootstrap,
) -> Vec<Estimate> {
    let block = super::design::saltelli_block(k, second_order);
    let blocks: Vec<&[Option<f64>]> = values
        .chunks(block)
        .filter(|b| b.len() == block && b.iter().all(|x| x.is_some()))
        .collect();
    let n = blocks.len();
    let n_rows = n * block;
    // standardise over every value used (as SALib)
    let all: Vec<f64> = blocks
        .iter()
        .flat_map(|b| b.iter().map(|x| x.unwrap()))
        .collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let sd = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / all.len().max(1) as f64).sqrt();
    let z = |x: Option<f64>| (x.unwrap() - mean) / sd;
    // columns: a, ab[i], ba[i], b
    let a: Vec<f64> = blocks.iter().map(|b| z(b[0])).collect();
    let bb: Vec<f64> = blocks.iter().map(|b| z(b[block - 1])).collect();
    let ab: Vec<Vec<f64>> = (0..k)
        .map(|i| blocks.iter().map(|b| z(b[1 + i])).collect())
        .collect();
    let ba: Vec<Vec<f64>> = if second_order {
        (0..k)
            .map(|i| blocks.iter().map(|b| z(b[1 + k + i])).collect())
            .collect()
    } else {
        vec![]
    };
    let usable = n >= 2 && sd > 0.0 && sd.is_finite();
    // estimators over a list of base rows
    let var = |rows: &[usize]| -> f64 {
        let m = rows.iter().map(|&r| a[r] + bb[r]).sum::<f64>() / (2 * rows.len()) as f64;
        rows.iter()
            .map(|&r| (a[r] - m).powi(2) + (bb[r] - m).powi(2))
            .sum::<f64>()
            / (2 * rows.len()) as f64
    };
    let s1 = |i: usize, rows: &[usize], v: f64| -> f64 {
        rows.iter().map(|&r| bb[r] * (ab[i][r] - a[r])).sum::<f64>() / rows.len() as f64 / v
    };
    let st = |i: usize, rows: &[usize], v: f64| -> f64 {
        rows.iter().map(|&r| (a[r] - ab[i][r]).powi(2)).sum::<f64>() / rows.len() as f64 / (2.0 * v)
    };
    let s2 = |i: usize, j: usize, rows: &[usize], v: f64| -> f64 {
        let vij = rows
            .iter()
            .map(|&r| ba[i][r] * ab[j][r] - a[r] * bb[r])
            .sum::<f64>()
            / rows.len() as f64
            / v;
        vij - s1(i, rows, v) - s1(j, rows, v)
    };
    let mut jobs: Vec<(Index, Vec<usize>)> = vec![];
    for i in 0..k {
        jobs.push((Index::S1, vec![i]));
    }
    for i in 0..k {
        jobs.push((Index::ST, vec![i]));
    }
    if second_order {
        for i in 0..k {
            for j in i + 1..k {
                jobs.push((Index::S2, vec![i, j]));
            }
        }
    }
    let eval = |(idx, f): &(Index, Vec<usize>), rows: &[usize], v: f64| match idx {
        Index::S1 => s1(f[0], rows, v),
        Index::ST => st(f[0], rows, v),
        _ => s2(f[0], f[1], rows, v),
    };
    if !usable {
        return jobs
            .into_iter()
            .map(|(index, factors)| Estimate {
                index,
                factors,
                value: None,
                ci: None,
                n_rows,
            })
            .collect();
    }
    let all_rows: Vec<usize> = (0..n).collect();
    let v = var(&all_rows);
    let samples = resamples(boot, n);
    let vs: Vec<f64> = samples.iter().map(|s| var(s)).collect();
    jobs.into_iter()
        .map(|job| {
            let value = eval(&job, &all_rows, v);
            let mut bs: Vec<f64> = samples
                .iter()
                .zip(&vs)
                .map(|(s, &vb)| eval(&job, s, vb))
                .collect();
            Estimate {
                index: job.0,
                factors: job.1,
                value: Some(value),
                ci: percentile_ci(&mut bs, boot.level),
                n_rows,
            }
        })
        .collect()
}

/// Morris `mu*`, `mu` and `sigma` of one output from trajectories of `k + 1` points (`points`
/// in the unit cube, `values` the output, `None` = missing). A trajectory is used only when all
/// its values are present.
pub fn morris(
    points: &[Vec<f64>],
    values: &[Option<f64>],
    k: usize,
    boot: &Bootstrap,
) -> Vec<Estimate> {
    // ee[t][i]: elementary effect of factor i on usable trajectory t
    let mut ee: Vec<Vec<f64>> = vec![];
    for (pts, ys) in points.chunks(k + 1).zip(values.chunks(k + 1)) {
        if ys.len() != k + 1 || ys.iter().any(|y| y.is_none()) {
            continue;
        }
        let mut e = vec![f64::NAN; k];
        for s in 0..k {
            if let Some(i) = (0..k).find(|&i| pts[s][i] != pts[s + 1][i]) {
                e[i] = (ys[s + 1].unwrap() - ys[s].unwrap()) / (pts[s + 1][i] - pts[s][i]);
            }
        }
        ee.push(e);
    }
    let r = ee.len();
    let n_rows = r * (k + 1);
    let stats = |i: usize, rows: &[usize]| -> (f64, f64, f64) {
        let m = rows.len() as f64;
        let mu = rows.iter().map(|&t| ee[t][i]).sum::<f64>() / m;
        let mu_star = rows.iter().map(|&t| ee[t][i].abs()).sum::<f64>() / m;
        let sigma = if rows.len() > 1 {
            (rows.iter().map(|&t| (ee[t][i] - mu).powi(2)).sum::<f64>() / (m - 1.0)).sqrt()
        } else {
            f64::NAN
        };
        (mu_star, mu, sigma)
    };
    let samples = if r > 0 { resamples(boot, r) } else { vec![] };
    let all: Vec<usize> = (0..r).collect();
    let mut out = vec![];
    for i in 0..k {
        let (ms, mu, sg) = if r > 0 {
            stats(i, &all)
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        let bs: Vec<(f64, f64, f64)> = samples.iter().map(|s| stats(i, s)).collect();
        for (index, value, pick) in [
            (Index::MuStar, ms, 0usize),
            (Index::Mu, mu, 1),
            (Index::Sigma, sg, 2),
        ] {
            let mut xs: Vec<f64> = bs
                .iter()
                .map(|t| match pick {
                    0 => t.0,
                    1 => t.1,
                    _ => t.2,
                })
                .collect();
            out.push(Estimate {
                index,
                factors: vec![i],
                value: Some(value).filter(|v| v.is_finite()),
                ci: percentile_ci(&mut xs, boot.level),
                n_rows,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitivity::design;

    const BOOT: Bootstrap = Bootstrap {
        resamples: 200,
        level: 0.95,
        seed: 1,
    };

    fn get(es: &[Estimate], idx: Index, f: &[usize]) -> f64 {
        es.iter()
            .find(|e| e.index == idx && e.factors == f)
            .and_then(|e| e.value)
            .unwrap()
    }

    #[test]
    fn sobol_of_an_additive_function_matches_its_variance_shares() {
        // y = x0 + 2 x1 (uniform on [0,1]): V_i proportional to c_i^2, S1 = ST = 1/5, 4/5
        let d = design::saltelli(2, 4000, 11, true);
        let y: Vec<Option<f64>> = d.iter().map(|x| Some(x[0] + 2.0 * x[1])).collect();
        let es = sobol(&y, 2, true, &BOOT);
        for (i, s) in [(0, 0.2), (1, 0.8)] {
            assert!((get(&es, Index::S1, &[i]) - s).abs() < 0.03, "S1 {i}");
            assert!((get(&es, Index::ST, &[i]) - s).abs() < 0.03, "ST {i}");
        }
        assert!(get(&es, Index::S2, &[0, 1]).abs() < 0.05);
        let e = es.iter().find(|e| e.index == Index::S1).unwrap();
        let (lo, hi) = e.ci.unwrap();
        assert!(lo < e.value.unwrap() && e.value.unwrap() < hi);
        assert_eq!(e.n_rows, 4000 * 6);
    }

    #[test]
    fn sobol_skips_base_rows_with_a_missing_value() {
        let d = design::saltelli(2, 100, 2, false);
        let mut y: Vec<Option<f64>> = d.iter().map(|x| Some(x[0] * x[1])).collect();
        y[5] = None; // row 5 is in base row 1
        let es = sobol(&y, 2, false, &BOOT);
        assert!(es.iter().all(|e| e.n_rows == 99 * 4));
    }

    #[test]
    fn morris_of_a_linear_function_is_its_coefficients() {
        let d = design::morris(3, 8, 4, 5);
        let c = [1.5, -2.0, 0.0];
        let y: Vec<Option<f64>> = d
            .iter()
            .map(|x| Some(c.iter().zip(x).map(|(c, x)| c * x).sum()))
            .collect();
        let es = morris(&d, &y, 3, &BOOT);
        for (i, c) in c.iter().enumerate() {
            assert!((get(&es, Index::Mu, &[i]) - c).abs() < 1e-12);
            assert!((get(&es, Index::MuStar, &[i]) - c.abs()).abs() < 1e-12);
            assert!(get(&es, Index::Sigma, &[i]).abs() < 1e-12);
        }
    }

    /// Analytic Ishigami indices (A = 7, B = 0.1): (S1, ST).
    pub(crate) fn ishigami_truth() -> ([f64; 3], [f64; 3]) {
        let (a, b, pi) = (7.0f64, 0.1f64, std::f64::consts::PI);
        let v1 = 0.5 * (1.0 + b * pi.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * pi.powi(8) * (1.0 / 18.0 - 1.0 / 50.0);
        let v = v1 + v2 + v13;
        ([v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v])
    }

    #[test]
    fn sobol_of_ishigami_in_closed_form_is_within_0_02() {
        let pi = std::f64::consts::PI;
        let (s1, st) = ishigami_truth();
        // plain Monte Carlo: 2^16 base rows keep every index within 0.02 (about 4 standard errors)
        let no_ci = Bootstrap {
            resamples: 0,
            ..BOOT
        };
        for seed in 2..=3 {
            let d = design::saltelli(3, 65536, seed, false);
            let y: Vec<Option<f64>> = d
                .iter()
                .map(|u| {
                    let x: Vec<f64> = u.iter().map(|u| -pi + 2.0 * pi * u).collect();
                    Some(x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin())
                })
                .collect();
            let es = sobol(&y, 3, false, &no_ci);
            for i in 0..3 {
                let (a, b) = (get(&es, Index::S1, &[i]), get(&es, Index::ST, &[i]));
                eprintln!(
                    "seed {seed} x{}: S1 {a:.4} (true {:.4})  ST {b:.4} (true {:.4})",
                    i + 1,
                    s1[i],
                    st[i]
                );
                assert!((a - s1[i]).abs() < 0.02 && (b - st[i]).abs() < 0.02);
            }
        }
    }

    #[test]
    fn percentiles_interpolate() {
        let mut xs: Vec<f64> = (0..=100).map(|i| i as f64).collect();
        let (lo, hi) = percentile_ci(&mut xs, 0.9).unwrap();
        assert!((lo - 5.0).abs() < 1e-9 && (hi - 95.0).abs() < 1e-9);
    }
}
