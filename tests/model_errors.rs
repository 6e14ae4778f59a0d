//! Model-file errors name the file and the line and column (or the key).

use cartox::model::Model;

const GOOD: &str = r#"
[model]
name = "tiny"
time_unit = "day"

[[parameters]]
name = "k"
value = 0.5
unit = "1/day"
source = "test"
lower = 0

[[states]]
name = "x"
unit = "cells"
initial = "2 * k"

[[assignments]]
name = "rate"
expr = "k * x"

[equations]
x = "-rate"
"#;

fn error(text: &str) -> String {
    Model::from_toml(text, "tiny.toml").unwrap_err().to_string()
}

#[test]
fn good_model_compiles() {
    let m = Model::from_toml(GOOD, "tiny.toml").unwrap();
    assert_eq!(m.states[0].name, "x");
    assert_eq!(m.parameters[0].value, 0.5);
}

#[test]
fn syntax_error_points_at_the_token() {
    let e = error(&GOOD.replace("x = \"-rate\"", "x = \"-rate * * 2\""));
    // line 23 of GOOD, column of the second `*`: `x = "` is 5 characters, `-rate * ` 8 more.
    assert_eq!(
        e,
        "tiny.toml:23:14: equations.x: expected a value but found operator `*`"
    );
}

#[test]
fn unknown_name_is_located() {
    let e = error(&GOOD.replace("expr = \"k * x\"", "expr = \"k * y\""));
    assert_eq!(e, "tiny.toml:20:13: assignment `rate`: unknown name `y`");
}

#[test]
fn initial_value_may_use_parameters_only() {
    let e = error(&GOOD.replace("initial = \"2 * k\"", "initial = \"2 * x\""));
    assert!(
        e.starts_with("tiny.toml:16:16: initial value of state `x`: unknown name `x`"),
        "{e}"
    );
}

#[test]
fn assignment_cycle_is_named() {
    let text = GOOD.replace(
        "[equations]",
        "[[assignments]]\nname = \"a\"\nexpr = \"b\"\n[[assignments]]\nname = \"b\"\nexpr = \"a + rate\"\n\n[equations]",
    );
    let e = error(&text);
    assert!(e.contains("assignment cycle: a -> b -> a"), "{e}");
    assert!(e.starts_with("tiny.toml:24:8:"), "{e}");
}

#[test]
fn state_without_equation() {
    let text = GOOD.replace(
        "[equations]",
        "[[states]]\nname = \"z\"\ninitial = 0\n\n[equations]",
    );
    let e = error(&text);
    assert_eq!(
        e,
        "tiny.toml:23:8: state `z` has no equation in [equations]"
    );
}

#[test]
fn equation_for_unknown_state() {
    let e = error(&format!("{GOOD}w = \"1\"\n"));
    assert!(e.contains("equations.w: `w` is not a state"), "{e}");
}

#[test]
fn duplicate_name() {
    let text = GOOD.replace("name = \"rate\"", "name = \"k\"");
    let e = error(&text);
    assert_eq!(
        e,
        "tiny.toml:19:8: duplicate name `k` (already a parameter)"
    );
}

#[test]
fn non_finite_default() {
    let e = error(&GOOD.replace("value = 0.5", "value = nan"));
    assert_eq!(e, "tiny.toml:8:9: parameter `k`: value is not finite");
    let e = error(&GOOD.replace("initial = \"2 * k\"", "initial = \"1 / 0\""));
    assert!(
        e.contains("initial value of state `x` is not finite"),
        "{e}"
    );
}

#[test]
fn value_outside_bounds() {
    let e = error(&GOOD.replace("value = 0.5", "value = -1"));
    assert!(
        e.contains("parameter `k`: value -1 is outside its bounds"),
        "{e}"
    );
}

#[test]
fn bad_time_unit_and_unknown_key() {
    let e = error(&GOOD.replace("time_unit = \"day\"", "time_unit = \"fortnight\""));
    assert_eq!(
        e,
        "tiny.toml:4:13: model.time_unit: `fortnight` is not second, minute, hour, day, week or dimensionless"
    );
    let e = error(&GOOD.replace("unit = \"cells\"", "unit = \"cells\"\ncolour = 1"));
    assert!(
        e.starts_with("tiny.toml:16:1: unknown field `colour`"),
        "{e}"
    );
}

#[test]
fn toml_syntax_error_is_one_line() {
    let e = error("[model\nname = 1");
    assert!(e.starts_with("tiny.toml:1:"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn reserved_and_invalid_names() {
    let e = error(&GOOD.replace("name = \"rate\"", "name = \"exp\""));
    assert!(e.contains("assignment name `exp` is reserved"), "{e}");
    let e = error(&GOOD.replace("name = \"rate\"", "name = \"flu-cy\""));
    assert!(e.contains("is not an identifier"), "{e}");
}

#[test]
fn unknown_model_lists_bundled() {
    let e = Model::resolve("no_such_model").unwrap_err().to_string();
    assert!(
        e.contains("unknown model `no_such_model`") && e.contains("kimmel2021"),
        "{e}"
    );
}

#[test]
fn every_bundled_model_compiles_and_cites_sources() {
    for (name, text) in cartox::model::BUNDLED {
        let m = Model::from_toml(text, name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!m.references.is_empty(), "{name}: no references");
        for p in &m.parameters {
            assert!(
                !p.source.trim().is_empty(),
                "{name}: parameter {} has no source",
                p.name
            );
            assert!(
                !p.unit.trim().is_empty() || p.unit == "1",
                "{name}: parameter {} has no unit",
                p.name
            );
        }
        for s in &m.states {
            assert!(
                !s.unit.trim().is_empty(),
                "{name}: state {} has no unit",
                s.name
            );
        }
    }
}
