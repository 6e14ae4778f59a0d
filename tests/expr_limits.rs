//! Huge expressions in model files: long sums load and simulate, absurd nesting is a one-line
//! error naming file:line:col (exit 1), never a stack overflow.

use assert_cmd::Command;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::RunOptions;
use std::fs;

fn decay_model(rhs: &str) -> String {
    format!(
        r#"[model]
name = "long_sum"
time_unit = "day"

[[states]]
name = "y"
unit = "1"
initial = 1

[equations]
y = "{rhs}"
"#
    )
}

/// dy/dt = -(c_1 y + c_2 y + ... + c_20000 y), 20,000 distinct terms: y(t) = exp(-C t) with
/// C = sum c_i. Loads (the right-hand side is one flat chain) and simulates to the analytic
/// answer.
#[test]
fn a_20000_term_sum_loads_and_simulates_to_the_analytic_answer() {
    let n = 20_000;
    let coef = |i: usize| (i % 10 + 1) as f64 * 1e-6 + i as f64 * 1e-12;
    let terms: Vec<String> = (0..n).map(|i| format!("{:e} * y", coef(i))).collect();
    let rhs = format!("-({})", terms.join(" + "));
    let m = Model::from_toml(&decay_model(&rhs), "long_sum.toml").unwrap();
    // The right-hand side at y = 2 is -2 C, summed in file order.
    let c = (0..n).map(coef).fold(0.0, |acc, x| acc + x);
    let mut v = m.slots_with_params(&[]);
    let mut dy = [0.0];
    m.rhs(&mut v, 0.0, &[2.0], &mut dy);
    assert!(
        (dy[0] + 2.0 * c).abs() <= 1e-12 * c,
        "{} vs {}",
        dy[0],
        -2.0 * c
    );
    let opts = RunOptions {
        days: 10.0,
        dt: 1.0,
        window: 10.0,
        ..RunOptions::default()
    };
    let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
    let tr = run.trajectory(&m, &opts);
    for (t, y) in tr.time.iter().zip(tr.column("y").unwrap()) {
        let want = (-c * t).exp();
        assert!((y - want).abs() < 1e-5 * want, "y({t}) = {y}, want {want}");
    }
}

/// A chain of 20,000 assignments, each reading the one before, orders and evaluates.
#[test]
fn a_long_chain_of_assignments_loads() {
    let n = 20_000;
    let mut text = decay_model(&format!("-a{}", n - 1));
    // In reverse dependency order, so that ordering has to walk the whole chain.
    for i in (1..n).rev() {
        let prev = i - 1;
        text.push_str(&format!(
            "\n[[assignments]]\nname = \"a{i}\"\nexpr = \"a{prev} * 1\"\nunit = \"1\"\n"
        ));
    }
    text.push_str("\n[[assignments]]\nname = \"a0\"\nexpr = \"y\"\nunit = \"1\"\n");
    let m = Model::from_toml(&text, "chain.toml").unwrap();
    let mut v = m.slots_with_params(&[]);
    let mut dy = [0.0];
    m.rhs(&mut v, 0.0, &[3.0], &mut dy);
    assert_eq!(dy[0], -3.0);
}

/// 10,000 nested parentheses: exit 1 with `file:line:col: equations.y: ...`, not a crash.
#[test]
fn a_10000_deep_expression_is_a_one_line_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.toml");
    let rhs = format!("{}y{}", "(".repeat(10_000), ")".repeat(10_000));
    let text = decay_model(&rhs);
    fs::write(&path, &text).unwrap();
    let out = Command::cargo_bin("cartox")
        .unwrap()
        .args(["simulate", "--model"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Line of `y = "((((...`; the error is at the parenthesis past the limit.
    let line = text.lines().position(|l| l.starts_with("y = ")).unwrap() + 1;
    let col = "y = \"".len() + cartox::expr::MAX_DEPTH + 1;
    let want = format!(
        "{}:{line}:{col}: equations.y: expression nested more than {} levels deep",
        path.display(),
        cartox::expr::MAX_DEPTH
    );
    assert!(err.contains(&want), "{err}\nwant {want}");
}

/// An SBML rate rule of `depth` nested `<apply><minus/>` around `x`.
fn deep_sbml(depth: usize) -> String {
    let open = "<apply><minus/>".repeat(depth);
    let close = "</apply>".repeat(depth);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <tags> inside --><sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
<model id="deep" name="a &gt; b" timeUnits="day"><listOfUnitDefinitions><unitDefinition id="day"><listOfUnits><unit kind="second" exponent="1" scale="0" multiplier="86400"/></listOfUnits></unitDefinition></listOfUnitDefinitions><listOfParameters><parameter id="x" value="1" constant="false"/></listOfParameters>
<listOfRules><rateRule variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML">{open}<ci>x</ci>{close}</math></rateRule></listOfRules>
</model></sbml>"#
    )
}

/// Deeply nested SBML never crashes the process: deeper than the XML reader's limit (1000) and
/// deeper than the expression limit (500) are both one-line errors with exit status 1 (the first
/// used to abort with a stack overflow, exit 134).
#[test]
fn deeply_nested_sbml_is_a_one_line_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for (depth, expect) in [
        (100_000, "XML elements nested more than 1000 levels deep"),
        (
            700,
            "MathML nested more than 500 levels deep in the rate rule for 'x'",
        ),
    ] {
        let path = dir.path().join(format!("deep{depth}.xml"));
        fs::write(&path, deep_sbml(depth)).unwrap();
        for args in [
            vec!["simulate", "--model", path.to_str().unwrap(), "--days", "1"],
            vec!["import-sbml", path.to_str().unwrap()],
        ] {
            let out = Command::cargo_bin("cartox")
                .unwrap()
                .args(&args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(expect), "{depth}: {err}");
        }
    }
    // Shallow nesting of the same shape still imports and runs: d x/dt = -(-x) = x.
    let path = dir.path().join("shallow.xml");
    fs::write(&path, deep_sbml(2)).unwrap();
    let m = Model::resolve(path.to_str().unwrap()).unwrap();
    let mut opts = RunOptions::for_model(&m);
    opts.days = 1.0;
    let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
    let mut y = vec![0.0; m.n_states()];
    run.solution.state_at(1.0, &mut y);
    assert!((y[0] - 1f64.exp()).abs() < 1e-5, "{y:?}");
}
