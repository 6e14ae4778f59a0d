//! Time-scheduled `[[events]]` in model files: closed forms, t = 0, after the end, together with
//! infusions, and every rejected configuration naming its key.

mod common;

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::Method;
use common::*;

/// x' = -k x, x(0) = 1 (plus `extra`).
fn decay(extra: &str) -> String {
    format!(
        r#"
[model]
name = "decay"
time_unit = "day"

[[parameters]]
name = "k"
value = 0.5
unit = "1/day"

[[parameters]]
name = "t_dose"
value = 2
unit = "day"

[[states]]
name = "x"
unit = "cells"
initial = 1

[[states]]
name = "y"
unit = "cells"
initial = 0

[equations]
x = "-k * x"
y = "0"
{extra}
"#
    )
}

fn x_at(model: &Model, inputs: &Inputs, days: &[f64]) -> Vec<f64> {
    sample(model, inputs, days, tight(Method::Dopri5))
        .column("x")
        .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn bolus_at_t2_gives_the_closed_form() {
    let text = decay(
        r#"
[[events]]
name = "bolus"
time = "t_dose"
set = { x = "x + 3", y = "x" }
"#,
    );
    let m = Model::from_toml(&text, "decay.toml").unwrap();
    assert_eq!(m.events.len(), 1);
    let days: Vec<f64> = (0..=50).map(|i| i as f64 * 0.1).collect();
    let tr = sample(&m, &Inputs::default(), &days, tight(Method::Dopri5));
    let (x, y) = (tr.column("x").unwrap(), tr.column("y").unwrap());
    let k: f64 = 0.5;
    for (i, &t) in days.iter().enumerate() {
        let want = if t < 2.0 - 1e-12 {
            (-k * t).exp()
        } else {
            ((-2.0 * k).exp() + 3.0) * (-k * (t - 2.0)).exp()
        };
        assert!(close(x[i], want), "x({t}) = {}, closed form {want}", x[i]);
        // Every assignment sees the state just before the event (y gets the pre-bolus x).
        let y_want = if t < 2.0 - 1e-12 {
            0.0
        } else {
            (-2.0 * k).exp()
        };
        assert!(close(y[i], y_want), "y({t}) = {}, want {y_want}", y[i]);
    }
    // The event time follows its parameter.
    let mut inputs = Inputs::default();
    inputs
        .params
        .push((m.parameter_index("t_dose").unwrap(), 1.0));
    let x1 = x_at(&m, &inputs, &[0.5, 1.5]);
    assert!(close(x1[0], (-k * 0.5).exp()));
    assert!(close(x1[1], ((-k).exp() + 3.0) * (-k * 0.5).exp()));
}

#[test]
fn event_at_t0_acts_on_the_initial_state_and_after_the_end_is_ignored() {
    let text = decay(
        r#"
[[events]]
time = 0
set = { x = "2 * x + 1" }

[[events]]
time = "100"
set = { x = "1e9" }
"#,
    );
    let m = Model::from_toml(&text, "decay.toml").unwrap();
    let days = [0.0, 1.0, 10.0];
    let x = x_at(&m, &Inputs::default(), &days);
    for (t, got) in days.iter().zip(&x) {
        assert!(close(*got, 3.0 * (-0.5 * t).exp()), "x({t}) = {got}");
    }
}

#[test]
fn events_and_infusions_on_the_same_day() {
    // Infusions into x (1 cell per infused cell); an event on the infusion day doubles x. The
    // infusion is applied first, then the event (documented order).
    let text = decay(
        r#"
[regimen]
dose_state = "x"
dose = 4

[[events]]
time = "2"
set = { x = "2 * x" }
"#,
    );
    let m = Model::from_toml(&text, "decay.toml").unwrap();
    let k: f64 = 0.5;
    let inputs = Inputs {
        schedule: Some(vec![(0.0, 0.5), (2.0, 0.5)]),
        ..Inputs::default()
    };
    let x = x_at(&m, &inputs, &[1.0, 2.0, 3.0]);
    let x2_before = 3.0 * (-2.0 * k).exp(); // 1 + 2 infused at day 0
    let x2 = 2.0 * (x2_before + 2.0);
    assert!(close(x[0], 3.0 * (-k).exp()), "{}", x[0]);
    assert!(close(x[1], x2), "{} vs {x2}", x[1]);
    assert!(close(x[2], x2 * (-k).exp()), "{}", x[2]);
}

#[test]
fn model_events_coexist_with_breakpoints_in_hours() {
    // A model in hours: the event time is in model units (48 h = day 2).
    let text = decay(
        r#"
[[events]]
time = "48"
set = { x = "x + 1" }
"#,
    )
    .replace(
        "time_unit = \"day\"",
        "time_unit = \"hour\"\nbreakpoints = [\"24\"]",
    )
    .replace("value = 0.5", "value = 0.02");
    let m = Model::from_toml(&text, "decay.toml").unwrap();
    // (An event exactly at the end of the simulated span is outside (0, end): sample beyond it.)
    let x = x_at(&m, &Inputs::default(), &[1.9, 2.0, 2.5]);
    let k: f64 = 0.02;
    assert!(close(x[0], (-k * 1.9 * 24.0).exp()));
    assert!(close(x[1], (-k * 48.0).exp() + 1.0));
}

fn error(extra: &str) -> String {
    Model::from_toml(&decay(extra), "decay.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn rejected_events_name_their_key() {
    let cases = [
        (
            "[[events]]\nname = \"dose\"\ntime = \"2\"\nset = { z = \"1\" }",
            "events.dose.set.z: `z` is not a state",
        ),
        (
            "[[events]]\ntime = \"2\"\nset = { x = \"x + nope\" }",
            "events[1].set.x: unknown name `nope`",
        ),
        (
            "[[events]]\nname = \"dose\"\ntime = \"x\"\nset = { x = \"1\" }",
            "events.dose.time: ",
        ),
        (
            "[[events]]\nname = \"dose\"\ntime = \"1 / 0\"\nset = { x = \"1\" }",
            "events.dose.time: must be a finite time >= 0, got inf",
        ),
        (
            "[[events]]\nname = \"dose\"\ntime = \"-k\"\nset = { x = \"1\" }",
            "events.dose.time: must be a finite time >= 0, got -0.5",
        ),
        (
            "[[events]]\nname = \"dose\"\ntime = \"2\"",
            "events.dose.set: the event sets no state",
        ),
        (
            "[[events]]\nname = \"dose\"\ntime = \"2\"\nset = { x = \"1\" }\n[[events]]\nname = \"dose\"\ntime = \"3\"\nset = { x = \"1\" }",
            "events.dose: duplicate event name",
        ),
        (
            "[[events]]\ntime = \"2\"\nset = { x = true }",
            "events[1].set.x: expected a number or an expression string",
        ),
        ("[[events]]\ntime = \"2\"\nadd = { x = \"1\" }", "unknown field `add`"),
        (
            "[[events]]\nset = { x = \"1\" }",
            "events[1]: give exactly one of `time` and `trigger`",
        ),
    ];
    for (extra, want) in cases {
        let e = error(extra);
        assert!(e.starts_with("decay.toml:"), "{e}");
        assert!(e.contains(want), "want `{want}` in: {e}");
    }
    // The position points into the events table (the line of the offending value).
    let e = error("[[events]]\nname = \"dose\"\ntime = \"2\"\nset = { z = \"1\" }");
    let lines = decay("").lines().count();
    assert!(
        e.starts_with(&format!("decay.toml:{}:", lines + 3)),
        "{e} (expected line {})",
        lines + 3
    );
}
