//! The command line end to end.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

/// Run, expect failure with exit 1 and a one-line error containing `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let out = cartox().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} should exit 1");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: error is not one line: {err}"
    );
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
}

#[test]
fn default_run_prints_a_readable_summary() {
    cartox()
        .arg("simulate")
        .assert()
        .success()
        .stdout(predicate::str::contains("model `cartox`"))
        .stdout(predicate::str::contains("peak (Cmax)"))
        .stdout(predicate::str::contains("cells/uL"))
        .stdout(predicate::str::contains("not clinical advice"));
}

#[test]
fn writes_timecourse_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tc.csv");
    let json = dir.path().join("s.json");
    cartox()
        .args(["simulate", "--dt", "0.5", "--out"])
        .arg(&csv)
        .arg("--summary")
        .arg(&json)
        .assert()
        .success();
    let text = fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("time,"), "{header}");
    for col in ["cart_blood", "tumor", "il6", "icans_drive"] {
        assert!(
            header.split(',').any(|c| c == col),
            "missing {col} in {header}"
        );
    }
    assert_eq!(text.lines().count(), 1 + 57);
    assert!(text.lines().last().unwrap().starts_with("28,"));
    let s: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    for k in [
        "cart_cmax",
        "cart_tmax",
        "cart_auc",
        "cart_last",
        "tumor_nadir",
        "tumor_end",
    ] {
        assert!(s[k].is_number(), "{k} missing in {s}");
    }
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn same_inputs_same_bytes() {
    let a = cartox()
        .args(["simulate", "--out", "-"])
        .output()
        .unwrap()
        .stdout;
    let b = cartox()
        .args(["simulate", "--out", "-"])
        .output()
        .unwrap()
        .stdout;
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn inputs_change_the_result_in_the_expected_direction() {
    let cmax = |args: &[&str]| -> f64 {
        let out = cartox()
            .arg("simulate")
            .args(args)
            .args(["--summary", "-"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["cart_cmax"].as_f64().unwrap()
    };
    let base = cmax(&[]);
    // docs/default-model.md: no LD gives a 1.64-fold lower peak since the dose-flat refit
    // (issue 13; before it 3.8-fold).
    assert!(
        cmax(&["--ld", "none"]) < base / 1.5,
        "lymphodepletion should raise expansion"
    );
    assert!(cmax(&["--dose", "1e9"]) > base);
    assert!(cmax(&["--dose-per-kg", "2e6", "--weight", "100"]) > base);
    assert!(cmax(&["--tumor-burden", "1e9"]) < base);
    assert!(cmax(&["--set", "rho_E=0.8"]) > base);
    assert!(cmax(&["--schedule", "0:0.1,1:0.3,2:0.6"]) > 0.0);
}

#[test]
fn bad_inputs_exit_non_zero_with_one_line() {
    fails_with(
        &["simulate", "--set", "nonsense=1"],
        "unknown name `nonsense`",
    );
    fails_with(
        &["simulate", "--set", "rho_E=abc"],
        "`rho_E` = `abc` is not a number",
    );
    fails_with(&["simulate", "--set", "rho_E"], "expected NAME=VALUE");
    fails_with(&["simulate", "--set", "rho_E=-1"], "below its lower bound");
    fails_with(&["simulate", "--set", "rho_E=NaN"], "not a finite number");
    fails_with(
        &["simulate", "--days", "-5"],
        "--days must be a positive number",
    );
    fails_with(&["simulate", "--dt", "0"], "--dt must be a positive number");
    fails_with(&["simulate", "--dt", "x"], "--dt: `x` is not a number");
    fails_with(&["simulate", "--model", "nope"], "unknown model `nope`");
    fails_with(
        &["simulate", "--ld", "chemo"],
        "unknown lymphodepletion regimen `chemo`",
    );
    fails_with(&["simulate", "--dose", "-3"], "must not be negative");
    fails_with(&["simulate", "--method", "euler"], "unknown method `euler`");
    fails_with(&["simulate", "--schedule", "0:0.5,1:0.4"], "sum to 0.9");
    fails_with(
        &["simulate", "--model", "kimmel2021", "--dose", "1e8"],
        "declares no [regimen]",
    );
    fails_with(&["describe", "nope"], "unknown model `nope`");
}

#[test]
fn malformed_model_file_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    fs::write(
        &path,
        "[model]\nname = \"bad\"\ntime_unit = \"day\"\n[[states]]\nname = \"x\"\ninitial = 1\n[equations]\nx = \"-k * x\"\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    fails_with(
        &["simulate", "--model", p],
        &format!("{p}:8:7: equations.x: unknown name `k`"),
    );
}

#[test]
fn nothing_is_half_written_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tc.csv");
    cartox()
        .args(["simulate", "--set", "bogus=1", "--out"])
        .arg(&csv)
        .assert()
        .failure();
    assert!(!csv.exists());
    // An unwritable destination fails cleanly too.
    cartox()
        .args(["simulate", "--out", "/nonexistent-dir/tc.csv"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot write /nonexistent-dir/tc.csv",
        ));
}

#[test]
fn models_and_describe() {
    cartox()
        .arg("models")
        .assert()
        .success()
        .stdout(predicate::str::contains("cartox"))
        .stdout(predicate::str::contains("kimmel2021"))
        .stdout(predicate::str::contains("hanson2016"));
    cartox()
        .args(["describe", "cartox"])
        .assert()
        .success()
        .stdout(predicate::str::contains("source:"))
        .stdout(predicate::str::contains("flu-cy"))
        .stdout(predicate::str::contains("dE/dt"));
}

#[test]
fn hour_models_report_days() {
    let out = cartox()
        .args([
            "simulate",
            "--model",
            "hanson2016",
            "--days",
            "30",
            "--dt",
            "1",
            "--out",
            "-",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 32);
    assert!(text.lines().last().unwrap().starts_with("30,"));
}

/// Writing to a device must not replace it with a regular file (temporary file + rename is only
/// for regular files).
#[cfg(unix)]
#[test]
fn writing_to_dev_null_keeps_it_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let is_device = || {
        fs::metadata("/dev/null")
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false)
    };
    if !is_device() {
        return; // nothing to protect on this machine
    }
    cartox()
        .args([
            "simulate",
            "--dt",
            "1",
            "--out",
            "/dev/null",
            "--summary",
            "/dev/null",
        ])
        .assert()
        .success();
    assert!(is_device(), "/dev/null was replaced by a regular file");
}
