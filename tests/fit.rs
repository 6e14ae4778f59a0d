//! `cartox fit`: recovery of known parameters from simulated data (coverage of the 95%
//! intervals, the objective at the estimate against the truth), censored (M3) terms against a
//! hand computation on a closed-form model, MAP shrinkage, bad data, the command end to end and
//! byte-identical output for any --jobs.

use assert_cmd::Command;
use cartox::fit::{self, report, ErrorModel, Settings};
use cartox::par::Pool;
use cartox::solve::SolverOptions;
use cartox::{run, Inputs, Model, RunOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn cartox() -> Command {
    Command::cargo_bin("cartox").unwrap()
}

fn settings(error: ErrorModel, starts: usize) -> Settings {
    Settings {
        error,
        prior_typical: false,
        starts,
        start_spread: 1.0,
        max_iterations: 200,
        solver: SolverOptions {
            rtol: 1e-8,
            atol: 1e-10,
            ..SolverOptions::default()
        },
    }
}

/// Sampling days of the default-model recovery data.
const DAYS: [f64; 11] = [1.0, 2.0, 3.0, 5.0, 7.0, 9.0, 11.0, 14.0, 18.0, 21.0, 28.0];
/// True values of the default model's rho_E, delta_E, k_act for the simulated patients.
const TRUE: [(&str, f64); 3] = [("rho_E", 0.6), ("delta_E", 0.2), ("k_act", 0.5)];
/// Residual SD on the log scale (exponential error model) of the simulated data.
const SIGMA: f64 = 0.25;

/// CAR-T in blood (cells/uL) of the default model at `DAYS`, simulated by `cartox::run`
/// (interventions off, as the fit simulates) with the true parameters.
fn true_profile(model: &Model) -> Vec<f64> {
    let mut b = Inputs::builder(model);
    for (n, v) in TRUE {
        b = b.param(n, v).unwrap();
    }
    let opts = RunOptions {
        interventions: false,
        dt: 1.0,
        ..RunOptions::for_model(model)
    };
    let r = run(model, &b.build(), &opts).unwrap();
    let tr = r.trajectory(model, &opts);
    let col = tr.column("cart_blood").unwrap();
    DAYS.iter()
        .map(|d| {
            let k = tr.time.iter().position(|t| (t - d).abs() < 1e-9).unwrap();
            col[k]
        })
        .collect()
}

/// `reps` patients, each the true profile with log-normal noise (SD `SIGMA`); values below
/// `lloq` (when given) are written as BLQ rows at the limit.
fn noisy_csv(profile: &[f64], reps: usize, seed: u64, lloq: Option<f64>) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, SIGMA).unwrap();
    let mut s = String::from("ID,TIME,DV,OBS,BLQ\n");
    for id in 1..=reps {
        for (d, f) in DAYS.iter().zip(profile) {
            let y = f * noise.sample(&mut rng).exp();
            match lloq {
                Some(l) if y < l => s.push_str(&format!("{id},{d},{l},cart_blood,1\n")),
                _ => s.push_str(&format!("{id},{d},{y},cart_blood,0\n")),
            }
        }
    }
    s
}

/// Twenty simulated patients: every fit converges, the objective at the estimate is never above
/// the objective at the true values, and the 95% intervals cover the truth in most fits.
#[test]
fn recovers_known_parameters_with_calibrated_intervals() {
    let model = Model::default_model();
    let profile = true_profile(&model);
    let csv = noisy_csv(&profile, 20, 11, None);
    let ds = fit::read_data(&model, csv.as_bytes(), "sim.csv").unwrap();
    let est = fit::parameters(&model, "rho_E,delta_E,k_act").unwrap();
    let st = settings(ErrorModel::Exponential, 2);
    let fits = fit::fit(&model, &ds, &est, &st, false, &Pool::new(0).unwrap()).unwrap();
    let (mut covered, mut total) = (0, 0);
    let mut sigma2: Vec<f64> = vec![];
    for (f, p) in fits.iter().zip(&ds.patients) {
        let e = f.result.as_ref().unwrap();
        assert_eq!(e.status, "converged", "ID {}: {}", f.id, e.message);
        let truth: Vec<f64> = TRUE.iter().map(|t| t.1).collect();
        let at_truth = fit::objective_at(&model, vec![p], &est, &st, &truth, &[SIGMA]).unwrap();
        assert!(
            e.ofv <= at_truth + 1e-6,
            "ID {}: -2LL {} at the estimate, {} at the truth",
            f.id,
            e.ofv,
            at_truth
        );
        for (k, (_, v)) in TRUE.iter().enumerate() {
            total += 1;
            if e.lower[k] <= *v && *v <= e.upper[k] {
                covered += 1;
            }
            assert!(e.lower[k] < e.value[k] && e.value[k] < e.upper[k]);
        }
        sigma2.push(e.value[3] * e.value[3]);
    }
    // ML residual variance: biased down, E ~ sigma^2 (n - p) / n in a linear model (n = 11
    // points, p = 3 + 1); the mean over replicates lies between that and sigma^2, within noise
    let ms = sigma2.iter().sum::<f64>() / sigma2.len() as f64;
    let low = SIGMA * SIGMA * (11.0 - 4.0) / 11.0;
    eprintln!("mean residual variance {ms:.5}, true {:.5}", SIGMA * SIGMA);
    assert!(ms > 0.8 * low && ms < 1.2 * SIGMA * SIGMA, "{ms}");
    let coverage = covered as f64 / total as f64;
    eprintln!("coverage of the 95% intervals: {covered}/{total} = {coverage:.3}");
    assert!(coverage >= 0.8, "coverage {coverage}");
}

