//! Value vectors handed back to the model (`Model::recycle_slots`) and reused by the next solver
//! span or probe (`Model::pooled_slots`) must change no result: a run on a model whose pool holds
//! vectors left by other runs (other parameters, doses, fired interventions, other methods) gives
//! the same metrics, states and observables, bit for bit, as the same run on a fresh copy of the
//! model, on the default model and on a model with `delay(x, tau)`.

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::{Metric, Run, RunOptions};
use cartox::solve::{Method, SolverOptions};
use cartox::trajectory::Trajectory;

mod common;

/// Every metric (numbers as bits) and the states and observables on a 200-point grid.
fn fingerprint(model: &Model, run: &Run, days: f64) -> Vec<String> {
    let mut out: Vec<String> = run
        .metrics()
        .into_iter()
        .map(|(name, m)| match m {
            Metric::Number(Some(x)) => format!("{name}={:x}", x.to_bits()),
            other => format!("{name}={other:?}"),
        })
        .collect();
    let grid: Vec<f64> = (0..200).map(|k| k as f64 * days / 199.0).collect();
    let tr = Trajectory::sample(model, &run.solution, &run.scenario.params, &grid);
    out.extend(tr.states.iter().map(|x| format!("{:x}", x.to_bits())));
    out.extend(tr.observables.iter().map(|x| format!("{:x}", x.to_bits())));
    out
}

fn opts(method: Method, days: f64) -> RunOptions {
    RunOptions {
        days,
        window: days.min(28.0),
        solver: SolverOptions {
            method,
            ..SolverOptions::default()
        },
        ..RunOptions::default()
    }
}

#[test]
fn reused_value_vectors_change_no_result_of_the_default_model() {
    let model = Model::bundled("cartox").unwrap().unwrap();
    let target = Inputs {
        tumor_burden: Some(1.5e11),
        ..Inputs::default()
    };
    let o = opts(Method::Auto, 28.0);
    let fresh = model.clone();
    let reference = cartox::run(&fresh, &target, &o).unwrap();
    assert!(
        reference.solution.segment_starts().len() > 2,
        "doses and interventions cut the solution into segments"
    );
    let expected = fingerprint(&fresh, &reference, 28.0);
    // Fill the pool with vectors of other runs: other burdens, doses and parameters (ones that
    // the parameter-only program reads: `EA50^n_EA` is computed once per segment), other methods.
    let p = |name: &str| model.parameter_index(name).unwrap();
    for (burden, dose, params, method) in [
        (2e9, 5e7, vec![(p("n_EA"), 3.0)], Method::Dopri5),
        (
            8e11,
            4e8,
            vec![(p("EA50"), 2.5), (p("rho_E"), 0.6)],
            Method::Auto,
        ),
        (5e10, 1e8, vec![(p("n_EA"), 2.5)], Method::Radau5),
    ] {
        let other = Inputs {
            tumor_burden: Some(burden),
            dose: Some(dose),
            params,
            ..Inputs::default()
        };
        let run = cartox::run(&model, &other, &opts(method, 40.0)).unwrap();
        assert_ne!(
            fingerprint(&model, &run, 28.0),
            expected,
            "the other runs differ from the target run"
        );
    }
    let again = cartox::run(&model, &target, &o).unwrap();
    assert!(
        fingerprint(&model, &again, 28.0) == expected,
        "a run on reused value vectors differs from the run on a fresh model"
    );
}

#[test]
fn reused_value_vectors_change_no_result_of_a_model_with_delays() {
    let model = common::delay_model();
    let o = opts(Method::Auto, 4.0);
    let fresh = model.clone();
    let expected = fingerprint(
        &fresh,
        &cartox::run(&fresh, &Inputs::default(), &o).unwrap(),
        4.0,
    );
    let other = Inputs {
        params: vec![(model.parameter_index("tau").unwrap(), 0.3)],
        ..Inputs::default()
    };
    cartox::run(&model, &other, &opts(Method::Dopri5, 6.0)).unwrap();
    let again = cartox::run(&model, &Inputs::default(), &o).unwrap();
    assert!(fingerprint(&model, &again, 4.0) == expected);
}
