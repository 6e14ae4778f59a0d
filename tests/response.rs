//! Response as published (issue 13 item 4): a tumor-intrinsic non-response mechanism. An
//! antigen-negative share of the tumor (state R, `neg_odds` with logit-normal IIV) that CAR-T
//! cannot kill, that grows at the tumor's rate and that drives neither CAR-T expansion nor the
//! cytokines. Non-responders therefore expand like responders (Mueller 2018, Awasthi 2020).

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::{run, Run, RunOptions};
use common::{number, text};

mod common;
use cartox::validate;

fn simulate(model: &Model, set: &[(&str, &str)], opts: &RunOptions) -> Run {
    let mut inputs = Inputs::default();
    for (k, v) in set {
        inputs.set(model, k, v).unwrap();
    }
    run(model, &inputs, opts).unwrap()
}

fn param(m: &Model, name: &str) -> f64 {
    m.parameters[m.parameter_index(name).unwrap()].value
}

/// A patient whose antigen-negative share (4.8%, odds 0.05) is above the complete-response cut
/// (1e-2 of baseline) is not a complete responder, while CAR-T expand exactly as in the same
/// patient without antigen-negative cells (who is one): the antigen-negative cells are invisible to
/// CAR-T expansion, to the CAR-T x tumor contact and hence to IL-6 and the CRS/ICANS drives.
#[test]
fn antigen_negative_share_above_the_cut_blocks_complete_response_but_not_expansion() {
    let m = Model::resolve("cartox").unwrap();
    let opts = RunOptions::default();
    let none = simulate(&m, &[("neg_odds", "0")], &opts);
    let esc = simulate(&m, &[("neg_odds", "0.05")], &opts);
    assert_eq!(text(&none, "best_response"), "complete");
    assert_eq!(text(&esc, "best_response"), "partial");
    // The antigen-negative cells are never killed: the tumor cannot fall below their share.
    let share = 0.05 / 1.05;
    let nadir = number(&esc, "tumor_nadir");
    assert!(
        nadir >= share && nadir < share * 1.01_f64.max((0.01f64 * 28.0).exp()),
        "nadir {nadir} vs share {share}"
    );
    // Exposure and toxicity drives: the same within 0.1% (solver tolerance), i.e. far inside the
    // stated fraction of a responder's peak (non-responders at >= 90% of responders' Cmax).
    for name in [
        "cart_cmax",
        "cart_cmax_transgene",
        "cart_auc",
        "il6_peak",
        "cart_tmax",
    ] {
        let (a, b) = (number(&none, name), number(&esc, name));
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "{name}: {a} (no antigen-negative cells) vs {b} (4.8% antigen-negative)"
        );
    }
    assert!(number(&esc, "cart_cmax") >= 0.9 * number(&none, "cart_cmax"));
    for name in ["crs_grade", "icans_grade"] {
        assert_eq!(number(&none, name), number(&esc, name), "{name}");
    }
}

/// The typical patient (share 0.5%) reaches a complete response; with the CAR-T gone to their
/// slow memory phase the antigen-negative cells regrow at r_T and the tumor is back above the
/// complete-response level at ln(0.01 (1 + odds) / odds) / r_T = ln(2.01) / 0.01 = 69.8 days
/// (the antigen-positive residue is ~1e-8 of baseline and adds nothing).
#[test]
fn typical_patient_relapses_when_the_antigen_negative_cells_regrow() {
    let m = Model::resolve("cartox").unwrap();
    let odds = param(&m, "neg_odds");
    let r_t = param(&m, "r_T");
    assert_eq!((odds, r_t), (0.005, 0.01));
    let opts = RunOptions {
        days: 365.0,
        ..RunOptions::for_model(&m)
    };
    let r = simulate(&m, &[], &opts);
    assert_eq!(text(&r, "best_response"), "complete");
    let hand = (0.01 * (1.0 + odds) / odds).ln() / r_t;
    let relapse = number(&r, "relapse_day");
    assert!(
        (relapse - hand).abs() < 1.0,
        "relapse day {relapse} vs {hand}"
    );
    // The antigen-negative share rises towards 1 as CAR-T clear the antigen-positive cells.
    let tr = r.trajectory(&m, &opts);
    let share = tr.column("antigen_negative_fraction").unwrap();
    assert!((share[0] - odds / (1.0 + odds)).abs() < 1e-12);
    assert!(*share.last().unwrap() > 0.99, "{:?}", share.last());
}

