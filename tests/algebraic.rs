//! `[[algebraic]]` quantities (SBML algebraic rules): a conserved pair against its closed form,
//! a rule with a coefficient, an event changing the other member of the pair, the command line
//! end to end, the refused rules (not linear, coupled, not containing the quantity) and SBML
//! algebraic rules through the importer (the variable each determines, and the refusals of
//! under- and overdetermined rules, naming the rule).

mod common;

use assert_cmd::Command;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::Method;
use common::*;

const K: f64 = 0.7;
const TOTAL: f64 = 3.0;
const Y0: f64 = 0.5;

/// y' = k x with x + y = T (x determined by the rule): y(t) = T - (T - y0) e^{-kt},
/// x(t) = (T - y0) e^{-kt}.
fn pair(rule: &str, extra: &str) -> String {
    format!(
        r#"
[model]
name = "pair"
time_unit = "day"

[[parameters]]
name = "k"
value = {K}
unit = "1/day"

[[parameters]]
name = "T"
value = {TOTAL}
unit = "mM"

[[states]]
name = "y"
unit = "mM"
initial = {Y0}

[[algebraic]]
name = "x"
rule = "{rule}"
unit = "mM"
observe = true

[equations]
y = "k * x"
{extra}
"#
    )
}

fn days(end: f64) -> Vec<f64> {
    (0..=100).map(|i| i as f64 * end / 100.0).collect()
}

#[test]
fn a_conserved_pair_matches_the_closed_form_with_every_method() {
    for rule in [
        "x + y - T",
        "T - y - x",
        "-1 * T + y + x",
        "2 * (x + y) - 2 * T",
    ] {
        let m = Model::from_toml(&pair(rule, ""), "pair.toml").unwrap();
        let d = days(6.0);
        for method in [Method::Dopri5, Method::Radau5, Method::Auto] {
            let tr = sample(&m, &Inputs::default(), &d, tight(method));
            let (x, y) = (tr.column("x").unwrap(), tr.column("y").unwrap());
            for (i, &t) in d.iter().enumerate() {
                let xe = (TOTAL - Y0) * (-K * t).exp();
                assert!(
                    (x[i] - xe).abs() < 1e-8 && (y[i] - (TOTAL - xe)).abs() < 1e-8,
                    "{rule}, {method:?}: x({t}) = {}, y = {}, closed form x = {xe}",
                    x[i],
                    y[i]
                );
                // The rule holds at every output (x computed from y, not integrated).
                assert!(
                    (x[i] + y[i] - TOTAL).abs() < 1e-12,
                    "{rule}: x + y = {}",
                    x[i] + y[i]
                );
            }
        }
    }
}

/// `(1 + k) * x - y = 0`: x = y / (1 + k) at t = 0 (whatever nothing declares) and after.
#[test]
fn a_rule_with_a_coefficient_holds_from_the_start() {
    let m = Model::from_toml(&pair("(1 + k) * x - T", ""), "coef.toml").unwrap();
    let tr = sample(&m, &Inputs::default(), &days(2.0), tight(Method::Auto));
    let (x, y) = (tr.column("x").unwrap(), tr.column("y").unwrap());
    let xe = TOTAL / (1.0 + K);
    for (i, &t) in days(2.0).iter().enumerate() {
        assert!((x[i] - xe).abs() < 1e-14, "x({t}) = {}", x[i]);
        assert!((y[i] - (Y0 + K * xe * t)).abs() < 1e-9, "y({t}) = {}", y[i]);
    }
}

/// An event resetting y at t = 1 (trigger on the algebraic quantity itself): x follows at once.
#[test]
fn events_see_and_move_the_algebraic_quantity() {
    let m = Model::from_toml(
        &pair(
            "x + y - T",
            "\n[[events]]\nname = \"refill\"\ntrigger = \"x < 1\"\nset = { y = \"0\" }\n",
        ),
        "event.toml",
    )
    .unwrap();
    // x falls to 1 at t1 = ln((T - y0) / 1) / k, then y = 0 so x = T, decaying again.
    let t1 = ((TOTAL - Y0) / 1.0).ln() / K;
    let d: Vec<f64> = vec![0.0, t1 - 1e-6, t1 + 1e-6, t1 + 0.5];
    let tr = sample(&m, &Inputs::default(), &d, tight(Method::Auto));
    let x = tr.column("x").unwrap();
    assert!(
        (x[1] - 1.0).abs() < 1e-5,
        "x just before the event: {}",
        x[1]
    );
    assert!(
        (x[2] - TOTAL).abs() < 1e-5,
        "x just after the event: {}",
        x[2]
    );
    let want = TOTAL * (-K * 0.5).exp();
    assert!(
        (x[3] - want).abs() < 1e-7,
        "x({}) = {}, want {want}",
        d[3],
        x[3]
    );
}

