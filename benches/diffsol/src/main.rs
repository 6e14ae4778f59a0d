//! diffsol (BDF, TR-BDF2, ESDIRK34, Tsit45) against cartox's own methods (auto, radau5, and the
//! differential-equations BDF behind `--method bdf`) on cartox's compiled models, with cartox's
//! analytic Jacobian (issue 12, item 2). Driven by `benches/diffsol/run.sh`.
//!
//! `hanson DIR [--reps 5] [--methods LIST]`: the Hanson 2016 peer workload of
//! benches/peers/hanson.rs (DIR holds `sets.csv` and `ref_finalB.csv` written by
//! ../shared/reference/peers/hanson_desolve_export.py): every perturbed set 0-720 h, 200 output
//! points, rtol 1e-6, atol 1e-9; the loop over all sets timed `--reps` times (median). Accuracy:
//! final B of every set against libRoadRunner at rtol 1e-12, and all 200 points of every state of
//! every set against cartox radau5 at rtol 1e-12, atol 1e-14 (column-scaled).
//!
//! `sbml SBML_DIR DATA_DIR [--reps 5] [--methods LIST]`: the SBML files with libRoadRunner
//! references in tests/data (CVODE, rtol 1e-10, atol 1e-12), default inputs, at rtol 1e-6 /
//! atol 1e-9 and rtol 1e-10 / atol 1e-12; worst column-scaled error over every reference column.
//!
//! Output: one markdown table row per (workload, method).

mod diffsol_solve;

use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::solve::{self, Method, SolverOptions};
use cartox::trajectory::Trajectory;
use diffsol_solve::{DiffsolMethod, Sampled, Work};
use std::hint::black_box;
use std::time::Instant;

const HANSON_DAYS: f64 = 30.0;
const NPTS: usize = 200;

/// cartox's methods and diffsol's, by name.
#[derive(Clone, Copy)]
enum Which {
    Cartox(Method),
    Diffsol(DiffsolMethod),
}

fn parse_method(m: &str) -> Which {
    if let Some(d) = DiffsolMethod::parse(m) {
        return Which::Diffsol(d);
    }
    Which::Cartox(Method::parse(m).unwrap_or_else(|| panic!("unknown method {m}")))
}

/// One simulation by either engine: states and observables on the grid, work counters.
fn simulate(
    model: &Model,
    sc: &Scenario,
    end: f64,
    which: Which,
    rtol: f64,
    atol: f64,
    grid: &[f64],
) -> Result<(Sampled, Work), String> {
    match which {
        Which::Cartox(method) => {
            let opts = SolverOptions {
                method,
                rtol,
                atol,
                ..SolverOptions::default()
            };
            let sol = solve::solve(model, sc, end, &opts, None).map_err(|e| e.to_string())?;
            let tr = Trajectory::sample(model, &sol, &sc.params, grid);
            let st = sol.stats;
            Ok((
                Sampled {
                    states: tr.states.outer_iter().map(|r| r.to_vec()).collect(),
                    observables: tr.observables.outer_iter().map(|r| r.to_vec()).collect(),
                },
                Work {
                    steps: st.accepted_steps,
                    rhs: st.rhs_evaluations,
                    jac: st.jacobian_evaluations,
                    jac_mul: 0,
                },
            ))
        }
        Which::Diffsol(m) => diffsol_solve::solve(model, sc, end, m, rtol, atol, grid),
    }
}

fn read_csv(path: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse().expect("a number"))
                .collect()
        })
        .collect();
    (header, rows)
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n % 2 == 1 {
        x[n / 2]
    } else {
        0.5 * (x[n / 2 - 1] + x[n / 2])
    }
}

/// Worst |a - b| / max |b| over a column.
fn column_scaled(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

fn row(workload: &str, method: &str, w: Work, n: usize, secs: f64, err1: &str, err2: &str) {
    let per = |x: u64| x as f64 / n as f64;
    println!(
        "| {workload} | {method} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {err1} | {err2} |",
        per(w.steps),
        per(w.rhs),
        per(w.jac),
        per(w.jac_mul),
        fmt_secs(secs),
    );
}

fn fmt_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else {
        format!("{:.3} ms", s * 1e3)
    }
}

