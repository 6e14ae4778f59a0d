//! The model file as written on disk (TOML), before compilation. See `docs/model-format.md`.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub model: Meta,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Correlations between the inter-individual random effects (`[[correlations]]`).
    #[serde(default)]
    pub correlations: Vec<Correlation>,
    #[serde(default)]
    pub states: Vec<State>,
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    #[serde(default)]
    pub equations: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub observables: Vec<Observable>,
    pub regimen: Option<Regimen>,
    #[serde(default)]
    pub lymphodepletion: IndexMap<String, Lymphodepletion>,
    pub summary: Option<Summary>,
    /// Modelled CRS/ICANS risk grading (see `docs/toxicity.md`).
    pub toxicity: Option<crate::toxicity::file::ToxicityFile>,
    #[serde(default)]
    pub interventions: Vec<crate::toxicity::file::InterventionFile>,
    /// Time-scheduled state changes (`[[events]]`).
    #[serde(default)]
    pub events: Vec<TimedEvent>,
}

/// `[[events]]`: at `time` (model time units), set states to new values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    pub name: Option<Spanned<String>>,
    pub time: Spanned<toml::Value>,
    #[serde(default)]
    pub set: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: Spanned<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub time_unit: Spanned<String>,
    #[serde(default)]
    pub breakpoints: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    #[serde(default)]
    pub key: String,
    pub citation: String,
    pub doi: Option<String>,
    pub biomodels: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: Spanned<String>,
    pub value: Spanned<f64>,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    pub lower: Option<Spanned<f64>>,
    pub upper: Option<Spanned<f64>>,
    /// Inter-individual variability: variance of the log-normal random effect (omega^2).
    pub omega2: Option<Spanned<f64>>,
}

/// `[[correlations]]`: the correlation `r` between the random effects (eta) of two parameters that
/// both have `omega2` (an off-diagonal element of NONMEM's OMEGA BLOCK, as a correlation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    /// The two parameter names.
    pub between: Spanned<Vec<Spanned<String>>>,
    pub r: Spanned<f64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub name: Spanned<String>,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub description: String,
    pub initial: Spanned<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub name: Spanned<String>,
    pub expr: Spanned<String>,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observable {
    pub name: Spanned<String>,
    pub expr: Spanned<String>,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regimen {
    pub dose_state: Spanned<String>,
    pub dose_factor: Option<Spanned<String>>,
    pub tumor_state: Option<Spanned<String>>,
    pub tumor_factor: Option<Spanned<String>>,
    pub dose: Option<Spanned<f64>>,
    pub dose_per_kg: Option<Spanned<f64>>,
    pub weight: Option<Spanned<f64>>,
    pub tumor_burden: Option<Spanned<f64>>,
    pub ld: Option<Spanned<String>>,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lymphodepletion {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub initial: IndexMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub cart: Option<Spanned<String>>,
    pub tumor: Option<Spanned<String>>,
    /// CAR transgene level (qPCR units, e.g. copies/ug genomic DNA): `cart_cmax_transgene`,
    /// `cart_auc28_transgene`.
    pub transgene: Option<Spanned<String>>,
    /// Normal B cells in blood: `b_cell_aplasia`, `b_cell_recovery_day`.
    pub b_cells: Option<Spanned<String>>,
    /// B-cell aplasia threshold, in the unit of `b_cells` (e.g. 50 cells/uL).
    pub b_cell_aplasia_below: Option<Spanned<f64>>,
}
