//! State-triggered `[[events]]` (`trigger = "..."`): located crossings against closed forms with
//! every method, delays, `values_at_trigger`, persistence, priorities, cascades, `initial_value`,
//! parameter assignments, the rejected configurations, the command line end to end and an SBML
//! event through the importer.

mod common;

use assert_cmd::Command;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::Method;
use common::*;

const K: f64 = 0.5;

/// x' = -k x, x(0) = 1; y, z constant unless an event sets them (plus `extra`).
fn decay(extra: &str) -> String {
    format!(
        r#"
[model]
name = "decay"
time_unit = "day"

[[parameters]]
name = "k"
value = {K}
unit = "1/day"

[[states]]
name = "x"
unit = "1"
initial = 1

[[states]]
name = "y"
unit = "1"
initial = 0

[[states]]
name = "z"
unit = "1"
initial = 0

[equations]
x = "-k * x"
y = "0"
z = "0"
{extra}
"#
    )
}

fn model(extra: &str) -> Model {
    Model::from_toml(&decay(extra), "decay.toml").unwrap()
}

fn columns(m: &Model, days: &[f64], method: Method) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let tr = sample(m, &Inputs::default(), days, tight(method));
    let c = |n: &str| tr.column(n).unwrap();
    (c("x"), c("y"), c("z"))
}

/// Times on a grid and just either side of each `at`.
fn grid_around(end: f64, at: &[f64]) -> Vec<f64> {
    let mut days: Vec<f64> = (0..=200).map(|i| i as f64 * end / 200.0).collect();
    for &a in at {
        days.extend([a - 1e-7, a + 1e-7]);
    }
    days.sort_by(f64::total_cmp);
    days
}

/// Reset to 1 whenever x falls below 1/4: x(t) = exp(-k (t mod T)), T = ln 4 / k; y counts the
/// resets. The located event times are checked to ~1e-7 by sampling 1e-7 either side of them.
#[test]
fn reset_below_a_threshold_matches_the_closed_form_with_every_method() {
    let m = model(
        r#"
[[events]]
name = "reset"
trigger = "x < 0.25"
set = { x = "1", y = "y + 1" }
"#,
    );
    assert_eq!((m.events.len(), m.state_events.len()), (0, 1));
    let period = 4f64.ln() / K;
    let at: Vec<f64> = (1..=3).map(|n| n as f64 * period).collect();
    let days = grid_around(10.0, &at);
    for (method, tol) in [
        (Method::Dopri5, 1e-8),
        (Method::Radau5, 1e-8),
        (Method::Auto, 1e-8),
        (Method::Bdf, 1e-5),
    ] {
        let (x, y, _) = columns(&m, &days, method);
        for (i, &t) in days.iter().enumerate() {
            let n = (t / period).floor();
            let want = (-K * (t - n * period)).exp();
            assert!(
                (x[i] - want).abs() <= tol,
                "{method:?}: x({t}) = {}, closed form {want}",
                x[i]
            );
            assert!(
                (y[i] - n).abs() < 1e-9,
                "{method:?}: {} resets by t = {t}",
                y[i]
            );
        }
    }
}

/// A delay of 1: the assignment sees x when the trigger fired (`values_at_trigger`, the default)
/// or when the event executes (`values_at_trigger = false`).
#[test]
fn delayed_events_use_the_values_of_their_trigger_or_execution_time() {
    let m = model(
        r#"
[[events]]
name = "at_trigger"
trigger = "x < 0.5"
delay = 1
set = { y = "x" }

[[events]]
name = "at_execution"
trigger = "x < 0.5"
delay = "2 * k"
values_at_trigger = false
set = { z = "x" }
"#,
    );
    let fired = 2f64.ln() / K;
    let executed = fired + 1.0;
    let days = grid_around(5.0, &[fired, executed]);
    let (x, y, z) = columns(&m, &days, Method::Dopri5);
    for (i, &t) in days.iter().enumerate() {
        assert!(
            (x[i] - (-K * t).exp()).abs() < 1e-9,
            "the events do not set x"
        );
        let (want_y, want_z) = if t < executed {
            (0.0, 0.0)
        } else {
            (0.5, 0.5 * (-K).exp())
        };
        assert!((y[i] - want_y).abs() < 1e-8, "y({t}) = {}", y[i]);
        assert!((z[i] - want_z).abs() < 1e-8, "z({t}) = {}", z[i]);
    }
}

