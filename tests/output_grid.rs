//! The output grid: `Trajectory::sample` reads the solution with one forward cursor over its
//! segments and steps and computes the observables in one compiled call per point. Its values
//! must be those of reading every point on its own (`Solution::state_at`, the parameters in
//! force there, `Model::observe_one`), bit for bit: on chains of dopri5 and radau5 pieces
//! (`auto` on Hanson 2016), on solutions cut by doses and fired interventions, on a model with
//! `delay(x, tau)`, and on grids out of order, with repeated times and times past the end.

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::{Method, SolverOptions};
use cartox::trajectory::Trajectory;
use cartox::{Run, RunOptions};

mod common;

/// Every state and observable of `run` at `days`, each point read on its own.
fn pointwise(model: &Model, run: &Run, days: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let sol = &run.solution;
    let (n, no) = (model.n_states(), model.observables.len());
    let (mut states, mut obs) = (Vec::new(), Vec::new());
    let mut y = vec![0.0; n];
    for &d in days {
        sol.state_at(d, &mut y);
        states.extend_from_slice(&y);
        let mut v = model.slots_with_params(sol.params_at(d));
        let t = d * model.time_unit.per_day();
        if model.has_delays() {
            model.fill_delays(&mut v, t, &|s, out| sol.past_state(s, out), &mut Vec::new());
        }
        for i in 0..no {
            obs.push(model.observe_one(&mut v, t, &y, i));
        }
    }
    (states, obs)
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// `sample` on `days` against [`pointwise`], bit for bit.
fn check(label: &str, model: &Model, run: &Run, days: &[f64]) {
    let tr = Trajectory::sample(model, &run.solution, &run.scenario.params, days);
    let (states, obs) = pointwise(model, run, days);
    assert_eq!(tr.states.dim(), (days.len(), model.n_states()), "{label}");
    assert_eq!(
        tr.observables.dim(),
        (days.len(), model.observables.len()),
        "{label}"
    );
    let got_states: Vec<f64> = tr.states.iter().copied().collect();
    let got_obs: Vec<f64> = tr.observables.iter().copied().collect();
    assert!(bits(&got_states) == bits(&states), "{label}: states differ");
    assert!(bits(&got_obs) == bits(&obs), "{label}: observables differ");
}

/// An even grid over [0, end], a reversed copy, and a grid with repeats, step ends and times
/// past the end.
fn grids(run: &Run, end: f64) -> Vec<(&'static str, Vec<f64>)> {
    let even: Vec<f64> = (0..=199).map(|k| k as f64 * end / 199.0).collect();
    let mut reversed = even.clone();
    reversed.reverse();
    let mut odd = vec![
        0.0,
        0.0,
        end * 0.5,
        end * 0.25,
        end * 0.25,
        end,
        end * 2.0,
        end * 0.75,
    ];
    // Every segment start (event times, where the state jumps) and its neighbours.
    let per_day = run.solution.per_day;
    for &start in run.solution.segment_starts() {
        let s = start / per_day;
        odd.extend([s, s - 1e-9, s + 1e-9]);
    }
    vec![("even", even), ("reversed", reversed), ("odd", odd)]
}

#[test]
fn the_output_grid_equals_reading_every_point_on_its_own() {
    let hanson = Model::resolve("hanson2016").unwrap();
    let default = Model::resolve("cartox").unwrap();
    let high_burden = Inputs {
        tumor_burden: Some(1.5e11),
        ..Inputs::default()
    };
    let mut cases: Vec<(String, &Model, Inputs, RunOptions)> = Vec::new();
    for method in [Method::Auto, Method::Radau5, Method::Dopri5, Method::Rodas4] {
        let opts = RunOptions {
            days: 30.0,
            window: 28.0,
            solver: SolverOptions {
                method,
                ..SolverOptions::default()
            },
            ..RunOptions::default()
        };
        cases.push((
            format!("hanson2016 {}", method.as_str()),
            &hanson,
            Inputs::default(),
            opts,
        ));
        cases.push((
            format!("default model, interventions, {}", method.as_str()),
            &default,
            high_burden.clone(),
            RunOptions { days: 28.0, ..opts },
        ));
    }
    for (label, model, inputs, opts) in &cases {
        let run = cartox::run(model, inputs, opts).unwrap();
        if label.starts_with("hanson2016 auto") {
            let st = run.solution.stats;
            assert!(
                st.dopri5_steps > 0 && st.radau5_steps > 0,
                "{label}: {st:?}"
            );
        }
        if label.starts_with("default model") {
            assert!(
                run.solution.segment_starts().len() > 2,
                "{label}: doses and interventions cut the solution"
            );
        }
        for (g, days) in grids(&run, opts.days) {
            check(&format!("{label}, {g} grid"), model, &run, &days);
        }
    }
}

#[test]
fn the_output_grid_of_a_model_with_delays_equals_reading_every_point_on_its_own() {
    let model = common::delay_model();
    assert!(model.has_delays());
    let opts = RunOptions {
        days: 4.0,
        window: 4.0,
        ..RunOptions::default()
    };
    let run = cartox::run(&model, &Inputs::default(), &opts).unwrap();
    for (g, days) in grids(&run, 4.0) {
        check(&format!("dde, {g} grid"), &model, &run, &days);
    }
}
