//! Issue 19: any time unit (model files and SBML), `--time-unit`/`--until`, species reported as
//! amounts or concentrations, `--observe`, every SBML species an output column, models without
//! states. Values are checked against closed forms (exponential decay, constant species).

use std::process::Command;

use cartox::model::{Model, TimeUnit};
use cartox::regimen::Inputs;
use cartox::run::{RunOptions, SpeciesAs};

const BIN: &str = env!("CARGO_BIN_EXE_cartox");

/// dA/dt = -k A, A(0) = 2, in `unit` (k per that unit).
fn decay(unit: &str, k: f64) -> Model {
    let text = format!(
        r#"
[model]
name = "decay"
time_unit = "{unit}"

[[parameters]]
name = "k"
value = {k:?}

[[states]]
name = "A"
initial = 2.0

[equations]
A = "-k * A"
"#
    );
    Model::from_toml(&text, "decay.toml").unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn every_time_unit_scales_the_same_decay() {
    // k = 1e-5 per second is 0.864 per day: the same decay in every unit.
    let per_second: f64 = 1e-5;
    let days = 2.0;
    let want = 2.0 * (-per_second * 86400.0 * days).exp();
    for (unit, tu) in [
        ("second", TimeUnit::Second),
        ("minute", TimeUnit::Minute),
        ("hour", TimeUnit::Hour),
        ("day", TimeUnit::Day),
        ("week", TimeUnit::Week),
    ] {
        let m = decay(unit, per_second * 86400.0 / tu.per_day());
        assert_eq!(m.time_unit, tu);
        let opts = RunOptions {
            days,
            dt: 0.5,
            solver: cartox::solve::SolverOptions {
                rtol: 1e-10,
                atol: 1e-12,
                ..Default::default()
            },
            ..RunOptions::for_model(&m)
        };
        let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
        let tr = run.trajectory(&m, &opts);
        let a = tr.column("A").unwrap();
        assert_eq!(tr.time, vec![0.0, 0.5, 1.0, 1.5, 2.0], "{unit}");
        assert!(
            close(*a.last().unwrap(), want, 1e-8),
            "{unit}: {a:?} vs {want}"
        );
        // The same run reported in the model's own unit: time column scaled, values unchanged.
        let own = opts.in_model_time(&m);
        let tr2 = run.trajectory(&m, &own);
        assert!(
            close(*tr2.time.last().unwrap(), tu.from_days(days), 1e-12),
            "{unit}"
        );
        assert_eq!(tr2.column("A").unwrap(), a);
    }
    // Dimensionless time: one model unit counts as one day.
    let m = decay("dimensionless", 0.5);
    assert_eq!(m.time_unit, TimeUnit::Dimensionless);
    let opts = RunOptions {
        days: 2.0,
        dt: 1.0,
        ..RunOptions::for_model(&m)
    }
    .in_model_time(&m);
    let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
    let tr = run.trajectory(&m, &opts);
    assert_eq!(tr.time, vec![0.0, 1.0, 2.0]);
    assert!(close(
        tr.column("A").unwrap()[2],
        2.0 * (-1.0f64).exp(),
        1e-5
    ));
}

#[test]
fn time_unit_round_trips() {
    for u in TimeUnit::ALL {
        assert_eq!(TimeUnit::parse(u.as_str()), Some(u));
        assert!(close(u.from_days(u.to_days(3.5)), 3.5, 1e-15), "{u:?}");
    }
    assert_eq!(TimeUnit::Second.to_days(86400.0), 1.0);
    assert_eq!(TimeUnit::Week.to_days(1.0), 7.0);
}

/// An SBML model in seconds: S1 -> S2 (rate k1 * S1 * C), a boundary species B, a constant
/// species K with hasOnlySubstanceUnits, in compartment C of size 2.
const SBML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m" timeUnits="second">
    <listOfCompartments>
      <compartment id="C" spatialDimensions="3" size="2" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="S1" compartment="C" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
      <species id="S2" compartment="C" initialConcentration="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
      <species id="B" compartment="C" initialConcentration="3" hasOnlySubstanceUnits="false" boundaryCondition="true" constant="false"/>
      <species id="K" compartment="C" initialAmount="5" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="true"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k1" value="0.1" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="J" reversible="false">
        <listOfReactants><speciesReference id="J_S1" species="S1" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="S2" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><times/><ci>k1</ci><ci>S1</ci><ci>C</ci></apply>
        </math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>"#;

fn cli(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// The CSV on stdout as (header, rows).
fn csv(text: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

fn col(h: &[String], name: &str) -> usize {
    h.iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"))
}

#[test]
fn sbml_in_seconds_reports_every_species_in_model_time_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("m.xml");
    std::fs::write(&xml, SBML).unwrap();
    let x = xml.to_str().unwrap();
    let base = [
        "simulate",
        "--model",
        x,
        "--time-unit",
        "model",
        "--until",
        "10",
        "--dt",
        "2.5",
        "--rtol",
        "1e-10",
        "--atol",
        "1e-14",
        "--out",
        "-",
    ];
    let (ok, out, err) = cli(&base);
    assert!(ok, "{err}");
    let (h, rows) = csv(&out);
    let t: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(t, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
    for r in &rows {
        // d[S1]/dt = -k1 [S1] C / C: [S1] = exp(-0.1 t) (a concentration, per second).
        let want = (-0.1f64 * r[0]).exp();
        assert!(close(r[col(&h, "S1")], want, 1e-7), "{r:?}");
        assert!(close(r[col(&h, "S2")], 1.0 - want, 1e-6), "{r:?}");
        assert_eq!(r[col(&h, "B")], 3.0); // boundary species: a column, in concentration
        assert_eq!(r[col(&h, "K")], 5.0); // only-substance constant species: an amount
    }
    // --amounts: concentrations times C = 2; K stays 5. --observe adds C, k1, the species
    // reference J_S1 (its stoichiometry).
    let mut args = base.to_vec();
    args.extend(["--amounts", "--observe", "C,k1,J_S1,S1"]);
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let (h2, rows2) = csv(&out);
    for (r, a) in rows.iter().zip(&rows2) {
        assert!(close(a[col(&h2, "S1")], 2.0 * r[col(&h, "S1")], 1e-15));
        assert_eq!(a[col(&h2, "B")], 6.0);
        assert_eq!(a[col(&h2, "K")], 5.0);
        assert_eq!(
            (a[col(&h2, "C")], a[col(&h2, "k1")], a[col(&h2, "J_S1")]),
            (2.0, 0.1, 1.0)
        );
    }
    assert_eq!(h2.iter().filter(|c| *c == "S1").count(), 1);
    // --concentrations: the only-substance K becomes 5 / 2.
    let mut args = base.to_vec();
    args.push("--concentrations");
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let (h3, rows3) = csv(&out);
    assert_eq!(rows3[0][col(&h3, "K")], 2.5);
    assert_eq!(rows3[0][col(&h3, "B")], 3.0);
    // The same run with the default day axis: 10 s is 10/86400 days.
    let (ok, out, err) = cli(&[
        "simulate", "--model", x, "--days", "0.0001", "--dt", "0.00005", "--out", "-",
    ]);
    assert!(ok, "{err}");
    let (h4, rows4) = csv(&out);
    let last = rows4.last().unwrap();
    assert_eq!(last[0], 0.0001);
    assert!(close(last[col(&h4, "S1")], (-0.1 * 8.64f64).exp(), 1e-5));
}

#[test]
fn bad_time_flags_and_observe_names_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("m.xml");
    std::fs::write(&xml, SBML).unwrap();
    let x = xml.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--time-unit", "fortnight"],
            "--time-unit: `fortnight` is not day, hour, minute, second, week or model",
        ),
        (
            vec!["--until", "-1"],
            "--until must be a positive span, got -1",
        ),
        (
            vec!["--observe", "nope"],
            "--observe: `nope` is not a state, parameter, assignment or observable of model `m`",
        ),
    ] {
        let mut a = vec!["simulate", "--model", x, "--out", "-"];
        a.extend(args);
        let (ok, _, err) = cli(&a);
        assert!(!ok);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn library_species_as_and_models_without_states() {
    // Only a boundary species and an assignment rule: nothing to integrate, still a time course.
    let (head, rest) = SBML.split_once("<listOfReactions>").unwrap();
    let tail = rest.split_once("</listOfReactions>").unwrap().1;
    let xml = format!("{head}{tail}").replace(
        r#"boundaryCondition="false" constant="false"/>"#,
        r#"boundaryCondition="true" constant="false"/>"#,
    );
    let spec = cartox::sbml::sbml_to_spec(&xml, "m.xml").unwrap();
    let m = Model::from_spec(spec, "m.xml").unwrap();
    assert_eq!(m.n_states(), 0);
    let opts = RunOptions {
        days: 1.0,
        dt: 0.25,
        species: SpeciesAs::Amounts,
        ..RunOptions::for_model(&m)
    };
    let run = cartox::run(&m, &Inputs::default(), &opts).unwrap();
    let tr = run.trajectory(&m, &opts);
    assert_eq!(tr.time.len(), 5);
    assert_eq!(tr.column("S1").unwrap(), vec![2.0; 5]);
    assert_eq!(tr.column("B").unwrap(), vec![6.0; 5]);
}

#[test]
fn initial_assignments_over_species_and_rules_hold_at_t0() {
    // S2(0) = 2 * S1(0) + P, with S1 a reacting species and P an assignment rule P = 3 * k1;
    // a parameter Q = S2(0) (through S2's own initial assignment).
    let xml = SBML.replace(
        "<listOfReactions>",
        r#"<listOfInitialAssignments>
      <initialAssignment symbol="S2"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <apply><plus/><apply><times/><cn>2</cn><ci>S1</ci></apply><ci>P</ci></apply>
      </math></initialAssignment>
      <initialAssignment symbol="Q"><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>S2</ci></math></initialAssignment>
    </listOfInitialAssignments>
    <listOfRules>
      <assignmentRule variable="P"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <apply><times/><cn>3</cn><ci>k1</ci></apply>
      </math></assignmentRule>
    </listOfRules>
    <listOfReactions>"#,
    )
    .replace(
        r#"<parameter id="k1" value="0.1" constant="true"/>"#,
        r#"<parameter id="k1" value="0.1" constant="true"/>
      <parameter id="P" constant="false"/>
      <parameter id="Q" constant="true"/>"#,
    );
    let m = Model::from_spec(cartox::sbml::sbml_to_spec(&xml, "m.xml").unwrap(), "m.xml").unwrap();
    let params: Vec<f64> = m.parameters.iter().map(|p| p.value).collect();
    let v = m.slots_with_params(&params);
    let s2 = m.states[m.state_index("S2").unwrap()].initial.eval(&v);
    assert!(close(s2, 2.0 * 1.0 + 3.0 * 0.1, 1e-15), "{s2}");
    let q = params[m.parameter_index("Q").unwrap()];
    assert!(close(q, 2.3, 1e-15), "{q}");
}
