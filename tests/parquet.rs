//! Parquet output: read back with the `parquet` crate's reader, every cell equals the CSV run's
//! (typed: floats bit for bit, integers, booleans, text, nulls for empty cells); the bytes do not
//! depend on --jobs; Parquet shards merge into the unsharded file. (pyarrow and DuckDB read the
//! same files in `tests/python/parquet_readback.sh`, run by `.ci/run`.)

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cartox");

fn run(args: &[&str]) -> std::process::Output {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "cartox {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Default-model inputs: varied doses and regimens, a carried-through text column, and a bad
/// row (its metrics empty, its message set).
fn input(dir: &Path) -> PathBuf {
    let mut t = String::from("ID,site,dose,ld,k_act\n");
    for i in 0..40 {
        let ld = if i % 3 == 0 { "none" } else { "flu-cy" };
        t.push_str(&format!(
            "p{i},\"A, {i}\",{},{ld},{}\n",
            1e7 * (1 + i) as f64,
            0.2 + 0.02 * (i % 9) as f64
        ));
    }
    t.push_str("bad,x,-5,none,0.3\n");
    let p = dir.join("in.csv");
    fs::write(&p, t).unwrap();
    p
}

/// Read a Parquet file as (column names, rows of fields).
fn read_parquet(path: &Path) -> (Vec<String>, Vec<Vec<Field>>) {
    let r = SerializedFileReader::new(fs::File::open(path).unwrap()).unwrap();
    let names = r
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let rows = r
        .into_iter()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, f)| f.clone())
                .collect()
        })
        .collect();
    (names, rows)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

/// The Parquet file holds the CSV file's table, typed.
fn assert_same_table(csv: &Path, pq: &Path, kinds: &dyn Fn(&str) -> &'static str) {
    let (h1, r1) = read_csv(csv);
    let (h2, r2) = read_parquet(pq);
    assert_eq!(h1, h2, "{}", pq.display());
    assert_eq!(r1.len(), r2.len(), "{}", pq.display());
    assert!(!r1.is_empty());
    for (i, (a, b)) in r1.iter().zip(&r2).enumerate() {
        for ((name, text), field) in h1.iter().zip(a).zip(b) {
            let want = kinds(name);
            let ok = match field {
                Field::Null => want != "text" && (text.is_empty() || text == "NaN"),
                Field::Double(x) => {
                    want == "float"
                        && text
                            .parse::<f64>()
                            .is_ok_and(|y| y.to_bits() == x.to_bits() || (x.is_nan() && y.is_nan()))
                }
                Field::Long(x) => want == "int" && text.parse::<i64>() == Ok(*x),
                Field::Bool(x) => want == "bool" && text == &x.to_string(),
                Field::Str(x) => want == "text" && text == x,
                _ => false,
            };
            assert!(
                ok,
                "{}: row {i}, column {name}: CSV `{text}`, Parquet {field:?} (want {want})",
                pq.display()
            );
        }
    }
}

fn sweep_kind(name: &str) -> &'static str {
    match name {
        "ID" | "site" | "response" | "best_response" | "interventions" | "status" | "message" => {
            "text"
        }
        "b_cell_aplasia" | "alarm" => "bool",
        "crs_grade" | "icans_grade" | "row" => "int",
        _ => "float",
    }
}

#[test]
fn sweep_and_timecourses_read_back_equal_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inp = input(d);
    let (c, p) = (d.join("r.csv"), d.join("r.parquet"));
    let (tc, tp) = (d.join("tc.csv"), d.join("tc.parquet"));
    let common = [
        "sweep",
        "--quiet",
        "--allow-extra",
        "--days",
        "30",
        "--dt",
        "0.5",
        "--params",
        s(&inp),
    ];
    let o = run(&[&common[..], &["--out", s(&c), "--timecourses", s(&tc)]].concat());
    assert_eq!(o.status.code(), Some(3), "the bad row fails");
    run(&[&common[..], &["--out", s(&p), "--timecourses", s(&tp)]].concat());
    assert_same_table(&c, &p, &sweep_kind);
    assert_same_table(&tc, &tp, &|n| if n == "ID" { "text" } else { "float" });
    // The values cover every kind, nulls included.
    let (h, rows) = read_parquet(&p);
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert!(rows
        .iter()
        .any(|r| matches!(r[col("alarm")], Field::Bool(true))));
    assert!(rows
        .iter()
        .any(|r| matches!(r[col("crs_grade")], Field::Long(g) if g >= 1)));
    assert!(matches!(
        rows.last().unwrap()[col("cart_cmax")],
        Field::Null
    ));
    assert!(matches!(&rows.last().unwrap()[col("status")], Field::Str(s) if s == "error"));
}