#[test]
fn command_line_runs_a_model_file_with_an_algebraic_rule() {
    let dir = std::env::temp_dir().join(format!("cartox-algebraic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pair.toml");
    std::fs::write(&file, pair("x + y - T", "")).unwrap();
    let out = dir.join("out.csv");
    Command::cargo_bin("cartox")
        .unwrap()
        .args(["simulate", "--model", file.to_str().unwrap()])
        .args([
            "--days", "4", "--dt", "0.5", "--rtol", "1e-10", "--atol", "1e-12",
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .success();
    let (header, rows) = read_csv(&out);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (ti, xi, yi) = (col("time"), col("x"), col("y"));
    assert_eq!(rows.len(), 9);
    for r in &rows {
        let xe = (TOTAL - Y0) * (-K * r[ti]).exp();
        assert!(
            (r[xi] - xe).abs() < 1e-8,
            "x({}) = {}, want {xe}",
            r[ti],
            r[xi]
        );
        assert!((r[yi] - (TOTAL - xe)).abs() < 1e-8);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn error_of(text: &str) -> String {
    Model::from_toml(text, "bad.toml").unwrap_err().to_string()
}

#[test]
fn rules_that_cannot_be_eliminated_are_refused_by_name() {
    let e = error_of(&pair("x * x - T", ""));
    assert!(
        e.contains("bad.toml:") && e.contains("algebraic.x.rule") && e.contains("linear"),
        "{e}"
    );
    let e = error_of(&pair("exp(x) - T", ""));
    assert!(
        e.contains("algebraic.x.rule") && e.contains("linear"),
        "{e}"
    );
    let e = error_of(&pair("y - T", ""));
    assert!(e.contains("does not contain `x`"), "{e}");
    // Two rules that each need the other's quantity.
    let coupled = pair(
        "x + z - T",
        "\n[[algebraic]]\nname = \"z\"\nrule = \"x - z\"\n",
    );
    let e = error_of(&coupled);
    assert!(e.contains("coupled algebraic rules"), "{e}");
    // A name taken twice.
    let e = error_of(&pair(
        "y + x - T",
        "\n[[algebraic]]\nname = \"y\"\nrule = \"y - 1\"\n",
    ));
    assert!(e.contains("duplicate name `y`"), "{e}");
}

/// SBML L3 with a non-constant parameter `p` in a rule with constant `k` and species `S`
/// changed by a reaction; `extra` is appended to the parameter list, `rule` is the MathML.
fn sbml(extra: &str, rule: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="alg" timeUnits="day">
    <listOfUnitDefinitions>
      <unitDefinition id="day"><listOfUnits>
        <unit kind="second" exponent="1" scale="0" multiplier="86400"/>
      </listOfUnits></unitDefinition>
    </listOfUnitDefinitions>
    <listOfCompartments>
      <compartment id="c" size="2" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S" compartment="c" initialAmount="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="B" compartment="c" initialAmount="5" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k" value="0.5" constant="true"/>
      {extra}
    </listOfParameters>
    <listOfRules>
      <algebraicRule id="r1"><math xmlns="http://www.w3.org/1998/Math/MathML">{rule}</math></algebraicRule>
    </listOfRules>
    <listOfReactions>
      <reaction id="decay" reversible="false">
        <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><times/><ci>k</ci><ci>S</ci><ci>c</ci></apply>
        </math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>"#
    )
}

/// `B - 2 S = 0` determines B (S changes by the reaction, B by nothing): B = 2 S at all times,
/// reported like any species (a concentration), B's declared initial amount overridden.
#[test]
fn sbml_algebraic_rule_determines_the_one_free_variable() {
    let rule = "<apply><minus/><ci>B</ci><apply><times/><cn>2</cn><ci>S</ci></apply></apply>";
    let xml = sbml("", rule);
    let text = cartox::sbml::sbml_to_toml(&xml, "alg.xml").unwrap();
    assert!(
        text.contains("[[algebraic]]") && text.contains("name = \"B\""),
        "{text}"
    );
    let m = Model::from_toml(&text, "alg.toml").unwrap();
    let d = days(3.0);
    let tr = sample(&m, &Inputs::default(), &d, tight(Method::Auto));
    let (s, b) = (tr.column("S").unwrap(), tr.column("B").unwrap());
    for (i, &t) in d.iter().enumerate() {
        let se = 0.5 * (-0.5 * t).exp();
        assert!((s[i] - se).abs() < 1e-9, "S({t}) = {}, want {se}", s[i]);
        assert!(
            (b[i] - 2.0 * se).abs() < 1e-9,
            "B({t}) = {}, want {}",
            b[i],
            2.0 * se
        );
    }
}

#[test]
fn sbml_under_and_overdetermined_algebraic_rules_are_refused_by_name() {
    // p and q both free: which one the rule determines is not fixed.
    let two = r#"<parameter id="p" value="1" constant="false"/>
      <parameter id="q" value="1" constant="false"/>"#;
    let rule = "<apply><minus/><apply><plus/><ci>p</ci><ci>q</ci></apply><cn>1</cn></apply>";
    let e = cartox::sbml::sbml_to_spec(&sbml(two, rule), "u.xml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("algebraic rule 'r1' (rule #1)") && e.contains("'p'") && e.contains("'q'"),
        "{e}"
    );
    // Only constants and a species the reaction changes: nothing to determine.
    let rule = "<apply><minus/><ci>S</ci><ci>k</ci></apply>";
    let e = cartox::sbml::sbml_to_spec(&sbml("", rule), "o.xml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("algebraic rule 'r1' (rule #1)") && e.contains("overdetermined"),
        "{e}"
    );
}

/// SBML fast reaction `A <-> B` (rate `(kf A - kr B) c`) at equilibrium, drained by the slow
/// `B -> C` (rate `k B c`), in a compartment of size 2: the total amount T = nA + nB decays as
/// `T0 exp(-k kf / (kf + kr) t)`, with `kf A = kr B` from t = 0 (the declared amounts are not
/// at equilibrium). `law` replaces the fast rate law (MathML).
fn fast_sbml(law: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
  <model id="fast" timeUnits="day">
    <listOfUnitDefinitions>
      <unitDefinition id="day"><listOfUnits>
        <unit kind="second" exponent="1" scale="0" multiplier="86400"/>
      </listOfUnits></unitDefinition>
    </listOfUnitDefinitions>
    <listOfCompartments><compartment id="c" size="2" constant="true"/></listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c" initialAmount="3" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="B" compartment="c" initialAmount="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="C" compartment="c" initialAmount="0" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="kf" value="1" constant="true"/>
      <parameter id="kr" value="3" constant="true"/>
      <parameter id="k" value="0.8" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="bind" reversible="true" fast="true">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">{law}</math></kineticLaw>
      </reaction>
      <reaction id="drain" reversible="false" fast="false">
        <listOfReactants><speciesReference species="B" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="C" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><times/><ci>k</ci><ci>B</ci><ci>c</ci></apply>
        </math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>"#
    )
}

#[test]
fn sbml_fast_reaction_is_at_equilibrium_from_the_start() {
    let law = "<apply><times/><apply><minus/><apply><times/><ci>kf</ci><ci>A</ci></apply>\
               <apply><times/><ci>kr</ci><ci>B</ci></apply></apply><ci>c</ci></apply>";
    let text = cartox::sbml::sbml_to_toml(&fast_sbml(law), "fast.xml").unwrap();
    assert!(text.contains("[[algebraic]]"), "{text}");
    let m = Model::from_toml(&text, "fast.toml").unwrap();
    let d = days(3.0);
    let tr = sample(&m, &Inputs::default(), &d, tight(Method::Auto));
    let col = |n: &str| tr.column(n).unwrap();
    let (a, b, c) = (col("A"), col("B"), col("C"));
    let (kf, kr, k, size, t0) = (1.0, 3.0, 0.8, 2.0, 4.0);
    for (i, &t) in d.iter().enumerate() {
        let total = t0 * (-k * kf / (kf + kr) * t).exp();
        let (ae, be) = (kr / (kf + kr) * total / size, kf / (kf + kr) * total / size);
        let ce = (t0 - total) / size;
        assert!((a[i] - ae).abs() < 1e-8, "A({t}) = {}, want {ae}", a[i]);
        assert!((b[i] - be).abs() < 1e-8, "B({t}) = {}, want {be}", b[i]);
        assert!((c[i] - ce).abs() < 1e-8, "C({t}) = {}, want {ce}", c[i]);
    }
    // A rate law not linear in the species at equilibrium is refused, naming the reaction.
    let law = "<apply><times/><ci>kf</ci><ci>A</ci><ci>B</ci></apply>";
    let e = cartox::sbml::sbml_to_spec(&fast_sbml(law), "fast.xml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fast reaction 'bind'") && e.contains("not linear"),
        "{e}"
    );
}
