//! The analytic Jacobian (`Model::jacobian`) against central differences of `Model::rhs`, for
//! every bundled model and every SBML model the importer translates, at seeded random states.

use cartox::model::{Model, BUNDLED};
use cartox::regimen::{Inputs, Scenario};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

/// Relative tolerance of an entry against the central difference (plus an absolute floor
/// scaled by the row, see `compare`).
const RTOL: f64 = 1e-5;

fn reference(rel: &str) -> PathBuf {
    let root = std::env::var("CARTOX_SBML_REFERENCE")
        .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference").into());
    PathBuf::from(root).join(rel)
}

/// Central difference of column j: (f(y + h e_j) - f(y - h e_j)) / 2h.
fn column(m: &Model, v: &mut [f64], t: f64, y: &[f64], j: usize, h: f64) -> Vec<f64> {
    let n = y.len();
    let (mut yp, mut ym) = (y.to_vec(), y.to_vec());
    yp[j] += h;
    ym[j] -= h;
    let (mut fp, mut fm) = (vec![0.0; n], vec![0.0; n]);
    m.rhs(v, t, &yp, &mut fp);
    m.rhs(v, t, &ym, &mut fm);
    fp.iter()
        .zip(&fm)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect()
}

/// Checks the model at `points` random states around `y0`; returns (entries checked, entries
/// skipped because the two step sizes disagree: a kink of max/min/if/abs within the step).
fn compare(name: &str, m: &Model, params: &[f64], y0: &[f64], seed: u64) -> (usize, usize) {
    let n = y0.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v = m.slots_with_params(params);
    let mut jac = vec![0.0; n * n];
    let pattern: std::collections::HashSet<(usize, usize)> =
        m.jacobian_sparsity().iter().copied().collect();
    let (mut checked, mut skipped) = (0, 0);
    for _ in 0..20 {
        let y: Vec<f64> = y0
            .iter()
            .map(|&y| {
                let scale = if y == 0.0 { 1.0 } else { y.abs() };
                scale * rng.random_range(0.05..3.0)
            })
            .collect();
        let t = rng.random_range(0.0..30.0);
        m.jacobian(&mut v, t, &y, &mut jac);
        let mut f = vec![0.0; n];
        m.rhs(&mut v, t, &y, &mut f);
        for j in 0..n {
            let h = 1e-5 * y[j].abs();
            let fd = column(m, &mut v, t, &y, j, h);
            let fd2 = column(m, &mut v, t, &y, j, h / 4.0);
            for i in 0..n {
                let a = jac[i * n + j];
                if !pattern.contains(&(i, j)) {
                    assert_eq!(a, 0.0, "{name}: ({i}, {j}) outside the pattern");
                }
                // Round-off of the difference quotient: |f_i| * eps / h, with margin.
                let floor = 1e-9 * (f[i].abs() + fd[i].abs() * y[j].abs()) / y[j].abs();
                if (fd[i] - fd2[i]).abs() > RTOL * fd[i].abs().max(fd2[i].abs()) + floor {
                    skipped += 1;
                    continue;
                }
                let err = (a - fd[i]).abs();
                assert!(
                    err <= RTOL * a.abs().max(fd[i].abs()) + floor,
                    "{name}: d f_{i} / d y_{j} at t={t}, y={y:?}: analytic {a}, central {}",
                    fd[i]
                );
                checked += 1;
            }
        }
    }
    (checked, skipped)
}

#[test]
fn bundled_models_match_central_differences() {
    for (k, (name, _)) in BUNDLED.iter().enumerate() {
        let m = Model::resolve(name).unwrap();
        let sc = Scenario::prepare(&m, &Inputs::default()).unwrap();
        let y0 = cartox::solve::initial_state(&m, &sc);
        let (checked, skipped) = compare(name, &m, &sc.params, &y0, 0x5EED + k as u64);
        println!(
            "{name}: {} non-zero entries of {}, {checked} checked, {skipped} skipped",
            m.jacobian_sparsity().len(),
            y0.len() * y0.len()
        );
        assert!(
            skipped * 20 <= checked,
            "{name}: {skipped} skipped of {checked}"
        );
        // Every structurally non-zero entry: the pattern is not empty for a dynamic model.
        assert!(!m.jacobian_sparsity().is_empty(), "{name}");
    }
}

#[test]
fn translated_sbml_models_match_central_differences() {
    let mut files = Vec::new();
    for dir in ["biomodels", "sbml-more"] {
        for e in std::fs::read_dir(reference(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut tested = 0;
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let xml = std::fs::read_to_string(&path).unwrap();
        // Models the importer rejects (unsupported SBML) are covered by tests/sbml_import.rs.
        let Ok(text) = cartox::sbml::sbml_to_toml(&xml, &name) else {
            continue;
        };
        let m = Model::from_toml(&text, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Ok(sc) = Scenario::prepare(&m, &Inputs::default()) else {
            continue;
        };
        let y0 = cartox::solve::initial_state(&m, &sc);
        let (checked, skipped) = compare(&name, &m, &sc.params, &y0, 0xC0FFEE + tested);
        println!(
            "{name}: {} non-zero entries of {}, {checked} checked, {skipped} skipped",
            m.jacobian_sparsity().len(),
            y0.len() * y0.len()
        );
        assert!(
            skipped * 20 <= checked,
            "{name}: {skipped} skipped of {checked}"
        );
        tested += 1;
    }
    assert!(tested >= 4, "only {tested} SBML models tested");
}

/// `Model::jacobian_entries` (the structurally non-zero entries alone, for auto's early
/// stiffness check) equals `Model::jacobian` at those positions bit for bit, and the dense
/// matrix is +0 everywhere else: every bundled model, 100 pseudo-random states each (around the
/// initial state, zeros and negatives among them), one value vector shared by both.
#[test]
fn sparse_entries_equal_the_dense_jacobian() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xC0FFEE);
    let mut compared = 0;
    for (name, _) in BUNDLED.iter() {
        let m = Model::resolve(name).unwrap();
        let sc = Scenario::prepare(&m, &Inputs::default()).unwrap();
        let y0 = cartox::solve::initial_state(&m, &sc);
        let n = y0.len();
        let sparsity = m.jacobian_sparsity();
        let mut v = m.slots_with_params(&sc.params);
        let (mut jac, mut vals) = (vec![f64::NAN; n * n], vec![f64::NAN; sparsity.len()]);
        for k in 0..100 {
            let y: Vec<f64> = y0
                .iter()
                .map(|&x| match rng.random_range(0..6) {
                    0 => 0.0,
                    1 => -x.abs() * rng.random_range(0.0..1.0),
                    _ => x * rng.random_range(0.1..10.0) + rng.random_range(0.0..1.0),
                })
                .collect();
            let t = k as f64 * 0.3;
            m.jacobian(&mut v, t, &y, &mut jac);
            m.jacobian_entries(&mut v, t, &y, &mut vals);
            let mut structural = vec![false; n * n];
            for (&(i, j), &a) in sparsity.iter().zip(&vals) {
                let d = jac[i * n + j];
                assert!(
                    a.to_bits() == d.to_bits() || (a.is_nan() && d.is_nan()),
                    "{name}: ({i}, {j}) {a} vs {d}"
                );
                structural[i * n + j] = true;
                compared += 1;
            }
            for (k, &d) in jac.iter().enumerate() {
                if !structural[k] {
                    assert_eq!(d.to_bits(), 0.0f64.to_bits(), "{name}: entry {k}");
                }
            }
        }
    }
    assert!(compared > 1000, "only {compared} entries compared");
}
