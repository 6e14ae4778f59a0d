//! `cartox sensitivity` end to end: known indices of test functions written as model files,
//! determinism across thread counts, failed runs counted, one-line errors.

use assert_cmd::Command;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

fn model(name: &str) -> String {
    format!("{}/tests/models/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

/// (output, parameter, index) -> (value, ci_low, ci_high, n_rows); missing numbers are NaN.
type Indices = HashMap<(String, String, String), (f64, f64, f64, usize)>;

fn read_indices(path: &Path) -> Indices {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "output",
            "parameter",
            "index",
            "value",
            "ci_low",
            "ci_high",
            "n_rows"
        ]
    );
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[0].to_string(), rec[1].to_string(), rec[2].to_string()),
                (
                    num(&rec[3]),
                    num(&rec[4]),
                    num(&rec[5]),
                    rec[6].parse().unwrap(),
                ),
            )
        })
        .collect()
}

fn get(ix: &Indices, o: &str, p: &str, i: &str) -> (f64, f64, f64, usize) {
    *ix.get(&(o.into(), p.into(), i.into()))
        .unwrap_or_else(|| panic!("no row {o} {p} {i}"))
}

/// Run, expect exit 1 and a one-line error containing `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let out = cartox().arg("sensitivity").args(args).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} should exit 1: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
}

/// Analytic Ishigami indices (A = 7, B = 0.1): (S1, ST) of x1, x2, x3.
fn ishigami_truth() -> ([f64; 3], [f64; 3]) {
    let (a, b, pi) = (7.0f64, 0.1f64, std::f64::consts::PI);
    let v1 = 0.5 * (1.0 + b * pi.powi(4) / 5.0).powi(2);
    let v2 = a * a / 8.0;
    let v13 = b * b * pi.powi(8) * (1.0 / 18.0 - 1.0 / 50.0);
    let v = v1 + v2 + v13;
    ([v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v])
}

