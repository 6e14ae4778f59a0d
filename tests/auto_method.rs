//! `--method auto`, the default: dopri5 while the problem is not stiff, radau5 while it is.
//! Every reference SBML file runs with default settings and matches libRoadRunner with the
//! default method; on models that never turn stiff, auto is bit-identical to dopri5; a model
//! whose stiffness fades switches to radau5 and back; the analytic-Jacobian hook is used.

mod common;

use assert_cmd::Command;
use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::solve::{self, Method, SolverOptions, Stats};
use cartox::RunOptions;
use common::*;
use std::cell::Cell;
use std::path::{Path, PathBuf};

/// ../shared/reference (from a checkout in /work/main; ../../shared from a worktree below it).
fn reference_dir(sub: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/reference", "../../shared/reference"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.is_dir())
        .expect("../shared/reference")
        .join(sub)
}

/// The default solver settings at the library tests' tolerances (rtol 1e-10, atol 1e-12).
fn tight_default() -> SolverOptions {
    SolverOptions {
        rtol: 1e-10,
        atol: 1e-12,
        ..SolverOptions::default()
    }
}

#[test]
fn auto_is_the_default_method() {
    assert_eq!(SolverOptions::default().method, Method::Auto);
    assert_eq!(RunOptions::default().solver.method, Method::Auto);
    assert_eq!(Method::parse("auto"), Some(Method::Auto));
    for m in ["dopri5", "radau5", "bdf"] {
        assert_eq!(Method::parse(m).unwrap().as_str(), m);
    }
}

