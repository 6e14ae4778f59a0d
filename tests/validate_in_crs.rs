//! Conditional incidences `<incidence>_in_crs` (issue 14, ninth session): trials report CRS
//! management among the patients WITH CRS (Levine 2021 JITC Table 5: tocilizumab 40% and
//! corticosteroids 23% of the 108 ELIANA + ENSIGN patients with CRS), so `validate` can compare a
//! share among the virtual patients with modelled CRS grade >= 1.
//!
//! The reference here is computed independently of `validate`: the same virtual patients are drawn
//! by `cartox population`, run one by one by `cartox sweep`, and counted from the per-patient rows.

use assert_cmd::Command;
use cartox::validate::{self, Row};
use cartox::Model;
use std::fs;

/// The ELIANA preset's own population size and seed (its `[validation.population]`).
const N: usize = 200;
const SEED: &str = "1";
/// `validate` simulates up to the preset's last response visit (ELIANA: day 90).
const DAYS: &str = "90";

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

/// Per-patient (crs_grade, tocilizumab_doses, steroid_days, icans_grade) from `population` +
/// `sweep`; an empty cell (no grade, no drug) reads as 0.
fn per_patient(model: &str, dir: &std::path::Path) -> Vec<[f64; 4]> {
    let pop = dir.join("pop.csv");
    let out = dir.join("sweep.csv");
    cartox()
        .args(["population", "--model", model, "--n", &N.to_string()])
        .args(["--seed", SEED, "--out"])
        .arg(&pop)
        .assert()
        .success();
    cartox()
        .args(["sweep", "--model", model, "--days", DAYS, "--params"])
        .arg(&pop)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let mut r = csv::Reader::from_path(&out).unwrap();
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let cols = [
        col("crs_grade"),
        col("tocilizumab_doses"),
        col("steroid_days"),
        col("icans_grade"),
    ];
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            cols.map(|c| {
                let s = &rec[c];
                if s.is_empty() {
                    0.0
                } else {
                    s.parse().unwrap()
                }
            })
        })
        .collect()
}

/// The ELIANA preset with extra targets (same population), validated by the library.
fn rows_with(metrics: &[&str]) -> Vec<Row> {
    let mut m = Model::resolve("tisa-cel-all").unwrap();
    let table = m.validation.as_mut().unwrap();
    let targets = table["targets"].as_array_mut().unwrap();
    targets.clear();
    for metric in metrics {
        let t: toml::Table = format!(
            "metric = \"{metric}\"\nsample = \"out\"\npublished = 0.5\nlow = 0.0\nhigh = 1.0\nunit = \"fraction\"\nsource = \"test\"\n"
        )
        .parse()
        .unwrap();
        targets.push(toml::Value::Table(t));
    }
    validate::validate_model(&m, None).unwrap()
}

#[test]
fn in_crs_shares_are_counts_with_both_over_counts_with_crs() {
    let dir = tempfile::tempdir().unwrap();
    let pts = per_patient("tisa-cel-all", dir.path());
    assert_eq!(pts.len(), N);
    let crs: Vec<&[f64; 4]> = pts.iter().filter(|p| p[0] >= 1.0).collect();
    // The denominators must differ for the test to tell the two metrics apart.
    assert!(
        !crs.is_empty() && crs.len() < N,
        "{} of {N} with CRS",
        crs.len()
    );
    let k = crs.len() as f64;
    let tcz_in_crs = crs.iter().filter(|p| p[1] >= 1.0).count() as f64 / k;
    let ster_in_crs = crs.iter().filter(|p| p[2] > 0.0).count() as f64 / k;
    let icans_in_crs = crs.iter().filter(|p| p[3] >= 1.0).count() as f64 / k;
    let ster_all = pts.iter().filter(|p| p[2] > 0.0).count() as f64 / N as f64;
    let tcz_all = pts.iter().filter(|p| p[1] >= 1.0).count() as f64 / N as f64;

    let rows = rows_with(&[
        "tocilizumab_incidence_in_crs",
        "steroid_incidence_in_crs",
        "icans_any_incidence_in_crs",
        "tocilizumab_incidence",
        "steroid_incidence",
    ]);
    let got = |metric: &str| {
        let r = rows.iter().find(|r| r.metric == metric).unwrap();
        (r.simulated.unwrap(), r.n)
    };
    // Same patients: the unconditional shares agree with the per-patient rows ...
    assert_eq!(got("tocilizumab_incidence"), (tcz_all, N));
    assert_eq!(got("steroid_incidence"), (ster_all, N));
    // ... and each conditional share is (patients with CRS and the event) / (patients with CRS),
    // its row counting the patients with CRS.
    assert_eq!(got("tocilizumab_incidence_in_crs"), (tcz_in_crs, crs.len()));
    assert_eq!(got("steroid_incidence_in_crs"), (ster_in_crs, crs.len()));
    assert_eq!(got("icans_any_incidence_in_crs"), (icans_in_crs, crs.len()));
    // Under the Penn protocol tocilizumab is given only for CRS (grade >= 3), so among patients
    // with CRS its share is the overall share scaled by N / (patients with CRS).
    assert!((tcz_in_crs - tcz_all * N as f64 / k).abs() < 1e-12);
}

