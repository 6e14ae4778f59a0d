//! Sweeps, shards and merge, populations and scenario grids, through the command line and the
//! library.

use assert_cmd::Command;
use cartox::model::Model;
use cartox::sweep::{self, population, scenarios, Columns, Shard};
use std::fs;
use std::path::{Path, PathBuf};

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

/// A kimmel2021 parameter table with `n` rows spread around the published values.
fn table(n: usize) -> String {
    let mut s = String::from("ID,rho_C,r_B,CAR_T_cells_0\n");
    for i in 0..n {
        let f = (i % 17) as f64 / 17.0;
        s.push_str(&format!(
            "pt{i},{},{},{}\n",
            0.0251 * (0.5 + f),
            0.01 * (1.0 + (i % 5) as f64),
            0.36 * (0.25 + (i % 7) as f64 / 3.0)
        ));
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn sweep_bytes(input: &Path, extra: &[&str]) -> (Vec<u8>, i32) {
    let out = input.with_extension(format!("out{}.csv", extra.join("").replace('/', "_")));
    let a = cartox()
        .args(["sweep", "-m", "kimmel2021", "--quiet", "--params"])
        .arg(input)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let code = a.status.code().unwrap();
    (fs::read(&out).unwrap_or_default(), code)
}

#[test]
fn sweep_is_byte_identical_for_any_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", &table(300));
    let (one, c1) = sweep_bytes(&input, &["--jobs", "1"]);
    let (two, c2) = sweep_bytes(&input, &["--jobs", "2"]);
    let (four, c4) = sweep_bytes(&input, &["--jobs", "4"]);
    assert_eq!((c1, c2, c4), (0, 0, 0));
    assert_eq!(one, two);
    assert_eq!(one, four);
    let text = String::from_utf8(one).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 301);
    assert!(lines[0].starts_with("ID,cart_cmax,"));
    assert!(lines[0].ends_with(",status,message"));
    assert!(lines[1].starts_with("pt0,"));
    assert!(lines[300].starts_with("pt299,"));
    assert!(lines[1..].iter().all(|l| l.ends_with(",ok,")));
}

#[test]
fn metric_columns_follow_run_metrics() {
    let model = Model::resolve("kimmel2021").unwrap();
    let opts = cartox::RunOptions::default();
    let r = cartox::run(&model, &cartox::Inputs::default(), &opts).unwrap();
    let names: Vec<&str> = r.metrics().into_iter().map(|(n, _)| n).collect();
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", &table(3));
    let (bytes, _) = sweep_bytes(&input, &[]);
    let text = String::from_utf8(bytes).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header[0], "ID");
    assert_eq!(&header[1..header.len() - 2], &names[..]);
}

#[test]
fn shards_merge_to_the_unsharded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // 10 rows: shards of unequal size, and one bad row to carry through.
    let mut text = table(10);
    text.push_str("bad,NaN,0.01,0.36\n");
    let input = write(dir.path(), "in.csv", &text);
    let (whole, code) = sweep_bytes(&input, &[]);
    assert_eq!(code, 3);
    let mut shards = vec![];
    for k in 1..=3 {
        let out = dir.path().join(format!("shard{k}.csv"));
        cartox()
            .args([
                "sweep",
                "-m",
                "kimmel2021",
                "--quiet",
                "--shard",
                &format!("{k}/3"),
            ])
            .arg("--params")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(if k == 2 { 3 } else { 0 }); // the bad row (index 10) is in shard 2
        shards.push(out);
    }
    let first = fs::read_to_string(&shards[0]).unwrap();
    assert!(first.starts_with("#cartox-shard 1/3 input=fnv1a64:"));
    assert!(first.ends_with("#cartox-end input_rows=11\n"));
    let merged = dir.path().join("merged.csv");
    // Any order of shard files.
    cartox()
        .arg("merge")
        .arg(&merged)
        .args([&shards[2], &shards[0], &shards[1]])
        .assert()
        .success();
    assert_eq!(fs::read(&merged).unwrap(), whole);
}

