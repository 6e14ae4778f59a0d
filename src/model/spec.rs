//! The model spec: every section of a model file as typed data, before compilation.
//!
//! This is the one schema every front end produces: the TOML reader deserialises a model file
//! into a [`ModelSpec`] (keeping each value's byte span for `file:line:col` errors), the SBML
//! importer builds one in code (spans empty), and `import-sbml` serialises one back to TOML.
//! [`crate::model::compile`] turns a spec into a runnable [`crate::model::Model`].
//! The format is documented in `docs/model-format.md`; it only ever grows backward compatibly.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub model: Meta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Correlations between the inter-individual random effects (`[[correlations]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlations: Vec<Correlation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<State>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<Assignment>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub equations: IndexMap<String, Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regimen: Option<Regimen>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub lymphodepletion: IndexMap<String, Lymphodepletion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Modelled CRS/ICANS risk grading (see `docs/toxicity.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<ToxicitySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interventions: Vec<InterventionSpec>,
    /// Time-scheduled state changes (`[[events]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TimedEvent>,
}

/// `[[events]]`: at `time` (model time units), set states to new values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Spanned<String>>,
    pub time: Spanned<toml::Value>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    pub time_unit: Spanned<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakpoints: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub key: String,
    pub citation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biomodels: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: Spanned<String>,
    pub value: Spanned<f64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<Spanned<f64>>,
    /// Inter-individual variability: variance of the log-normal random effect (omega^2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omega2: Option<Spanned<f64>>,
}

/// `[[correlations]]`: the correlation `r` between the random effects (eta) of two parameters that
/// both have `omega2` (an off-diagonal element of NONMEM's OMEGA BLOCK, as a correlation).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    /// The two parameter names.
    pub between: Spanned<Vec<Spanned<String>>>,
    pub r: Spanned<f64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    pub initial: Spanned<toml::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub name: Spanned<String>,
    pub expr: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    /// Also an output column (an observable of the same name), e.g. an SBML species set by an
    /// assignment rule. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observe: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Observable {
    pub name: Spanned<String>,
    pub expr: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Regimen {
    pub dose_state: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_factor: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumor_state: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumor_factor: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_per_kg: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumor_burden: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ld: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lymphodepletion {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub initial: IndexMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumor: Option<Spanned<String>>,
}

/// `[toxicity]`: modelled CRS/ICANS risk grading (see `docs/toxicity.md`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicitySpec {
    /// Default monitoring window, days after infusion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Spanned<f64>>,
    /// Default early-alarm window, days after infusion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_window: Option<Spanned<f64>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub note: String,
    /// Observable or state read for `il6_peak` (default: the CRS observable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub il6: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crs: Option<GradingSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icans: Option<GradingSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GradingSpec {
    /// An observable or a state of the model.
    pub observable: Spanned<String>,
    /// Four ascending thresholds, grades 1-4, in the unit of the observable.
    pub thresholds: Spanned<Vec<Spanned<f64>>>,
    /// Optional: days the observable must stay at or above each threshold before that grade counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub unit: String,
    /// Source of the thresholds (all four).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
    /// Optional: one source per threshold.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InterventionSpec {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub description: String,
    /// `crs >= N` or `icans >= N`, terms joined by `||`.
    pub trigger: Spanned<String>,
    /// Days from the trigger to the start of the effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Spanned<f64>>,
    /// Days of effect (absent: until the end of the simulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Spanned<f64>>,
    /// New parameter values for the duration: numbers or expressions of parameters.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, Spanned<toml::Value>>,
    /// Amounts added to states when the effect starts: numbers or expressions of parameters.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub add: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
}
