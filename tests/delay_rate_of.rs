//! `delay(x, tau)` and `rate_of(x)` in the expression language (issue 19: SBML's `delay` and
//! `rateOf` csymbols in the engine): a delay differential equation against its closed form by
//! the method of steps, a delayed observable, derivatives against closed forms, the refusals,
//! and a model file through the command line.

mod common;

use assert_cmd::Command;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::Method;
use common::*;

/// A model with states x (and y), parameter k = 0.5 and the given equations and extra sections.
fn model(x_eq: &str, y_eq: &str, extra: &str) -> String {
    format!(
        r#"
[model]
name = "dde"
time_unit = "day"

[[parameters]]
name = "k"
value = 0.5
unit = "1/day"

[[parameters]]
name = "tau"
value = 1
unit = "day"

[[states]]
name = "x"
unit = "1"
initial = 1

[[states]]
name = "y"
unit = "1"
initial = 2

[equations]
x = "{x_eq}"
y = "{y_eq}"
{extra}
"#
    )
}

fn load(text: &str) -> Result<Model, String> {
    Model::from_toml(text, "dde.toml").map_err(|e| e.to_string())
}

/// x' = -x(t - 1), x = 1 before 0: by the method of steps, on [0, 1] x = 1 - t, on [1, 2]
/// x = 1 - t + (t-1)^2/2, on [2, 3] x = 1 - t + (t-1)^2/2 - (t-2)^3/6, on [3, 4] minus
/// (t-3)^4/24 more (each piece adds (-1)^k (t - k + 1)^k / k!).
fn dde_closed_form(t: f64) -> f64 {
    let mut x = 1.0;
    let mut fact = 1.0;
    for k in 1..=5u32 {
        fact *= k as f64;
        let s = t - (k - 1) as f64;
        if s <= 0.0 {
            break;
        }
        x += (-1f64).powi(k as i32) * s.powi(k as i32) / fact;
    }
    x
}

#[test]
fn closed_form_of_the_method_of_steps_is_itself_consistent() {
    // x' = -x(t - 1) on the pieces, by central differences of the closed form.
    for t in [0.5, 1.3, 2.2, 2.9, 3.6] {
        let h = 1e-5;
        let d = (dde_closed_form(t + h) - dde_closed_form(t - h)) / (2.0 * h);
        assert!((d + dde_closed_form(t - 1.0)).abs() < 1e-8, "t = {t}");
    }
    assert_eq!(dde_closed_form(1.0), 0.0);
    assert!((dde_closed_form(2.0) + 0.5).abs() < 1e-15);
}

#[test]
fn a_delay_differential_equation_matches_the_method_of_steps() {
    let m = load(&model(
        "-delay(x, tau)",
        "0",
        r#"
[[assignments]]
name = "lagged"
expr = "delay(x, 1)"
observe = true
"#,
    ))
    .unwrap();
    assert!(m.has_delays());
    let days: Vec<f64> = (0..=80).map(|i| i as f64 * 0.05).collect();
    for method in [Method::Auto, Method::Dopri5] {
        let tr = sample(&m, &Inputs::default(), &days, tight(method));
        let (x, lagged) = (tr.column("x").unwrap(), tr.column("lagged").unwrap());
        for (i, &t) in days.iter().enumerate() {
            let want = dde_closed_form(t);
            assert!(
                (x[i] - want).abs() < 1e-8,
                "{method:?}: x({t}) = {}, want {want}",
                x[i]
            );
            // The delayed observable: the initial value before the start, x(t - 1) after.
            let want_lag = if t < 1.0 {
                1.0
            } else {
                dde_closed_form(t - 1.0)
            };
            assert!(
                (lagged[i] - want_lag).abs() < 1e-8,
                "{method:?}: lagged({t}) = {}, want {want_lag}",
                lagged[i]
            );
        }
    }
}

/// A triggered event reading a delay: x(t - 1) = 1 - (t - 1) falls below 0.5 at t = 1.5, where
/// y is set to t + 10 x(t - 1) = 1.5 + 10 * 0.5.
#[test]
fn a_trigger_on_a_delayed_value_fires_at_the_closed_form_time() {
    let m = load(&model(
        "-delay(x, tau)",
        "0",
        r#"
[[events]]
name = "late"
trigger = "delay(x, 1) < 0.5"
set = { y = "t + 10 * delay(x, 1)" }
"#,
    ))
    .unwrap();
    let days = [1.0, 1.4, 1.6, 2.5];
    let tr = sample(&m, &Inputs::default(), &days, tight(Method::Auto));
    let y = tr.column("y").unwrap();
    assert_eq!(&y[..2], &[2.0, 2.0]);
    for &v in &y[2..] {
        assert!((v - 6.5).abs() < 1e-6, "y = {v}");
    }
}

