//! Response by product (issue 14): each preset's escape odds `neg_odds` (the typical odds of the
//! share of the tumor that the product cannot kill, logit-normal between patients) set its
//! response rates (docs/calibrate_product_response.py, docs/presets.md). These tests check the
//! mechanism, not the calibrated numbers: the rates follow the share as the logit-normal law says,
//! fall monotonically as the odds rise, never put complete above objective response, and leave the
//! CAR-T kinetics untouched.

use cartox::model::Model;
use cartox::validate::{self, Row};

fn rows(m: &Model, n: usize) -> Vec<Row> {
    validate::validate_model(m, Some(n)).unwrap()
}

fn value(rows: &[Row], metric: &str) -> f64 {
    rows.iter()
        .find(|r| r.metric == metric)
        .unwrap_or_else(|| panic!("no row {metric}"))
        .simulated
        .unwrap()
}

fn param(m: &Model, name: &str) -> (f64, f64) {
    let p = &m.parameters[m.parameter_index(name).unwrap()];
    (p.value, p.omega2.unwrap_or(0.0))
}

fn with_odds(m: &Model, odds: f64) -> Model {
    let mut m = m.clone();
    let i = m.parameter_index("neg_odds").unwrap();
    m.parameters[i].value = odds;
    m
}

/// Standard normal distribution function.
fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

const PRESETS: [&str; 6] = [
    "axi-cel",
    "tisa-cel-dlbcl",
    "liso-cel",
    "tisa-cel-all",
    "ide-cel",
    "cilta-cel",
];

/// Hand calculation: the antigen-positive tumor is cleared in nearly every patient, so a patient is
/// a complete responder when the escaping cells, share s = odds/(1 + odds) at infusion and growing at
/// r_T, are still <= 1e-2 of baseline at the nadir (about day 16: s e^(16 r_T) <= 1e-2). With ln odds
/// normal (mean ln neg_odds, variance omega2) the expected complete-response rate is
/// Phi((ln odds_cut - ln neg_odds) / sqrt(omega2)), odds_cut = c/(1 - c), c = 1e-2 e^(-16 r_T).
/// Every preset's population (n = 200) is within 8 points of it (binomial SD 3.5 points; the rest
/// is patients whose expansion fails, which the formula ignores, and the nadir day).
#[test]
fn complete_response_follows_the_logit_normal_escaping_share() {
    for name in PRESETS {
        let m = Model::resolve(name).unwrap();
        let (odds, omega2) = param(&m, "neg_odds");
        let (r_t, _) = param(&m, "r_T");
        let c = 1e-2 * (-16.0 * r_t).exp();
        let expected = phi(((c / (1.0 - c)).ln() - odds.ln()) / omega2.sqrt());
        let cr = value(&rows(&m, 200), "complete_response_incidence");
        assert!(
            (cr - expected).abs() <= 0.08,
            "{name}: CR {cr} vs logit-normal {expected:.3} (neg_odds {odds}, omega2 {omega2})"
        );
    }
}

/// Complete response is a subset of objective response in every population.
#[test]
fn complete_response_never_exceeds_objective_response() {
    for name in PRESETS {
        let r = rows(&Model::resolve(name).unwrap(), 100);
        let cr = value(&r, "complete_response_incidence");
        if let Some(orr) = r
            .iter()
            .find(|r| r.metric == "objective_response_incidence")
        {
            let orr = orr.simulated.unwrap();
            assert!(cr <= orr, "{name}: CR {cr} > ORR {orr}");
        }
    }
}

/// Raising the escape odds lowers complete and objective response (never raises them), while the
/// typical patient's CAR-T peak day and peak copies/ug do not move: the escaping cells are
/// invisible to expansion (docs/default-model.md "Response").
#[test]
fn response_falls_monotonically_with_the_escape_odds_and_kinetics_do_not_move() {
    let base = Model::resolve("liso-cel").unwrap();
    let mut last: Option<(f64, f64)> = None;
    let mut first_cr = None;
    let tmax0 = value(&rows(&base, 20), "cart_tmax_transgene");
    for odds in [1e-4, 1e-3, 5e-3, 2e-2, 1e-1, 5e-1] {
        let r = rows(&with_odds(&base, odds), 100);
        let (cr, orr) = (
            value(&r, "complete_response_incidence"),
            value(&r, "objective_response_incidence"),
        );
        let tmax = value(&r, "cart_tmax_transgene");
        assert!(
            (tmax - tmax0).abs() < 1e-3 * tmax0,
            "Tmax {tmax} vs {tmax0} at odds {odds}"
        );
        if let Some((c0, o0)) = last {
            assert!(
                cr <= c0 && orr <= o0,
                "odds {odds}: CR {c0} -> {cr}, ORR {o0} -> {orr}"
            );
        }
        first_cr.get_or_insert(cr);
        last = Some((cr, orr));
    }
    let (cr_end, _) = last.unwrap();
    assert!(
        first_cr.unwrap() - cr_end > 0.5,
        "CR {first_cr:?} -> {cr_end}: the odds must matter"
    );
}
