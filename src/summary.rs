//! Summary metrics of one run (non-compartmental, read from the continuous solution over the
//! monitoring window): CAR-T Cmax, Tmax, AUC and last level; tumor nadir and end level as
//! fractions of the pre-treatment baseline; when the model declares them in `[summary]`, the
//! transgene (qPCR) exposure and normal B-cell metrics; the tumor response and relapse.
//!
//! Response rule (stated, modelled): the tumor relative to its pre-treatment baseline
//! `r = T / T(0)` (the whole tumor, antigen-negative cells included, as a scan or a serum marker
//! sees it): **complete** if `r <= complete_below`, **partial** if `r <= partial_below`, else
//! **none**, with the model's response criteria ([`crate::model::response`]). The default is the
//! lymphoma rule (Lugano 2014): 1e-2 (a 1e11-cell baseline, median ZUMA-1 metabolic tumor volume
//! ~95 mL at 1e9 cells/mL, Kimmel 2021, down to ~1 mL, about the PET detection limit, the complete
//! metabolic response; assumption) and 0.35 (a >= 50% fall in the sum of product diameters is a
//! volume of 0.5^1.5 = 0.35). Myeloma presets grade by IMWG 2016 on the serum M-protein
//! (partial: >= 50% fall), see their `[response]`.
//! `response` is read at the window's end (choose the day with `--window`), `best_response` on
//! the nadir within the window. `relapse_day`: over the whole simulated span (`--days`, e.g. 365),
//! the first day after a complete response on which the tumor is back above the complete-response
//! level. A preset whose trial assessed response at scheduled visits declares them in its
//! `[response]`; `cartox validate` then reads response at those visits ([`visits`]), while
//! `best_response` here keeps the continuous nadir within the window.

pub mod visits;

use crate::model::response::{ResponseCriteria, LUGANO_COMPLETE, LUGANO_PARTIAL};
use crate::model::{Model, Quantity};
use crate::regimen::Scenario;
use crate::trajectory::Samples;
use serde::Serialize;

/// Cellular-kinetic and tumor metrics. `None` when the model declares no such quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CkSummary {
    /// Peak CAR-T level in the window (unit of the model's `summary.cart` quantity; cells/uL for
    /// the default model).
    pub cart_cmax: Option<f64>,
    /// Day of the peak.
    pub cart_tmax: Option<f64>,
    /// Area under the CAR-T curve over the window (unit x day).
    pub cart_auc: Option<f64>,
    /// CAR-T level at the window's end.
    pub cart_last: Option<f64>,
    /// Lowest tumor level in the window, as a fraction of the pre-treatment baseline.
    pub tumor_nadir: Option<f64>,
    /// Tumor level at the window's end, as a fraction of the pre-treatment baseline.
    pub tumor_end: Option<f64>,
    /// Peak transgene level in the window (unit of `summary.transgene`, copies/ug gDNA).
    pub cart_cmax_transgene: Option<f64>,
    /// Day of the transgene peak (qPCR Tmax, the day the published Tmax of the products is read on:
    /// Stein 2019, Ogasawara 2021 and the labels report it from copies/ug).
    pub cart_tmax_transgene: Option<f64>,
    /// Transgene AUC over days 0-28 (copies/ug x day); `None` when the run is shorter than 28 d.
    pub cart_auc28_transgene: Option<f64>,
    /// Normal B cells below `summary.b_cell_aplasia_below` at the window's end.
    pub b_cell_aplasia: Option<bool>,
    /// First day, after B cells fell below the aplasia threshold, on which they are back at or
    /// above it (whole simulated span); `None` if they never fell or never recover.
    pub b_cell_recovery_day: Option<f64>,
    /// Response at the window's end (`complete`, `partial`, `none`), see the module docs.
    pub response: Option<Response>,
    /// Best response within the window (on the tumor nadir).
    pub best_response: Option<Response>,
    /// First day after a complete response on which the tumor is back above the complete-response
    /// level (whole simulated span).
    pub relapse_day: Option<f64>,
}

