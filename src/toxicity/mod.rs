//! Toxicity: *modelled* CRS and ICANS risk grades over the monitoring window, and rescue
//! interventions (tocilizumab, corticosteroids) triggered by those grades as solver events.
//!
//! No validated mapping from a modelled cytokine level to the ASTCT clinical grade exists
//! (`../shared/reference/literature.md` section 3). The grades here are threshold bands on a model
//! observable, declared with their sources in the model file: a *modelled CRS/ICANS risk grade*,
//! never an ASTCT grade, and not clinical advice. See `docs/toxicity.md`.

mod grading;
mod interventions;

pub use interventions::InterventionTrigger;

pub use crate::model::rules::{DrugKind, Grading, Intervention, Term, Toxicity};

use crate::model::Model;
use crate::trajectory::Samples;
use grading::Tracker;

/// Label used in every output.
pub const LABEL: &str = "modelled CRS/ICANS risk grade";
/// The disclaimer printed with every grading block.
pub const DISCLAIMER: &str = "Modelled CRS/ICANS risk grades: threshold bands on a model observable. No validated mapping from a modelled cytokine level to the ASTCT grade exists; not an ASTCT grade, not clinical advice.";

/// An intervention that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub name: String,
    /// Day the trigger condition was recognised.
    pub trigger_day: f64,
    /// Day the effect started (trigger + delay).
    pub start_day: f64,
    /// Day the effect ended (`None`: lasts to the end of the simulation).
    pub end_day: Option<f64>,
    /// Doses given (1 + the repeat doses).
    pub doses: u32,
    /// Day of the last dose.
    pub last_dose_day: f64,
    /// Drug class, for `tocilizumab_doses` and `steroid_days`.
    pub kind: Option<DrugKind>,
    /// Days between repeat doses, when the intervention repeats.
    pub repeat_every: Option<f64>,
}

impl Fired {
    /// Days of treatment: doses x dosing interval for a repeated drug, else the effect's
    /// duration (to `window` when it lasts to the end).
    pub fn treatment_days(&self, window: f64) -> f64 {
        match self.repeat_every {
            Some(every) => f64::from(self.doses) * every,
            None => self.end_day.unwrap_or(window).min(window) - self.start_day.min(window),
        }
    }
}

/// Grading of one syndrome over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeResult {
    /// Name of the graded observable.
    pub observable: String,
    pub unit: String,
    /// Maximum modelled risk grade (0-4) in the window.
    pub grade: u8,
    /// Start of the first qualifying grade >= 1 run (days); `None` when no grade.
    pub onset: Option<f64>,
    /// Day and value of the observable's peak in the window.
    pub peak_day: f64,
    pub peak: f64,
    /// Days at grade >= 1 and >= 3 within the window.
    pub duration: f64,
    pub severe_duration: f64,
    /// Observable at or above the grade-1 threshold at the window's end.
    pub still_above_at_window_end: bool,
    /// First time grade >= 2 was recognised (start + min duration), for the alarm.
    pub grade2_start: Option<f64>,
    tracker: Tracker,
}

impl GradeResult {
    /// Modelled risk grade at `day` (None after the window).
    pub fn grade_at(&self, day: f64, window: f64) -> Option<u8> {
        (day <= window).then(|| self.tracker.grade_at(day))
    }
}

/// The grading layer's result for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub window: f64,
    pub alarm_window: f64,
    pub crs: Option<GradeResult>,
    pub icans: Option<GradeResult>,
    /// Any modelled grade >= 2 (CRS or ICANS) covering a time within the alarm window.
    pub alarm: bool,
    pub interventions: Vec<Fired>,
    /// Doses of tocilizumab-class interventions (`None`: the model declares none).
    pub tocilizumab_doses: Option<f64>,
    /// Days of steroid treatment (doses x interval; `None`: the model declares no steroid).
    pub steroid_days: Option<f64>,
    /// Peak of `toxicity.il6` (else of the CRS observable) in the window.
    pub il6_peak: Option<f64>,
}

impl Report {
    /// The `interventions` metric: `name@start_day;...` (days to 2 decimals, `xN` after a
    /// repeated drug's start for N doses), empty when none.
    pub fn interventions_text(&self) -> String {
        self.interventions
            .iter()
            .map(|f| match f.doses {
                1 => format!("{}@{:.2}", f.name, f.start_day),
                n => format!("{}@{:.2}x{n}", f.name, f.start_day),
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

fn grade_one(g: &Grading, samples: &Samples) -> GradeResult {
    let end = samples.end;
    let vals = samples.values(g.quantity);
    let mut tracker = Tracker::new(&g.thresholds, &g.min_duration);
    // The probe reads each piece on its own segment, with the parameters in force there
    // (interventions change them).
    let mut probe = samples.probe();
    for p in &samples.pieces {
        let mut f = |t: f64| probe.at(p.seg, t, g.quantity);
        tracker.piece(p.a, p.b, vals[p.ia], vals[p.im], vals[p.ib], &mut f);
    }
    let peak = samples.peak(g.quantity, &vals);
    let still_above = tracker.levels()[0].above_since.is_some();
    tracker.finish(end);
    GradeResult {
        observable: g.name.clone(),
        unit: g.unit.clone(),
        grade: tracker.max_grade(),
        onset: tracker.first_start(1),
        peak_day: peak.0,
        peak: peak.1,
        duration: tracker.time_at_least(1),
        severe_duration: tracker.time_at_least(3),
        still_above_at_window_end: still_above,
        grade2_start: tracker.first_start(2),
        tracker,
    }
}

/// Grade a solved run over `[0, window]` days (the solution knows the parameters in force on each
/// segment); `fired` lists the interventions.
pub fn grade(
    model: &Model,
    samples: &Samples,
    window: f64,
    alarm_window: f64,
    fired: Vec<Fired>,
) -> Option<Report> {
    let tox = model.toxicity.as_ref()?;
    let crs = tox.crs.as_ref().map(|g| grade_one(g, samples));
    let icans = tox.icans.as_ref().map(|g| grade_one(g, samples));
    let il6_peak = match tox.il6 {
        Some(q) => Some(samples.peak(q, &samples.values(q)).1),
        None => crs.as_ref().map(|c| c.peak),
    };
    let alarm_end = alarm_window.min(window);
    let alarm = [&crs, &icans]
        .iter()
        .filter_map(|r| r.as_ref())
        .any(|r| r.grade2_start.is_some_and(|s| s <= alarm_end));
    Some(Report {
        window: samples.end,
        alarm_window: alarm_end,
        crs,
        icans,
        alarm,
        tocilizumab_doses: drug_total(model, &fired, DrugKind::Tocilizumab, |f| f64::from(f.doses)),
        steroid_days: drug_total(model, &fired, DrugKind::Steroid, |f| {
            f.treatment_days(samples.end)
        }),
        interventions: fired,
        il6_peak,
    })
}

/// Sum of `of` over the fired interventions of one drug class (`None`: the model has none).
fn drug_total(
    model: &Model,
    fired: &[Fired],
    kind: DrugKind,
    of: impl Fn(&Fired) -> f64,
) -> Option<f64> {
    model
        .interventions
        .iter()
        .any(|iv| iv.kind == Some(kind))
        .then(|| fired.iter().filter(|f| f.kind == Some(kind)).map(of).sum())
}
