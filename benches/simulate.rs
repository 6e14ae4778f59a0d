//! Criterion benches: one right-hand-side evaluation of the default model (the compiled
//! expression programs, as machine code with the default `jit` feature and interpreted), single-solve latency (kimmel2021 and, when bundled, the default model
//! `cartox`), the same kimmel2021 equations hand-written in Rust on ode_solvers (the model-file
//! evaluator's overhead), and sweep throughput (rows/s on one core, 1000 rows).
//!
//! `cargo bench --bench simulate -j 1`; the SciPy peer is `benches/peers/scipy_sweep.py`, and
//! `benches/peers/hanson.sh` runs Hanson 2016 against mrgsolve, deSolve, libRoadRunner and SciPy.

use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::run::RunOptions;
use cartox::sweep::{self, Columns, Row, Spec};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// The allocator of the `cartox` binary (src/main.rs), so the benches measure what the tool does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn models() -> Vec<Model> {
    let mut m = vec![Model::resolve("kimmel2021").expect("kimmel2021 is bundled")];
    if let Ok(d) = Model::resolve(cartox::model::DEFAULT_MODEL) {
        m.push(d);
    }
    m
}

fn single_solve(c: &mut Criterion) {
    let opts = RunOptions::default();
    let mut g = c.benchmark_group("solve_28d");
    for model in models() {
        let inputs = Inputs::default();
        g.bench_function(format!("{}/run", model.name), |b| {
            b.iter(|| cartox::run(black_box(&model), black_box(&inputs), &opts).unwrap())
        });
        let sc = Scenario::prepare(&model, &inputs).unwrap();
        g.bench_function(format!("{}/solve_only", model.name), |b| {
            b.iter(|| {
                cartox::solve::solve(black_box(&model), black_box(&sc), 28.0, &opts.solver, None)
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// One evaluation of each model's right-hand side at its initial state (day 1).
fn rhs_eval(c: &mut Criterion) {
    let mut g = c.benchmark_group("rhs");
    let mut all = Vec::new();
    for model in models() {
        let mut interpreted = model.clone();
        interpreted.set_native(false).unwrap();
        interpreted.name = format!("{}_interpreted", model.name);
        all.extend([model, interpreted]);
    }
    for model in all {
        let sc = Scenario::prepare(&model, &Inputs::default()).unwrap();
        let mut v = model.slots_with_params(&sc.params);
        let y = cartox::solve::initial_state(&model, &sc);
        let mut dy = vec![0.0; y.len()];
        g.bench_function(model.name.clone(), |b| {
            b.iter(|| {
                model.rhs(&mut v, black_box(1.0), black_box(&y), &mut dy);
                black_box(dy[0])
            })
        });
    }
    g.finish();
}

#[path = "common/kimmel_direct.rs"]
mod kimmel_direct;
use kimmel_direct::direct_kimmel;

fn evaluator_overhead(c: &mut Criterion) {
    let model = Model::resolve("kimmel2021").unwrap();
    let sc = Scenario::prepare(&model, &Inputs::default()).unwrap();
    let opts = RunOptions::default();
    // Same answer from both (sanity check, outside the timing).
    let dense = direct_kimmel(28.0);
    let sol = cartox::solve::solve(&model, &sc, 28.0, &opts.solver, None).unwrap();
    let mut y = vec![0.0; 3];
    sol.state_at(28.0, &mut y);
    let d = dense.evaluate(28.0 - 1e-12).unwrap();
    assert!(
        (d[1] - y[1]).abs() <= 1e-6 * y[1].abs().max(1e-9),
        "{d:?} vs {y:?}"
    );

    // The model file interpreted, and compiled to machine code (feature `jit`, default build).
    let mut interpreted = model.clone();
    interpreted.set_native(false).unwrap();
    let mut g = c.benchmark_group("kimmel2021_evaluator");
    g.bench_function("model_file", |b| {
        b.iter(|| cartox::solve::solve(&model, black_box(&sc), 28.0, &opts.solver, None).unwrap())
    });
    g.bench_function("model_file_interpreted", |b| {
        b.iter(|| {
            cartox::solve::solve(&interpreted, black_box(&sc), 28.0, &opts.solver, None).unwrap()
        })
    });
    g.bench_function("hand_written_rust", |b| {
        b.iter(|| direct_kimmel(black_box(28.0)))
    });
    g.finish();
}

/// 1000 kimmel2021 rows (or default-model rows) through the sweep engine on one thread.
fn sweep_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("sweep_1000_rows_1_thread");
    g.sample_size(10);
    for model in models() {
        let (header, rows) = if model.name == "kimmel2021" {
            let rows: Vec<Row> = (0..1000)
                .map(|i| Row {
                    index: i,
                    cells: vec![
                        format!("{}", 0.0251 * (0.5 + (i % 17) as f64 / 17.0)),
                        format!("{}", 0.01 * (1.0 + (i % 5) as f64)),
                    ],
                })
                .collect();
            (vec!["rho_C".to_string(), "r_B".to_string()], rows)
        } else {
            let d = sweep::population::Design::from_model(&model, 0.2).unwrap();
            let names = d.names(&model);
            let rows: Vec<Row> = (0..1000)
                .map(|i| Row {
                    index: i,
                    cells: d
                        .patient(&model, 1, i as u64)
                        .iter()
                        .map(|x| format!("{x}"))
                        .collect(),
                })
                .collect();
            (names, rows)
        };
        let cols = Columns::resolve(&model, &header, false).unwrap();
        let opts = RunOptions::default();
        let names = sweep::metric_names(&model);
        let spec = Spec {
            model: &model,
            base: Inputs::default(),
            opts,
            jobs: 1,
            chunk: sweep::CHUNK_ROWS,
            shard: None,
            input_hash: None,
            keep_runs: false,
        };
        g.throughput(Throughput::Elements(rows.len() as u64));
        g.bench_function(model.name.clone(), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                let r = sweep::run_rows(
                    &spec,
                    &cols,
                    &names,
                    rows.iter().cloned().map(Ok),
                    &mut sink,
                    None,
                    &mut |_, _| {},
                    &|_| {},
                )
                .unwrap();
                assert_eq!(r.failed, 0);
                r
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotters backend needs system fonts that minimal machines lack.
    config = Criterion::default().without_plots();
    targets = rhs_eval, single_solve, evaluator_overhead, sweep_throughput
}
criterion_main!(benches);