/// Tumor level (fraction of baseline) at or below which a response is complete, default
/// (lymphoma, Lugano 2014) criteria.
pub const RESPONSE_COMPLETE: f64 = LUGANO_COMPLETE;
/// Tumor level (fraction of baseline) at or below which a response is at least partial, default
/// (lymphoma, Lugano 2014) criteria.
pub const RESPONSE_PARTIAL: f64 = LUGANO_PARTIAL;
/// Window of the transgene AUC, days (`cart_auc28_transgene`).
pub const AUC_TRANSGENE_DAYS: f64 = 28.0;

/// Modelled tumor response category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    Complete,
    Partial,
    None,
}

impl Response {
    /// Classify a tumor level given as a fraction of its baseline, default (lymphoma) criteria.
    pub fn of(fraction: f64) -> Response {
        Response::by(fraction, &ResponseCriteria::default())
    }

    /// Classify a tumor level given as a fraction of its baseline by the given criteria.
    pub fn by(fraction: f64, criteria: &ResponseCriteria) -> Response {
        if fraction <= criteria.complete_below {
            Response::Complete
        } else if fraction <= criteria.partial_below {
            Response::Partial
        } else {
            Response::None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Response::Complete => "complete",
            Response::Partial => "partial",
            Response::None => "none",
        }
    }
}

/// First time, after the values have gone below `level` (at or below it when `strict`), that
/// they are back above it, scanning the (day, value) points in order ([`Recovery::push`]);
/// linear interpolation between the two points.
struct Recovery {
    level: f64,
    strict: bool,
    was_below: bool,
    prev: (f64, f64),
    day: Option<f64>,
}

impl Recovery {
    fn new(level: f64, strict: bool) -> Self {
        Recovery {
            level,
            strict,
            was_below: false,
            prev: (f64::NAN, f64::NAN),
            day: None,
        }
    }

    /// The next point; true when the recovery day is found (`self.day`).
    #[inline]
    fn push(&mut self, d1: f64, v1: f64) -> bool {
        let below = if self.strict {
            v1 <= self.level
        } else {
            v1 < self.level
        };
        if below {
            self.was_below = true;
        } else if self.was_below {
            let (d0, v0) = self.prev;
            let w = if v1 > v0 {
                (self.level - v0) / (v1 - v0)
            } else {
                1.0
            };
            self.day = Some(d0 + w.clamp(0.0, 1.0) * (d1 - d0));
            return true;
        }
        self.prev = (d1, v1);
        false
    }
}

/// [`Recovery`] over (day, value) points in order.
#[cfg(test)]
fn recovery_day(
    points: impl IntoIterator<Item = (f64, f64)>,
    level: f64,
    strict: bool,
) -> Option<f64> {
    let mut r = Recovery::new(level, strict);
    for (d, v) in points {
        if r.push(d, v) {
            break;
        }
    }
    r.day
}

/// Call `f` with `vals` (values on the sample points, [`Samples::values`]) as (day, value) in
/// time order (knots and interval midpoints; a segment's start only for the first piece, its
/// value after an event being the next piece's start) until it returns true.
fn ordered(samples: &Samples, vals: &[f64], mut f: impl FnMut(f64, f64) -> bool) {
    let Some(first) = samples.pieces.first() else {
        return;
    };
    if f(first.a, vals[first.ia]) {
        return;
    }
    for p in &samples.pieces {
        if f(0.5 * (p.a + p.b), vals[p.im]) || f(p.b, vals[p.ib]) {
            return;
        }
    }
}

/// [`Recovery`] on the sample points of `samples` ([`ordered`]).
fn recovery_on(samples: &Samples, vals: &[f64], level: f64, strict: bool) -> Option<f64> {
    let mut r = Recovery::new(level, strict);
    ordered(samples, vals, |d, v| r.push(d, v));
    r.day
}