#[test]
fn the_eliana_management_rows_use_the_crs_denominator() {
    let m = Model::resolve("tisa-cel-all").unwrap();
    let spec = validate::Spec::of(&m).unwrap().unwrap();
    for (metric, count) in [
        ("tocilizumab_incidence_in_crs", 43.0),
        ("steroid_incidence_in_crs", 25.0),
    ] {
        let t = spec.targets.iter().find(|t| t.metric == metric).unwrap();
        assert_eq!(t.sample, "out", "{metric}");
        assert_eq!(t.unit, "fraction");
        // Wilson 95% interval of count/108 (Levine 2021 Table 5: 108 patients with CRS),
        // computed here and compared with the preset's range to 3 decimals.
        let (p, n, z) = (count / 108.0, 108.0, 1.959_963_984_540_054_f64);
        let d = 1.0 + z * z / n;
        let c = (p + z * z / (2.0 * n)) / d;
        let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
        assert!((t.published - p).abs() < 5e-4, "{metric}: {}", t.published);
        assert!((t.low - (c - h)).abs() < 5e-4, "{metric}: low {}", t.low);
        assert!((t.high - (c + h)).abs() < 5e-4, "{metric}: high {}", t.high);
    }
    // The all-patients rows are gone from this preset (retargeted, not duplicated).
    for old in ["tocilizumab_incidence", "steroid_incidence"] {
        assert!(spec.targets.iter().all(|t| t.metric != old), "{old}");
    }
}

#[test]
fn a_bad_in_crs_metric_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for metric in [
        "tocilizumab_in_crs",
        "bogus_incidence_in_crs",
        "crs_onset_median_in_crs",
    ] {
        let p = dir.path().join("p.toml");
        fs::write(
            &p,
            format!(
                "[preset]\nname = \"x\"\nbase = \"cartox\"\n[validation.population]\nn = 3\nseed = 1\n[[validation.targets]]\nmetric = \"{metric}\"\nsample = \"out\"\npublished = 0.4\nlow = 0.3\nhigh = 0.5\nsource = \"s\"\n"
            ),
        )
        .unwrap();
        let out = cartox()
            .args(["validate", "--out", "-", "--presets"])
            .arg(&p)
            .assert()
            .failure();
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("`{metric}`")) && err.contains("_in_crs"),
            "{err}"
        );
    }
}

#[test]
fn in_crs_is_a_fraction_and_a_population_metric() {
    let m = Model::resolve("tisa-cel-all").unwrap();
    assert_eq!(
        validate::metric_unit(&m, "steroid_incidence_in_crs").as_deref(),
        Some("fraction")
    );
    // A conditional metric needs a population, like every incidence.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    fs::write(
        &p,
        "[preset]\nname = \"x\"\nbase = \"cartox\"\n[[validation.targets]]\nmetric = \"steroid_incidence_in_crs\"\npublished = 0.2\nlow = 0.1\nhigh = 0.3\nsource = \"s\"\n",
    )
    .unwrap();
    let e = Model::load(&p)
        .and_then(|m| validate::validate_model(&m, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("steroid_incidence_in_crs") && e.contains("population"),
        "{e}"
    );
}