#[test]
fn sobol_of_the_ishigami_model_file_is_within_0_02_of_analytic_at_n_65536() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ix.csv");
    // ranges from the model file's bounds ([-pi, pi], uniform); 65536 x 5 = 327,680 runs
    cartox()
        .args(["sensitivity", "-m", &model("ishigami"), "--method", "sobol"])
        .args(["--params", "x1,x2,x3", "--outputs", "y@0", "--days", "0.1"])
        .args(["--n", "65536", "--seed", "1", "--bootstrap", "100", "-q"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let ix = read_indices(&out);
    let (s1, st) = ishigami_truth();
    for (i, p) in ["x1", "x2", "x3"].iter().enumerate() {
        let a = get(&ix, "y@0", p, "S1");
        let b = get(&ix, "y@0", p, "ST");
        assert!((a.0 - s1[i]).abs() < 0.02, "S1 {p}: {} vs {}", a.0, s1[i]);
        assert!((b.0 - st[i]).abs() < 0.02, "ST {p}: {} vs {}", b.0, st[i]);
        assert!(a.1 <= a.0 && a.0 <= a.2 && b.1 <= b.0 && b.0 <= b.2);
        assert_eq!(a.3, 65536 * 5);
    }
}

#[test]
fn morris_and_local_on_a_linear_model_equal_the_coefficients() {
    // y = 2 a - 3 b + 0.5 c (+ 0 d) at a = 1, b = 0.5, c = 4
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.csv");
    cartox()
        .args(["sensitivity", "-m", &model("linear"), "--method", "morris"])
        .args(["--params", "a,b,c,d", "--ranges", "a=0:1,b=0:1,c=0:1,d=0:1"])
        .args([
            "--outputs",
            "y@1",
            "--days",
            "1",
            "--n",
            "12",
            "--levels",
            "6",
            "-q",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let ix = read_indices(&out);
    for (p, c) in [("a", 2.0), ("b", -3.0), ("c", 0.5), ("d", 0.0)] {
        assert!((get(&ix, "y@1", p, "mu").0 - c).abs() < 1e-9, "{p}");
        assert!((get(&ix, "y@1", p, "mu_star").0 - f64::abs(c)).abs() < 1e-9);
        assert!(get(&ix, "y@1", p, "sigma").0.abs() < 1e-9);
        assert_eq!(get(&ix, "y@1", p, "mu").3, 12 * 5);
    }
    // local: d ln y / d ln p = c_i p_i / y, y = 2.5
    let tc = dir.path().join("tc.csv");
    cartox()
        .args(["sensitivity", "-m", &model("linear"), "--method", "local"])
        .args([
            "--params",
            "a,b,c,d",
            "--outputs",
            "y@1",
            "--days",
            "1",
            "-q",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--timecourses")
        .arg(&tc)
        .assert()
        .success();
    let ix = read_indices(&out);
    for (p, want) in [("a", 0.8), ("b", -0.6), ("c", 0.8), ("d", 0.0)] {
        let (v, lo, hi, n) = get(&ix, "y@1", p, "local");
        assert!((v - want).abs() < 1e-8, "{p}: {v}");
        assert!(lo <= v && v <= hi && hi - lo < 1e-4, "{p}: [{lo}, {hi}]");
        assert_eq!(n, 5);
    }
    let text = fs::read_to_string(&tc).unwrap();
    assert!(text.starts_with("parameter,time,y\n"));
    // the time course of y is constant, so is its sensitivity
    let b_rows: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("b,"))
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(b_rows.len(), 11);
    assert!(b_rows.iter().all(|v| (v + 0.6).abs() < 1e-8));
}

#[test]
fn same_seed_same_bytes_on_any_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = vec![];
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("ix{jobs}.csv"));
        let design = dir.path().join(format!("d{jobs}.csv"));
        cartox()
            .args([
                "sensitivity",
                "--method",
                "sobol",
                "--params",
                "k_act,rho_E,delta_E",
            ])
            .args([
                "--around",
                "0.5",
                "--n",
                "12",
                "--population",
                "3",
                "--seed",
                "7",
            ])
            .args([
                "--outputs",
                "cart_cmax,P(crs_grade>=2),il6@7",
                "--bootstrap",
                "50",
            ])
            .args(["--jobs", jobs, "-q", "--days", "14"])
            .arg("--out")
            .arg(&out)
            .arg("--design")
            .arg(&design)
            .assert()
            .success();
        outs.push((fs::read(&out).unwrap(), fs::read(&design).unwrap()));
    }
    assert_eq!(outs[0], outs[1]);
    let ix = read_indices(&dir.path().join("ix1.csv"));
    // 12 base rows x 5 points; every run succeeded
    assert_eq!(get(&ix, "cart_cmax", "rho_E", "ST").3, 60);
    // probabilities over 3 patients are multiples of 1/3
    let d = fs::read_to_string(dir.path().join("d1.csv")).unwrap();
    assert!(
        d.starts_with("row,k_act,rho_E,delta_E,cart_cmax,P(crs_grade>=2),il6@7,status,message\n")
    );
    for l in d.lines().skip(1) {
        let p: f64 = l.split(',').nth(5).unwrap().parse().unwrap();
        assert!(((p * 3.0) - (p * 3.0).round()).abs() < 1e-12, "{l}");
    }
}

#[test]
fn failed_runs_are_counted_in_n_rows_and_the_exit_status() {
    // blow-up before day 1 when a > 1: about half the runs fail
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ix.csv");
    let run = cartox()
        .args(["sensitivity", "-m", &model("blowup"), "--method", "sobol"])
        .args([
            "--params",
            "a,b",
            "--ranges",
            "a=0:2,b=1:2",
            "--outputs",
            "y@1",
        ])
        .args(["--days", "1", "--n", "40", "-q"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    let err = String::from_utf8(run.stderr).unwrap();
    assert!(
        err.contains("model runs failed") && err.contains("solve failed"),
        "{err}"
    );
    let ix = read_indices(&out);
    let n = get(&ix, "y@1", "a", "S1").3;
    // a base row is used only when its 4 runs all succeed (all a < 1)
    assert!(n > 0 && n < 160 && n.is_multiple_of(4), "{n}");
}

#[test]
fn charts_are_written_for_every_method() {
    let dir = tempfile::tempdir().unwrap();
    for (method, extra) in [
        ("local", vec![]),
        ("morris", vec!["--n", "4", "--around", "0.3"]),
        ("sobol", vec!["--n", "8", "--around", "0.3"]),
    ] {
        let fig = dir.path().join(format!("{method}.png"));
        cartox()
            .args(["sensitivity", "--method", method, "--params", "k_act,rho_E"])
            .args([
                "--outputs",
                "cart_cmax",
                "--days",
                "14",
                "-q",
                "--bootstrap",
                "20",
            ])
            .args(extra)
            .arg("--out")
            .arg(dir.path().join("ix.csv"))
            .arg("--plot")
            .arg(&fig)
            .assert()
            .success();
        let img = image::open(&fig).unwrap();
        assert!(img.width() > 400 && img.height() > 200, "{method}");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    let o = ["--out", "/dev/null"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = extra.to_vec();
        v.extend(o);
        v
    };
    fails_with(
        &with(&["--method", "fast", "--params", "k_act"]),
        "unknown method `fast`",
    );
    fails_with(
        &with(&["--method", "sobol", "--params", "k_act,nope"]),
        "unknown name `nope`",
    );
    fails_with(
        &with(&[
            "--method", "morris", "--params", "k_act", "--ranges", "k_act=1",
        ]),
        "expected NAME=LO:HI",
    );
    fails_with(
        &with(&[
            "--method",
            "morris",
            "--params",
            "k_act",
            "--ranges",
            "k_act=2:1",
        ]),
        "must be below",
    );
    fails_with(
        &with(&[
            "--method",
            "morris",
            "--params",
            "k_act",
            "--ranges",
            "k_act=log:0:1",
        ]),
        "lower end above 0",
    );
    fails_with(
        &with(&[
            "--method",
            "morris",
            "--params",
            "k_act",
            "--ranges",
            "k_act=0:20",
        ]),
        "above its upper bound",
    );
    fails_with(
        &with(&[
            "--method",
            "morris",
            "--params",
            "k_act",
            "--ranges",
            "rho_E=0:1",
        ]),
        "`rho_E` is not in --params",
    );
    fails_with(
        &with(&["--method", "morris", "--params", "dose"]),
        "give its range with --ranges dose=LO:HI",
    );
    fails_with(
        &with(&[
            "--method",
            "sobol",
            "--params",
            "k_act",
            "--outputs",
            "cmax",
        ]),
        "unknown output `cmax`",
    );
    fails_with(
        &with(&[
            "--method",
            "sobol",
            "--params",
            "k_act",
            "--outputs",
            "il6@40",
        ]),
        "outside the simulated",
    );
    fails_with(
        &with(&[
            "--method",
            "sobol",
            "--params",
            "k_act",
            "--outputs",
            "P(crs_grade~2)",
        ]),
        "expected P(NAME OP NUMBER)",
    );
    fails_with(
        &with(&["--method", "morris", "--params", "k_act", "--levels", "5"]),
        "--levels must be an even number",
    );
    fails_with(
        &with(&["--method", "local", "--params", "k_act", "--n", "10"]),
        "--n is not used by --method local",
    );
    fails_with(
        &with(&["--method", "local", "--params", "dose"]),
        "not a parameter of model",
    );
    fails_with(
        &with(&[
            "--method",
            "sobol",
            "--params",
            "k_act",
            "--timecourses",
            "x.csv",
        ]),
        "--timecourses is for --method local",
    );
}
