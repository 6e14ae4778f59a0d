//! The Monte Carlo standard error `cartox validate` reports for a simulated fraction
//! (`Row::mc_se`, CSV column `mc_se`): sqrt(p (1 - p) / n). Checked against what it claims to
//! measure: the spread of the same fraction over independent populations (other seeds).

use assert_cmd::Command;
use cartox::validate::{validate_model, Row};
use cartox::Model;

/// models/axi-cel.toml with the validation population's seed replaced.
fn axi_cel_with_seed(seed: u64) -> Model {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/axi-cel.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let pop = "[validation.population]\nn = 200\nseed = 1\n";
    assert_eq!(text.matches(pop).count(), 1, "population section not found");
    let with = format!("[validation.population]\nn = 200\nseed = {seed}\n");
    Model::from_toml(&text.replace(pop, &with), "models/axi-cel.toml (seed)").unwrap()
}

fn row<'a>(rows: &'a [Row], metric: &str) -> &'a Row {
    rows.iter().find(|r| r.metric == metric).unwrap()
}

/// Over 16 populations of 60 virtual patients, the standard deviation of ZUMA-1's simulated
/// grade >= 3 ICANS and tocilizumab shares matches the mean reported standard error (within the
/// sampling error of a 16-draw standard deviation, about +-18%, allowed to +-50%).
#[test]
fn the_reported_standard_error_is_the_spread_over_seeds() {
    let n = 60;
    let per_seed: Vec<Vec<Row>> = (1..=16)
        .map(|seed| validate_model(&axi_cel_with_seed(seed), Some(n)).unwrap())
        .collect();
    for metric in ["icans_severe_incidence", "tocilizumab_incidence"] {
        let values: Vec<f64> = per_seed
            .iter()
            .map(|rows| row(rows, metric).simulated.unwrap())
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / (values.len() - 1) as f64)
            .sqrt();
        let se: f64 = per_seed
            .iter()
            .map(|rows| row(rows, metric).mc_se().unwrap())
            .sum::<f64>()
            / per_seed.len() as f64;
        assert!(
            sd > 0.5 * se && sd < 1.5 * se,
            "{metric}: spread over seeds {sd} vs reported standard error {se} (values {values:?})"
        );
        for rows in &per_seed {
            let r = row(rows, metric);
            assert_eq!(r.n, n);
            let p = r.simulated.unwrap();
            assert_eq!(r.mc_se(), Some((p * (1.0 - p) / n as f64).sqrt()));
        }
    }
    // Medians, ratios and the typical patient's metrics have no closed-form error: none reported.
    for rows in &per_seed {
        assert_eq!(row(rows, "crs_onset_median").mc_se(), None);
        assert_eq!(row(rows, "cart_tmax").mc_se(), None);
    }
}

/// The CSV carries the column, filled for fractions only; the text report says how many
/// fractions sit within two standard errors of an edge, above the counts line, which stays the
/// table's last line.
#[test]
fn csv_column_and_report_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.csv");
    let o = Command::cargo_bin("cartox")
        .unwrap()
        .args(["validate", "--presets", "axi-cel", "--n", "50", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let stdout = String::from_utf8(o.stdout).unwrap();
    // The table, then `wrote <path>`: the counts line ends the table.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[lines.len() - 1].starts_with("wrote "), "{stdout}");
    assert!(lines[lines.len() - 2].contains(" targets, "), "{stdout}");
    assert!(
        lines[lines.len() - 3].starts_with("Monte Carlo: ")
            && lines[lines.len() - 3].contains("within 2 standard errors"),
        "{stdout}"
    );
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (metric, sim, n, se) = (col("metric"), col("simulated"), col("n"), col("mc_se"));
    let mut filled = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if rec[metric].ends_with("_incidence") {
            let p: f64 = rec[sim].parse().unwrap();
            let k: f64 = rec[n].parse().unwrap();
            let s: f64 = rec[se].parse().unwrap();
            assert!(
                (s - (p * (1.0 - p) / k).sqrt()).abs() < 1e-9,
                "{}",
                &rec[metric]
            );
            filled += 1;
        } else {
            assert_eq!(&rec[se], "", "{}", &rec[metric]);
        }
    }
    assert!(filled >= 5, "{filled}");
}
