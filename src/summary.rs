//! Summary metrics of one run (non-compartmental, read from the continuous solution over the
//! monitoring window): CAR-T Cmax, Tmax, AUC and last level; tumor nadir and end level as
//! fractions of the pre-treatment baseline.

use crate::model::Model;
use crate::regimen::Scenario;
use crate::trajectory::{Reader, Samples};
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
    if let Some(q) = model.summary_cart {
        let vals = samples.values(q);
        let (tmax, cmax) = samples.peak(q, &vals);
        s.cart_cmax = Some(cmax);
        s.cart_tmax = Some(tmax);
        s.cart_auc = Some(auc(samples, &vals));
        s.cart_last = Some(Reader::new(model, sol, &sc.params, q).at(end));
    }
    if let (Some(q), Some(base)) = (model.summary_tumor, sc.tumor_baseline_state) {
        if base > 0.0 {
            // Lowest sample: knots and the middle of each knot interval.
            let nadir = samples.values(q).into_iter().fold(f64::INFINITY, f64::min);
            s.tumor_nadir = Some(nadir / base);
            s.tumor_end = Some(Reader::new(model, sol, &sc.params, q).at(end) / base);
        }
    }
    s
}
