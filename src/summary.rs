//! Summary metrics of one run (non-compartmental, read from the continuous solution over the
//! monitoring window): CAR-T Cmax, Tmax, AUC and last level; tumor nadir and end level as
//! fractions of the pre-treatment baseline.

use crate::model::Model;
use crate::regimen::Scenario;
use crate::solve::Solution;
use crate::trajectory::{knots, Reader};
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
}

/// Maximum of a reader over `[0, end]`: scan the solver's steps, then refine inside the best
/// step by golden-section search on the dense output.
pub fn peak(reader: &mut Reader, knots: &[f64]) -> (f64, f64) {
    let mut best = (knots[0], reader.at(knots[0]));
    let mut best_i = 0;
    for (i, &d) in knots.iter().enumerate() {
        let x = reader.at(d);
        if x > best.1 {
            best = (d, x);
            best_i = i;
        }
    }
    // Refine within the neighbouring steps.
    let lo = knots[best_i.saturating_sub(1)];
    let hi = knots[(best_i + 1).min(knots.len() - 1)];
    let (mut a, mut b) = (lo, hi);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        if b - a < 1e-10 {
            break;
        }
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if reader.at(c) > reader.at(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let m = 0.5 * (a + b);
    let xm = reader.at(m);
    if xm > best.1 {
        (m, xm)
    } else {
        best
    }
}

/// Minimum over `[0, end]` (scan of the solver's steps and their midpoints).
pub fn nadir(reader: &mut Reader, knots: &[f64]) -> f64 {
    let mut best = f64::INFINITY;
    for w in knots.windows(2) {
        best = best
            .min(reader.at(w[0]))
            .min(reader.at(0.5 * (w[0] + w[1])));
    }
    best.min(reader.at(*knots.last().unwrap()))
}

/// Integral over the knots by Simpson's rule on each solver step (4th order, like the dense output).
pub fn auc(reader: &mut Reader, knots: &[f64]) -> f64 {
    knots
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            (b - a) / 6.0 * (reader.at(a) + 4.0 * reader.at(0.5 * (a + b)) + reader.before(b))
        })
        .sum()
}

/// Compute the CK summary over the window `[0, window]` days.
pub fn summarize(model: &Model, sc: &Scenario, sol: &Solution, window: f64) -> CkSummary {
    let end = window.min(sol.end_day());
    let k = knots(sol, end);
    let mut s = CkSummary::default();
    if let Some(q) = model.summary_cart {
        let mut r = Reader::new(model, sol, &sc.params, q);
        let (tmax, cmax) = peak(&mut r, &k);
        s.cart_cmax = Some(cmax);
        s.cart_tmax = Some(tmax);
        s.cart_auc = Some(auc(&mut r, &k));
        s.cart_last = Some(r.at(end));
    }
    if let (Some(q), Some(base)) = (model.summary_tumor, sc.tumor_baseline_state) {
        if base > 0.0 {
            let mut r = Reader::new(model, sol, &sc.params, q);
            s.tumor_nadir = Some(nadir(&mut r, &k) / base);
            s.tumor_end = Some(r.at(end) / base);
        }
    }
    s
}