#[test]
fn rate_of_a_state_is_its_right_hand_side_and_of_a_parameter_zero() {
    // x' = -k x; r = rate_of(x) = -k x; y' = rate_of(x) so y = y0 + x - 1; z = rate_of(k) = 0.
    let m = load(&model(
        "-k * x",
        "rate_of(x)",
        r#"
[[assignments]]
name = "r"
expr = "rate_of(x)"
observe = true

[[observables]]
name = "z"
expr = "rate_of(k) + rate_of(y) - rate_of(x)"
unit = "1/day"
"#,
    ))
    .unwrap();
    assert!(!m.has_delays());
    let days: Vec<f64> = (0..=40).map(|i| i as f64 * 0.25).collect();
    let tr = sample(&m, &Inputs::default(), &days, tight(Method::Auto));
    let (x, y, r, z) = (
        tr.column("x").unwrap(),
        tr.column("y").unwrap(),
        tr.column("r").unwrap(),
        tr.column("z").unwrap(),
    );
    for (i, &t) in days.iter().enumerate() {
        let want = (-0.5 * t).exp();
        assert!((x[i] - want).abs() < 1e-9, "x({t})");
        assert!(
            (r[i] + 0.5 * want).abs() < 1e-9,
            "rate_of(x)({t}) = {}",
            r[i]
        );
        assert!((y[i] - (1.0 + want)).abs() < 1e-9, "y({t}) = {}", y[i]);
        assert!(z[i].abs() < 1e-15, "z({t}) = {}", z[i]);
    }
}

#[test]
fn what_cannot_be_evaluated_exactly_is_refused_with_the_construct_named() {
    let cycle = load(&model("-rate_of(x)", "0", "")).unwrap_err();
    assert!(
        cycle.contains("assignment cycle: rate_of(x) -> rate_of(x)"),
        "{cycle}"
    );
    let of_assignment = load(&model(
        "rate_of(a)",
        "0",
        "[[assignments]]\nname = \"a\"\nexpr = \"2 * x\"\n",
    ))
    .unwrap_err();
    assert!(
        of_assignment.contains("`rate_of(a)`: `a` is an assignment"),
        "{of_assignment}"
    );
    let unknown = load(&model("rate_of(q)", "0", "")).unwrap_err();
    assert!(
        unknown.contains("`q` is not a state or a parameter"),
        "{unknown}"
    );
    let state_tau = load(&model("-delay(x, y)", "0", "")).unwrap_err();
    assert!(
        state_tau.contains("`delay(x, y)`: the delay `y` must be an expression of parameters"),
        "{state_tau}"
    );
    let nested = load(&model("-delay(delay(x, 1), 1)", "0", "")).unwrap_err();
    assert!(nested.contains("a delay inside a delay"), "{nested}");
    let zero = load(&model("-delay(x, 0)", "0", "")).unwrap_err();
    assert!(zero.contains("must be finite and > 0, got 0"), "{zero}");
    let in_timed_event = load(&model(
        "-k * x",
        "0",
        "[[events]]\nname = \"e\"\ntime = 2\nset = { y = \"delay(x, 1)\" }\n",
    ))
    .unwrap_err();
    assert!(
        in_timed_event.contains("event `e` reads a delay"),
        "{in_timed_event}"
    );
    let changes_tau = load(&model(
        "-delay(x, tau)",
        "0",
        "[[events]]\nname = \"e\"\ntrigger = \"t > 1\"\nset = { tau = 2 }\n",
    ))
    .unwrap_err();
    assert!(
        changes_tau.contains("an event changes a parameter the delay reads"),
        "{changes_tau}"
    );
    // The implicit methods do not keep a history.
    let m = load(&model("-delay(x, tau)", "0", "")).unwrap();
    for method in [Method::Radau5, Method::Bdf] {
        let opts = cartox::run::RunOptions {
            days: 2.0,
            dt: 1.0,
            window: 2.0,
            solver: tight(method),
            ..cartox::run::RunOptions::default()
        };
        let e = cartox::run(&m, &Inputs::default(), &opts)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("delay(x, tau) is integrated with dopri5"), "{e}");
    }
}