#[test]
fn merge_refuses_missing_duplicated_and_foreign_shards() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", &table(7));
    let other = write(dir.path(), "other.csv", &table(8));
    let shard = |input: &Path, k: usize, name: &str| -> PathBuf {
        let out = dir.path().join(name);
        cartox()
            .args([
                "sweep",
                "-m",
                "kimmel2021",
                "--quiet",
                "--shard",
                &format!("{k}/3"),
            ])
            .arg("--params")
            .arg(input)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let s1 = shard(&input, 1, "s1.csv");
    let s2 = shard(&input, 2, "s2.csv");
    let s3 = shard(&input, 3, "s3.csv");
    let foreign3 = shard(&other, 3, "f3.csv");
    let merged = dir.path().join("merged.csv");
    let fails = |files: &[&PathBuf], needle: &str| {
        let out = cartox()
            .arg("merge")
            .arg(&merged)
            .args(files)
            .assert()
            .failure()
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(!merged.exists(), "no output on a refused merge");
    };
    fails(&[&s1, &s3], "shard 2/3 is missing");
    fails(&[&s1, &s2, &s2, &s3], "shard 2/3 is given twice");
    fails(&[&s1, &s2, &foreign3], "different input");
    // A truncated shard (end line lost).
    let t = fs::read_to_string(&s3).unwrap();
    let cut = write(
        dir.path(),
        "cut3.csv",
        &t[..t.rfind("#cartox-end").unwrap()],
    );
    fails(&[&s1, &s2, &cut], "incomplete");
    // And the complete set works.
    cartox()
        .arg("merge")
        .arg(&merged)
        .args([&s1, &s2, &s3])
        .assert()
        .success();
}

#[test]
fn bad_rows_fail_alone_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.csv",
        "ID,rho_C,r_B,CAR_T_cells_0\n\
         a,0.03,0.01,0.36\n\
         b,NaN,0.01,0.36\n\
         c,0.03,,0.36\n\
         d,0.03,-2,0.36\n\
         e,abc,0.01,0.36\n\
         f,0.03,0.01\n\
         g,0.02,0.02,0.5\n",
    );
    let out = dir.path().join("out.csv");
    let a = cartox()
        .args(["sweep", "-m", "kimmel2021", "--quiet", "--params"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8_lossy(&a.stderr).trim(),
        format!(
            "5 of 7 rows of {} failed (see `status`/`message` in {})",
            input.display(),
            out.display()
        )
    );
    let mut r = csv::Reader::from_path(&out).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let status: Vec<&str> = recs.iter().map(|r| &r[r.len() - 2]).collect();
    assert_eq!(
        status,
        ["ok", "error", "error", "error", "error", "error", "ok"]
    );
    let msg = |i: usize| recs[i][recs[i].len() - 1].to_string();
    assert!(msg(1).starts_with("row 2, column rho_C:"), "{}", msg(1));
    assert!(msg(2).starts_with("row 3, column r_B:") && msg(2).contains("empty"));
    assert!(msg(3).starts_with("row 4, column r_B:") && msg(3).contains("lower bound"));
    assert!(msg(4).contains("not a number"));
    assert!(msg(5).starts_with("row 6:") && msg(5).contains("fields"));
    assert!(!recs[0][1].is_empty() && recs[1][1].is_empty());
}

#[test]
fn unknown_regimen_is_a_row_error() {
    // A model with a regimen, built from kimmel2021 (see `iiv_model`).
    let dir = tempfile::tempdir().unwrap();
    let model = iiv_model(dir.path());
    let input = write(dir.path(), "in.csv", "ld,weight\nnone,70\nbogus,70\n,70\n");
    let out = dir.path().join("out.csv");
    cartox()
        .args(["sweep", "--quiet", "-m"])
        .arg(&model)
        .arg("--params")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3);
    let text = fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("1,") && lines[1].contains(",ok,"));
    assert!(lines[2].contains("row 2, column ld: unknown lymphodepletion regimen `bogus`"));
    assert!(lines[3].contains("row 3, column ld:"));
}

#[test]
fn unknown_header_fails_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", "ID,rho_C,not_a_param\n1,0.03,5\n");
    let out = dir.path().join("out.csv");
    let tc = dir.path().join("tc.csv");
    let a = cartox()
        .args(["sweep", "-m", "kimmel2021", "--params"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--timecourses")
        .arg(&tc)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&a.stderr).contains("unknown column `not_a_param`"));
    assert!(!out.exists() && !tc.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no stray files"
    );

    // --allow-extra carries it through, after ID.
    cartox()
        .args([
            "sweep",
            "-m",
            "kimmel2021",
            "--quiet",
            "--allow-extra",
            "--params",
        ])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("ID,not_a_param,cart_cmax,"));
    assert!(text.lines().nth(1).unwrap().starts_with("1,5,"));
}