/// Pooled: one row; all the data pin the parameters within 10% of the truth.
#[test]
fn pooled_fit_is_close_to_the_truth() {
    let model = Model::default_model();
    let profile = true_profile(&model);
    let csv = noisy_csv(&profile, 8, 5, None);
    let ds = fit::read_data(&model, csv.as_bytes(), "sim.csv").unwrap();
    let est = fit::parameters(&model, "rho_E,delta_E").unwrap();
    // k_act at its true value as a covariate of every patient
    let mut ds2 = ds.clone();
    for p in &mut ds2.patients {
        p.inputs.set(&model, "k_act", "0.5").unwrap();
    }
    let st = settings(ErrorModel::Exponential, 1);
    let fits = fit::fit(&model, &ds2, &est, &st, true, &Pool::new(0).unwrap()).unwrap();
    assert_eq!(fits.len(), 1);
    assert_eq!(fits[0].id, "pooled");
    let e = fits[0].result.as_ref().unwrap();
    assert_eq!(e.n_obs, 88);
    assert!((e.value[0] / 0.6 - 1.0).abs() < 0.1, "{}", e.value[0]);
    assert!((e.value[1] / 0.2 - 1.0).abs() < 0.1, "{}", e.value[1]);
}

/// Stein 2019 closed form: C(t) = Cmax/foldx exp(rho t) before Tmax,
/// Cmax ((1-FB) exp(-alpha (t-Tmax)) + FB exp(-beta (t-Tmax))) after.
fn stein(t: f64, cmax: f64, alpha: f64, fb: f64, beta: f64) -> f64 {
    let (foldx, tmax) = (3900.0f64, 9.3);
    if t < tmax {
        cmax / foldx * (foldx.ln() / tmax * t).exp()
    } else {
        cmax * ((1.0 - fb) * (-alpha * (t - tmax)).exp() + fb * (-beta * (t - tmax)).exp())
    }
}

