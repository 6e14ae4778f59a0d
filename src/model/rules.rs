//! The compiled toxicity rules of a model: how modelled CRS/ICANS risk is graded (`[toxicity]`) and
//! which rescue therapies the grades trigger (`[[interventions]]`). These are model definitions;
//! the grading and intervention *runtime* is [`crate::toxicity`], one layer up.

use super::Quantity;
use crate::expr::Node;

/// Grading rules for one syndrome (CRS or ICANS).
#[derive(Debug, Clone)]
pub struct Grading {
    /// Name of the graded observable or state.
    pub name: String,
    /// The graded observable or state.
    pub quantity: Quantity,
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    /// Ascending thresholds for grades 1-4.
    pub thresholds: [f64; 4],
    /// Days at or above each threshold before that grade counts.
    pub min_duration: [f64; 4],
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    /// One source per threshold.
    pub sources: Vec<String>,
}

/// The model's `[toxicity]` section.
#[derive(Debug, Clone)]
pub struct Toxicity {
    /// Default monitoring window, days.
    pub window: Option<f64>,
    /// Default early-alarm window, days.
    pub alarm_window: Option<f64>,
    /// Free-text note shown with the grading.
    pub note: String,
    /// Quantity read for `il6_peak` (`None`: the CRS observable).
    pub il6: Option<Quantity>,
    /// CRS grading rules, if declared.
    pub crs: Option<Grading>,
    /// ICANS grading rules, if declared.
    pub icans: Option<Grading>,
}

/// One term of a trigger: `crs >= grade` or `icans >= grade`, optionally qualified by
/// `for D d` (the grade has been held without interruption for D days), `before D d` (the
/// term is recognised no later than day D after infusion, e.g. a label's "onset < 72 h" rule)
/// and/or `if NAME` (only for patients whose parameter NAME is >= 0.5: a "may be considered"
/// rule applied at the clinician's discretion).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// `true`: the CRS grade; `false`: the ICANS grade.
    pub crs: bool,
    /// The grade the term needs (1-4).
    pub grade: u8,
    /// Days the grade must have lasted (0: recognised as soon as the grade is).
    pub hold: f64,
    /// Latest day (after infusion) at which the term can be recognised (`None`: any day).
    pub before: Option<f64>,
    /// `if NAME`: the term applies only to a patient whose parameter NAME (index into the
    /// model's parameters) is >= 0.5, e.g. a clinician-discretion draw ([`Parameter::bernoulli`](
    /// super::Parameter::bernoulli)); `None`: always.
    pub gate: Option<usize>,
}

impl Term {
    /// `crs >= grade` (or `icans >= grade`) with no qualifier.
    pub fn at_least(crs: bool, grade: u8) -> Self {
        Term {
            crs,
            grade,
            hold: 0.0,
            before: None,
            gate: None,
        }
    }

    /// Whether the term applies to a patient with these parameters (its `if` gate).
    pub fn applies(&self, params: &[f64]) -> bool {
        self.gate.is_none_or(|g| params[g] >= 0.5)
    }
}

/// A rescue therapy declared in `[[interventions]]`.
#[derive(Debug, Clone)]
pub struct Intervention {
    /// Name, as used in expressions and output columns.
    pub name: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// The trigger as written (`crs >= 2 || icans >= 2`).
    pub trigger_text: String,
    /// Fires when any term holds.
    pub trigger: Vec<Term>,
    /// Days from the trigger to the start of the effect.
    pub delay: f64,
    /// Days of effect; `None`: to the end of the simulation.
    pub duration: Option<f64>,
    /// (parameter index, new value as an expression of the parameters in force, text)
    pub set: Vec<(usize, Node, String)>,
    /// (state index, amount added at the start and at every repeat dose, text)
    pub add: Vec<(usize, Node, String)>,
    /// Days between repeat doses (`None`: one dose).
    pub repeat_every: Option<f64>,
    /// Most doses in all (1 without `repeat_every`).
    pub max_doses: u32,
    /// A repeat dose is given while any term holds on the current values.
    pub repeat_while: Vec<Term>,
    /// Drug class for the summary metrics.
    pub kind: Option<DrugKind>,
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}

/// The drug class of an intervention, for the summary metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrugKind {
    /// IL-6 receptor blockade: counted by `tocilizumab_doses`.
    Tocilizumab,
    /// A corticosteroid: counted by `steroid_days`.
    Steroid,
}

/// A trial's management protocol, declared by a product preset (`[management]`): the grading
/// scale the trial used (a label: the modelled grades stay threshold bands on model quantities)
/// and its intervention rules, which replace the base model's triggers and dose limits.
#[derive(Debug, Clone, Default)]
pub struct Management {
    /// CRS / neurotoxicity grading scales of the trial, e.g. `Penn / CTCAE`.
    pub scale: String,
    /// Where the protocol comes from.
    pub source: String,
}
