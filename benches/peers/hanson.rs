//! cartox's side of the Hanson 2016 peer benchmark (driven by `benches/peers/hanson.sh`, which
//! runs mrgsolve, deSolve, libRoadRunner and SciPy on the same workload in the same run).
//!
//! The workload of `../shared/reference/peers/`: the bundled `hanson2016` (BIOMD0000000837), the
//! perturbed parameter sets written by `hanson_desolve_export.py` (`sets.csv`, seed 12345),
//! 0-720 h with 200 output points, rtol 1e-6, atol 1e-9. Each simulation is what a peer's
//! simulation is: set the parameters, solve, read every state (and the model's observables) at
//! the 200 output times. The loop over all sets runs `--reps` times per method; the JSON line
//! gives the median and every repeat. Accuracy: the final tumour B of every set against
//! libRoadRunner at rtol 1e-12 (`ref_finalB.csv`), and the whole 200-point trajectories of the
//! first 200 sets against cartox's own radau5 at rtol 1e-12, atol 1e-14 (column-scaled).
//!
//! `cargo bench --bench hanson_peers -- DIR [--reps 5] [--methods auto,dopri5,radau5] [--tight 200]
//! [--rtol 1e-6]` (`--rtol`: the tolerance of the timed methods, atol = rtol / 1000, for a
//! work-precision point; the peers' workload is 1e-6)

use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::solve::{self, Method, SolverOptions};
use cartox::trajectory::Trajectory;
use std::hint::black_box;
use std::time::Instant;

/// The allocator of the `cartox` binary (src/main.rs), so the bench measures what the tool does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DAYS: f64 = 30.0; // 720 h
const NPTS: usize = 200;

fn read_csv(path: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse().expect("a number"))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The 200 output times, days: k * 30 / 199, the last exactly 30 (720 h).
fn grid() -> Vec<f64> {
    let mut g: Vec<f64> = (0..NPTS - 1)
        .map(|k| k as f64 * DAYS / (NPTS - 1) as f64)
        .collect();
    g.push(DAYS);
    g
}

