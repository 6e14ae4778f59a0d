//! Solver behaviour against analytic solutions and tighter solves.

mod common;

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::{Method, SolverOptions};
use cartox::trajectory::output_grid;
use cartox::RunOptions;
use common::*;
use proptest::prelude::*;

fn model(equation: &str, extra: &str) -> Model {
    let text = format!(
        r#"
[model]
name = "analytic"
time_unit = "day"
{extra}
[[parameters]]
name = "k"
value = 0.3
unit = "1/day"
source = "test"

[[states]]
name = "y"
unit = "1"
initial = 0

[equations]
y = "{equation}"
"#
    );
    Model::from_toml(&text, "analytic.toml").unwrap()
}

/// ode_solvers' evenly spaced output is wrong at t_end (rust-stack.md): dy/dt = 7 t^6 on [0, 1]
/// must give y(1) = 1 exactly at the last grid point.
#[test]
fn end_point_regression() {
    let m = model("7 * t^6", "");
    for dt in [0.1, 0.3, 0.25, 1.0] {
        let opts = RunOptions {
            days: 1.0,
            dt,
            window: 1.0,
            solver: SolverOptions::default(),
            ..RunOptions::default()
        };
        let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
        let tr = run.trajectory(&m, &opts);
        assert_eq!(*tr.time.last().unwrap(), 1.0);
        let y1 = *tr.column("y").unwrap().last().unwrap();
        // Within the solver's tolerance (rtol 1e-6); the ode_solvers bug gave 0.769.
        assert!((y1 - 1.0).abs() < 1e-7, "dt {dt}: y(1) = {y1}");
        for (t, y) in tr.time.iter().zip(tr.column("y").unwrap()) {
            assert!((y - t.powi(7)).abs() < 1e-6, "y({t}) = {y}");
        }
    }
}

#[test]
fn output_grid_lands_on_every_point_including_the_last() {
    assert_eq!(
        output_grid(1.0, 0.3),
        vec![0.0, 0.3, 0.6, 0.8999999999999999, 1.0]
    );
    assert_eq!(output_grid(28.0, 0.1).len(), 281);
    assert_eq!(*output_grid(28.0, 0.1).last().unwrap(), 28.0);
    assert_eq!(output_grid(2.0, 2.0), vec![0.0, 2.0]);
}

#[test]
fn exponential_decay_matches_closed_form() {
    let m = model("-k * y", "");
    let mut inputs = Inputs::default();
    inputs.set(&m, "y_0", "100").unwrap();
    let days: Vec<f64> = (0..=50).map(|i| i as f64).collect();
    // BDF's output (cubic through the nearest step ends) is the least accurate of the three
    // (measured: 7.5e-9 relative at rtol 1e-10); docs/solvers.md says so.
    for (method, tol) in [
        (Method::Dopri5, 1e-8),
        (Method::Radau5, 1e-8),
        (Method::Bdf, 1e-7),
    ] {
        let tr = sample(&m, &inputs, &days, tight(method));
        for (t, y) in days.iter().zip(tr.column("y").unwrap()) {
            let want = 100.0 * (-0.3 * t).exp();
            assert!(
                (y - want).abs() / 100.0 < tol,
                "{method:?}: y({t}) = {y} vs {want}"
            );
        }
    }
}

/// Breakpoints make a discontinuous right-hand side exact: y' = 1 before t = 2, 0 after.
#[test]
fn breakpoints_resolve_discontinuities() {
    let m = model("if(t < 2, 1, 0)", "breakpoints = [\"2\"]");
    let tr = sample(
        &m,
        &Inputs::default(),
        &[1.0, 2.0, 5.0],
        SolverOptions::default(),
    );
    let y = tr.column("y").unwrap();
    assert!(
        (y[0] - 1.0).abs() < 1e-12 && (y[1] - 2.0).abs() < 1e-12 && (y[2] - 2.0).abs() < 1e-12,
        "{y:?}"
    );
}

/// Errors shrink as tolerances tighten (Kimmel 2021, against a 1e-12 solve).
#[test]
fn convergence_as_tolerances_tighten() {
    let m = Model::resolve("kimmel2021").unwrap();
    let days: Vec<f64> = (0..=60).map(|i| i as f64).collect();
    let reference = sample(
        &m,
        &Inputs::default(),
        &days,
        SolverOptions {
            rtol: 1e-12,
            atol: 1e-14,
            ..tight(Method::Dopri5)
        },
    );
    let mut last = f64::INFINITY;
    for rtol in [1e-4, 1e-6, 1e-8, 1e-10] {
        let tr = sample(
            &m,
            &Inputs::default(),
            &days,
            SolverOptions {
                rtol,
                atol: rtol * 1e-3,
                ..tight(Method::Dopri5)
            },
        );
        let err = column_scaled_error(
            &tr.column("CAR_T_cells").unwrap(),
            &reference.column("CAR_T_cells").unwrap(),
        );
        assert!(
            err < last,
            "rtol {rtol}: error {err:e} did not shrink (previous {last:e})"
        );
        assert!(err < 100.0 * rtol, "rtol {rtol}: error {err:e}");
        last = err;
    }
}

