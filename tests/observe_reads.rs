//! `Model::observe_one` writes into the value vector only the time and the states the
//! observable's program reads. Check that this is all it reads: for every bundled model, every
//! observable evaluated on a value vector whose other state slots hold NaN (left by nothing
//! sensible) gives, bit for bit, the value computed after the right-hand side has written every
//! state into the vector, at pseudo-random states (zeros, negatives, large values), in a shuffled
//! order of observables on one shared vector (as the summary's probes and the intervention scans
//! call it).

use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};

/// xorshift64*: a fixed stream of states, no dependency.
fn stream(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn an_observable_reads_only_the_states_it_writes() {
    let mut next = stream(0x9E37_79B9_7F4A_7C15);
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let mut checked = 0;
    for name in Model::bundled_names() {
        let m = Model::resolve(name).unwrap();
        let Ok(sc) = Scenario::prepare(&m, &Inputs::default()) else {
            continue;
        };
        let n = m.n_states();
        let n_obs = m.observables.len();
        // One vector shared by every call, its state slots poisoned once.
        let mut shared = m.slots_with_params(&sc.params);
        shared[1..1 + n].iter_mut().for_each(|x| *x = f64::NAN);
        let mut full = m.slots_with_params(&sc.params);
        let (mut y, mut dy) = (vec![0.0; n], vec![0.0; n]);
        for k in 0..200 {
            for yi in y.iter_mut() {
                let r = next();
                *yi = match r % 5 {
                    0 => 0.0,
                    1 => -((r >> 11) as f64) * 1e-9,
                    _ => ((r >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi((r % 13) as i32 - 3),
                };
            }
            let t = k as f64 * 0.37;
            // Reference: every state written (the right-hand side writes them all).
            m.rhs(&mut full, t, &y, &mut dy);
            let want: Vec<f64> = (0..n_obs)
                .map(|i| m.observe_one(&mut full, t, &y, i))
                .collect();
            // A fresh poisoned vector per point, and the shared one in a shuffled order.
            let mut fresh = m.slots_with_params(&sc.params);
            fresh[1..1 + n].iter_mut().for_each(|x| *x = f64::NAN);
            let mut order: Vec<usize> = (0..n_obs).collect();
            order.rotate_left((next() as usize) % n_obs.max(1));
            if k % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let a = m.observe_one(&mut fresh, t, &y, i);
                let b = m.observe_one(&mut shared, t, &y, i);
                assert!(
                    same(a, want[i]),
                    "{name}: observable {i} {a} vs {}",
                    want[i]
                );
                assert!(
                    same(b, want[i]),
                    "{name}: observable {i} {b} vs {}",
                    want[i]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} observable values compared");
}

/// `Observer::at_written` (time and every state written once, then several observables' programs
/// one after the other, as `Samples::prefetch` runs them) equals `Observer::at` (each observable
/// writing its own time and states) bit for bit: every bundled model, every observable, at 200
/// pseudo-random states and times, on one shared vector, observables in shuffled orders.
#[test]
fn observables_after_one_write_of_all_states_equal_one_at_a_time() {
    let mut next = stream(0xD1B5_4A32_D192_ED03);
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let mut checked = 0;
    for name in Model::bundled_names() {
        let m = Model::resolve(name).unwrap();
        let Ok(sc) = Scenario::prepare(&m, &Inputs::default()) else {
            continue;
        };
        let n = m.n_states();
        let n_obs = m.observables.len();
        let mut shared = m.slots_with_params(&sc.params);
        let mut alone = m.slots_with_params(&sc.params);
        let mut y = vec![0.0; n];
        for k in 0..200 {
            for yi in y.iter_mut() {
                let r = next();
                *yi = match r % 5 {
                    0 => 0.0,
                    1 => -((r >> 11) as f64) * 1e-9,
                    _ => ((r >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi((r % 13) as i32 - 3),
                };
            }
            let t = k as f64 * 0.41;
            let mut order: Vec<usize> = (0..n_obs).collect();
            order.rotate_left((next() as usize) % n_obs.max(1));
            if k % 2 == 1 {
                order.reverse();
            }
            shared[0] = t;
            shared[1..=n].copy_from_slice(&y);
            for i in order {
                let want = m.observer(i).at(&mut alone, t, &y);
                let got = m.observer(i).at_written(&mut shared);
                assert!(same(got, want), "{name}: observable {i} {got} vs {want}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} observable values compared");
}