fn header(err1: &str, err2: &str) {
    println!(
        "| workload | method | steps | RHS evals | Jacobians | J·v products | time (median) | {err1} | {err2} |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

fn hanson(args: &[String]) {
    let mut dir = None;
    let mut reps = 5usize;
    let mut methods =
        "auto,radau5,bdf,diffsol-bdf,diffsol-trbdf2,diffsol-esdirk34,diffsol-tsit45".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => reps = it.next().expect("--reps N").parse().expect("--reps N"),
            "--methods" => methods = it.next().expect("--methods LIST").clone(),
            d => dir = Some(d.to_string()),
        }
    }
    let dir = dir.expect("usage: hanson DIR");
    let model = Model::resolve("hanson2016").expect("hanson2016 is bundled");
    let (names, sets) = read_csv(&format!("{dir}/sets.csv"));
    let reference: Vec<f64> = read_csv(&format!("{dir}/ref_finalB.csv"))
        .1
        .into_iter()
        .map(|r| r[0])
        .collect();
    let scenarios: Vec<Scenario> = sets
        .iter()
        .map(|row| {
            let mut b = Inputs::builder(&model);
            for (n, &v) in names.iter().zip(row) {
                b = b.param(n, v).expect("a parameter of hanson2016");
            }
            Scenario::prepare(&model, &b.build()).expect("scenario")
        })
        .collect();
    let mut grid: Vec<f64> = (0..NPTS - 1)
        .map(|k| k as f64 * HANSON_DAYS / (NPTS - 1) as f64)
        .collect();
    grid.push(HANSON_DAYS);
    let b = model.state_index("B").expect("state B");
    let n = model.n_states();
    // cartox radau5 at rtol 1e-12, atol 1e-14: every set, every point.
    let tight: Vec<Sampled> = scenarios
        .iter()
        .map(|sc| {
            simulate(
                &model,
                sc,
                HANSON_DAYS,
                Which::Cartox(Method::Radau5),
                1e-12,
                1e-14,
                &grid,
            )
            .expect("reference solve")
            .0
        })
        .collect();
    eprintln!(
        "hanson: {} sets, {reps} timed loops per method",
        scenarios.len()
    );
    header(
        "max rel. err. final B vs libRoadRunner 1e-12",
        "max col-scaled err. all points vs radau5 1e-12",
    );
    for m in methods.split(',') {
        let which = parse_method(m);
        let mut work = Work::default();
        let mut err_b = 0.0f64;
        let mut err_traj = 0.0f64;
        let mut failed = None;
        let mut worst_at = (0, 0);
        diffsol_solve::SHORTENED.with(|c| c.set(0));
        for (k, sc) in scenarios.iter().enumerate() {
            match simulate(&model, sc, HANSON_DAYS, which, 1e-6, 1e-9, &grid) {
                Ok((s, w)) => {
                    work += w;
                    let r = reference[k];
                    err_b = err_b.max((s.states[NPTS - 1][b] - r).abs() / r.abs().max(1e-12));
                    for j in 0..n {
                        let a: Vec<f64> = s.states.iter().map(|r| r[j]).collect();
                        let t: Vec<f64> = tight[k].states.iter().map(|r| r[j]).collect();
                        if t.iter().any(|x| *x != 0.0) {
                            let e = column_scaled(&a, &t);
                            if e > err_traj {
                                err_traj = e;
                                worst_at = (k, j);
                            }
                        }
                    }
                }
                Err(e) => {
                    failed = Some(format!("set {k}: {e}"));
                    break;
                }
            }
        }
        if let Some(e) = failed {
            println!(
                "| Hanson 2016 x{} | {m} | failed: {e} | | | | | | |",
                scenarios.len()
            );
            continue;
        }
        let short = diffsol_solve::SHORTENED.with(|c| c.get());
        let mut secs = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t0 = Instant::now();
            let mut checksum = 0.0;
            for sc in &scenarios {
                let (s, _) =
                    simulate(&model, black_box(sc), HANSON_DAYS, which, 1e-6, 1e-9, &grid).unwrap();
                checksum += s.states[NPTS - 1][b];
            }
            secs.push(t0.elapsed().as_secs_f64());
            black_box(checksum);
        }
        eprintln!(
            "hanson {m}: worst trajectory error at set {}, state {}; {} steps fell short of a stop time",
            worst_at.0,
            model.states[worst_at.1].name,
            short
        );
        let all: Vec<String> = secs.iter().map(|s| format!("{s:.3}")).collect();
        eprintln!("hanson {m}: loops {}", all.join(" "));
        row(
            &format!("Hanson 2016 x{}", scenarios.len()),
            m,
            work,
            scenarios.len(),
            median(secs),
            &format!("{err_b:.2e}"),
            &format!("{err_traj:.2e}"),
        );
    }
}