/// Integral of the sampled values over `[0, end]` by Simpson's rule on each knot interval (4th
/// order, like the dense output).
pub fn auc(samples: &Samples, vals: &[f64]) -> f64 {
    samples
        .pieces
        .iter()
        .map(|p| (p.b - p.a) / 6.0 * (vals[p.ia] + 4.0 * vals[p.im] + vals[p.ib]))
        .sum()
}

/// Compute the CK summary over the samples' window `[0, end]` days.
pub fn summarize(model: &Model, sc: &Scenario, samples: &Samples) -> CkSummary {
    let end = samples.end;
    let mut s = CkSummary::default();
    let sol = samples.sol;
    // Whole-span scans (recovery, relapse) only when the run goes beyond the window.
    let needs_span = model.summary_b_cells.is_some()
        || (model.summary_tumor.is_some() && sc.tumor_baseline_state.is_some_and(|b| b > 0.0));
    let span_needed = needs_span && sol.end_day() > end;
    // The observables read below at the window's sample points, computed in one pass.
    let tumor = model
        .summary_tumor
        .filter(|_| sc.tumor_baseline_state.is_some_and(|b| b > 0.0));
    let b_cells = model
        .summary_b_cells
        .filter(|_| model.b_cell_aplasia_below.is_some() && !span_needed);
    let ahead: Vec<Quantity> = [model.summary_cart, tumor, model.summary_transgene, b_cells]
        .into_iter()
        .flatten()
        .collect();
    samples.prefetch(&ahead);
    if let Some(q) = model.summary_cart {
        let vals = samples.values(q);
        let (tmax, cmax) = samples.peak(q, &vals);
        s.cart_cmax = Some(cmax);
        s.cart_tmax = Some(tmax);
        s.cart_auc = Some(auc(samples, &vals));
        s.cart_last = Some(samples.read_at(q, end));
    }
    if let (Some(q), Some(base)) = (model.summary_tumor, sc.tumor_baseline_state) {
        if base > 0.0 {
            // Lowest sample: knots and the middle of each knot interval.
            let nadir = samples.values(q).into_iter().fold(f64::INFINITY, f64::min);
            s.tumor_nadir = Some(nadir / base);
            s.tumor_end = Some(samples.read_at(q, end) / base);
            let by = |r: f64| Response::by(r, &model.response);
            s.response = s.tumor_end.map(by);
            s.best_response = s.tumor_nadir.map(by);
        }
    }
    if let Some(q) = model.summary_transgene {
        let vals = samples.values(q);
        let (tmax, cmax) = samples.peak(q, &vals);
        s.cart_cmax_transgene = Some(cmax);
        s.cart_tmax_transgene = Some(tmax);
        if sol.end_day() >= AUC_TRANSGENE_DAYS {
            // The window is often these 28 days: then its samples are the same.
            s.cart_auc28_transgene = Some(if samples.end == AUC_TRANSGENE_DAYS {
                auc(samples, &vals)
            } else {
                let w = Samples::new(model, sol, AUC_TRANSGENE_DAYS);
                auc(&w, &w.values(q))
            });
        }
    }
    let span = span_needed.then(|| Samples::new(model, sol, sol.end_day()));
    let whole = span.as_ref().unwrap_or(samples);
    if let (Some(q), Some(level)) = (model.summary_b_cells, model.b_cell_aplasia_below) {
        s.b_cell_aplasia = Some(samples.read_at(q, end) < level);
        let vals = whole.values(q);
        s.b_cell_recovery_day = recovery_on(whole, &vals, level, false);
    }
    if let (Some(q), Some(base)) = (model.summary_tumor, sc.tumor_baseline_state) {
        if base > 0.0 {
            let vals = whole.values(q);
            let level = model.response.complete_below * base;
            s.relapse_day = recovery_on(whole, &vals, level, true).filter(|_| {
                let mut any = false;
                ordered(whole, &vals, |_, v| {
                    any = v <= level;
                    any
                });
                any
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_rule() {
        assert_eq!(Response::of(0.0), Response::Complete);
        assert_eq!(Response::of(0.01), Response::Complete);
        assert_eq!(Response::of(0.0101), Response::Partial);
        assert_eq!(Response::of(0.35), Response::Partial);
        assert_eq!(Response::of(0.36), Response::None);
        assert_eq!(Response::of(2.0), Response::None);
        // IMWG-style cut-points: a 40% fall is partial there, none by the lymphoma volume rule.
        let imwg = ResponseCriteria {
            partial_below: 0.5,
            ..ResponseCriteria::default()
        };
        assert_eq!(Response::by(0.45, &imwg), Response::Partial);
        assert_eq!(Response::of(0.45), Response::None);
        assert_eq!(Response::by(0.5, &imwg), Response::Partial);
        assert_eq!(Response::by(0.51, &imwg), Response::None);
        assert_eq!(Response::by(0.005, &imwg), Response::Complete);
    }

    /// [`ordered`] visits, bit for bit, the (day, value) lists the summary collected before
    /// (reference below), for every state of the default model over a 60-day run with events
    /// (segments starting mid-window), on windows of 28 and 60 days.
    #[test]
    fn ordered_points_equal_the_collected_lists() {
        fn collected(samples: &Samples, vals: &[f64]) -> (Vec<f64>, Vec<f64>) {
            let mut days = Vec::new();
            let mut out = Vec::new();
            for (k, p) in samples.pieces.iter().enumerate() {
                if k == 0 {
                    days.push(p.a);
                    out.push(vals[p.ia]);
                }
                days.extend([0.5 * (p.a + p.b), p.b]);
                out.extend([vals[p.im], vals[p.ib]]);
            }
            (days, out)
        }
        let (model, run) = crate::trajectory::tests::sixty_day_run();
        assert!(run.solution.n_segments() > 2, "a run with events");
        let mut compared = 0;
        for end in [28.0, 60.0] {
            let samples = Samples::new(&model, &run.solution, end);
            for i in 0..model.n_states() {
                let vals = samples.values(Quantity::State(i));
                let (days, want) = collected(&samples, &vals);
                let mut got: Vec<(f64, f64)> = Vec::new();
                ordered(&samples, &vals, |d, v| {
                    got.push((d, v));
                    false
                });
                assert_eq!(got.len(), days.len());
                for ((d, v), (wd, wv)) in got.iter().zip(days.iter().zip(&want)) {
                    assert_eq!((d.to_bits(), v.to_bits()), (wd.to_bits(), wv.to_bits()));
                    compared += 1;
                }
            }
        }
        assert!(compared > 5000, "only {compared} points compared");
    }

    #[test]
    fn recovery_after_dip_interpolates() {
        let days = [0.0, 1.0, 2.0, 3.0, 4.0];
        // 100 -> 10 -> 20 -> 40 -> 80: below 50 from day 1, back at 50 between day 3 and 4.
        let vals = [100.0, 10.0, 20.0, 40.0, 80.0];
        let pts = |vals: [f64; 5]| days.into_iter().zip(vals);
        let d = recovery_day(pts(vals), 50.0, false).unwrap();
        assert!((d - (3.0 + 10.0 / 40.0)).abs() < 1e-12, "{d}");
        // never below, or never back: no recovery
        assert_eq!(recovery_day(pts([60.0; 5]), 50.0, false), None);
        assert_eq!(
            recovery_day(pts([60.0, 1.0, 1.0, 1.0, 1.0]), 50.0, false),
            None
        );
        // strict: at the level counts as below
        assert_eq!(
            recovery_day(pts([60.0, 50.0, 50.0, 50.0, 50.0]), 50.0, false),
            None
        );
        assert!(recovery_day(pts([60.0, 50.0, 50.0, 70.0, 80.0]), 50.0, true).is_some());
    }
}