#[test]
fn stdin_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let text = table(20);
    let input = write(dir.path(), "in.csv", &text);
    let (file_bytes, _) = sweep_bytes(&input, &[]);
    let a = cartox()
        .args([
            "sweep",
            "-m",
            "kimmel2021",
            "--params",
            "-",
            "--out",
            "-",
            "--jobs",
            "2",
        ])
        .write_stdin(text)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(a.stdout, file_bytes);
}

#[test]
fn timecourses_in_long_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", &table(3));
    let tc = dir.path().join("tc.csv");
    let tc_arg = tc.to_str().unwrap().to_string();
    let (_, code) = sweep_bytes(
        &input,
        &["--days", "2", "--dt", "0.5", "--timecourses", &tc_arg],
    );
    assert_eq!(code, 0);
    let text = fs::read_to_string(&tc).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ID,time,Normal_T_cells,CAR_T_cells,Antigen_presenting_tumour_cells,Total_lymphocyte_count"
    );
    assert_eq!(lines.len(), 1 + 3 * 5);
    assert!(lines[1].starts_with("pt0,0,"));
    assert!(lines[15].starts_with("pt2,2,"));
}

/// kimmel2021 with inter-individual variability on three parameters (one with an upper bound to
/// clip at) and a per-kg regimen, written to `dir`.
fn iiv_model(dir: &Path) -> PathBuf {
    let src =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/kimmel2021.toml"))
            .unwrap();
    let mut text = src
        .replace("name = \"kimmel2021\"", "name = \"kimmel_iiv\"")
        .replace(
            "value = 0.0251\n",
            "value = 0.0251\nomega2 = 0.25\nupper = 0.03\n",
        )
        .replace("value = 0.01\n", "value = 0.01\nomega2 = 0.09\n")
        .replace("value = 1.15\n", "value = 1.15\nomega2 = 0.04\n");
    text.push_str(
        "\n[regimen]\ndose_state = \"CAR_T_cells\"\ndose_factor = \"1/5e8\"\ndose_per_kg = 2e6\nweight = 70\n\
         \n[lymphodepletion.none]\ndescription = \"no lymphodepletion\"\n\
         \n[lymphodepletion.half]\ndescription = \"halves normal T cells\"\ninitial = { Normal_T_cells = \"0.5 * Normal_T_cells\" }\n",
    );
    write(dir, "kimmel_iiv.toml", &text)
}

fn population(model: &Path, n: &str, seed: &str, jobs: &str) -> Vec<u8> {
    cartox()
        .args([
            "population",
            "--n",
            n,
            "--seed",
            seed,
            "--jobs",
            jobs,
            "--out",
            "-",
            "-m",
        ])
        .arg(model)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

#[test]
fn population_is_reproducible_and_a_valid_sweep_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = iiv_model(dir.path());
    let a = population(&model, "500", "42", "1");
    let b = population(&model, "500", "42", "4");
    let c = population(&model, "500", "43", "2");
    assert_eq!(a, b, "same seed, any thread count: same bytes");
    assert_ne!(a, c, "another seed differs");
    // A prefix of a larger population is the smaller one (per-patient streams).
    let big = population(&model, "1000", "42", "2");
    assert!(big.starts_with(&a));

    let text = String::from_utf8(a).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["ID", "rho_C", "r_B", "gamma_B", "weight", "dose"]);
    let rows: Vec<Vec<f64>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 500);
    let rho: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    assert!(
        rho.iter().all(|&x| x > 0.0 && x <= 0.03),
        "clipped to the upper bound"
    );
    assert!(rho.contains(&0.03), "some draws clipped");
    // log r_B ~ N(ln 0.01, 0.09): sample sd near 0.3.
    let l: Vec<f64> = rows.iter().map(|r| r[2].ln()).collect();
    let mean = l.iter().sum::<f64>() / l.len() as f64;
    let sd = (l.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (l.len() - 1) as f64).sqrt();
    assert!((mean - 0.01f64.ln()).abs() < 0.06, "mean {mean}");
    assert!((sd - 0.3).abs() < 0.04, "sd {sd}");
    for r in &rows {
        assert!(
            (r[5] - 2e6 * r[4]).abs() <= 1e-6 * r[5],
            "dose = dose_per_kg x weight"
        );
    }
    let mut w: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    w.sort_by(f64::total_cmp);
    assert!(
        (w[250] / 70.0 - 1.0).abs() < 0.05,
        "median weight {}",
        w[250]
    );

    // Valid sweep input.
    let pop = write(dir.path(), "pop.csv", &text);
    let out = dir.path().join("out.csv");
    cartox()
        .args(["sweep", "--quiet", "--days", "7", "-m"])
        .arg(&model)
        .arg("--params")
        .arg(&pop)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&out).unwrap().lines().count(), 501);
}