/// The trigger is true on (ln 2 / k, ln(10/3) / k), about 1.02 days, shorter than the delay of 2:
/// a persistent event executes 2 days after it fired, a non-persistent one is cancelled.
#[test]
fn a_non_persistent_event_is_cancelled_when_its_trigger_turns_false_first() {
    let window = r#"trigger = "x < 0.5 && x > 0.3"
delay = 2"#;
    let m = model(&format!(
        "[[events]]\nname = \"kept\"\n{window}\nset = {{ y = \"1\" }}\n\n\
         [[events]]\nname = \"cancelled\"\n{window}\npersistent = false\nset = {{ z = \"1\" }}\n"
    ));
    let executed = 2f64.ln() / K + 2.0;
    let days = grid_around(6.0, &[executed]);
    let (_, y, z) = columns(&m, &days, Method::Auto);
    for (i, &t) in days.iter().enumerate() {
        assert_eq!(y[i], if t < executed { 0.0 } else { 1.0 }, "y({t})");
        assert_eq!(z[i], 0.0, "z({t}): the non-persistent event executed");
    }
    // With a delay shorter than the window both execute.
    let short = model(&format!(
        "[[events]]\nname = \"cancelled\"\n{}\npersistent = false\nset = {{ z = \"1\" }}\n",
        window.replace("delay = 2", "delay = 0.5")
    ));
    let (_, _, z) = columns(&short, &[0.0, 6.0], Method::Auto);
    assert_eq!(z, vec![0.0, 1.0]);
}

/// Two events fire together; the higher priority executes first and the other sees its result
/// (new values computed at execution).
#[test]
fn simultaneous_events_execute_by_priority() {
    let pair = |pa: f64, pb: f64| {
        model(&format!(
            r#"
[[events]]
name = "a"
trigger = "x < 0.5"
priority = {pa}
values_at_trigger = false
set = {{ y = "1" }}

[[events]]
name = "b"
trigger = "x < 0.5"
priority = "{pb} * k / k"
values_at_trigger = false
set = {{ y = "10 * y + 2" }}
"#
        ))
    };
    let (_, y, _) = columns(&pair(2.0, 1.0), &[0.0, 3.0], Method::Dopri5);
    assert_eq!(y, vec![0.0, 12.0], "a then b");
    let (_, y, _) = columns(&pair(1.0, 2.0), &[0.0, 3.0], Method::Dopri5);
    assert_eq!(y, vec![0.0, 1.0], "b then a");
}

/// An event set off by another's assignment fires at the same time; `initial_value = false`
/// fires a trigger that is true at t = 0.
#[test]
fn cascades_and_initial_values() {
    let m = model(
        r#"
[[events]]
name = "first"
trigger = "x < 0.5"
set = { y = "1" }

[[events]]
name = "second"
trigger = "y > 0.5"
set = { z = "z + 2" }

[[events]]
name = "at_start"
trigger = "x > 0.9"
initial_value = false
set = { z = "z + 100" }

[[events]]
name = "never"
trigger = "x > 0.9"
set = { z = "z + 1000" }
"#,
    );
    let fired = 2f64.ln() / K;
    let days = grid_around(4.0, &[fired]);
    let (_, y, z) = columns(&m, &days, Method::Radau5);
    for (i, &t) in days.iter().enumerate() {
        let after = t > fired;
        assert_eq!(y[i], if after { 1.0 } else { 0.0 }, "y({t})");
        assert_eq!(z[i], if after { 102.0 } else { 100.0 }, "z({t})");
    }
}

