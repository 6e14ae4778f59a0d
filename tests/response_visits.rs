//! Response read at the trial's scheduled assessment visits (issue 14, eighth session): a preset's
//! `[response]` declares the days after infusion on which its trial assessed response (and, for
//! IMWG, that a category must hold at two consecutive visits); `cartox validate` reads its response
//! rows there, best over the visits, and simulates at least to the last visit. `best_response` of a
//! run keeps the continuous nadir within the monitoring window.

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::{run, Run, RunOptions};
use cartox::summary::visits::{best_at_visits, tumor_at_visits};
use cartox::summary::Response;
use cartox::validate;
use common::{number, text};

mod common;

fn simulate(model: &Model, neg_odds: &str, days: f64) -> Run {
    let mut inputs = Inputs::default();
    inputs.set(model, "neg_odds", neg_odds).unwrap();
    let opts = RunOptions::for_model(model).with_days(model, days);
    run(model, &inputs, &opts).unwrap()
}

fn with_visits(model: &Model, visits: &[f64], confirm: usize) -> Model {
    let mut m = model.clone();
    m.response.visits = visits.to_vec();
    m.response.confirm = confirm;
    m.response.visits_source = "test".into();
    m
}

fn read(model: &Model, r: &Run) -> Response {
    best_at_visits(model, &r.scenario, &r.solution)
        .unwrap()
        .unwrap()
}

/// A KarMMa patient with a 42% antigen-negative share: the tumor (M-protein) dips below the IMWG
/// partial cut (0.5) around days 10-20 and is back above it by day 28, when the first visit falls.
/// The continuous nadir calls it partial; read at the visits it is no response.
#[test]
fn a_dip_below_the_cut_between_visits_is_not_a_response() {
    let ide = Model::resolve("ide-cel").unwrap();
    let m = with_visits(&ide, &[28.0, 56.0, 84.0], 1);
    let r = simulate(&m, "0.72", 84.0);
    assert!(number(&r, "tumor_nadir") < 0.5);
    assert_eq!(text(&r, "best_response"), "partial");
    let at = tumor_at_visits(&m, &r.scenario, &r.solution)
        .unwrap()
        .unwrap();
    assert_eq!(at.len(), 3);
    assert!(at.iter().all(|x| *x > 0.5), "{at:?}");
    // Antigen-negative regrowth: each later visit is higher.
    assert!(at.windows(2).all(|w| w[1] > w[0]), "{at:?}");
    assert_eq!(read(&m, &r), Response::None);
    // The same trajectory read at a visit inside the dip is partial.
    let nadir_day = {
        let mut best = (0.0, f64::INFINITY);
        for i in 1..280 {
            let d = i as f64 * 0.1;
            let x = tumor_at_visits(&with_visits(&ide, &[d], 1), &r.scenario, &r.solution)
                .unwrap()
                .unwrap()[0];
            if x < best.1 {
                best = (d, x);
            }
        }
        best.0
    };
    assert_eq!(
        read(&with_visits(&ide, &[nadir_day, 28.0], 1), &r),
        Response::Partial
    );
}

/// Early in the course the tumor is still near baseline; a complete response first reached at a
/// later visit counts, and the best over the visits is the better one.
#[test]
fn a_response_first_reached_at_a_later_visit_counts() {
    let liso = Model::resolve("liso-cel").unwrap();
    let r = simulate(&liso, "0", 28.0);
    assert_eq!(read(&with_visits(&liso, &[2.0], 1), &r), Response::None);
    assert_eq!(
        read(&with_visits(&liso, &[2.0, 28.0], 1), &r),
        Response::Complete
    );
    // Confirmation: complete at the last visit only is not confirmed ...
    assert_eq!(
        read(&with_visits(&liso, &[2.0, 28.0], 2), &r),
        Response::None
    );
    // ... complete at two consecutive visits is.
    assert_eq!(
        read(&with_visits(&liso, &[2.0, 21.0, 28.0], 2), &r),
        Response::Complete
    );
}