#[test]
fn population_needs_omega2() {
    let out = tempfile::tempdir().unwrap();
    let p = out.path().join("pop.csv");
    cartox()
        .args([
            "population",
            "--n",
            "5",
            "--seed",
            "1",
            "-m",
            "kimmel2021",
            "--out",
        ])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no parameter has `omega2`"));
    assert!(!p.exists());
}

#[test]
fn scenario_grid_size_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sc.csv");
    let a = cartox()
        .args([
            "scenarios",
            "-m",
            "kimmel2021",
            "--vary",
            "rho_C=0.01,0.02,0.03",
            "--vary",
            "CAR_T_cells_0=0.1,1",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .clone();
    let table = String::from_utf8_lossy(&a.stdout);
    assert!(
        table.contains("cart_cmax") && table.contains("tumor_end"),
        "{table}"
    );
    let text = fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1 + 6);
    assert_eq!(&rows[0][..4], ["ID", "rho_C", "CAR_T_cells_0", "cart_cmax"]);
    let grid: Vec<(&str, &str)> = rows[1..].iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(
        grid,
        [
            ("0.01", "0.1"),
            ("0.01", "1"),
            ("0.02", "0.1"),
            ("0.02", "1"),
            ("0.03", "0.1"),
            ("0.03", "1")
        ]
    );
    assert!(rows[1..].iter().all(|r| r[r.len() - 2] == "ok"));

    // The library's view of the same grid.
    let model = Model::resolve("kimmel2021").unwrap();
    let v = vec![
        scenarios::Vary::parse(&model, "rho_C=0.01,0.02,0.03").unwrap(),
        scenarios::Vary::parse(&model, "ld=none").unwrap(),
    ];
    assert_eq!(scenarios::size(&v), 3);
    assert_eq!(scenarios::scenario(&v, 2), ["0.03", "none"]);
    assert!(scenarios::Vary::parse(&model, "nope=1,2").is_err());
    cartox()
        .args(["scenarios", "-m", "kimmel2021", "--vary", "nope=1"])
        .assert()
        .code(1);
}