/// An event may set a parameter: k = 0 stops the decay at x = 1/2.
#[test]
fn an_event_sets_a_parameter() {
    let m = model(
        r#"
[[events]]
name = "stop"
trigger = "x <= 0.5"
set = { k = 0 }
"#,
    );
    let (x, _, _) = columns(&m, &[0.0, 1.0, 3.0, 8.0], Method::Auto);
    assert!((x[1] - (-K).exp()).abs() < 1e-9);
    for v in &x[2..] {
        assert!((v - 0.5).abs() < 1e-8, "x = {v} after the decay stopped");
    }
}

#[test]
fn rejected_triggered_events_name_their_key() {
    let cases = [
        (
            "[[events]]\nname = \"e\"\ntime = 1\ntrigger = \"x < 1\"\nset = { x = \"1\" }",
            "events.e: give exactly one of `time` and `trigger`",
        ),
        (
            "[[events]]\nname = \"e\"\ntime = 1\ndelay = 1\nset = { x = \"1\" }",
            "events.e.delay: only an event with a `trigger` takes it",
        ),
        (
            "[[events]]\nname = \"e\"\ntrigger = \"x < 1\"\nset = { q = \"1\" }",
            "events.e.set.q: `q` is not a state or a parameter",
        ),
        (
            "[[events]]\nname = \"e\"\ntrigger = \"x < nope\"\nset = { x = \"1\" }",
            "events.e.trigger: unknown name `nope`",
        ),
        (
            "[[events]]\nname = \"e\"\ntrigger = \"x < 1\"\npriority = \"x +\"\nset = { x = \"1\" }",
            "events.e.priority: ",
        ),
        (
            "[[events]]\nname = \"e\"\ntrigger = \"x < 1\"",
            "events.e.set: the event sets no state",
        ),
    ];
    for (extra, want) in cases {
        let e = Model::from_toml(&decay(extra), "decay.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("decay.toml:"), "{e}");
        assert!(e.contains(want), "want `{want}` in: {e}");
    }
    // A negative delay is found when the event fires: the solve fails naming the event.
    let m =
        model("[[events]]\nname = \"e\"\ntrigger = \"x < 0.5\"\ndelay = \"-k\"\nset = { y = 1 }");
    let opts = cartox::run::RunOptions {
        days: 3.0,
        window: 3.0,
        ..cartox::run::RunOptions::for_model(&m)
    };
    let inputs = Inputs::builder(&m).build();
    let e = match cartox::run::run(&m, &inputs, &opts) {
        Ok(_) => panic!("a negative delay was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("event `e`") && e.contains("delay -0.5"), "{e}");
}

/// A reset that leaves its trigger about to turn true again at once (x < 1/4 sets x = 1/4)
/// would fire without time advancing: the solve stops with an error saying so.
#[test]
fn an_event_that_re_arms_itself_at_once_is_an_error() {
    let m = model("[[events]]\nname = \"zeno\"\ntrigger = \"x < 0.25\"\nset = { x = 0.25 }");
    let opts = cartox::run::RunOptions {
        days: 5.0,
        window: 5.0,
        ..cartox::run::RunOptions::for_model(&m)
    };
    let inputs = Inputs::builder(&m).build();
    let e = match cartox::run::run(&m, &inputs, &opts) {
        Ok(_) => panic!("a self-re-arming event was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("without time advancing"), "{e}");
    assert!(e.contains("day 2.7"), "{e}");
}

/// A model file with a state event, through `cartox simulate --out`, and `import-sbml` of an SBML
/// event with a state trigger, a delay and a priority giving the same model back.
#[test]
fn command_line_runs_a_model_file_with_a_state_event() {
    let dir = std::env::temp_dir().join(format!("cartox-state-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("reset.toml");
    std::fs::write(
        &file,
        decay("[[events]]\nname = \"reset\"\ntrigger = \"x < 0.25\"\nset = { x = 1 }\n"),
    )
    .unwrap();
    let out = dir.join("out.csv");
    Command::cargo_bin("cartox")
        .unwrap()
        .args(["simulate", "--model", file.to_str().unwrap()])
        .args([
            "--days", "10", "--dt", "0.25", "--rtol", "1e-10", "--atol", "1e-12",
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .success();
    let (header, rows) = read_csv(&out);
    let (ti, xi) = (
        header.iter().position(|h| h == "time").unwrap(),
        header.iter().position(|h| h == "x").unwrap(),
    );
    assert_eq!(rows.len(), 41);
    let period = 4f64.ln() / K;
    for r in &rows {
        let t = r[ti];
        let want = (-K * (t - (t / period).floor() * period)).exp();
        assert!(
            (r[xi] - want).abs() < 1e-8,
            "x({t}) = {}, want {want}",
            r[xi]
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SBML: a species decaying by a reaction, reset 0.5 day after it falls below 1/4 (the assignment
/// computed at execution), imports as a triggered event with the same behaviour.
#[test]
fn sbml_state_triggered_event_with_a_delay() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
  <model id="reset" timeUnits="day">
    <listOfUnitDefinitions>
      <unitDefinition id="day"><listOfUnits>
        <unit kind="second" exponent="1" scale="0" multiplier="86400"/>
      </listOfUnits></unitDefinition>
    </listOfUnitDefinitions>
    <listOfCompartments>
      <compartment id="c" size="1" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k" value="0.5" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="decay" reversible="false">
        <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><times/><ci>k</ci><ci>S</ci><ci>c</ci></apply>
        </math></kineticLaw>
      </reaction>
    </listOfReactions>
    <listOfEvents>
      <event id="reset" useValuesFromTriggerTime="false">
        <trigger initialValue="true" persistent="true">
          <math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><lt/><ci>S</ci><cn>0.25</cn></apply>
          </math>
        </trigger>
        <delay><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>0.5</cn></math></delay>
        <priority><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></priority>
        <listOfEventAssignments>
          <eventAssignment variable="S">
            <math xmlns="http://www.w3.org/1998/Math/MathML">
              <apply><plus/><ci>S</ci><cn>1</cn></apply>
            </math>
          </eventAssignment>
        </listOfEventAssignments>
      </event>
    </listOfEvents>
  </model>
</sbml>"#;
    let text = cartox::sbml::sbml_to_toml(xml, "reset.xml").unwrap();
    assert!(text.contains("trigger = \"(S < 0.25)\""), "{text}");
    assert!(text.contains("values_at_trigger = false"), "{text}");
    check_reset(&text);
    // L3V2: an event assignment without <math> does nothing, an event whose trigger has no
    // <math> never fires.
    let v2 = xml
        .replace("level3/version1", "level3/version2")
        .replace(r#"version="1""#, r#"version="2""#)
        .replace(
            "</listOfEventAssignments>",
            r#"<eventAssignment variable="k"/></listOfEventAssignments>"#,
        )
        .replace(
            "</listOfEvents>",
            r#"<event id="never" useValuesFromTriggerTime="true">
        <trigger initialValue="false" persistent="true"/>
        <listOfEventAssignments><eventAssignment variable="S">
          <math xmlns="http://www.w3.org/1998/Math/MathML"><cn>0</cn></math>
        </eventAssignment></listOfEventAssignments></event></listOfEvents>"#,
        );
    check_reset(&cartox::sbml::sbml_to_toml(&v2, "reset-v2.xml").unwrap());
}

fn check_reset(text: &str) {
    let m = Model::from_toml(text, "reset.toml").unwrap();
    assert_eq!(m.state_events.len(), 1);
    // S falls to 1/4 at t1 = ln 4 / k, and is S + 1 = exp(-k 0.5)/4 + 1 at t1 + 0.5.
    let t1 = 4f64.ln() / K;
    let days = grid_around(t1 + 1.5, &[t1 + 0.5]);
    let tr = sample(&m, &Inputs::default(), &days, tight(Method::Auto));
    let s = tr.column("S").unwrap();
    let jump = (-K * 0.5).exp() / 4.0 + 1.0;
    for (i, &t) in days.iter().enumerate() {
        let want = if t < t1 + 0.5 {
            (-K * t).exp()
        } else {
            jump * (-K * (t - t1 - 0.5)).exp()
        };
        assert!((s[i] - want).abs() < 1e-8, "S({t}) = {}, want {want}", s[i]);
    }
}
