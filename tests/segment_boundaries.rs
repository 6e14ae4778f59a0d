//! Segment boundaries within rounding of each other (issue 12: a default that never fails).
//!
//! A triggered event (a drug given some hours after its trigger) can be located by the solver one
//! floating-point step (~1e-16 days) after the start of the segment it ends. Integrating that
//! gap asked dopri5 and radau5 for a step below their underflow guard: the run stopped with
//! "step size underflow" at day 4.41 for this KarMMa-like virtual patient (row 81 of
//! `cartox population -m ide-cel --n 200 --seed 1`) under a corticosteroid rule with an 8-hour
//! hold. Such a boundary is now the segment's start: every method runs the patient, and their
//! results agree.

use cartox::solve::Method;
use cartox::{Inputs, Model, RunOptions};

/// models/ide-cel.toml with the corticosteroid trigger `icans >= 2 || crs >= 3 || crs >= 2 for 8 h`.
fn ide_cel_with_hold() -> Model {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/ide-cel.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let rule = r#"trigger = "icans >= 2 || crs >= 3""#;
    assert_eq!(text.matches(rule).count(), 1, "steroid rule not found");
    let held = r#"trigger = "icans >= 2 || crs >= 3 || crs >= 2 for 8 h""#;
    Model::from_toml(&text.replace(rule, held), "models/ide-cel.toml (8 h hold)").unwrap()
}

/// The virtual patient whose corticosteroid dose fell one rounding step into a segment.
const PATIENT: [(&str, f64); 9] = [
    ("k_act", 0.1320528755523821),
    ("rho_E", 2.9313028610727936),
    ("delta_E", 0.1720641315971458),
    ("k_EM", 0.001925787259913125),
    ("beta", 0.0014481562574441046),
    ("a_A", 0.00000015586495152527936),
    ("ea_base", 1.0266705491739074),
    ("neg_odds", 0.2726184879963858),
    ("tcz_discretion", 1.0),
];

fn run(m: &Model, method: Method, rtol: f64) -> cartox::Run {
    let mut b = Inputs::builder(m).weight(50.95602383734508).unwrap();
    for (name, value) in PATIENT {
        b = b.param(name, value).unwrap();
    }
    let mut o = RunOptions::for_model(m).with_days(m, 10.0);
    o.solver.method = method;
    o.solver.rtol = rtol;
    o.solver.atol = rtol * 1e-3;
    cartox::run(m, &b.build(), &o).unwrap_or_else(|e| panic!("{}: {e}", method.as_str()))
}

#[test]
fn a_drug_given_within_rounding_of_a_boundary_does_not_stop_the_solver() {
    let m = ide_cel_with_hold();
    let reference = run(&m, Method::Radau5, 1e-10);
    let tox = reference.toxicity.as_ref().unwrap();
    let dex = tox
        .interventions
        .iter()
        .find(|f| f.name == "dexamethasone")
        .expect("the 8 h hold fires");
    // The case itself: the steroid is given in the window where the failure was (day 4.41).
    assert!(
        (dex.start_day - 4.41).abs() < 0.01,
        "dexamethasone given at day {}",
        dex.start_day
    );
    let mut end_ref = vec![0.0; m.n_states()];
    reference.solution.state_at(10.0, &mut end_ref);
    for method in [
        Method::Auto,
        Method::Dopri5,
        Method::Radau5,
        Method::Rodas4,
        Method::Bdf,
    ] {
        let r = run(&m, method, 1e-6);
        let mut end = vec![0.0; m.n_states()];
        r.solution.state_at(10.0, &mut end);
        let t = r.toxicity.as_ref().unwrap();
        let d = t
            .interventions
            .iter()
            .find(|f| f.name == "dexamethasone")
            .unwrap_or_else(|| panic!("{}: no dexamethasone", method.as_str()));
        assert!(
            (d.start_day - dex.start_day).abs() < 1e-3,
            "{}: dexamethasone at {} vs {}",
            method.as_str(),
            d.start_day,
            dex.start_day
        );
        for (i, (a, b)) in end.iter().zip(&end_ref).enumerate() {
            let scale = b
                .abs()
                .max(1e-6 * end_ref.iter().fold(0.0_f64, |s, v| s.max(v.abs())));
            assert!(
                (a - b).abs() <= 1e-3 * scale + 1e-9,
                "{}: state {} at day 10: {a} vs reference {b}",
                method.as_str(),
                m.states[i].name
            );
        }
    }
}