#[test]
fn library_columns_and_shards() {
    let model = Model::resolve("kimmel2021").unwrap();
    let h: Vec<String> = ["ID", "rho_C", "Normal_T_cells_0", "note"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(Columns::resolve(&model, &h, false).is_err());
    let c = Columns::resolve(&model, &h, true).unwrap();
    assert_eq!(c.id, Some(0));
    assert_eq!(c.inputs.len(), 2);
    assert_eq!(c.extras, vec![(3, "note".to_string())]);
    let s = Shard::parse("2/3").unwrap();
    assert!(s.contains(1) && s.contains(4) && !s.contains(2));
    assert!(Shard::parse("0/3").is_err() && Shard::parse("4/3").is_err());
    assert_eq!(
        sweep::csv_line(["a", "b,c", "d\"e"]),
        "a,\"b,c\",\"d\"\"e\"\n"
    );
    let d = population::Design::from_model(&model, 0.2);
    assert!(d.is_err());
}

/// A one-state model with random effects on `a` (omega2 0.09), `b` (0.25), `c` (0.04) and `z0`
/// (0), none on `k`, no bounds to clip at; `extra` (e.g. `[[correlations]]`) is appended.
fn corr_model_text(extra: &str) -> String {
    let mut text = String::from("[model]\nname = \"corr\"\ntime_unit = \"day\"\n");
    for (name, value, omega2) in [
        ("a", "2.0", Some("0.09")),
        ("b", "0.5", Some("0.25")),
        ("c", "1.0", Some("0.04")),
        ("z0", "3.0", Some("0")),
        ("k", "0.1", None),
    ] {
        text.push_str(&format!(
            "\n[[parameters]]\nname = \"{name}\"\nvalue = {value}\nsource = \"test\"\n"
        ));
        if let Some(o) = omega2 {
            text.push_str(&format!("omega2 = {o}\n"));
        }
    }
    text.push_str(
        "\n[[states]]\nname = \"x\"\ninitial = \"a + b + c + z0\"\n\n[equations]\nx = \"-k * x\"\n",
    );
    text.push_str(extra);
    text
}

fn correlation(a: &str, b: &str, r: &str) -> String {
    format!("\n[[correlations]]\nbetween = [\"{a}\", \"{b}\"]\nr = {r}\nsource = \"test\"\n")
}

/// ln(theta_i / theta) per column of a population file (header: ID, a, b, c, z0).
fn log_ratios(csv_bytes: &[u8]) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut r = csv::Reader::from_reader(csv_bytes);
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let typical = [("a", 2.0), ("b", 0.5), ("c", 1.0), ("z0", 3.0)];
    let mut cols = vec![Vec::new(); header.len() - 1];
    for rec in r.records() {
        let rec = rec.unwrap();
        for (j, col) in cols.iter_mut().enumerate() {
            let name = &header[j + 1];
            let theta = typical.iter().find(|t| t.0 == name).unwrap().1;
            col.push((rec[j + 1].parse::<f64>().unwrap() / theta).ln());
        }
    }
    (header[1..].to_vec(), cols)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

fn corr(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>();
    let sx = x.iter().map(|a| (a - mx).powi(2)).sum::<f64>().sqrt();
    let sy = y.iter().map(|b| (b - my).powi(2)).sum::<f64>().sqrt();
    cov / (sx * sy)
}

#[test]
fn population_correlated_random_effects() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.toml", &corr_model_text(""));
    let model = write(
        dir.path(),
        "corr.toml",
        &corr_model_text(&correlation("a", "b", "0.6")),
    );
    let pop = population(&model, "20000", "2024", "2");
    let (names, cols) = log_ratios(&pop);
    assert_eq!(names, ["a", "b", "c", "z0"]);
    let r = corr(&cols[0], &cols[1]);
    let (va, vb, vc) = (variance(&cols[0]), variance(&cols[1]), variance(&cols[2]));
    eprintln!("r = 0.6: sample r {r:.4}, var a {va:.5} (0.09), b {vb:.5} (0.25), c {vc:.5} (0.04)");
    assert!((r - 0.6).abs() < 0.02, "sample correlation {r}");
    for (v, omega2) in [(va, 0.09), (vb, 0.25), (vc, 0.04)] {
        assert!((v / omega2 - 1.0).abs() < 0.03, "variance {v} vs {omega2}");
    }
    assert!(corr(&cols[0], &cols[2]).abs() < 0.03 && corr(&cols[1], &cols[2]).abs() < 0.03);
    assert!(
        cols[3].iter().all(|&x| x == 0.0),
        "omega2 = 0: the typical value"
    );

    // Same draws as without the correlation except for `b` (eta_b = L21 z_a + L22 z_b): `a`
    // (first of its block), `c` and `z0` are unchanged.
    let (_, plain_cols) = log_ratios(&population(&plain, "20000", "2024", "1"));
    assert_eq!(plain_cols[0], cols[0]);
    assert_ne!(plain_cols[1], cols[1]);
    assert_eq!(plain_cols[2], cols[2]);

    // Negative correlation.
    let neg = write(
        dir.path(),
        "neg.toml",
        &corr_model_text(&correlation("c", "a", "-0.5")),
    );
    let (_, cols) = log_ratios(&population(&neg, "20000", "2024", "2"));
    let r = corr(&cols[0], &cols[2]);
    let (va, vc) = (variance(&cols[0]), variance(&cols[2]));
    eprintln!("r = -0.5: sample r {r:.4}, var a {va:.5} (0.09), c {vc:.5} (0.04)");
    assert!((r + 0.5).abs() < 0.02, "sample correlation {r}");
    assert!((va / 0.09 - 1.0).abs() < 0.03 && (vc / 0.04 - 1.0).abs() < 0.03);

    // `describe` lists the correlations.
    cartox()
        .arg("describe")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicates::str::contains("a ~ b  r = 0.6"));
}

#[test]
fn population_correlations_are_reproducible_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let extra = correlation("a", "b", "0.6") + &correlation("b", "c", "-0.3");
    let model = write(dir.path(), "corr.toml", &corr_model_text(&extra));
    let a = population(&model, "3000", "11", "1");
    let b = population(&model, "3000", "11", "2");
    assert_eq!(a, b, "same seed, any thread count: same bytes");
    assert!(population(&model, "6000", "11", "2").starts_with(&a));
    assert_ne!(a, population(&model, "3000", "12", "1"));
}

