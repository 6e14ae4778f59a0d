//! Tumor response read the way a trial reads it: at its scheduled assessment visits.
//!
//! Trials do not see a continuous tumor curve. Lymphoma trials assess response by PET-CT at
//! scheduled visits (about a month after infusion, then month 3, 6, ...) and report the best
//! overall response over follow-up; myeloma trials grade IMWG response on the serum M-protein at
//! monthly visits, where a category must be confirmed at two consecutive assessments. So a dip
//! below a cut-point between two visits is not a response, and a response first reached at a later
//! visit is one. The visits and the confirmation rule are the model's response criteria
//! ([`crate::model::response`], a preset's `[response]` `visits` / `confirm`); `cartox validate`
//! reads its response rows this way when a preset declares visits, otherwise on the continuous
//! nadir within the monitoring window (`best_response`).

use super::Response;
use crate::error::{Error, ModelError};
use crate::model::response::ResponseCriteria;
use crate::model::Model;
use crate::regimen::Scenario;
use crate::solve::Solution;
use crate::trajectory::Reader;
use crate::Result;

/// Order of the categories, best last.
fn rank(r: Response) -> u8 {
    match r {
        Response::None => 0,
        Response::Partial => 1,
        Response::Complete => 2,
    }
}

/// Best category over visits given the tumor (fraction of baseline) at each visit, in order: a
/// category counts when it holds (or better) at `criteria.confirm` consecutive visits.
/// `None` when there are fewer visits than the confirmation needs.
pub fn best_over_visits(levels: &[f64], criteria: &ResponseCriteria) -> Option<Response> {
    let k = criteria.confirm.max(1);
    levels
        .windows(k)
        .map(|w| {
            w.iter()
                .map(|r| Response::by(*r, criteria))
                .min_by_key(|r| rank(*r))
                .unwrap_or(Response::None)
        })
        .max_by_key(|r| rank(*r))
}

/// The tumor (fraction of its pre-treatment baseline) at each of the model's scheduled visits.
/// `Ok(None)` when the model declares no visits, no tumor quantity or no positive baseline.
///
/// Errors: a visit beyond the simulated span (the run must go at least to the last visit).
pub fn tumor_at_visits(model: &Model, sc: &Scenario, sol: &Solution) -> Result<Option<Vec<f64>>> {
    let visits = &model.response.visits;
    let (Some(q), Some(base)) = (model.summary_tumor, sc.tumor_baseline_state) else {
        return Ok(None);
    };
    if visits.is_empty() || base <= 0.0 {
        return Ok(None);
    }
    let end = sol.end_day();
    if let Some(last) = visits.iter().copied().find(|d| *d > end) {
        return Err(Error::Model(ModelError::plain(
            &model.source,
            format!(
                "response.visits: visit on day {last} lies beyond the simulated span ({end} days); \
                 simulate at least {} days",
                model.response.last_visit().unwrap_or(last)
            ),
        )));
    }
    let mut reader = Reader::new(model, sol, &sc.params, q);
    Ok(Some(visits.iter().map(|d| reader.at(*d) / base).collect()))
}

/// Best response over the model's scheduled visits (see the module docs); `Ok(None)` when the
/// model declares no visits or has no tumor.
pub fn best_at_visits(model: &Model, sc: &Scenario, sol: &Solution) -> Result<Option<Response>> {
    Ok(tumor_at_visits(model, sc, sol)?.and_then(|v| best_over_visits(&v, &model.response)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lugano(visits: usize, confirm: usize) -> ResponseCriteria {
        ResponseCriteria {
            visits: (1..=visits).map(|i| 30.0 * i as f64).collect(),
            confirm,
            visits_source: "test".into(),
            ..ResponseCriteria::default()
        }
    }

    #[test]
    fn best_category_over_visits() {
        let c = lugano(3, 1);
        // A later visit deeper than the first: the best counts.
        assert_eq!(
            best_over_visits(&[0.5, 0.2, 0.005], &c),
            Some(Response::Complete)
        );
        // Response at the first visit, progression later: still the best over follow-up.
        assert_eq!(
            best_over_visits(&[0.3, 0.8, 2.0], &c),
            Some(Response::Partial)
        );
        assert_eq!(best_over_visits(&[0.9, 0.4, 1.2], &c), Some(Response::None));
        assert_eq!(best_over_visits(&[], &c), None);
    }

    #[test]
    fn confirmation_needs_consecutive_visits() {
        let c = lugano(3, 2);
        // Complete at one visit only, partial at the next: confirmed partial.
        assert_eq!(
            best_over_visits(&[0.005, 0.2, 0.9], &c),
            Some(Response::Partial)
        );
        // Partial at the last visit only: not confirmed.
        assert_eq!(best_over_visits(&[0.9, 0.8, 0.3], &c), Some(Response::None));
        // Complete at two consecutive visits.
        assert_eq!(
            best_over_visits(&[0.2, 0.005, 0.001], &c),
            Some(Response::Complete)
        );
        // Fewer visits than the confirmation needs: no read.
        assert_eq!(best_over_visits(&[0.001], &c), None);
    }
}