/// Every SBML file in ../shared/reference/{biomodels,sbml-more} runs 28 days with default
/// settings. The three that stop dopri5 with "more than 500001 steps" (BIOMD0000000534,
/// BIOMD0000001020, MODEL2009230001) switch to radau5.
#[test]
fn every_reference_sbml_file_runs_with_default_settings() {
    let mut files: Vec<PathBuf> = ["biomodels", "sbml-more"]
        .iter()
        .flat_map(|d| std::fs::read_dir(reference_dir(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 13, "{files:?}");
    for path in &files {
        let model = Model::resolve(path.to_str().unwrap()).unwrap();
        let run = cartox::run(&model, &Inputs::default(), &RunOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let st = run.solution.stats;
        assert_eq!(
            st.dopri5_steps + st.radau5_steps,
            st.accepted_steps,
            "{}",
            path.display()
        );
        let name = path.file_stem().unwrap().to_str().unwrap();
        if ["BIOMD0000000534", "BIOMD0000001020", "MODEL2009230001"].contains(&name) {
            assert!(st.radau5_steps > 0 && st.switches >= 1, "{name}: {st:?}");
            // dopri5 alone stops with more than 500 001 steps on each.
            let dopri = RunOptions {
                solver: SolverOptions {
                    method: Method::Dopri5,
                    ..SolverOptions::default()
                },
                ..RunOptions::default()
            };
            let err = cartox::run(&model, &Inputs::default(), &dopri).err();
            let text = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("more than 500001 steps"), "{name}: {err:?}");
        }
    }
}

/// Worst column-scaled error of an SBML file against its libRoadRunner CSV (columns by SBML
/// id), solved with the default method at rtol 1e-10, atol 1e-12.
fn sbml_error(xml: &str, stem: &str) -> (f64, String, Stats) {
    let imported = Model::resolve(reference_dir(xml).to_str().unwrap()).unwrap();
    let (header, rows) = read_csv(Path::new(&format!("tests/data/{stem}.csv")));
    let per_day = imported.time_unit.per_day();
    let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
    let end = *days.last().unwrap();
    let opts = RunOptions {
        days: end,
        dt: end,
        window: end,
        solver: tight_default(),
        ..RunOptions::default()
    };
    let run = cartox::run(&imported, &Inputs::default(), &opts).unwrap();
    let got = cartox::trajectory::Trajectory::sample(
        &imported,
        &run.solution,
        &run.scenario.params,
        &days,
    );
    let mut worst = (0.0f64, String::new());
    for (c, name) in header.iter().enumerate().skip(1) {
        let expected: Vec<f64> = rows.iter().map(|r| r[c]).collect();
        let g = got
            .column(name)
            .unwrap_or_else(|| panic!("{xml}: no column {name}"));
        let e = column_scaled_error(&g, &expected);
        if e > worst.0 {
            worst = (e, name.clone());
        }
    }
    (worst.0, worst.1, run.solution.stats)
}

/// Every SBML file with a libRoadRunner reference matches it with the default method (1e-6
/// column-scaled at rtol 1e-10, as the other library tests).
#[test]
fn sbml_files_match_roadrunner_with_the_default_method() {
    for (xml, stem) in [
        ("biomodels/BIOMD0000000837_Hanson2016.xml", "hanson2016"),
        (
            "biomodels/BIOMD0000001011_Leon-Triana2020_eqs4.xml",
            "leon_triana2020_eqs4",
        ),
        (
            "biomodels/BIOMD0000001012_Leon-Triana2020_eqs3.xml",
            "leon_triana2020_eqs3",
        ),
        ("biomodels/BIOMD0000001041_Kimmel2021.xml", "kimmel2021"),
        ("sbml-more/BIOMD0000001013.xml", "leon_triana2021_single"),
        ("sbml-more/BIOMD0000001014.xml", "leon_triana2021_dual"),
        ("sbml-more/BIOMD0000001024.xml", "chaudhury2020_lv"),
        ("sbml-more/BIOMD0000001025.xml", "chaudhury2020_ec50"),
        ("sbml-more/BIOMD0000001019.xml", "cartmath_hdlm2"),
        ("sbml-more/BIOMD0000001020.xml", "cartmath_raji"),
        ("sbml-more/BIOMD0000000534.xml", "dwivedi2014"),
        ("sbml-more/MODEL2009230001.xml", "hardiansyah2019"),
    ] {
        let (err, column, st) = sbml_error(xml, stem);
        println!("{stem}: {err:e} ({column}), {st:?}");
        assert!(err < 1e-6, "{xml} {column}: {err:e}");
        if stem == "dwivedi2014" || stem == "hardiansyah2019" {
            assert!(st.radau5_steps > 0, "{stem}: {st:?}");
        }
    }
}

/// The bundled library models against their references with the default method.
#[test]
fn library_models_match_roadrunner_with_the_default_method() {
    for stem in [
        "hanson2016",
        "leon_triana2020_eqs4",
        "leon_triana2020_eqs3",
        "kimmel2021",
        "leon_triana2021_single",
        "leon_triana2021_dual",
        "chaudhury2020_lv",
        "chaudhury2020_ec50",
        "cartmath_hdlm2",
        "cartmath_raji",
    ] {
        let model = Model::resolve(stem).unwrap();
        let (header, rows) = read_csv(Path::new(&format!("tests/data/{stem}.csv")));
        let per_day = model.time_unit.per_day();
        let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
        let tr = sample(&model, &Inputs::default(), &days, tight_default());
        for (c, name) in header.iter().enumerate().skip(1) {
            let expected: Vec<f64> = rows.iter().map(|r| r[c]).collect();
            let err = column_scaled_error(&tr.column(name).unwrap(), &expected);
            assert!(err < 1e-6, "{stem} {name}: {err:e}");
        }
    }
}

/// Trajectory values as bits (NaN-safe exact comparison).
fn bits(tr: &cartox::trajectory::Trajectory) -> Vec<u64> {
    tr.states
        .iter()
        .chain(tr.observables.iter())
        .map(|x| x.to_bits())
        .collect()
}

/// On models that never turn stiff, auto is dopri5 bit for bit: same trajectories, metrics,
/// interventions and step counts (every bundled model, 28 days at default settings; the
/// default model also with a high tumour burden, where both interventions fire; Kimmel 2021
/// over 90 days as in the gallery).
#[test]
fn auto_is_bit_identical_to_dopri5_on_models_that_never_turn_stiff() {
    let high_burden = Inputs {
        tumor_burden: Some(1.5e11),
        ..Inputs::default()
    };
    // Every model file but the two that turn stiff within 28 days (cartmath_raji: theta T grows
    // with the unbounded tumour; hanson2016: dopri5's steps become stability-limited by day ~20).
    let mut stems: Vec<String> = std::fs::read_dir("models")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .filter(|s| s != "cartmath_raji" && s != "hanson2016")
        .collect();
    stems.sort();
    assert!(stems.len() >= 15, "{stems:?}");
    let mut cases: Vec<(String, Inputs, f64)> = stems
        .into_iter()
        .map(|s| (s, Inputs::default(), 28.0))
        .collect();
    cases.push(("cartox".into(), high_burden, 28.0));
    cases.push(("kimmel2021".into(), Inputs::default(), 90.0));
    for (stem, inputs, days) in cases {
        let model = Model::resolve(&stem).unwrap();
        let auto = RunOptions {
            days,
            window: days.min(28.0),
            ..RunOptions::default()
        };
        let mut dopri = auto;
        dopri.solver.method = Method::Dopri5;
        let a = cartox::run(&model, &inputs, &auto).unwrap();
        let d = cartox::run(&model, &inputs, &dopri).unwrap();
        let (sa, sd) = (a.solution.stats, d.solution.stats);
        assert_eq!(sa.radau5_steps, 0, "{stem}: {sa:?}");
        assert_eq!(sa.switches, 0, "{stem}: {sa:?}");
        assert_eq!(sa.accepted_steps, sd.accepted_steps, "{stem}");
        assert_eq!(sa.rhs_evaluations, sd.rhs_evaluations, "{stem}");
        assert!(
            bits(&a.trajectory(&model, &auto)) == bits(&d.trajectory(&model, &dopri)),
            "{stem}: trajectories differ"
        );
        assert_eq!(
            format!("{:?}", a.summary),
            format!("{:?}", d.summary),
            "{stem}"
        );
        assert_eq!(
            format!("{:?}", a.toxicity),
            format!("{:?}", d.toxicity),
            "{stem}"
        );
    }
}

/// y' = -k e^-t (y - e^(-t/10)), z' = y - z: stiff while k e^-t is large (k = 1e4/day), not
/// after t ~ 5 days.
fn fading_stiffness() -> Model {
    let text = r#"
[model]
name = "fading"
time_unit = "day"

[[parameters]]
name = "k"
value = 1e4
unit = "1/day"
source = "test"

[[states]]
name = "y"
unit = "1"
initial = 1

[[states]]
name = "z"
unit = "1"
initial = 0

[equations]
y = "-k * exp(-t) * (y - exp(-t / 10))"
z = "y - z"
"#;
    Model::from_toml(text, "fading.toml").unwrap()
}

fn solve_fading(method: Method, rtol: f64, jac: Option<&solve::JacobianFn<'_>>) -> solve::Solution {
    let m = fading_stiffness();
    let sc = Scenario::prepare(&m, &Inputs::default()).unwrap();
    let opts = SolverOptions {
        method,
        rtol,
        atol: rtol * 1e-2,
        ..SolverOptions::default()
    };
    solve::solve_with_jacobian(&m, &sc, 40.0, &opts, None, jac).unwrap()
}

fn worst_error(a: &solve::Solution, b: &solve::Solution) -> f64 {
    let (mut ya, mut yb) = ([0.0; 2], [0.0; 2]);
    (0..=400)
        .map(|i| {
            let d = i as f64 * 0.1;
            a.state_at(d, &mut ya);
            b.state_at(d, &mut yb);
            (ya[0] - yb[0]).abs().max((ya[1] - yb[1]).abs())
        })
        .fold(0.0, f64::max)
}

/// Stiff at first, then not: auto starts with dopri5, moves to radau5 and returns to dopri5,
/// accurately and in far fewer steps than dopri5 alone.
#[test]
fn auto_switches_to_radau5_and_back_as_stiffness_fades() {
    let reference = solve_fading(Method::Radau5, 1e-12, None);
    let auto = solve_fading(Method::Auto, 1e-8, None);
    let dopri = solve_fading(Method::Dopri5, 1e-8, None);
    let (sa, sd) = (auto.stats, dopri.stats);
    println!("auto {sa:?}\ndopri5 {sd:?}");
    assert!(
        sa.switches >= 2 && sa.dopri5_steps > 0 && sa.radau5_steps > 0,
        "{sa:?}"
    );
    assert_eq!(sa.dopri5_steps + sa.radau5_steps, sa.accepted_steps);
    assert!(
        sa.accepted_steps * 5 < sd.accepted_steps,
        "{sa:?} vs {sd:?}"
    );
    let err = worst_error(&auto, &reference);
    assert!(err < 1e-6, "auto vs reference: {err:e}");
}

/// radau5 takes an analytic Jacobian when given one (finite differences otherwise): the
/// closure is called for every Jacobian, the result matches the finite-difference solve, and
/// no right-hand-side evaluations are spent on differences.
#[test]
fn radau5_uses_an_analytic_jacobian_when_given_one() {
    let calls = Cell::new(0u64);
    let jac = |_v: &mut [f64], t: f64, _y: &[f64], j: &mut [f64]| {
        calls.set(calls.get() + 1);
        j.copy_from_slice(&[-1e4 * (-t).exp(), 0.0, 1.0, -1.0]);
    };
    for method in [Method::Radau5, Method::Auto] {
        calls.set(0);
        let fd = solve_fading(method, 1e-8, None);
        let an = solve_fading(method, 1e-8, Some(&jac));
        let (sf, sa) = (fd.stats, an.stats);
        println!("{method:?}: finite differences {sf:?}\nanalytic {sa:?}");
        assert!(sa.jacobian_evaluations > 0, "{sa:?}");
        assert_eq!(calls.get(), sa.jacobian_evaluations, "{method:?}");
        assert!(sa.rhs_evaluations < sf.rhs_evaluations, "{sa:?} vs {sf:?}");
        let err = worst_error(&fd, &an);
        assert!(err < 1e-6, "{method:?}: {err:e}");
    }
}

/// The default model with IL-6 eliminated at 100/day (t1/2 10 min, production scaled up alike)
/// is stiff: auto moves to radau5 (after 500 dopri5 steps, on the Jacobian check), and the
/// interventions fire and end on the same days as in a tight dopri5 run.
#[test]
fn interventions_fire_on_time_when_auto_switches() {
    let m = Model::default_model();
    let mut inputs = Inputs {
        tumor_burden: Some(1.5e11),
        ..Inputs::default()
    };
    for (name, value) in [("k_IL6", "100"), ("p_A", "5.05e5"), ("p_E", "12.6")] {
        inputs.set(&m, name, value).unwrap();
    }
    let run = |method: Method, rtol: f64| {
        let mut o = RunOptions::default();
        o.solver.method = method;
        o.solver.rtol = rtol;
        cartox::run(&m, &inputs, &o).unwrap()
    };
    let reference = run(Method::Dopri5, 1e-10);
    let auto = run(Method::Auto, 1e-6);
    let st = auto.solution.stats;
    assert!(st.radau5_steps > 0, "{st:?}");
    let fired = &auto.toxicity.as_ref().unwrap().interventions;
    let fired_ref = &reference.toxicity.as_ref().unwrap().interventions;
    assert!(!fired_ref.is_empty());
    assert_eq!(fired.len(), fired_ref.len(), "{fired:?} vs {fired_ref:?}");
    for (a, b) in fired.iter().zip(fired_ref) {
        assert_eq!(a.name, b.name);
        assert!(
            (a.trigger_day - b.trigger_day).abs() < 1e-3,
            "{a:?} vs {b:?}"
        );
        assert!((a.start_day - b.start_day).abs() < 1e-3, "{a:?} vs {b:?}");
        // Drugs with PK (tocilizumab, dexamethasone) have no fixed end of effect; same doses.
        match (a.end_day, b.end_day) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-3, "{a:?} vs {b:?}"),
            (x, y) => assert_eq!(x, y),
        }
        assert_eq!(a.doses, b.doses, "{a:?} vs {b:?}");
    }
}