/// The SBML files with a libRoadRunner reference in tests/data (as tests/auto_method.rs).
const SBML_CASES: [(&str, &str); 12] = [
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
    ("sbml-more/BIOMD0000000534.xml", "dwivedi2014"),
    ("sbml-more/MODEL2009230001.xml", "hardiansyah2019"),
];

fn sbml(args: &[String]) {
    let mut dirs = Vec::new();
    let mut reps = 5usize;
    let mut methods = "auto,radau5,bdf,diffsol-bdf,diffsol-trbdf2,diffsol-esdirk34".to_string();
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => reps = it.next().expect("--reps N").parse().expect("--reps N"),
            "--methods" => methods = it.next().expect("--methods LIST").clone(),
            "--only" => only = it.next().cloned(),
            d => dirs.push(d.to_string()),
        }
    }
    let [sbml_dir, data_dir] = &dirs[..] else {
        panic!("usage: sbml SBML_DIR DATA_DIR")
    };
    header("max col-scaled err. vs libRoadRunner 1e-10", "failures");
    for (rtol, atol) in [(1e-6, 1e-9), (1e-10, 1e-12)] {
        for (xml, stem) in SBML_CASES {
            if only.as_deref().is_some_and(|o| !stem.contains(o)) {
                continue;
            }
            let file = xml.rsplit('/').next().unwrap();
            let model = Model::resolve(&format!("{sbml_dir}/{xml}")).expect("SBML import");
            let (cols, rows) = read_csv(&format!("{data_dir}/{stem}.csv"));
            let per_day = model.time_unit.per_day();
            let days: Vec<f64> = rows.iter().map(|r| r[0] / per_day).collect();
            let end = *days.last().unwrap();
            let sc = Scenario::prepare(&model, &Inputs::default()).expect("scenario");
            let label = format!("{file} ({stem}) rtol {rtol:e}");
            for m in methods.split(',') {
                let which = parse_method(m);
                diffsol_solve::SHORTENED.with(|c| c.set(0));
                let (s, w) = match simulate(&model, &sc, end, which, rtol, atol, &days) {
                    Ok(x) => x,
                    Err(e) => {
                        let e: String = e.chars().take(90).collect();
                        println!("| {label} | {m} | | | | | | | failed: {e} |");
                        continue;
                    }
                };
                let short = diffsol_solve::SHORTENED.with(|c| c.get());
                let mut worst = (0.0f64, String::new());
                for (c, name) in cols.iter().enumerate().skip(1) {
                    let expected: Vec<f64> = rows.iter().map(|r| r[c]).collect();
                    let got: Vec<f64> = if let Some(j) = model.state_index(name) {
                        s.states.iter().map(|r| r[j]).collect()
                    } else if let Some(j) = model.observable_index(name) {
                        s.observables.iter().map(|r| r[j]).collect()
                    } else {
                        panic!("{xml}: no column {name}")
                    };
                    let e = column_scaled(&got, &expected);
                    if e > worst.0 || e.is_nan() {
                        worst = (e, name.clone());
                    }
                }
                // Time: repeat the solve for at least ~50 ms per timed loop.
                let t0 = Instant::now();
                let _ = simulate(&model, &sc, end, which, rtol, atol, &days);
                let once = t0.elapsed().as_secs_f64();
                let inner = ((0.05 / once.max(1e-7)).ceil() as usize).clamp(1, 10_000);
                let mut secs = Vec::with_capacity(reps);
                for _ in 0..reps {
                    let t0 = Instant::now();
                    for _ in 0..inner {
                        black_box(
                            simulate(&model, black_box(&sc), end, which, rtol, atol, &days).is_ok(),
                        );
                    }
                    secs.push(t0.elapsed().as_secs_f64() / inner as f64);
                }
                let note = match short {
                    0 => String::new(),
                    k => format!("{k} steps fell short of a stop time"),
                };
                row(
                    &label,
                    m,
                    w,
                    1,
                    median(secs),
                    &format!("{:.2e}", worst.0),
                    &note,
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("hanson") => hanson(&args[1..]),
        Some("sbml") => sbml(&args[1..]),
        _ => {
            eprintln!("usage: cartox-diffsol-bench hanson DIR | sbml SBML_DIR DATA_DIR [--reps N] [--methods LIST]");
            std::process::exit(2);
        }
    }
}