fn ln_phi(z: f64) -> f64 {
    // independent of the library: Phi by Simpson integration of the density from -12
    let n = 20000;
    let a = -12.0;
    let h = (z - a) / n as f64;
    let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut s = pdf(a) + pdf(z);
    for i in 1..n {
        s += pdf(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    (s * h / 3.0).ln()
}

/// The objective of observed and censored (M3) rows, computed by hand from the closed form, for
/// each error model.
#[test]
fn objective_matches_a_hand_computation_with_censoring() {
    let model = Model::bundled("stein2019").unwrap().unwrap();
    let csv = "ID,TIME,DV,OBS,BLQ,LLOQ\n1,2,20,C,0,\n1,9,15000,C,0,\n1,30,900,C,0,\n1,100,300,C,0,50\n1,300,,C,1,200\n";
    let ds = fit::read_data(&model, csv.as_bytes(), "s.csv").unwrap();
    assert!(ds.patients[0].observations[4].censored);
    let est = fit::parameters(&model, "Cmax,alpha,FB,beta").unwrap();
    let theta = [20000.0, 0.2, 0.01, 0.004];
    let f = |t: f64| stein(t, theta[0], theta[1], theta[2], theta[3]);
    let obs = [(2.0, 20.0), (9.0, 15000.0), (30.0, 900.0), (100.0, 300.0)];
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    for (error, sig) in [
        (ErrorModel::Exponential, vec![0.3]),
        (ErrorModel::Proportional, vec![0.3]),
        (ErrorModel::Additive, vec![100.0]),
        (ErrorModel::Combined, vec![5.0, 0.2]),
    ] {
        let var = |p: f64| match error {
            ErrorModel::Exponential | ErrorModel::Additive => sig[0] * sig[0],
            ErrorModel::Proportional => (sig[0] * p).powi(2),
            ErrorModel::Combined => sig[0] * sig[0] + (sig[1] * p).powi(2),
        };
        let tr = |x: f64| {
            if error == ErrorModel::Exponential {
                x.ln()
            } else {
                x
            }
        };
        let mut want = 0.0;
        for (t, y) in obs {
            let v = var(f(t));
            want += (tr(y) - tr(f(t))).powi(2) / v + v.ln() + ln2pi;
        }
        let v = var(f(300.0));
        want += -2.0 * ln_phi((tr(200.0) - tr(f(300.0))) / v.sqrt());
        let st = settings(error, 1);
        let got =
            fit::objective_at(&model, vec![&ds.patients[0]], &est, &st, &theta, &sig).unwrap();
        assert!(
            (got - want).abs() < 1e-5 * want.abs().max(1.0),
            "{error:?}: {got} vs {want}"
        );
    }
}

/// Censoring: with values below the limit written as BLQ rows, the fit recovers the truth and
/// uses the censored rows (dropping them would bias the elimination upwards).
#[test]
fn censored_rows_enter_the_likelihood() {
    let model = Model::default_model();
    let profile = true_profile(&model);
    // a limit near the day-28 level censors the late samples of most patients
    let lloq = profile[DAYS.len() - 1] * 1.2;
    let csv = noisy_csv(&profile, 6, 9, Some(lloq));
    assert!(csv.matches(",1\n").count() >= 6, "{csv}");
    let ds = fit::read_data(&model, csv.as_bytes(), "blq.csv").unwrap();
    let est = fit::parameters(&model, "rho_E,delta_E").unwrap();
    let mut ds = ds;
    for p in &mut ds.patients {
        p.inputs.set(&model, "k_act", "0.5").unwrap();
    }
    let st = settings(ErrorModel::Exponential, 1);
    let pool = Pool::new(0).unwrap();
    let fits = fit::fit(&model, &ds, &est, &st, true, &pool).unwrap();
    let e = fits[0].result.as_ref().unwrap();
    assert!(e.n_censored >= 6);
    assert!(
        (e.value[1] / 0.2 - 1.0).abs() < 0.15,
        "delta_E {}",
        e.value[1]
    );
    let truth = fit::objective_at(
        &model,
        ds.patients.iter().collect(),
        &est,
        &st,
        &[0.6, 0.2],
        &[SIGMA],
    )
    .unwrap();
    assert!(e.ofv <= truth + 1e-6);
}

/// MAP: with two observations, the prior pulls the estimate toward the typical value.
#[test]
fn map_shrinks_toward_the_typical_value() {
    let model = Model::default_model();
    let csv = "ID,TIME,DV,OBS\n1,7,80,cart_blood\n1,14,40,cart_blood\n";
    let ds = fit::read_data(&model, csv.as_bytes(), "two.csv").unwrap();
    let est = fit::parameters(&model, "rho_E").unwrap();
    let typical = model.parameters[est[0]].value;
    let pool = Pool::new(1).unwrap();
    let ml = settings(ErrorModel::Exponential, 1);
    let map = Settings {
        prior_typical: true,
        ..ml.clone()
    };
    let a = fit::fit(&model, &ds, &est, &ml, false, &pool).unwrap();
    let b = fit::fit(&model, &ds, &est, &map, false, &pool).unwrap();
    let a = a[0].result.as_ref().unwrap().value[0];
    let b = b[0].result.as_ref().unwrap().value[0];
    assert!(
        (b / typical).ln().abs() < (a / typical).ln().abs(),
        "ML {a}, MAP {b}, typical {typical}"
    );
}

/// Bad data: one line naming the file, the row and the column.
#[test]
fn bad_data_errors_name_row_and_column() {
    let model = Model::default_model();
    let cases = [
        (
            "ID,TIME,DV,OBS,AGE\n1,1,2,cart_blood,50\n",
            "row 0, column `AGE`: unknown column",
        ),
        (
            "ID,TIME,DV,OBS\n1,1,2,cart_blood\n1,x,3,cart_blood\n",
            "row 2, column `TIME`: `x` is not a finite number",
        ),
        (
            "ID,TIME,DV,OBS\n1,1,2,cart_blood\n1,2,,cart_blood\n",
            "row 2, column `DV`: empty DV",
        ),
        (
            "ID,TIME,DV,OBS\n1,1,2,nonsense\n",
            "row 1, column `OBS`: `nonsense` is not a state or observable",
        ),
        (
            "ID,TIME,DV,OBS\n1,-1,2,cart_blood\n",
            "row 1, column `TIME`: TIME -1 is before the first infusion",
        ),
        (
            "ID,TIME,DV,OBS,BLQ\n1,1,,cart_blood,1\n",
            "row 1, column `BLQ`: a BLQ row needs its limit",
        ),
        (
            "ID,TIME,DV,OBS,BLQ\n1,1,3,cart_blood,2\n",
            "row 1, column `BLQ`: 2 must be 0 or 1",
        ),
        (
            "ID,TIME,DV,OBS,weight\n1,1,3,cart_blood,70\n1,2,3,cart_blood,80\n",
            "row 2, column `weight`: `80` differs from `70`",
        ),
        (
            "ID,TIME,DV,OBS,weight\n1,1,3,cart_blood,-70\n",
            "row 1, column `weight`",
        ),
        (
            "ID,TIME,DV,OBS,EVID,AMT\n1,0,,,1,\n",
            "row 1, column `AMT`: a dose record (EVID 1) needs AMT > 0",
        ),
        (
            "ID,TIME,DV,OBS,EVID\n1,0,1,cart_blood,2\n",
            "row 1, column `EVID`: EVID 2 is not supported",
        ),
        ("ID,TIME,DV\n1,0,1\n", "missing column `OBS` (or `CMT`)"),
    ];
    for (csv, want) in cases {
        let e = fit::read_data(&model, csv.as_bytes(), "bad.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.csv: "), "{e}");
        assert!(e.contains(want), "{csv:?}: {e}");
        assert!(!e.contains('\n'));
    }
}

/// Dose records define the regimen: a split infusion by AMT, and covariates reach the inputs.
#[test]
fn dose_records_and_covariates_define_the_patient() {
    let model = Model::default_model();
    let csv = "ID,TIME,DV,OBS,EVID,AMT,MDV,weight,ld\n\
               7,0,,,1,2e7,1,80,none\n7,1,,,1,8e7,1,,\n7,5,12,cart_blood,0,,0,,\n7,9,,cart_blood,0,,1,,\n";
    let ds = fit::read_data(&model, csv.as_bytes(), "d.csv").unwrap();
    let p = &ds.patients[0];
    assert_eq!(p.doses, vec![(0.0, 2e7), (1.0, 8e7)]);
    assert_eq!(p.inputs.dose, Some(1e8));
    assert_eq!(p.inputs.schedule, Some(vec![(0.0, 0.2), (1.0, 0.8)]));
    assert_eq!(p.inputs.weight, Some(80.0));
    assert_eq!(p.inputs.ld.as_deref(), Some("none"));
    assert_eq!(p.observations.len(), 1, "the MDV row is not an observation");
    // the typical prediction of the data point equals a run of the same inputs
    let st = settings(ErrorModel::Exponential, 1);
    let est = fit::parameters(&model, "rho_E").unwrap();
    let fits = vec![cartox::fit::Fit {
        id: "7".into(),
        result: Err("not fitted".into()),
    }];
    let preds = report::predictions(&model, &ds, &fits, &est, &st);
    let inputs = Inputs::builder(&model)
        .dose(1e8)
        .unwrap()
        .schedule(vec![(0.0, 0.2), (1.0, 0.8)])
        .unwrap()
        .weight(80.0)
        .unwrap()
        .ld("none")
        .unwrap()
        .build();
    let opts = RunOptions {
        interventions: false,
        dt: 1.0,
        ..RunOptions::for_model(&model)
    };
    let r = run(&model, &inputs, &opts).unwrap();
    let tr = r.trajectory(&model, &opts);
    let want = tr.column("cart_blood").unwrap()[5];
    let got = preds[0].data[0].pred;
    assert!((got / want - 1.0).abs() < 1e-4, "{got} vs {want}");
}

fn write_tmp(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The command end to end: estimates, correlations, predictions and one figure per patient;
/// the same bytes with 1 and 2 worker threads.
#[test]
fn cli_end_to_end_and_deterministic_across_jobs() {
    let model = Model::default_model();
    let profile = true_profile(&model);
    let dir = tempfile::tempdir().unwrap();
    let data = write_tmp(dir.path(), "obs.csv", &noisy_csv(&profile, 3, 2, Some(0.8)));
    let mut outs = vec![];
    for jobs in ["1", "2"] {
        let est = dir.path().join(format!("est{jobs}.csv"));
        let pred = dir.path().join(format!("pred{jobs}.csv"));
        let corr = dir.path().join(format!("corr{jobs}.csv"));
        let fig = dir.path().join(format!("fig{jobs}.png"));
        cartox()
            .args(["fit", "--data"])
            .arg(&data)
            .args([
                "--estimate",
                "rho_E,delta_E,k_act",
                "--starts",
                "2",
                "--jobs",
                jobs,
                "--quiet",
            ])
            .arg("--out")
            .arg(&est)
            .arg("--predictions")
            .arg(&pred)
            .arg("--correlations")
            .arg(&corr)
            .arg("--plot")
            .arg(&fig)
            .assert()
            .success();
        outs.push((
            std::fs::read(&est).unwrap(),
            std::fs::read(&pred).unwrap(),
            std::fs::read(&corr).unwrap(),
        ));
        for id in 1..=3 {
            let png = dir.path().join(format!("fig{jobs}_{id}.png"));
            let img = image::open(&png).unwrap();
            assert!(img.width() > 500);
        }
    }
    assert_eq!(outs[0], outs[1], "output differs between --jobs 1 and 2");
    let est = String::from_utf8(outs[0].0.clone()).unwrap();
    let mut lines = est.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("ID,rho_E,delta_E,k_act,se_rho_E,se_delta_E,se_k_act,exp_sd,se_exp_sd,ofv,aic,bic,n_obs,n_blq,iterations,status,message,lo_rho_E"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    let cols: Vec<&str> = header.split(',').collect();
    for r in &rows {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(r.as_bytes());
        let rec = rdr.records().next().unwrap().unwrap();
        let get = |n: &str| rec.get(cols.iter().position(|c| *c == n).unwrap()).unwrap();
        assert_eq!(get("status"), "converged");
        let ofv: f64 = get("ofv").parse().unwrap();
        let aic: f64 = get("aic").parse().unwrap();
        assert!((aic - ofv - 8.0).abs() < 1e-9, "k = 4 estimates");
    }
    let pred = String::from_utf8(outs[0].1.clone()).unwrap();
    assert!(pred.starts_with("ID,kind,TIME,OBS,DV,BLQ,IPRED,PRED,IWRES\n"));
    assert_eq!(pred.lines().filter(|l| l.contains(",data,")).count(), 33);
    assert_eq!(
        pred.lines().filter(|l| l.contains(",grid,")).count(),
        3 * (report::GRID_POINTS + 1)
    );
    // correlations: 4 estimates -> 10 pairs per patient, the diagonal is 1
    let corr = String::from_utf8(outs[0].2.clone()).unwrap();
    assert_eq!(corr.lines().count(), 1 + 3 * 10);
    assert!(corr.contains("1,rho_E,rho_E,1\n"));
}

/// Pooled from the command line; a failed patient is reported in its row, exit status 3.
#[test]
fn cli_pooled_and_failed_rows() {
    let dir = tempfile::tempdir().unwrap();
    // patient 2's only observation is zero: it cannot be compared on the log scale
    let data = write_tmp(
        dir.path(),
        "o.csv",
        "ID,TIME,DV,OBS\n1,5,10,cart_blood\n1,10,15,cart_blood\n1,20,3,cart_blood\n2,5,0,cart_blood\n",
    );
    let out = dir.path().join("e.csv");
    cartox()
        .args([
            "fit",
            "--quiet",
            "--estimate",
            "rho_E",
            "--starts",
            "1",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3);
    let text = std::fs::read_to_string(&out).unwrap();
    let row2 = text.lines().nth(2).unwrap();
    assert!(row2.starts_with("2,"));
    assert!(
        row2.contains(",failed,\"row 4: DV 0 cannot be compared on the log scale"),
        "{row2}"
    );
    cartox()
        .args([
            "fit",
            "--quiet",
            "--estimate",
            "rho_E",
            "--pooled",
            "--error",
            "additive",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().nth(1).unwrap().starts_with("pooled,"));
    assert!(text.lines().next().unwrap().contains(",add_sd,se_add_sd,"));
    // bad flags and data: one line, non-zero exit
    cartox()
        .args(["fit", "--estimate", "nope", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains("unknown parameter `nope`"));
    let bad = write_tmp(dir.path(), "b.csv", "ID,TIME,DV,OBS\n1,5,ten,cart_blood\n");
    cartox()
        .args(["fit", "--estimate", "rho_E", "--data"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "b.csv: row 1, column `DV`: `ten` is not a finite number",
        ));
}
