//! Response criteria per disease (issue 14, seventh session): a preset's `[response]` gives its
//! trial's published criteria as cut-points on the tumor relative to baseline. Lymphoma presets
//! keep the base model's Lugano rule (partial: 0.35 of baseline, the volume of a 50% fall in the
//! sum of product diameters); the myeloma presets grade by IMWG 2016 on the serum M-protein
//! (partial: a 50% fall, 0.5 of baseline). The rule changes how a trajectory is read, never the
//! trajectory.

use cartox::model::response::ResponseCriteria;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::{run, Run, RunOptions};
use common::{number, text};

mod common;

fn simulate(model: &Model, neg_odds: &str) -> Run {
    let mut inputs = Inputs::default();
    inputs.set(model, "neg_odds", neg_odds).unwrap();
    run(model, &inputs, &RunOptions::default()).unwrap()
}

#[test]
fn each_preset_grades_response_by_its_diseases_published_criteria() {
    for name in [
        "cartox",
        "axi-cel",
        "liso-cel",
        "tisa-cel-dlbcl",
        "tisa-cel-all",
    ] {
        let m = Model::resolve(name).unwrap();
        // Same cut-points as the base (their `[response]` only adds the trial's visits).
        let base = ResponseCriteria::default();
        assert_eq!(
            (m.response.complete_below, m.response.partial_below),
            (base.complete_below, base.partial_below),
            "{name}"
        );
        assert_eq!(m.response.criteria, "Lugano 2014");
        // A 50% fall in the sum of product diameters as a volume.
        assert!((m.response.partial_below - 0.5f64.powf(1.5)).abs() < 0.005);
    }
    for name in ["ide-cel", "cilta-cel"] {
        let m = Model::resolve(name).unwrap();
        assert_eq!(m.response.criteria, "IMWG 2016", "{name}");
        assert_eq!(m.response.partial_below, 0.5, "{name}");
        assert_eq!(m.response.complete_below, 1e-2, "{name}");
    }
}

/// A KarMMa patient whose antigen-negative share is 42% (odds 0.72): after CAR-T clear the
/// antigen-positive cells the tumor (and so, at steady state, the serum M-protein) bottoms out just
/// above that share, a 55% fall. IMWG calls it a partial response (>= 50% fall of the M-protein);
/// the lymphoma volume rule (0.35) would call it no response. The trajectory is the same.
#[test]
fn a_55_percent_fall_is_partial_by_imwg_and_none_by_the_lymphoma_volume_rule() {
    let myeloma = Model::resolve("ide-cel").unwrap();
    let mut volume = myeloma.clone();
    volume.response = ResponseCriteria::default();
    let (a, b) = (simulate(&myeloma, "0.72"), simulate(&volume, "0.72"));
    let share = 0.72 / 1.72;
    let nadir = number(&a, "tumor_nadir");
    assert!(nadir > share && nadir < 0.5, "nadir {nadir}, share {share}");
    assert_eq!(number(&b, "tumor_nadir"), nadir);
    assert_eq!(text(&a, "best_response"), "partial");
    assert_eq!(text(&b, "best_response"), "none");
    // Best response is read on the nadir: by day 28 the antigen-negative cells have regrown at the
    // tumor's rate (0.42 x exp(0.01 x 28) = 0.55), so the day-28 response is none by both rules.
    let end = number(&a, "tumor_end");
    assert!(
        end > 0.5 && end < share * (0.01f64 * 28.0).exp() * 1.01,
        "end {end}"
    );
    assert_eq!(text(&a, "response"), "none");

    // At the cap of the escape odds (1: half the tumor antigen-negative) the tumor can never fall
    // by half: no response by either rule.
    let capped = simulate(&myeloma, "1");
    assert!(number(&capped, "tumor_nadir") > 0.5);
    assert_eq!(text(&capped, "best_response"), "none");

    // A patient without antigen-negative cells is a complete responder by both.
    assert_eq!(text(&simulate(&myeloma, "0"), "best_response"), "complete");
    assert_eq!(text(&simulate(&volume, "0"), "best_response"), "complete");
}

#[test]
fn a_preset_with_inconsistent_response_cut_points_is_an_error_naming_the_table() {
    let text = r#"
[preset]
name = "bad"
base = "cartox"

[response]
criteria = "IMWG 2016"
complete_below = 0.6
partial_below = 0.5
source = "test"
"#;
    let err = Model::from_toml(text, "bad.toml").unwrap_err().to_string();
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("response"), "{err}");
    assert!(err.contains("complete_below <= partial_below"), "{err}");
    assert!(
        err.lines().count() == 1,
        "one-line error expected, got: {err}"
    );
    // An unknown key in the table is refused too.
    let typo = text.replace("partial_below", "partial_bellow");
    let err = Model::from_toml(&typo, "bad.toml").unwrap_err().to_string();
    assert!(err.contains("partial_bellow"), "{err}");
}

/// End to end through `cartox validate`: on the same KarMMa virtual population (ide-cel, n = 100,
/// seed 1), reading response by IMWG instead of the lymphoma volume rule leaves complete response
/// unchanged and adds to objective response exactly the patients whose tumor nadir lies in
/// (0.35, 0.5] of baseline.
#[test]
fn validate_reads_objective_response_by_the_presets_criteria() {
    use cartox::validate;
    // Both read on the continuous nadir (no visits), so only the cut-points differ.
    let mut myeloma = Model::resolve("ide-cel").unwrap();
    myeloma.response.visits.clear();
    myeloma.response.confirm = 1;
    let mut volume = myeloma.clone();
    volume.response = ResponseCriteria::default();
    let value = |m: &Model, metric: &str| -> f64 {
        validate::validate_model(m, Some(100))
            .unwrap()
            .into_iter()
            .find(|r| r.metric == metric)
            .unwrap_or_else(|| panic!("no row {metric}"))
            .simulated
            .unwrap()
    };
    let spec = validate::Spec::of(&myeloma).unwrap().unwrap();
    let mut pop = spec.population.unwrap();
    pop.n = 100;
    let opts = validate::run_options(&myeloma, &spec);
    let runs = validate::population_runs(&myeloma, pop, &opts).unwrap();
    let band = runs
        .iter()
        .filter(|r| {
            let x = number(r, "tumor_nadir");
            x > 0.35 && x <= 0.5
        })
        .count() as f64
        / runs.len() as f64;
    assert!(band > 0.0, "some KarMMa patients fall by 50-65%");
    let cr = "complete_response_incidence";
    let orr = "objective_response_incidence";
    assert_eq!(value(&myeloma, cr), value(&volume, cr));
    let gained = value(&myeloma, orr) - value(&volume, orr);
    assert!(
        (gained - band).abs() < 1e-12,
        "gained {gained}, band {band}"
    );
}
