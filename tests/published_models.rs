//! The published models in models/ against libRoadRunner trajectories of their SBML files
//! (tests/data, made by tests/reference/make_reference.py) and the Stein 2019 closed form.

mod common;

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::solve::Method;
use common::*;
use std::path::Path;

/// A file of the SBML reference folder: `$CARTOX_SBML_REFERENCE` or ../shared/reference beside
/// the checkout.
fn reference(rel: &str) -> String {
    let root = std::env::var("CARTOX_SBML_REFERENCE")
        .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference").into());
    format!("{root}/{rel}")
}

/// Compare a model with its reference CSV (time in the model's own unit) column by column.
fn check_against_reference(stem: &str, method: Method, tol: f64) {
    let model = Model::resolve(stem).unwrap();
    let (header, rows) = read_csv(Path::new(&format!("tests/data/{stem}.csv")));
    let per_day = model.time_unit.per_day();
    let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
    let tr = sample(&model, &Inputs::default(), &days, tight(method));
    for (c, name) in header.iter().enumerate().skip(1) {
        let expected: Vec<f64> = rows.iter().map(|r| r[c]).collect();
        let got = tr
            .column(name)
            .unwrap_or_else(|| panic!("{stem}: no column {name}"));
        let err = column_scaled_error(&got, &expected);
        assert!(
            err < tol,
            "{stem} column {name}: scaled error {err:e} >= {tol:e}"
        );
    }
}

macro_rules! reference_tests {
    ($($name:ident => $stem:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            check_against_reference($stem, Method::Dopri5, 1e-6);
        }
    )*};
}

reference_tests! {
    hanson2016_matches_roadrunner => "hanson2016",
    leon_triana2020_eqs4_matches_roadrunner => "leon_triana2020_eqs4",
    leon_triana2020_eqs3_matches_roadrunner => "leon_triana2020_eqs3",
    kimmel2021_matches_roadrunner => "kimmel2021",
    leon_triana2021_single_matches_roadrunner => "leon_triana2021_single",
    leon_triana2021_dual_matches_roadrunner => "leon_triana2021_dual",
    chaudhury2020_lv_matches_roadrunner => "chaudhury2020_lv",
    chaudhury2020_ec50_matches_roadrunner => "chaudhury2020_ec50",
    cartmath_hdlm2_matches_roadrunner => "cartmath_hdlm2",
    cartmath_raji_matches_roadrunner => "cartmath_raji",
}

/// radau5 (measured 3.3e-9 here) and bdf against libRoadRunner on Kimmel 2021.
#[test]
fn implicit_methods_match_roadrunner_on_kimmel() {
    check_against_reference("kimmel2021", Method::Radau5, 1e-6);
    check_against_reference("kimmel2021", Method::Bdf, 1e-5);
}

/// Stein 2019: C(t) = R0 exp(rho t) before Tmax; (1-FB) Cmax e^{-alpha (t-Tmax)} + FB Cmax e^{-beta (t-Tmax)} after.
fn stein_closed_form(t: f64) -> f64 {
    let (foldx, tmax, cmax, alpha, fb, beta) = (3900.0f64, 9.3, 24000.0, 0.16, 0.0079, 0.0032);
    let rho = foldx.ln() / tmax;
    if t < tmax {
        cmax / foldx * (rho * t).exp()
    } else {
        (1.0 - fb) * cmax * (-alpha * (t - tmax)).exp() + fb * cmax * (-beta * (t - tmax)).exp()
    }
}

#[test]
fn stein2019_matches_closed_form_pointwise() {
    let model = Model::resolve("stein2019").unwrap();
    let days: Vec<f64> = (0..=730).map(|i| i as f64 * 0.5).collect();
    let tr = sample(&model, &Inputs::default(), &days, tight(Method::Dopri5));
    let c = tr.column("C").unwrap();
    for (t, got) in days.iter().zip(&c) {
        let want = stein_closed_form(*t);
        let rel = (got - want).abs() / want;
        assert!(
            rel < 1e-6,
            "C({t}) = {got}, closed form {want}, rel {rel:e}"
        );
    }
    // Published typical-patient checks (literature.md section 6).
    let at = |d: f64| c[days.iter().position(|x| *x == d).unwrap()];
    assert!((at(28.0) - 1374.0).abs() < 1.0);
    assert!((at(90.0) - 146.5).abs() < 0.1);
    assert!((at(365.0) - 60.7).abs() < 0.1);
}

#[test]
fn stein2019_reference_csv_is_the_closed_form() {
    let (_, rows) = read_csv(Path::new("tests/data/stein2019.csv"));
    for r in rows {
        assert!((r[1] - stein_closed_form(r[0])).abs() / r[1] < 1e-12);
    }
}

#[test]
fn stein2019_summary_metrics() {
    let model = Model::resolve("stein2019").unwrap();
    let opts = cartox::RunOptions {
        days: 28.0,
        dt: 0.1,
        window: 28.0,
        solver: tight(Method::Dopri5),
        ..cartox::RunOptions::default()
    };
    let run = cartox::run(&model, &Inputs::default(), &opts).unwrap();
    let s = run.summary;
    assert!((s.cart_cmax.unwrap() - 24000.0).abs() / 24000.0 < 1e-6);
    assert!((s.cart_tmax.unwrap() - 9.3).abs() < 1e-3);
    // AUC0-28 = 171 774 copies/ug x day (literature.md section 6).
    assert!(
        (s.cart_auc.unwrap() - 171_774.0).abs() / 171_774.0 < 1e-4,
        "{:?}",
        s.cart_auc
    );
}

