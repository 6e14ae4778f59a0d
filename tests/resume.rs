//! Resumable sweeps, end to end: a sweep killed with SIGKILL at (seeded) random points and then
//! `--resume`d gives the bytes of an uninterrupted run (CSV and Parquet); SIGTERM stops after a
//! whole chunk with exit status 4; `--resume` refuses an output of another model, parameter file
//! or options; merged resumed shards equal the unsharded run.

use rand::{Rng, SeedableRng};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cartox");
/// Rows of the big sweep, and a fast model and window so it takes seconds.
const ROWS: usize = 200_000;
const FAST: &[&str] = &["-m", "stein2019", "--days", "2", "--dt", "1", "--quiet"];

/// `n` stein2019 rows whose peak varies (every row's metrics differ from its neighbours').
fn params(dir: &Path, name: &str, n: usize, scale: f64) -> PathBuf {
    let mut s = String::with_capacity(n * 24);
    s.push_str("ID,Cmax,alpha\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},{},{}\n",
            i + 1,
            scale * 24000.0 * (1.0 + (i % 9973) as f64 / 997.0),
            0.1 + (i % 101) as f64 / 1000.0
        ));
    }
    let p = dir.join(name);
    fs::write(&p, s).unwrap();
    p
}

fn sweep(params: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("sweep")
        .args(FAST)
        .arg("--params")
        .arg(params)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn record(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.cartox-resume", out.display()))
}

/// Chunks recorded in the resume record so far.
fn recorded_chunks(out: &Path) -> usize {
    fs::read_to_string(record(out))
        .map(|t| t.lines().filter(|l| l.starts_with("chunk\t")).count())
        .unwrap_or(0)
}

/// Start the sweep, SIGKILL it once the output has grown to `at` bytes (or it ended), then
/// `--resume` it to the end. Returns whether the kill came before the end.
fn kill_then_resume(params: &Path, out: &Path, at: u64) -> bool {
    let mut child = sweep(params, out, &[]).spawn().unwrap();
    let start = Instant::now();
    let killed = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        if fs::metadata(out).map(|m| m.len()).unwrap_or(0) >= at {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break true;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "sweep hung");
        std::thread::sleep(Duration::from_millis(2));
    };
    let o = sweep(params, out, &["--resume"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "resume failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    killed
}

fn kill_points(kind: &str, ext: &str, seed: u64, kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let input = params(dir.path(), "big.csv", ROWS, 1.0);
    let reference = dir.path().join(format!("ref.{ext}"));
    let o = sweep(&input, &reference, &[]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want = fs::read(&reference).unwrap();
    assert!(fs::read_to_string(record(&reference))
        .unwrap()
        .contains("\ndone\t"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut before_end = 0;
    for k in 0..kills {
        let out = dir.path().join(format!("killed{k}.{ext}"));
        // A kill point anywhere in the first 90% of the file (mid-chunk, mid-write included).
        let at = rng.random_range(1..want.len() as u64 * 9 / 10);
        if kill_then_resume(&input, &out, at) {
            before_end += 1;
        }
        let got = fs::read(&out).unwrap();
        assert!(
            got == want,
            "{kind}: kill at byte {at}: resumed output differs from the uninterrupted run"
        );
    }
    assert!(
        before_end > 0,
        "{kind}: no kill landed before the sweep ended"
    );
}

#[test]
fn sigkill_at_random_points_then_resume_gives_identical_csv() {
    kill_points("csv", "csv", 18, 3);
}

#[test]
fn sigkill_at_random_points_then_resume_gives_identical_parquet() {
    kill_points("parquet", "parquet", 1818, 2);
}

/// SIGTERM: the sweep finishes the chunk in hand, exits with status 4, and the output holds whole
/// chunks (a Parquet output is then readable); `--resume` completes it to the uninterrupted bytes.
#[test]
fn sigterm_stops_after_a_whole_chunk_with_status_4() {
    let dir = tempfile::tempdir().unwrap();
    let input = params(dir.path(), "in.csv", 100_000, 1.0);
    for ext in ["csv", "parquet"] {
        let reference = dir.path().join(format!("ref.{ext}"));
        assert!(sweep(&input, &reference, &[]).status().unwrap().success());
        let out = dir.path().join(format!("out.{ext}"));
        let child = sweep(&input, &out, &["--jobs", "1"]).spawn().unwrap();
        let start = Instant::now();
        while recorded_chunks(&out) < 1 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no chunk written"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(4), "{ext}: {err}");
        assert!(err.contains("--resume"), "{err}");
        let chunks = recorded_chunks(&out);
        assert!(
            (1..100_000 / 4096 + 1).contains(&chunks),
            "{ext}: {chunks} chunks"
        );
        if ext == "csv" {
            let text = fs::read_to_string(&out).unwrap();
            assert_eq!(text.lines().count() - 1, chunks * 4096, "whole chunks only");
        } else {
            use parquet::file::reader::{FileReader, SerializedFileReader};
            let r = SerializedFileReader::new(fs::File::open(&out).unwrap()).unwrap();
            assert_eq!(
                r.metadata().file_metadata().num_rows() as usize,
                chunks * 4096
            );
        }
        let o = sweep(&input, &out, &["--resume"]).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            fs::read(&out).unwrap() == fs::read(&reference).unwrap(),
            "{ext}"
        );
        // Resuming a complete output changes nothing.
        let o = sweep(&input, &out, &["--resume"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already complete"));
        assert!(
            fs::read(&out).unwrap() == fs::read(&reference).unwrap(),
            "{ext}"
        );
    }
}

/// `--resume` checks the output belongs to the same parameter file, model and options, and says
/// which differs, in one line, without touching the output.
#[test]
fn resume_refuses_another_model_parameter_file_or_options() {
    let dir = tempfile::tempdir().unwrap();
    let input = params(dir.path(), "in.csv", 500, 1.0);
    let out = dir.path().join("out.csv");
    assert!(sweep(&input, &out, &[]).status().unwrap().success());
    let before = fs::read(&out).unwrap();
    let refused = |c: &mut Command, what: &str| {
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains(&format!("was written for a different {what}")),
            "{what}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(fs::read(&out).unwrap() == before, "{what}: output changed");
    };
    // Another model: kimmel2021 (the same columns would not fit, so a copy of stein2019 with
    // one parameter changed).
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/stein2019.toml"))
            .unwrap();
    let other = dir.path().join("other.toml");
    fs::write(&other, text.replacen("0.16", "0.17", 1)).unwrap();
    let mut c = Command::new(BIN);
    c.args([
        "sweep",
        "-m",
        other.to_str().unwrap(),
        "--days",
        "2",
        "--dt",
        "1",
        "--quiet",
    ])
    .arg("--params")
    .arg(&input)
    .arg("--out")
    .arg(&out)
    .arg("--resume");
    refused(&mut c, "model");
    // Another parameter file at the same path.
    let changed = params(dir.path(), "in2.csv", 500, 2.0);
    fs::copy(&input, dir.path().join("in.orig")).unwrap();
    fs::copy(&changed, &input).unwrap();
    refused(&mut sweep(&input, &out, &["--resume"]), "parameter file");
    fs::copy(dir.path().join("in.orig"), &input).unwrap();
    // Other options.
    refused(
        &mut sweep(&input, &out, &["--resume", "--rtol", "1e-7"]),
        "options",
    );
    // An output without a resume record.
    let bare = dir.path().join("bare.csv");
    fs::write(&bare, "ID\n").unwrap();
    let o = sweep(&input, &bare, &["--resume"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no resume record"));
}

/// A shard killed and resumed merges with the others into the unsharded bytes (CSV and Parquet).
#[test]
fn merge_accepts_resumed_shards() {
    let dir = tempfile::tempdir().unwrap();
    let input = params(dir.path(), "in.csv", 30_000, 1.0);
    for ext in ["csv", "parquet"] {
        let whole = dir.path().join(format!("whole.{ext}"));
        assert!(sweep(&input, &whole, &[]).status().unwrap().success());
        let s1 = dir.path().join(format!("s1.{ext}"));
        let s2 = dir.path().join(format!("s2.{ext}"));
        assert!(sweep(&input, &s2, &["--shard", "2/2"])
            .status()
            .unwrap()
            .success());
        // Shard 1: stopped by SIGTERM after its first chunk, then resumed.
        let mut child = sweep(&input, &s1, &["--shard", "1/2", "--jobs", "1"])
            .spawn()
            .unwrap();
        let start = Instant::now();
        while recorded_chunks(&s1) < 1 {
            assert!(start.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(1));
        }
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let code = child.wait().unwrap().code();
        assert!(code == Some(4) || code == Some(0), "{code:?}");
        let merged = dir.path().join(format!("merged.{ext}"));
        if code == Some(4) {
            // A stopped shard is refused by merge until resumed.
            let o = Command::new(BIN)
                .arg("merge")
                .arg(&merged)
                .arg(&s1)
                .arg(&s2)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1), "{ext}");
            assert!(!merged.exists());
        }
        assert!(sweep(&input, &s1, &["--shard", "1/2", "--resume"])
            .status()
            .unwrap()
            .success());
        let o = Command::new(BIN)
            .arg("merge")
            .arg(&merged)
            .arg(&s2)
            .arg(&s1)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            fs::read(&merged).unwrap() == fs::read(&whole).unwrap(),
            "{ext}"
        );
    }
}

/// With --timecourses both files grow in step (chunks of 256 rows): killed after a few chunks and
/// resumed, both equal an uninterrupted run's (CSV and Parquet).
#[test]
fn timecourses_resume_with_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let input = params(dir.path(), "in.csv", 50_000, 1.0);
    for ext in ["csv", "parquet"] {
        let (r0, t0) = (
            dir.path().join(format!("r0.{ext}")),
            dir.path().join(format!("t0.{ext}")),
        );
        let tc0 = ["--timecourses", t0.to_str().unwrap()];
        assert!(sweep(&input, &r0, &tc0).status().unwrap().success());
        let (r1, t1) = (
            dir.path().join(format!("r1.{ext}")),
            dir.path().join(format!("t1.{ext}")),
        );
        let tc1 = ["--timecourses", t1.to_str().unwrap()];
        let mut child = sweep(&input, &r1, &[&tc1[..], &["--jobs", "1"]].concat())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while recorded_chunks(&r1) < 3 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{ext}: ended before the kill"
            );
            assert!(start.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let o = sweep(&input, &r1, &[&tc1[..], &["--resume"]].concat())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            fs::read(&r1).unwrap() == fs::read(&r0).unwrap(),
            "{ext} results"
        );
        assert!(
            fs::read(&t1).unwrap() == fs::read(&t0).unwrap(),
            "{ext} time courses"
        );
        // Resuming without --timecourses is refused.
        let o = sweep(&input, &r1, &["--resume"]).output().unwrap();
        assert_eq!(o.status.code(), Some(1));
    }
}