#[test]
fn population_and_simulate_read_back_equal_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c, p) = (d.join("pop.csv"), d.join("pop.parquet"));
    // More patients than a row group holds.
    for out in [&c, &p] {
        run(&["population", "--n", "70000", "--seed", "3", "--out", s(out)]);
    }
    assert_same_table(&c, &p, &|n| if n == "ID" { "int" } else { "float" });
    let r = SerializedFileReader::new(fs::File::open(&p).unwrap()).unwrap();
    assert_eq!(r.metadata().num_row_groups(), 2);
    let (c, p) = (d.join("tc.csv"), d.join("tc.parquet"));
    for out in [&c, &p] {
        run(&["simulate", "--out", s(out)]);
    }
    assert_same_table(&c, &p, &|n| {
        if n.ends_with("_grade") {
            "int"
        } else {
            "float"
        }
    });
}

/// Same bytes for --jobs 1 and 3 (results, time courses, populations).
#[test]
fn parquet_bytes_do_not_depend_on_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inp = input(d);
    let mut got = vec![];
    for jobs in ["1", "3"] {
        let (r, t, pop) = (
            d.join(format!("r{jobs}.parquet")),
            d.join(format!("t{jobs}.parquet")),
            d.join(format!("p{jobs}.parquet")),
        );
        run(&[
            "sweep",
            "--quiet",
            "--allow-extra",
            "--jobs",
            jobs,
            "--params",
            s(&inp),
            "--out",
            s(&r),
            "--timecourses",
            s(&t),
        ]);
        run(&[
            "population",
            "--n",
            "5000",
            "--seed",
            "9",
            "--jobs",
            jobs,
            "--out",
            s(&pop),
        ]);
        got.push([
            fs::read(r).unwrap(),
            fs::read(t).unwrap(),
            fs::read(pop).unwrap(),
        ]);
    }
    assert!(got[0] == got[1]);
}

/// Parquet shards (any order) merge into exactly the unsharded Parquet file; a missing shard is
/// refused.
#[test]
fn parquet_shards_merge_into_the_unsharded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut t = String::from("ID,k_act\n");
    for i in 0..9000 {
        t.push_str(&format!("{i},{}\n", 0.2 + (i % 13) as f64 / 50.0));
    }
    let inp = d.join("in.csv");
    fs::write(&inp, t).unwrap();
    let common = ["sweep", "--quiet", "--days", "10", "--params", s(&inp)];
    let whole = d.join("whole.parquet");
    run(&[&common[..], &["--out", s(&whole)]].concat());
    let shards: Vec<PathBuf> = (1..=3).map(|k| d.join(format!("s{k}.parquet"))).collect();
    for (k, sh) in shards.iter().enumerate() {
        let spec = format!("{}/3", k + 1);
        run(&[&common[..], &["--shard", &spec, "--out", s(sh)]].concat());
    }
    let merged = d.join("merged.parquet");
    run(&[
        "merge",
        s(&merged),
        s(&shards[2]),
        s(&shards[0]),
        s(&shards[1]),
    ]);
    assert!(fs::read(&merged).unwrap() == fs::read(&whole).unwrap());
    let o = Command::new(BIN)
        .args([
            "merge",
            s(&d.join("m2.parquet")),
            s(&shards[0]),
            s(&shards[1]),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 3/3 is missing"));
}