/// A parameter with omega2 = 0 may be correlated: it stays at its typical value and the other
/// random effects keep their variances and correlations.
#[test]
fn population_correlation_with_zero_omega2() {
    let dir = tempfile::tempdir().unwrap();
    let extra = correlation("z0", "a", "0.5") + &correlation("a", "b", "0.6");
    let model = write(dir.path(), "corr.toml", &corr_model_text(&extra));
    let (_, cols) = log_ratios(&population(&model, "20000", "5", "2"));
    assert!(cols[3].iter().all(|&x| x == 0.0), "z0 at its typical value");
    let r = corr(&cols[0], &cols[1]);
    assert!((r - 0.6).abs() < 0.02, "sample correlation {r}");
    assert!((variance(&cols[0]) / 0.09 - 1.0).abs() < 0.03);
    assert!((variance(&cols[1]) / 0.25 - 1.0).abs() < 0.03);
}

#[test]
fn population_correlation_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, &str, String)> = vec![
        (
            correlation("a", "nope", "0.5"),
            "\"nope\"",
            "correlations[1].between: `nope` is not a parameter".into(),
        ),
        (
            correlation("a", "k", "0.5"),
            "\"k\"]",
            "correlations[1].between: parameter `k` has no `omega2`".into(),
        ),
        (
            correlation("b", "b", "0.5"),
            "\"b\"]",
            "correlations[1].between: `b` is paired with itself".into(),
        ),
        (
            correlation("a", "b", "0.5") + &correlation("b", "a", "0.2"),
            "[\"b\", \"a\"]",
            "correlations[2].between: `b` and `a` are already correlated by correlations[1]".into(),
        ),
        (
            "\n[[correlations]]\nbetween = [\"a\", \"b\", \"c\"]\nr = 0.5\n".into(),
            "[\"a\", \"b\", \"c\"]",
            "correlations[1].between: expected two parameter names, got 3".into(),
        ),
        (
            correlation("a", "b", "1.0"),
            "1.0\nsource",
            "correlations[1].r: must be a finite number strictly between -1 and 1, got 1".into(),
        ),
        (
            correlation("a", "b", "-1.5"),
            "-1.5",
            "correlations[1].r: must be a finite number strictly between -1 and 1, got -1.5"
                .into(),
        ),
        (
            correlation("a", "b", "nan"),
            "nan",
            "correlations[1].r: must be a finite number strictly between -1 and 1, got NaN".into(),
        ),
        (
            correlation("a", "b", "0.5") + "rr = 0.1\n",
            "rr = ",
            "unknown field `rr`".into(),
        ),
        (
            "\n[[correlations]]\nbetween = [\"a\", \"b\"]\n".into(),
            "[[correlations]]",
            "missing field `r`".into(),
        ),
        // Singular (semi-definite): eta_c = eta_a - eta_b would be implied.
        (
            correlation("a", "b", "0.5") + &correlation("b", "c", "-0.5") + &correlation("a", "c", "0.5"),
            "[\"a\", \"b\"]",
            "correlations[1]: the correlation matrix of `a`, `b`, `c` (correlations[1], correlations[2], correlations[3]; pairs not declared have r = 0) is not positive definite".into(),
        ),
        // Undeclared pairs are 0: a-b and b-c at 0.9 cannot both hold with a-c = 0.
        (
            correlation("c", "z0", "0.1") + &correlation("a", "b", "0.9") + &correlation("b", "c", "0.9"),
            "[\"c\", \"z0\"]",
            "correlations[1]: the correlation matrix of `a`, `b`, `c`, `z0`".into(),
        ),
    ];
    for (extra, at, message) in cases {
        let text = corr_model_text(&extra);
        let model = write(dir.path(), "bad.toml", &text);
        // The expected position: the first occurrence of `at` in the appended text.
        let offset = text.len() - extra.len() + extra.find(at).unwrap();
        let line = text[..offset].matches('\n').count() + 1;
        let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        let out = dir.path().join("pop.csv");
        let got = cartox()
            .args(["population", "--n", "5", "--seed", "1", "-m"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(1)
            .get_output()
            .stderr
            .clone();
        let got = String::from_utf8(got).unwrap();
        let want = format!("bad.toml:{line}:{col}: {message}");
        assert!(got.contains(&want), "want `{want}`, got `{got}`");
        assert_eq!(got.trim().lines().count(), 1, "one line: {got}");
        assert!(!out.exists(), "no output file on error");
    }
}