/// Without the mechanism (no antigen-negative cells in anyone) nearly every virtual patient is a
/// complete responder, as before issue 13 item 4; with it the ZUMA-1 population (axi-cel preset,
/// n = 200, seed 1, the calibration's own population) lands in ZUMA-1's published bands:
/// complete response 44-64% (54%) and objective response 73.6-88.4% (82%).
#[test]
fn population_response_rates_come_from_the_antigen_negative_share() {
    let m = Model::resolve("axi-cel").unwrap();
    let spec = validate::Spec::of(&m).unwrap().unwrap();
    let pop = spec.population.unwrap();
    let opts = validate::run_options(&m, &spec);
    let rates = |model: &Model| {
        let runs = validate::population_runs(model, pop, &opts).unwrap();
        let share = |ok: &dyn Fn(&str) -> bool| {
            runs.iter()
                .filter(|r| ok(&text(r, "best_response")))
                .count() as f64
                / runs.len() as f64
        };
        (
            share(&|s| s == "complete"),
            share(&|s| s == "complete" || s == "partial"),
        )
    };
    let (cr, orr) = rates(&m);
    assert!((0.44..=0.64).contains(&cr), "CR {cr}");
    assert!((0.736..=0.884).contains(&orr), "ORR {orr}");
    // Mechanism off: odds 0 for everyone (omega2 kept: exp(eta) x 0 = 0).
    let mut off = m.clone();
    let i = off.parameter_index("neg_odds").unwrap();
    off.parameters[i].value = 0.0;
    let (cr_off, _) = rates(&off);
    assert!(cr_off > 0.85, "CR without antigen-negative cells {cr_off}");
}

/// Mueller 2018: tisa-cel B-ALL responders' geometric-mean Cmax is 1.74-fold the non-responders'
/// (accepted 1.2-2.6). Without escaping cells the model gave 19-32 (non-responders were patients
/// whose expansion failed). Since issue 14 the tisa-cel B-ALL escape odds are calibrated to ELIANA's
/// 81% remission (docs/calibrate_product_response.py), which leaves few escape non-responders, so
/// the ratio is 3.4 at n = 200: a reported miss (docs/presets.md, tests/validate.rs). What the
/// mechanism still does: escaping cells make non-responders who expand like responders, so the
/// ratio is far below the same population's without them. Out-of-sample: nothing was fitted to it.
#[test]
fn escaping_cells_make_non_responders_who_expand_like_responders() {
    let m = Model::resolve("tisa-cel-all").unwrap();
    let ratio = |m: &Model| {
        let rows = validate::validate_model(m, Some(200)).unwrap();
        let r = rows
            .iter()
            .find(|r| r.metric == "cart_cmax_transgene_responder_ratio")
            .unwrap()
            .clone();
        assert_eq!(r.sample, "out");
        r.simulated.unwrap()
    };
    let with = ratio(&m);
    let mut off = m.clone();
    let i = off.parameter_index("neg_odds").unwrap();
    off.parameters[i].value = 0.0;
    let without = ratio(&off);
    assert!(with < 5.0, "responder Cmax ratio {with}");
    assert!(
        with * 3.0 < without,
        "ratio {with} with escaping cells vs {without} without"
    );
    // With the shared LBCL odds (before issue 14) the ratio was within Mueller's range.
    off.parameters[i].value = 0.005;
    let shared = ratio(&off);
    assert!(
        (1.2..=2.6).contains(&shared),
        "ratio at the shared odds {shared}"
    );
}