/// SBML files imported directly must match libRoadRunner just like the hand-written model files.
fn check_import(xml: &str, stem: &str) {
    let path = reference(xml);
    let imported = Model::resolve(&path).unwrap();
    let model = Model::resolve(stem).unwrap();
    assert_eq!(imported.time_unit, model.time_unit, "{xml}");
    let (header, rows) = read_csv(Path::new(&format!("tests/data/{stem}.csv")));
    let per_day = imported.time_unit.per_day();
    let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
    let got = sample(&imported, &Inputs::default(), &days, tight(Method::Dopri5));
    let own = sample(&model, &Inputs::default(), &days, tight(Method::Dopri5));
    for (c, name) in header.iter().enumerate().skip(1) {
        let expected: Vec<f64> = rows.iter().map(|r| r[c]).collect();
        let g = got
            .column(name)
            .unwrap_or_else(|| panic!("{xml}: no column {name}"));
        let o = own.column(name).unwrap();
        let e1 = column_scaled_error(&g, &expected);
        let e2 = column_scaled_error(&g, &o);
        assert!(e1 < 1e-6, "{xml} {name}: vs roadrunner {e1:e}");
        assert!(e2 < 1e-6, "{xml} {name}: vs models/{stem}.toml {e2:e}");
    }
}

#[test]
fn imported_sbml_matches_model_files_and_roadrunner() {
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
    ] {
        check_import(xml, stem);
    }
}

/// An SBML file with no model file against its roadrunner CSV (every floating species, by SBML
/// id), solved with radau5 at rtol 1e-10, atol 1e-12: the worst column-scaled error and its
/// column.
fn sbml_vs_roadrunner(xml: &str, stem: &str) -> (f64, String) {
    let path = reference(xml);
    let imported = Model::resolve(&path).unwrap();
    let (header, rows) = read_csv(Path::new(&format!("tests/data/{stem}.csv")));
    let per_day = imported.time_unit.per_day();
    let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
    let got = sample(&imported, &Inputs::default(), &days, tight(Method::Radau5));
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
    println!(
        "{stem}: worst column-scaled error {:e} ({})",
        worst.0, worst.1
    );
    worst
}

/// Dwivedi 2014 (BIOMD0000000534, IL-6; no model file): four antibody doses are time-triggered
/// SBML events with a zero delay; 39 states, stiff (dopri5 needs more than 500 000 steps).
/// Measured (2026-11-26): worst column-scaled error 3.7e-8 over 0-2688 h, 691 steps, ~0.06 s.
#[test]
fn dwivedi2014_import_matches_roadrunner() {
    let (err, column) = sbml_vs_roadrunner("sbml-more/BIOMD0000000534.xml", "dwivedi2014");
    assert!(err < 1e-6, "{column}: {err:e}");
}

/// Hardiansyah 2019 as curated in BioModels (MODEL2009230001; no model file): 8 states, stiff
/// (the tumour is killed at ~2e9/day, then stays round-off around 0). Measured (2026-11-26):
/// worst column-scaled error 1.4e-9 over 0-30 d (IL10), 2431 steps.
/// The other file there that imports, MODEL2109110005 (Chaudhury), is not compared: CVODE itself
/// fails on it near t = 8.6 d (tests/data/README.md); tests/sbml_import.rs checks that it
/// imports and that its derivatives at t0 match roadrunner's.
#[test]
fn hardiansyah2019_import_matches_roadrunner() {
    let (err, column) = sbml_vs_roadrunner("sbml-more/MODEL2009230001.xml", "hardiansyah2019");
    assert!(err < 1e-6, "{column}: {err:e}");
}

/// BIOMD0000000534's four doses (t >= 0.1, 672, 1344, 2016 h, zero delay) become model events that
/// add ModelValue_48 * 2.346 nmol/L of antibody (the fourth, as in the SBML, adds it to the
/// antibody's *initial* value, COPASI's Metabolite_6).
#[test]
fn dwivedi2014_events_import() {
    let path = reference("sbml-more/BIOMD0000000534.xml");
    let m = Model::resolve(&path).unwrap();
    assert_eq!(m.time_unit.as_str(), "hour");
    let ab = m
        .state_index("mwf345ed7a_0622_403c_b816_c8749a2c9ded")
        .unwrap();
    let times: Vec<&str> = m.events.iter().map(|e| e.time_text.as_str()).collect();
    assert_eq!(times, ["0.1", "672", "1344", "2016"]);
    for e in &m.events {
        assert_eq!(e.set.len(), 1);
        assert_eq!(e.set[0].0, ab);
    }
    assert!(m.events[0].set[0]
        .2
        .contains("mwf345ed7a_0622_403c_b816_c8749a2c9ded + (ModelValue_48 * 2.346)"));
    assert!(m.events[3].set[0]
        .2
        .contains("Metabolite_6 + (ModelValue_48 * 2.346)"));
}