/// A model file with a delay and a derivative through `cartox simulate --out`.
#[test]
fn command_line_runs_a_model_file_with_delay_and_rate_of() {
    let dir = std::env::temp_dir().join(format!("cartox-delay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dde.toml");
    let extra = "[[observables]]\nname = \"dx\"\nexpr = \"rate_of(x)\"\nunit = \"1/day\"\n";
    std::fs::write(&file, model("-delay(x, tau)", "0", extra)).unwrap();
    let out = dir.join("out.csv");
    Command::cargo_bin("cartox")
        .unwrap()
        .args(["simulate", "--model", file.to_str().unwrap()])
        .args([
            "--days", "3.5", "--dt", "0.25", "--rtol", "1e-10", "--atol", "1e-12",
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .success();
    let (header, rows) = read_csv(&out);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (ti, xi, di) = (col("time"), col("x"), col("dx"));
    assert_eq!(rows.len(), 15);
    for r in &rows {
        let t = r[ti];
        let want = dde_closed_form(t);
        assert!(
            (r[xi] - want).abs() < 1e-8,
            "x({t}) = {}, want {want}",
            r[xi]
        );
        // x'(t) = -x(t - 1), the history being 1 before the start.
        let want_dx = -dde_closed_form(t - 1.0);
        assert!(
            (r[di] - want_dx).abs() < 1e-8,
            "x'({t}) = {}, want {want_dx}",
            r[di]
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SBML's `rateOf` and `delay` csymbols, a reaction id used as a symbol and `<factorial/>`
/// through the importer: A' = -k A (reaction R, rate k A), so rateOf(A) = -k A, R = k A,
/// delay(A, 1) = A(t - 1) (1 before the start) and factorial(3) = 6.
#[test]
fn sbml_rate_of_delay_and_reaction_ids_lower_to_the_engine() {
    let ci = |x: &str| format!("<ci>{x}</ci>");
    let csymbol = |name: &str, args: &str| {
        format!(
            "<apply><csymbol definitionURL=\"http://www.sbml.org/sbml/symbols/{name}\">{name}</csymbol>{args}</apply>"
        )
    };
    let rule = |var: &str, math: &str| {
        format!(
            "<assignmentRule variable=\"{var}\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\">{math}</math></assignmentRule>"
        )
    };
    let xml = format!(
        r#"<?xml version="1.0"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
 <model id="lowered" timeUnits="d">
  <listOfUnitDefinitions>
   <unitDefinition id="d"><listOfUnits><unit kind="second" exponent="1" scale="0" multiplier="86400"/></listOfUnits></unitDefinition>
  </listOfUnitDefinitions>
  <listOfCompartments><compartment id="cell" size="1" constant="true"/></listOfCompartments>
  <listOfSpecies>
   <species id="A" compartment="cell" initialAmount="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
  </listOfSpecies>
  <listOfParameters>
   <parameter id="k" value="0.5" constant="true"/>
   <parameter id="p1" constant="false"/><parameter id="p2" constant="false"/>
   <parameter id="p3" constant="false"/><parameter id="p4" constant="false"/>
  </listOfParameters>
  <listOfRules>{}{}{}{}</listOfRules>
  <listOfReactions>
   <reaction id="R" reversible="false">
    <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
    <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>A</ci></apply></math></kineticLaw>
   </reaction>
  </listOfReactions>
 </model>
</sbml>"#,
        rule("p1", &csymbol("rateOf", &ci("A"))),
        rule("p2", &csymbol("delay", &format!("{}<cn>1</cn>", ci("A")))),
        rule("p3", &ci("R")),
        rule("p4", "<apply><factorial/><cn>3</cn></apply>"),
    );
    let text = cartox::sbml::sbml_to_toml(&xml, "lowered.xml").unwrap();
    for expr in ["rate_of(A)", "delay(A, 1)", "factorial(3)"] {
        assert!(text.contains(expr), "{expr} missing from:\n{text}");
    }
    let spec = cartox::sbml::sbml_to_spec(&xml, "lowered.xml").unwrap();
    let mut m = Model::from_spec(spec, "lowered.xml").unwrap();
    m.observe_more(&["p1", "p2", "p3", "p4"]).unwrap();
    let days: Vec<f64> = (0..=12).map(|i| i as f64 * 0.25).collect();
    let tr = sample(&m, &Inputs::default(), &days, tight(Method::Auto));
    let col = |n: &str| tr.column(n).unwrap();
    let (a, p1, p2, p3, p4) = (col("A"), col("p1"), col("p2"), col("p3"), col("p4"));
    for (i, &t) in days.iter().enumerate() {
        let want = (-0.5 * t).exp();
        let lag = if t < 1.0 {
            1.0
        } else {
            (-0.5 * (t - 1.0)).exp()
        };
        assert!((a[i] - want).abs() < 1e-9, "A({t})");
        assert!(
            (p1[i] + 0.5 * want).abs() < 1e-9,
            "rateOf(A)({t}) = {}",
            p1[i]
        );
        assert!((p2[i] - lag).abs() < 1e-8, "delay(A, 1)({t}) = {}", p2[i]);
        assert!((p3[i] - 0.5 * want).abs() < 1e-9, "R({t}) = {}", p3[i]);
        assert_eq!(p4[i], 6.0);
    }
}