/// One simulation: parameters set, solved, every state and observable read on the grid.
fn simulate(model: &Model, sc: &Scenario, opts: &SolverOptions, grid: &[f64]) -> (Trajectory, u64) {
    let sol = solve::solve(model, sc, DAYS, opts, None).expect("solve");
    let traj = Trajectory::sample(model, &sol, &sc.params, grid);
    (traj, sol.stats.accepted_steps)
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n % 2 == 1 {
        x[n / 2]
    } else {
        0.5 * (x[n / 2 - 1] + x[n / 2])
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut dir = None;
    let mut reps = 5usize;
    let mut methods = "auto,dopri5,radau5".to_string();
    let mut tight_sets = 200usize;
    let mut rtol = 1e-6;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => reps = it.next().expect("--reps N").parse().expect("--reps N"),
            "--methods" => methods = it.next().expect("--methods LIST").clone(),
            // Sets checked against the rtol 1e-12 radau5 reference (0: none, for profiling).
            "--tight" => tight_sets = it.next().expect("--tight N").parse().expect("--tight N"),
            "--rtol" => rtol = it.next().expect("--rtol X").parse().expect("--rtol X"),
            d => dir = Some(d.to_string()),
        }
    }
    let dir = dir.expect("usage: hanson_peers DIR (with sets.csv, ref_finalB.csv)");
    let model = Model::resolve("hanson2016").expect("hanson2016 is bundled");
    let (names, sets) = read_csv(&format!("{dir}/sets.csv"));
    let reference: Option<Vec<f64>> = std::fs::metadata(format!("{dir}/ref_finalB.csv"))
        .is_ok()
        .then(|| {
            read_csv(&format!("{dir}/ref_finalB.csv"))
                .1
                .into_iter()
                .map(|r| r[0])
                .collect()
        });
    // Scenarios are prepared outside the timed loop, as the peers build their parameter tables
    // (mrgsolve's idata, deSolve's matrix) before timing; Inputs -> Scenario is timed separately.
    let inputs: Vec<Inputs> = sets
        .iter()
        .map(|row| {
            let mut b = Inputs::builder(&model);
            for (n, &v) in names.iter().zip(row) {
                b = b.param(n, v).expect("a parameter of hanson2016");
            }
            b.build()
        })
        .collect();
    let t0 = Instant::now();
    let scenarios: Vec<Scenario> = inputs
        .iter()
        .map(|i| Scenario::prepare(&model, i).expect("scenario"))
        .collect();
    let prepare_s = t0.elapsed().as_secs_f64();
    let grid = grid();
    let b = model.state_index("B").expect("state B");

    // cartox's own reference: radau5 at rtol 1e-12, atol 1e-14, first 200 sets.
    let tight = SolverOptions {
        method: Method::Radau5,
        rtol: 1e-12,
        atol: 1e-14,
        ..SolverOptions::default()
    };
    let n_tight = scenarios.len().min(tight_sets);
    let tight_traj: Vec<Trajectory> = scenarios[..n_tight]
        .iter()
        .map(|sc| simulate(&model, sc, &tight, &grid).0)
        .collect();

    for m in methods.split(',') {
        let method = Method::parse(m).unwrap_or_else(|| panic!("unknown method {m}"));
        let opts = SolverOptions {
            method,
            rtol,
            atol: rtol * 1e-3,
            ..SolverOptions::default()
        };
        // Untimed pass: accuracy and steps.
        let mut steps = 0u64;
        let mut final_b = Vec::with_capacity(scenarios.len());
        let mut worst_traj = 0.0f64;
        for (k, sc) in scenarios.iter().enumerate() {
            let (tr, s) = simulate(&model, sc, &opts, &grid);
            steps += s;
            final_b.push(tr.states[[NPTS - 1, b]]);
            if let Some(rt) = tight_traj.get(k) {
                for j in 0..model.n_states() {
                    let col = rt.states.column(j);
                    let scale = col.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                    if scale == 0.0 {
                        continue;
                    }
                    for (x, r) in tr.states.column(j).iter().zip(col) {
                        worst_traj = worst_traj.max((x - r).abs() / scale);
                    }
                }
            }
        }
        let err_rr = reference.as_ref().map(|r| {
            assert_eq!(r.len(), final_b.len(), "ref_finalB.csv has one row per set");
            final_b
                .iter()
                .zip(r)
                .map(|(x, r)| (x - r).abs() / r.abs().max(1e-12))
                .fold(0.0f64, f64::max)
        });
        simulate(&model, &scenarios[0], &opts, &grid); // warm-up
        let mut secs = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t0 = Instant::now();
            let mut checksum = 0.0;
            for sc in &scenarios {
                let (tr, _) = simulate(&model, black_box(sc), &opts, &grid);
                checksum += tr.states[[NPTS - 1, b]];
            }
            secs.push(t0.elapsed().as_secs_f64());
            black_box(checksum);
        }
        let med = median(secs.clone());
        let all: Vec<String> = secs.iter().map(|s| format!("{s:.4}")).collect();
        println!(
            "{{\"peer\": \"cartox {}\", \"method\": \"{m}\", \"rtol\": {rtol:e}, \"n\": {}, \"output_points\": {NPTS}, \
             \"seconds\": {med:.4}, \"sims_per_s\": {:.1}, \"seconds_all\": [{}], \"mean_steps\": {:.1}, \
             \"max_rel_err_final_B_vs_roadrunner\": {}, \"max_colscaled_err_vs_radau5_rtol1e-12_first{n_tight}\": {:.3e}, \
             \"prepare_scenarios_seconds\": {prepare_s:.4}}}",
            env!("CARGO_PKG_VERSION"),
            scenarios.len(),
            scenarios.len() as f64 / med,
            all.join(", "),
            steps as f64 / scenarios.len() as f64,
            err_rr.map_or("null".to_string(), |e| format!("{e:.3e}")),
            worst_traj,
        );
    }
}
