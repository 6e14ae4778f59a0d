//! Sample designs in the unit cube `[0, 1]^k` (map to inputs with [`super::Factor::value`]).
//!
//! Row `j` of a design draws from ChaCha8 stream `j` of the seed, so a design is the same
//! whatever the thread count and growing `n` only appends rows.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn stream(seed: u64, j: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(j);
    rng
}

/// Points per base row of a Saltelli design: `A, AB_1..AB_k, [BA_1..BA_k,] B`.
pub fn saltelli_block(k: usize, second_order: bool) -> usize {
    if second_order {
        2 * k + 2
    } else {
        k + 2
    }
}

/// Saltelli's design for `k` factors and `n` base rows, in SALib's row order: for every base
/// row `j`, `A_j`, then `AB_j^i` (`A_j` with column `i` from `B_j`) for each `i`, then (second
/// order) `BA_j^i` (`B_j` with column `i` from `A_j`), then `B_j`. `A_j` and `B_j` are `2k`
/// independent uniforms (plain Monte Carlo) from stream `j`.
pub fn saltelli(k: usize, n: usize, seed: u64, second_order: bool) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(n * saltelli_block(k, second_order));
    for j in 0..n {
        let mut rng = stream(seed, j as u64);
        let a: Vec<f64> = (0..k).map(|_| rng.random::<f64>()).collect();
        let b: Vec<f64> = (0..k).map(|_| rng.random::<f64>()).collect();
        out.push(a.clone());
        for i in 0..k {
            let mut ab = a.clone();
            ab[i] = b[i];
            out.push(ab);
        }
        if second_order {
            for i in 0..k {
                let mut ba = b.clone();
                ba[i] = a[i];
                out.push(ba);
            }
        }
        out.push(b);
    }
    out
}

/// The Morris step for `levels` grid levels: `levels / (2 (levels - 1))`.
pub fn morris_delta(levels: usize) -> f64 {
    levels as f64 / (2.0 * (levels as f64 - 1.0))
}

/// `r` Morris trajectories of `k + 1` points each (Morris 1991): a random base point on the
/// `levels`-level grid `{0, 1/(levels-1), ..., 1}`, then the factors in a random order, each moved
/// once by `+-delta` (up from the lower half of the grid, down from the upper half, so every point
/// stays on the grid). `levels` must be even and at least 2.
pub fn morris(k: usize, r: usize, levels: usize, seed: u64) -> Vec<Vec<f64>> {
    let delta = morris_delta(levels);
    let step = 1.0 / (levels as f64 - 1.0);
    let mut out = Vec::with_capacity(r * (k + 1));
    for t in 0..r {
        let mut rng = stream(seed, t as u64);
        let mut x: Vec<f64> = (0..k)
            .map(|_| rng.random_range(0..levels) as f64 * step)
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.shuffle(&mut rng);
        out.push(x.clone());
        for &i in &order {
            if x[i] + delta <= 1.0 + 1e-12 {
                x[i] = (x[i] + delta).min(1.0);
            } else {
                x[i] = (x[i] - delta).max(0.0);
            }
            out.push(x.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saltelli_rows_follow_salib_order() {
        let d = saltelli(3, 4, 7, true);
        assert_eq!(d.len(), 4 * 8);
        for blk in d.chunks(8) {
            let (a, b) = (&blk[0], &blk[7]);
            for i in 0..3 {
                for c in 0..3 {
                    assert_eq!(blk[1 + i][c], if c == i { b[c] } else { a[c] });
                    assert_eq!(blk[4 + i][c], if c == i { a[c] } else { b[c] });
                }
            }
        }
        // a longer design starts with the shorter one
        assert_eq!(&saltelli(3, 6, 7, true)[..32], &d[..]);
    }

    #[test]
    fn morris_moves_one_factor_by_delta_on_the_grid() {
        let (k, levels) = (5, 4);
        let delta = morris_delta(levels);
        let d = morris(k, 10, levels, 3);
        for traj in d.chunks(k + 1) {
            let mut moved = vec![0; k];
            for w in traj.windows(2) {
                let diff: Vec<usize> = (0..k).filter(|&i| w[0][i] != w[1][i]).collect();
                assert_eq!(diff.len(), 1);
                assert!(((w[1][diff[0]] - w[0][diff[0]]).abs() - delta).abs() < 1e-12);
                moved[diff[0]] += 1;
            }
            assert!(moved.iter().all(|&m| m == 1));
            for x in traj.iter().flatten() {
                let g = x * (levels - 1) as f64;
                assert!((0.0..=1.0).contains(x) && (g - g.round()).abs() < 1e-9);
            }
        }
    }
}