/// The CLI says which methods ran and for how many steps, in text and in --summary JSON.
#[test]
fn cli_summary_names_the_methods_and_their_steps() {
    let out = Command::cargo_bin("cartox")
        .unwrap()
        .arg("simulate")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // The default model is not stiff: every step is a dopri5 step, and the line says so.
    let line = text
        .lines()
        .find(|l| l.starts_with("solved 28 days with auto (rtol 1e-6, atol 1e-9): "))
        .unwrap_or_else(|| panic!("{text}"));
    let rest = line.split(": ").nth(1).unwrap();
    let (steps, detail) = rest.split_once(" steps (dopri5 ").unwrap();
    let dopri = detail.split_once("),").unwrap().0;
    assert_eq!(steps, dopri, "{line}");
    assert!(steps.parse::<u32>().unwrap() > 50, "{line}");
    let xml = reference_dir("sbml-more/BIOMD0000000534.xml");
    let out = Command::cargo_bin("cartox")
        .unwrap()
        .args([
            "simulate",
            "--summary",
            "-",
            "--model",
            xml.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &j["solver"];
    assert_eq!(s["method"], "auto");
    let (d, r) = (
        s["steps_by_method"]["dopri5"].as_u64().unwrap(),
        s["steps_by_method"]["radau5"].as_u64().unwrap(),
    );
    assert!(d > 0 && r > 0, "{s}");
    assert_eq!(d + r, s["steps"].as_u64().unwrap());
    assert!(s["switches"].as_u64().unwrap() >= 1);
}

/// Hanson 2016 (dopri5's step is held by stability from about hour 15): with the model's
/// analytic Jacobian, auto moves to radau5 within its first 50 dopri5 steps (Hairer's test alone
/// waited ~145), takes far fewer steps than dopri5, and its 30-day trajectory matches radau5 at
/// rtol 1e-12 (column-scaled) as closely as dopri5's does at the same tolerance.
#[test]
fn auto_moves_to_radau5_early_on_hanson2016() {
    let model = Model::resolve("hanson2016").unwrap();
    let days: Vec<f64> = (0..=200).map(|k| k as f64 * 30.0 / 200.0).collect();
    let opts = |method, rtol: f64| SolverOptions {
        method,
        rtol,
        atol: rtol * 1e-3,
        ..SolverOptions::default()
    };
    let sc = Scenario::prepare(&model, &Inputs::default()).unwrap();
    let run = |o: SolverOptions| {
        let sol = solve::solve(&model, &sc, 30.0, &o, None).unwrap();
        let tr = cartox::trajectory::Trajectory::sample(&model, &sol, &sc.params, &days);
        (sol.stats, tr)
    };
    let (_, reference) = run(opts(Method::Radau5, 1e-12));
    let (sa, auto) = run(opts(Method::Auto, 1e-6));
    let (sd, dopri) = run(opts(Method::Dopri5, 1e-6));
    println!("auto {sa:?}\ndopri5 {sd:?}");
    assert!(sa.switches >= 1 && sa.radau5_steps > 0, "{sa:?}");
    assert!(sa.dopri5_steps <= 50, "{sa:?}");
    assert!(
        sa.accepted_steps * 4 < sd.accepted_steps,
        "{sa:?} vs {sd:?}"
    );
    let worst = |tr: &cartox::trajectory::Trajectory| {
        model
            .states
            .iter()
            .map(|s| {
                column_scaled_error(
                    &tr.column(&s.name).unwrap(),
                    &reference.column(&s.name).unwrap(),
                )
            })
            .fold(0.0, f64::max)
    };
    let (ea, ed) = (worst(&auto), worst(&dopri));
    println!("auto {ea:e}, dopri5 {ed:e}");
    assert!(ea < 1e-5, "auto vs radau5 rtol 1e-12: {ea:e}");
}

/// Robertson's chemical kinetics (stiff from the start, rates 0.04, 1e4, 3e7): auto goes to
/// radau5 within 50 dopri5 steps, finishes 0-40 in far fewer steps than dopri5 needs, and
/// matches radau5 at rtol 1e-12 and the mass balance y1 + y2 + y3 = 1.
#[test]
fn auto_moves_to_radau5_early_on_robertson() {
    let text = r#"
[model]
name = "robertson"
time_unit = "day"

[[states]]
name = "y1"
unit = "1"
initial = 1

[[states]]
name = "y2"
unit = "1"
initial = 0

[[states]]
name = "y3"
unit = "1"
initial = 0

[equations]
y1 = "-0.04 * y1 + 1e4 * y2 * y3"
y2 = "0.04 * y1 - 1e4 * y2 * y3 - 3e7 * y2^2"
y3 = "3e7 * y2^2"
"#;
    let m = Model::from_toml(text, "robertson.toml").unwrap();
    let sc = Scenario::prepare(&m, &Inputs::default()).unwrap();
    let solve_with = |method, rtol: f64| {
        let o = SolverOptions {
            method,
            rtol,
            atol: rtol * 1e-4,
            ..SolverOptions::default()
        };
        solve::solve(&m, &sc, 40.0, &o, None).unwrap()
    };
    let reference = solve_with(Method::Radau5, 1e-12);
    let auto = solve_with(Method::Auto, 1e-6);
    let dopri = solve_with(Method::Dopri5, 1e-6);
    let (sa, sd) = (auto.stats, dopri.stats);
    println!("auto {sa:?}\ndopri5 {sd:?}");
    assert!(sa.radau5_steps > 0 && sa.dopri5_steps <= 50, "{sa:?}");
    assert!(
        sa.accepted_steps * 10 < sd.accepted_steps,
        "{sa:?} vs {sd:?}"
    );
    let (mut ya, mut yr) = ([0.0; 3], [0.0; 3]);
    for i in 0..=400 {
        let d = i as f64 * 0.1;
        auto.state_at(d, &mut ya);
        reference.state_at(d, &mut yr);
        assert!((ya[0] - yr[0]).abs() < 1e-5, "day {d}: {ya:?} vs {yr:?}");
        assert!((ya[1] - yr[1]).abs() < 1e-9, "day {d}: {ya:?} vs {yr:?}");
        assert!((ya[2] - yr[2]).abs() < 1e-5, "day {d}: {ya:?} vs {yr:?}");
        assert!(
            (ya.iter().sum::<f64>() - 1.0).abs() < 1e-5,
            "day {d}: {ya:?}"
        );
    }
}
