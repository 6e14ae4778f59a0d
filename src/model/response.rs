//! Tumor response criteria: the two cut-points on the tumor relative to its pre-treatment baseline
//! (`r = T / T(0)`, total tumor including antigen-negative cells, as a scan or a serum marker
//! measures it) at or below which a response is complete or at least partial.
//!
//! The default is the lymphoma rule (Lugano 2014, Cheson JCO 32:3059): partial response is a fall
//! of at least 50% in the sum of product diameters (SPD), i.e. a volume of 0.5^1.5 = 0.354 of
//! baseline; complete response is a complete metabolic response on PET, modelled as 1e-2 of
//! baseline (a 1e11-cell tumor down to ~1 mL, about the PET detection limit; assumption). A product
//! preset whose trial graded response by other published criteria gives them in `[response]`:
//!
//! ```toml
//! [response]
//! criteria = "IMWG 2016"     # name of the published criteria
//! complete_below = 1e-2      # fraction of baseline, complete response at or below
//! partial_below = 0.5        # fraction of baseline, partial response (or better) at or below
//! source = "why these cut-points"
//! visits = [28, 90, 180]     # optional: days after infusion of the trial's scheduled assessments
//! confirm = 1                # optional: consecutive visits a category must hold at (IMWG: 2)
//! visits_source = "the trial protocol's assessment schedule"   # required with `visits`
//! ```
//!
//! Without `visits` (the base model's default) the best response is read on the continuous tumor
//! nadir within the monitoring window (`best_response` of `cartox simulate`). With them,
//! `cartox validate` reads the trial's way: the tumor at each scheduled visit, best category over
//! the visits; with `confirm = k` a category counts only when it holds at k consecutive visits
//! (a dip below a cut-point between two visits is never seen; a response first reached at a later
//! visit counts). See [`crate::summary`] (`visits`).

use serde::Serialize;

/// Cut-points of a response classification, fractions of the pre-treatment tumor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseCriteria {
    /// Name of the published criteria (e.g. `Lugano 2014`, `IMWG 2016`).
    pub criteria: String,
    /// Complete response at or below this fraction of baseline.
    pub complete_below: f64,
    /// Partial response (or better) at or below this fraction of baseline.
    pub partial_below: f64,
    /// Why these cut-points.
    pub source: String,
    /// Days after infusion of the trial's scheduled response assessments, increasing; empty: the
    /// continuous nadir within the monitoring window is read instead.
    pub visits: Vec<f64>,
    /// Consecutive visits at which a category must hold to count (1: any single visit).
    pub confirm: usize,
    /// Why these visits (the trial protocol's schedule); empty without visits.
    pub visits_source: String,
}

/// Lymphoma (Lugano 2014) complete-response cut-point, fraction of baseline (see module docs).
pub const LUGANO_COMPLETE: f64 = 1e-2;
/// Lymphoma (Lugano 2014) partial-response cut-point: a 50% fall in the SPD as a volume,
/// 0.5^1.5 = 0.354, rounded to 0.35.
pub const LUGANO_PARTIAL: f64 = 0.35;

impl Default for ResponseCriteria {
    fn default() -> Self {
        ResponseCriteria {
            criteria: "Lugano 2014".into(),
            complete_below: LUGANO_COMPLETE,
            partial_below: LUGANO_PARTIAL,
            source: "Cheson BD et al. J Clin Oncol 2014;32:3059 (Lugano classification): partial \
                     response = >= 50% fall in the sum of product diameters (volume 0.5^1.5 = 0.35 \
                     of baseline); complete metabolic response modelled as 1e-2 of baseline \
                     (PET detection limit for a ~100 mL tumor; assumption)"
                .into(),
            visits: Vec::new(),
            confirm: 1,
            visits_source: String::new(),
        }
    }
}

impl ResponseCriteria {
    /// Check the cut-points: finite, `0 < complete_below <= partial_below < 1`.
    pub fn check(&self) -> Result<(), String> {
        let (c, p) = (self.complete_below, self.partial_below);
        if c.is_finite() && p.is_finite() && 0.0 < c && c <= p && p < 1.0 {
            Ok(())
        } else {
            Err(format!(
                "response: need 0 < complete_below <= partial_below < 1 (got {c}, {p})"
            ))
        }
    }

    /// Check the assessment schedule: visits finite, positive (days after infusion) and strictly
    /// increasing; `1 <= confirm <= ` the number of visits (or 1 without visits); a source with them.
    pub fn check_visits(&self) -> Result<(), String> {
        let v = &self.visits;
        if let Some(bad) = v.iter().find(|d| !(d.is_finite() && **d > 0.0)) {
            return Err(format!(
                "response.visits: each visit must be a positive number of days after infusion (got {bad})"
            ));
        }
        if let Some(w) = v.windows(2).find(|w| w[1] <= w[0]) {
            return Err(format!(
                "response.visits: visits must be strictly increasing (got {} then {})",
                w[0], w[1]
            ));
        }
        if self.confirm < 1 || self.confirm > v.len().max(1) {
            return Err(format!(
                "response.confirm: need 1 <= confirm <= the number of visits ({}), got {}",
                v.len(),
                self.confirm
            ));
        }
        if !v.is_empty() && self.visits_source.trim().is_empty() {
            return Err(
                "response.visits_source: the visits need a source (the trial's assessment schedule)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The last scheduled visit, days after infusion (`None` without visits): a run read at the
    /// visits must simulate at least this far.
    pub fn last_visit(&self) -> Option<f64> {
        self.visits.last().copied()
    }
}