#[test]
fn a_visit_beyond_the_simulated_span_is_an_error_and_validate_simulates_to_the_last_visit() {
    let liso = Model::resolve("liso-cel").unwrap();
    let r = simulate(&liso, "0", 28.0);
    let err = best_at_visits(&liso, &r.scenario, &r.solution)
        .unwrap_err()
        .to_string();
    assert!(err.contains("response.visits"), "{err}");
    assert!(err.contains("day 90"), "{err}");
    assert!(err.contains("180"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Validation extends the span to the last visit; the monitoring window stays the model's.
    for name in validate::bundled_presets() {
        let m = Model::resolve(&name).unwrap();
        let spec = validate::Spec::of(&m).unwrap().unwrap();
        let opts = validate::run_options(&m, &spec);
        if let Some(last) = m.response.last_visit() {
            assert!(opts.days >= last, "{name}: {} < {last}", opts.days);
        }
        assert_eq!(opts.window, RunOptions::for_model(&m).window, "{name}");
    }
}

#[test]
fn each_preset_declares_its_trials_visits() {
    for (name, visits, confirm) in [
        ("axi-cel", vec![28.0, 90.0, 180.0], 1),
        ("liso-cel", vec![28.0, 90.0, 180.0], 1),
        ("tisa-cel-dlbcl", vec![28.0, 90.0, 180.0], 1),
        ("tisa-cel-all", vec![28.0, 90.0], 1),
        ("ide-cel", vec![28.0, 56.0, 84.0, 112.0, 140.0, 168.0], 2),
        ("cilta-cel", vec![28.0, 56.0, 84.0, 112.0, 140.0, 168.0], 2),
    ] {
        let m = Model::resolve(name).unwrap();
        assert_eq!(m.response.visits, visits, "{name}");
        assert_eq!(m.response.confirm, confirm, "{name}");
        assert!(!m.response.visits_source.is_empty(), "{name}");
    }
    // The base model reads the continuous nadir (no visits).
    let base = Model::resolve("cartox").unwrap();
    assert!(base.response.visits.is_empty());
    assert_eq!(base.response.last_visit(), None);
}

fn preset(response: &str) -> String {
    format!("[preset]\nname = \"bad\"\nbase = \"cartox\"\n\n[response]\n{response}\n")
}

#[test]
fn bad_visits_are_a_one_line_error_naming_the_file_and_key() {
    for (body, key, says) in [
        (
            "visits = [90, 28]\nvisits_source = \"x\"",
            "response.visits",
            "strictly increasing",
        ),
        (
            "visits = [0, 28]\nvisits_source = \"x\"",
            "response.visits",
            "positive",
        ),
        (
            "visits = [28, 90]\nconfirm = 3\nvisits_source = \"x\"",
            "response.confirm",
            "confirm",
        ),
        (
            "visits = [28, 90]\nconfirm = 0\nvisits_source = \"x\"",
            "response.confirm",
            "confirm",
        ),
        ("visits = [28, 90]", "response.visits_source", "source"),
        // A type error is located by line and column (the `visits` line).
        (
            "visits = [28, \"x\"]\nvisits_source = \"x\"",
            "bad.toml:6:",
            "expected f64",
        ),
        (
            "partial_below = 0.5\nvisits = [28]\nvisits_source = \"x\"",
            "response.source",
            "source",
        ),
    ] {
        let err = Model::from_toml(&preset(body), "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml"), "{body}: {err}");
        assert!(err.contains(key), "{body}: {err}");
        assert!(err.contains(says), "{body}: {err}");
        assert_eq!(err.lines().count(), 1, "{body}: {err}");
    }
    // Visits alone keep the base model's cut-points.
    let ok = Model::from_toml(
        &preset("visits = [28, 90]\nvisits_source = \"x\""),
        "ok.toml",
    )
    .unwrap();
    let base = Model::resolve("cartox").unwrap();
    assert_eq!(ok.response.partial_below, base.response.partial_below);
    assert_eq!(ok.response.criteria, base.response.criteria);
    assert_eq!(ok.response.visits, vec![28.0, 90.0]);
}

/// End to end: the validate response rows of a preset with visits are the shares of its virtual
/// patients' best response over the visits (not of the continuous `best_response`).
#[test]
fn validate_reads_response_rows_at_the_visits() {
    let m = Model::resolve("ide-cel").unwrap();
    let rows = validate::validate_model(&m, Some(60)).unwrap();
    let row = |metric: &str| {
        rows.iter()
            .find(|r| r.metric == metric)
            .unwrap()
            .simulated
            .unwrap()
    };
    let spec = validate::Spec::of(&m).unwrap().unwrap();
    let mut pop = spec.population.unwrap();
    pop.n = 60;
    let runs = validate::population_runs(&m, pop, &validate::run_options(&m, &spec)).unwrap();
    let reads: Vec<Response> = runs.iter().map(|r| read(&m, r)).collect();
    let share = |f: &dyn Fn(&Response) -> bool| {
        reads.iter().filter(|r| f(r)).count() as f64 / runs.len() as f64
    };
    assert_eq!(
        row("complete_response_incidence"),
        share(&|r| *r == Response::Complete)
    );
    assert_eq!(
        row("objective_response_incidence"),
        share(&|r| *r != Response::None)
    );
    // The continuous read differs for some patients (dips between visits, later deepening).
    let continuous = runs
        .iter()
        .zip(&reads)
        .filter(|(r, v)| text(r, "best_response") != v.as_str())
        .count();
    assert!(continuous > 0);
}

/// `cartox simulate` keeps the continuous read and adds the trial-visit read when the run covers
/// the preset's visits (else it says how far to run).
#[test]
fn simulate_prints_the_trial_visit_read_when_the_run_covers_the_visits() {
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cartox"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let short = cli(&["simulate", "-m", "ide-cel"]);
    assert!(short.contains("run --days 168 to read them"), "{short}");
    let long = cli(&["simulate", "-m", "ide-cel", "--days", "168"]);
    assert!(
        long.contains("at trial visits  best partial over days 28, 56, 84, 112, 140, 168"),
        "{long}"
    );
    assert!(long.contains("confirmed at 2 consecutive visits"), "{long}");
    let base = cli(&["simulate", "--days", "60"]);
    assert!(!base.contains("trial visits"), "{base}");
}
