//! Figures end to end: sizes, one colour per scenario, SVG text, and bad input without output.

use assert_cmd::Command;
use std::collections::HashSet;
use std::fs;

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

/// Okabe-Ito colours present in a PNG (exact pixel matches of the palette).
fn palette_colours(path: &std::path::Path) -> HashSet<(u8, u8, u8)> {
    let img = image::open(path).unwrap().to_rgb8();
    let palette: HashSet<(u8, u8, u8)> = cartox::plot::PALETTE.iter().copied().collect();
    img.pixels()
        .map(|p| (p[0], p[1], p[2]))
        .filter(|c| palette.contains(c))
        .collect()
}

#[test]
fn simulate_plot_has_the_requested_size_and_draws_the_series() {
    let dir = tempfile::tempdir().unwrap();
    let fig = dir.path().join("fig.png");
    cartox()
        .args(["simulate", "--width", "800", "--height", "700", "--plot"])
        .arg(&fig)
        .assert()
        .success();
    let img = image::open(&fig).unwrap();
    assert_eq!((img.width(), img.height()), (800, 700));
    assert!(palette_colours(&fig).contains(&cartox::plot::PALETTE[0]));
}

#[test]
fn scenarios_overlay_one_colour_each() {
    let dir = tempfile::tempdir().unwrap();
    let fig = dir.path().join("s.png");
    cartox()
        .args([
            "scenarios",
            "--vary",
            "dose=1e7,1e8,1e9",
            "--panels",
            "cart_blood",
            "--plot",
        ])
        .arg(&fig)
        .assert()
        .success();
    let colours = palette_colours(&fig);
    for c in &cartox::plot::PALETTE[..3] {
        assert!(colours.contains(c), "missing scenario colour {c:?}");
    }
}

#[test]
fn svg_carries_axis_labels_and_grade_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let fig = dir.path().join("fig.svg");
    cartox()
        .args(["simulate", "--plot"])
        .arg(&fig)
        .assert()
        .success();
    let svg = fs::read_to_string(&fig).unwrap();
    for text in [
        "Time after infusion (days)",
        "cells/uL",
        "pg/mL",
        "CRS grade 2",
        "ICANS grade 1",
        "not clinical",
    ] {
        assert!(svg.contains(text), "SVG lacks `{text}`");
    }
}

#[test]
fn plot_reads_simulate_and_population_timecourses() {
    let dir = tempfile::tempdir().unwrap();
    let tc = dir.path().join("tc.csv");
    let lo = dir.path().join("lo.csv");
    cartox()
        .args(["simulate", "--out"])
        .arg(&tc)
        .assert()
        .success();
    cartox()
        .args(["simulate", "--dose", "1e7", "--out"])
        .arg(&lo)
        .assert()
        .success();
    let fig = dir.path().join("two.png");
    cartox()
        .arg("plot")
        .arg(&tc)
        .arg(&lo)
        .arg("--out")
        .arg(&fig)
        .assert()
        .success();
    let colours = palette_colours(&fig);
    assert!(
        colours.contains(&cartox::plot::PALETTE[0]) && colours.contains(&cartox::plot::PALETTE[1])
    );

    // A small population: median and ribbon.
    let pop = dir.path().join("pop.csv");
    let res = dir.path().join("res.csv");
    let long = dir.path().join("long.csv");
    cartox()
        .args(["population", "--n", "20", "--seed", "3", "--out"])
        .arg(&pop)
        .assert()
        .success();
    cartox()
        .args(["sweep", "--quiet", "--dt", "0.5", "--params"])
        .arg(&pop)
        .arg("--out")
        .arg(&res)
        .arg("--timecourses")
        .arg(&long)
        .assert()
        .success();
    let band = dir.path().join("band.svg");
    cartox()
        .arg("plot")
        .arg(&long)
        .arg("--out")
        .arg(&band)
        .assert()
        .success();
    assert!(fs::read_to_string(&band)
        .unwrap()
        .contains("20 virtual patients"));
}

#[test]
fn bad_plot_input_fails_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let no_time = dir.path().join("no_time.csv");
    fs::write(&no_time, "t,x\n0,1\n1,2\n").unwrap();
    let empty = dir.path().join("empty.csv");
    fs::write(&empty, "").unwrap();
    let good = dir.path().join("good.csv");
    cartox()
        .args(["simulate", "--out"])
        .arg(&good)
        .assert()
        .success();
    let fig = dir.path().join("fig.png");
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec![no_time.clone().into()], "no `time` column"),
        (vec![empty.clone().into()], "empty.csv"),
        (
            vec![good.clone().into(), "--panels".into(), "nope".into()],
            "unknown panel `nope`",
        ),
    ];
    for (args, needle) in cases {
        let out = cartox()
            .arg("plot")
            .args(&args)
            .arg("--out")
            .arg(&fig)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle) && err.lines().count() == 1, "{err}");
        assert!(!fig.exists());
    }
    let out = cartox()
        .arg("plot")
        .arg(&good)
        .args(["--out", "/nonexistent-dir/fig.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("cannot write /nonexistent-dir/fig.png"));
    // Nothing but the inputs is left in the directory.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
}