#[test]
fn failed_solve_names_model_and_time() {
    // y' = y^2 from y(0) = 1 blows up at t = 1.
    let m = model("y^2", "");
    let mut inputs = Inputs::default();
    inputs.set(&m, "y_0", "1").unwrap();
    let opts = RunOptions {
        days: 2.0,
        dt: 0.1,
        window: 2.0,
        solver: SolverOptions::default(),
        ..RunOptions::default()
    };
    let e = match cartox::run(&m, &inputs, &opts) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the blow-up was not detected"),
    };
    assert!(
        e.starts_with("model `analytic`: solve failed at day 0.99")
            || e.starts_with("model `analytic`: solve failed at day 1.0"),
        "{e}"
    );
}

#[test]
fn split_schedule_adds_doses_at_their_days() {
    // A pure accumulator: y' = 0, doses of 10% and 90% of 1000 cells at days 0 and 2.
    let text = r#"
[model]
name = "accumulator"
time_unit = "hour"
[[states]]
name = "y"
unit = "cells"
initial = 0
[equations]
y = "0"
[regimen]
dose_state = "y"
dose = 1000
"#;
    let m = Model::from_toml(text, "acc.toml").unwrap();
    let mut inputs = Inputs::default();
    inputs.set(&m, "schedule", "0:0.1,2:0.9").unwrap();
    let tr = sample(
        &m,
        &inputs,
        &[0.0, 1.0, 1.99, 2.0, 3.0],
        SolverOptions::default(),
    );
    assert_eq!(
        tr.column("y").unwrap(),
        vec![100.0, 100.0, 100.0, 1000.0, 1000.0]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Cells and tumor never go negative, whatever the (bounded) inputs.
    #[test]
    fn states_stay_non_negative(
        rho in 0.001f64..0.2, r_b in 0.0f64..0.3, c0 in 0.01f64..50.0, b0 in 1.0f64..500.0, n0 in 0.1f64..800.0,
    ) {
        let m = Model::resolve("kimmel2021").unwrap();
        let mut inputs = Inputs::default();
        inputs.set(&m, "rho_C", &rho.to_string()).unwrap();
        inputs.set(&m, "r_B", &r_b.to_string()).unwrap();
        inputs.set(&m, "CAR_T_cells_0", &c0.to_string()).unwrap();
        inputs.set(&m, "Antigen_presenting_tumour_cells_0", &b0.to_string()).unwrap();
        inputs.set(&m, "Normal_T_cells_0", &n0.to_string()).unwrap();
        let opts = RunOptions { days: 90.0, dt: 0.5, window: 28.0, solver: SolverOptions::default(), ..RunOptions::default() };
        let run = cartox::run(&m, &inputs, &opts).unwrap();
        let tr = run.trajectory(&m, &opts);
        // Non-negative up to ten times the absolute tolerance (1e-9): an explicit method is not
        // positivity-preserving, so a state decaying to zero may end a hair below it, never more.
        for x in tr.states.iter() {
            prop_assert!(*x >= -1e-8, "negative state {}", x);
        }
    }

    /// The default model: every state stays non-negative over 90 days for any dose, tumor
    /// burden, lymphodepletion and expansion rate within bounds.
    #[test]
    fn default_model_states_stay_non_negative(
        dose in 1e6f64..2e9, burden in 1e8f64..1e12, ld in 0usize..3, rho in 0.1f64..1.0,
    ) {
        let m = Model::default_model();
        let mut inputs = Inputs::default();
        inputs.set(&m, "dose", &dose.to_string()).unwrap();
        inputs.set(&m, "tumor_burden", &burden.to_string()).unwrap();
        inputs.set(&m, "ld", &m.lymphodepletion[ld % m.lymphodepletion.len()].name.clone()).unwrap();
        inputs.set(&m, "rho_E", &rho.to_string()).unwrap();
        let opts = RunOptions { days: 90.0, dt: 0.5, window: 28.0, solver: SolverOptions::default(), ..RunOptions::default() };
        let run = cartox::run(&m, &inputs, &opts).unwrap();
        let tr = run.trajectory(&m, &opts);
        // Within the solver's absolute tolerance (atol 1e-9) of zero: drug concentrations decay
        // to ~0 over 90 days, where the error control is absolute.
        for x in tr.states.iter().chain(tr.observables.iter()) {
            prop_assert!(*x >= -1e-8, "negative value {}", x);
        }
    }
}
