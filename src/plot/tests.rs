//! Rendering tests: decode the PNG output and look for the expected colours in each panel.

use super::*;
use std::path::PathBuf;

fn curve(peak: f64, tp: f64) -> Vec<f64> {
    (0..=140)
        .map(|i| {
            let t = i as f64 * 0.2;
            0.5 + peak * (-(t - tp).powi(2) / 8.0).exp()
        })
        .collect()
}

fn three_series() -> Vec<Series> {
    let time: Vec<f64> = (0..=140).map(|i| i as f64 * 0.2).collect();
    [(30.0, 8.0), (10.0, 12.0), (3.0, 18.0)]
        .iter()
        .enumerate()
        .map(|(k, &(peak, tp))| Series {
            label: format!("scenario {k}"),
            time: time.clone(),
            columns: vec![
                ("car_t".into(), curve(peak, tp)),
                ("il6".into(), curve(peak * 40.0, tp - 1.0)),
                ("neuro".into(), curve(peak / 30.0, tp + 1.0)),
            ],
        })
        .collect()
}

fn fig3() -> Figure {
    Figure {
        panels: vec![
            Panel::new("car_t", "CAR-T in blood (cells/uL)").log(),
            Panel::new("il6", "IL-6 (pg/mL)")
                .log()
                .threshold(12.0, "grade 1")
                .threshold(170.0, "grade 2")
                .threshold(500.0, "grade 3")
                .threshold(3000.0, "grade 4"),
            Panel::new("neuro", "Neurotoxicity drive (a.u.)"),
        ],
        width: 800,
        height: 900,
        title: Some("Test figure".into()),
        caption: Some("Grades are modelled risk, not clinical ASTCT grades.".into()),
        markers: vec![(0.0, "infusion".into()), (5.0, "tocilizumab".into())],
        windows: vec![(0.0, 14.0, "monitoring".into())],
    }
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

fn close(p: &image::Rgb<u8>, c: (u8, u8, u8), tol: i32) -> bool {
    (p[0] as i32 - c.0 as i32).abs() <= tol
        && (p[1] as i32 - c.1 as i32).abs() <= tol
        && (p[2] as i32 - c.2 as i32).abs() <= tol
}

/// Pixels of colour `c` inside rect (shrunk by 2 px to skip the frame).
fn count_in(img: &image::RgbImage, r: (u32, u32, u32, u32), c: (u8, u8, u8), tol: i32) -> usize {
    let mut n = 0;
    for y in r.1 + 2..r.3 - 2 {
        for x in r.0 + 2..r.2 - 2 {
            if close(img.get_pixel(x, y), c, tol) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn png_has_size_and_every_series_colour_in_every_panel() {
    let dir = tmpdir();
    let out = dir.path().join("fig.png");
    let fig = fig3();
    render_series(&fig, &three_series(), &out).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 900));
    let rects = panel_rects(&fig);
    assert_eq!(rects.len(), 3);
    for (p, r) in rects.iter().enumerate() {
        assert!(r.0 < r.2 && r.1 < r.3 && r.2 <= 800 && r.3 <= 900);
        for k in 0..3 {
            let n = count_in(&img, *r, series_color(k), 8);
            assert!(n > 30, "panel {p}: only {n} pixels of series {k}'s colour");
        }
    }
    // panels are stacked top to bottom without overlap
    for w in rects.windows(2) {
        assert!(w[0].3 < w[1].1);
    }
    // only the renamed file is left
    assert_eq!(entries(dir.path()), vec![out]);
}

#[test]
fn overlaid_series_get_distinct_colours() {
    let c: Vec<_> = (0..3).map(series_color).collect();
    for i in 0..3 {
        for j in i + 1..3 {
            let d = (c[i].0 as i32 - c[j].0 as i32).abs()
                + (c[i].1 as i32 - c[j].1 as i32).abs()
                + (c[i].2 as i32 - c[j].2 as i32).abs();
            assert!(d > 100, "{:?} vs {:?}", c[i], c[j]);
        }
    }
    assert_eq!(c[0], (0x00, 0x72, 0xB2));
    assert_eq!(c[1], (0xD5, 0x5E, 0x00));
    assert_eq!(c[2], (0x00, 0x9E, 0x73));
    // and the bottom panel (no legend there) really holds each colour at distinct pixels
    let dir = tmpdir();
    let out = dir.path().join("o.png");
    let fig = fig3();
    render_series(&fig, &three_series(), &out).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    let r = panel_rects(&fig)[2];
    let counts: Vec<usize> = c.iter().map(|&col| count_in(&img, r, col, 2)).collect();
    assert!(counts.iter().all(|&n| n > 30), "{counts:?}");
}

fn bands() -> (Figure, Vec<Vec<Band>>) {
    let time: Vec<f64> = (0..=100).map(|i| i as f64 * 0.28).collect();
    let mk = |scale: f64| -> Vec<Vec<f64>> {
        (0..50)
            .map(|p| {
                time.iter()
                    .map(|t| scale * (1.0 + p as f64 / 25.0) * (1.0 + t / 10.0))
                    .collect()
            })
            .collect()
    };
    let a = percentile_band("group A", &time, &mk(1.0), 5.0, 95.0);
    let b = percentile_band("group B", &time, &mk(100.0), 5.0, 95.0);
    let fig = Figure {
        panels: vec![
            Panel::new("car_t", "CAR-T in blood (cells/uL)").log(),
            Panel::new("il6", "IL-6 (pg/mL)")
                .log()
                .threshold(500.0, "grade 3"),
        ],
        width: 700,
        height: 600,
        caption: Some("n = 100 patients".into()),
        ..Figure::default()
    };
    (fig, vec![vec![a.clone(), b.clone()], vec![b, a]])
}

#[test]
fn bands_draw_median_and_ribbon_colour() {
    let dir = tmpdir();
    let out = dir.path().join("bands.png");
    let (fig, b) = bands();
    render_bands(&fig, &b, &out).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (700, 600));
    for (p, r) in panel_rects(&fig).into_iter().enumerate() {
        for k in 0..2 {
            let c = series_color(k);
            let blend =
                |v: u8| (255.0 * (1.0 - RIBBON_ALPHA) + v as f64 * RIBBON_ALPHA).round() as u8;
            let ribbon = (blend(c.0), blend(c.1), blend(c.2));
            let n_rib = count_in(&img, r, ribbon, 4);
            let n_med = count_in(&img, r, c, 8);
            assert!(n_rib > 500, "panel {p} group {k}: ribbon pixels {n_rib}");
            assert!(n_med > 50, "panel {p} group {k}: median pixels {n_med}");
        }
    }
}

#[test]
fn group_colour_follows_label_across_panels() {
    // panel 2 lists the groups in the opposite order; colours must follow the labels
    let (fig, b) = bands();
    let dir = tmpdir();
    let out = dir.path().join("g.png");
    render_bands(&fig, &b, &out).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    let r = panel_rects(&fig)[1];
    // group A (blue) has the low values: its median sits in the lower half of panel 2
    let (mut lo_half, mut hi_half) = (0, 0);
    for y in r.1 + 2..r.3 - 2 {
        for x in r.0 + 2..r.2 - 2 {
            if close(img.get_pixel(x, y), series_color(0), 8) {
                if y > (r.1 + r.3) / 2 {
                    lo_half += 1
                } else {
                    hi_half += 1
                }
            }
        }
    }
    assert!(lo_half > 10 * hi_half.max(1), "{lo_half} vs {hi_half}");
}

#[test]
fn svg_contains_axis_labels() {
    let dir = tmpdir();
    let out = dir.path().join("fig.svg");
    render_series(&fig3(), &three_series(), &out).unwrap();
    let s = std::fs::read_to_string(&out).unwrap();
    assert!(s.starts_with("<svg") || s.contains("<svg"));
    for t in [
        "CAR-T in blood (cells/uL)",
        "IL-6 (pg/mL)",
        "Time after infusion (days)",
        "grade 2",
        "scenario 1",
        "tocilizumab",
    ] {
        assert!(s.contains(t), "missing `{t}`");
    }
    // decade labels, never long decimals
    let lines: Vec<&str> = s.lines().map(str::trim).collect();
    assert!(
        lines.contains(&"1e2") && lines.contains(&"1e-1"),
        "decade labels"
    );
    assert!(!s.contains(">100.0") && !lines.contains(&"100.000000"));
}

#[test]
fn unknown_extension_is_an_error_and_writes_nothing() {
    let dir = tmpdir();
    for name in ["fig.pdf", "fig", "fig.png.txt"] {
        let out = dir.path().join(name);
        let e = render_series(&fig3(), &three_series(), &out).unwrap_err();
        assert!(
            matches!(e, crate::Error::Plot(PlotError::Format { .. })),
            "{e}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn unwritable_output_is_an_error() {
    let out = Path::new("/nonexistent-dir/x.png");
    let e = render_series(&fig3(), &three_series(), out).unwrap_err();
    assert!(
        matches!(e, crate::Error::Plot(PlotError::Write { .. })),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("cannot write /nonexistent-dir/x.png: "),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn failed_rename_leaves_no_temporary_file() {
    let dir = tmpdir();
    // a non-empty directory where the figure should go: the final rename fails
    let out = dir.path().join("taken.png");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep"), "x").unwrap();
    let e = render_series(&fig3(), &three_series(), &out).unwrap_err();
    assert!(
        matches!(e, crate::Error::Plot(PlotError::Write { .. })),
        "{e}"
    );
    assert_eq!(entries(dir.path()), vec![out]);
}

#[test]
fn replaces_existing_file() {
    let dir = tmpdir();
    let out = dir.path().join("fig.png");
    std::fs::write(&out, "old").unwrap();
    render_series(&fig3(), &three_series(), &out).unwrap();
    assert_eq!(image::open(&out).unwrap().width(), 800);
}

#[test]
fn bad_data_gives_clear_errors_and_no_file() {
    let dir = tmpdir();
    let out = dir.path().join("bad.png");
    let fig = fig3();

    let e = render_series(&fig, &[], &out).unwrap_err();
    assert!(e.to_string().contains("no series"), "{e}");

    let mut s = three_series();
    s[1].time.clear();
    s[1].columns.iter_mut().for_each(|c| c.1.clear());
    let e = render_series(&fig, &s, &out).unwrap_err();
    assert!(e.to_string().contains("`scenario 1` is empty"), "{e}");

    let mut s = three_series();
    for x in &mut s {
        x.columns[2].1.iter_mut().for_each(|v| *v = f64::NAN);
    }
    let e = render_series(&fig, &s, &out).unwrap_err();
    assert!(e.to_string().contains("panel `neuro`"), "{e}");

    let mut f = fig.clone();
    f.panels[1].column = "foo".into();
    let e = render_series(&f, &three_series(), &out).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: unknown panel `foo` (available: car_t, il6, neuro)",
            out.display()
        )
    );

    let mut s = three_series();
    s[0].columns[0].1.pop();
    let e = render_series(&fig, &s, &out).unwrap_err();
    assert!(
        e.to_string().contains("140 values for 141 time points"),
        "{e}"
    );

    // log panel with nothing positive
    let mut s = three_series();
    for x in &mut s {
        x.columns[0].1.iter_mut().for_each(|v| *v = -*v);
    }
    let e = render_series(&fig, &s, &out).unwrap_err();
    assert!(e.to_string().contains("no positive values"), "{e}");

    let mut f = fig.clone();
    f.windows.push((f64::NAN, 3.0, "early alarm".into()));
    let e = render_series(&f, &three_series(), &out).unwrap_err();
    assert!(
        e.to_string()
            .contains("window `early alarm` has a non-finite bound"),
        "{e}"
    );

    let (bf, b) = bands();
    let e = render_bands(&bf, &b[..1], &out).unwrap_err();
    assert!(
        e.to_string().contains("1 band set(s) given for 2 panel(s)"),
        "{e}"
    );

    assert!(!e.to_string().contains('\n'));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn log_panels_skip_non_positive_values() {
    let mut s = three_series();
    for (k, v) in s[0].columns[0].1.iter_mut().enumerate() {
        if k % 7 == 0 {
            *v = 0.0;
        }
        if k % 11 == 0 {
            *v = f64::NAN;
        }
    }
    s[1].columns[1].1[3] = -5.0;
    let dir = tmpdir();
    let out = dir.path().join("gaps.png");
    render_series(&fig3(), &s, &out).unwrap();
    assert!(out.exists());
}

#[test]
fn tiny_figure_is_an_error() {
    let mut fig = fig3();
    fig.width = 120;
    fig.height = 90;
    let dir = tmpdir();
    let out = dir.path().join("tiny.png");
    let e = render_series(&fig, &three_series(), &out).unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    assert!(panel_rects(&fig).is_empty());
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn many_layouts_render() {
    // smoke test over sizes and panel counts, including one panel and long labels
    let s = three_series();
    let dir = tmpdir();
    for (w, h, n) in [
        (400, 300, 1),
        (640, 480, 2),
        (1600, 1200, 3),
        (500, 1000, 3),
    ] {
        let mut fig = fig3();
        fig.panels.truncate(n);
        fig.width = w;
        fig.height = h;
        let out = dir.path().join(format!("f{w}x{h}.png"));
        render_series(&fig, &s, &out).unwrap();
        let img = image::open(&out).unwrap();
        assert_eq!((img.width(), img.height()), (w, h));
        assert_eq!(panel_rects(&fig).len(), n);
    }
}

#[test]
fn percentile_band_matches_numpy() {
    let time = vec![0.0, 1.0];
    let patients: Vec<Vec<f64>> = (1..=101)
        .map(|p| vec![p as f64, if p == 1 { f64::NAN } else { 2.0 * p as f64 }])
        .collect();
    let b = percentile_band("g", &time, &patients, 5.0, 95.0);
    assert_eq!(b.label, "g");
    assert_eq!(b.median[0], 51.0);
    assert!((b.lower[0] - 6.0).abs() < 1e-12);
    assert!((b.upper[0] - 96.0).abs() < 1e-12);
    // second point: 2..=101 doubled (100 values), NaN ignored; numpy: percentile(2*arange(2,102), 5) = 13.9
    assert!((b.lower[1] - 13.9).abs() < 1e-9, "{}", b.lower[1]);
    assert!((b.median[1] - 103.0).abs() < 1e-9);
    let empty = percentile_band("e", &time, &[], 5.0, 95.0);
    assert!(empty.median.iter().all(|v| v.is_nan()));
}

#[test]
fn csv_wide_and_long() {
    let dir = tmpdir();
    let wide = dir.path().join("wide.csv");
    std::fs::write(
        &wide,
        "time,car_t,il6,arm\n0,0.5,4,A\n1,1.2,NA,A\n2,3.0,30,A\n",
    )
    .unwrap();
    let s = read_timecourse_csv(&wide, "sim").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].label, "sim");
    assert_eq!(s[0].time, vec![0.0, 1.0, 2.0]);
    assert_eq!(s[0].columns.len(), 2, "non-numeric `arm` is skipped");
    assert!(s[0].column("il6").unwrap()[1].is_nan());

    let long = dir.path().join("long.csv");
    std::fs::write(&long, "ID,TIME,CAR_T\n1,0,0.5\n1,1,2\n2,1,3\n2,0,0.4\n").unwrap();
    let s = read_timecourse_csv(&long, "pt").unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].label, "pt 2");
    assert_eq!(s[1].time, vec![0.0, 1.0]);
    assert_eq!(s[1].column("CAR_T").unwrap(), &[0.4, 3.0]);
}

#[test]
fn csv_errors() {
    let dir = tmpdir();
    let p = dir.path().join("results.csv");
    std::fs::write(&p, "t,car_t\n0,1\n").unwrap();
    let e = read_timecourse_csv(&p, "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: no `time` column (columns: t, car_t)", p.display())
    );

    std::fs::write(&p, "").unwrap();
    let e = read_timecourse_csv(&p, "x").unwrap_err();
    assert!(e.to_string().contains("empty file"), "{e}");

    std::fs::write(&p, "time,car_t\n").unwrap();
    let e = read_timecourse_csv(&p, "x").unwrap_err();
    assert!(e.to_string().contains("no data rows"), "{e}");

    std::fs::write(&p, "time,car_t\n0,1\nx,2\n").unwrap();
    let e = read_timecourse_csv(&p, "x").unwrap_err();
    assert!(e.to_string().contains("`x` is not a number"), "{e}");

    let e = read_timecourse_csv(&dir.path().join("missing.csv"), "x").unwrap_err();
    assert!(e.to_string().contains("missing.csv: cannot read"), "{e}");
}
