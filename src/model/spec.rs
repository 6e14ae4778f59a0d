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
/// A whole model file (every section), as typed data.
pub struct ModelSpec {
    /// `[model]`: name, title, time unit, breakpoints.
    pub model: Meta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[references]]`: the sources parameters cite.
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[parameters]]`.
    pub parameters: Vec<Parameter>,
    /// Correlations between the inter-individual random effects (`[[correlations]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlations: Vec<Correlation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[states]]`.
    pub states: Vec<State>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[assignments]]`: named intermediate expressions.
    pub assignments: Vec<Assignment>,
    /// `[[algebraic]]`: quantities defined implicitly, each by a rule that holds at all times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algebraic: Vec<Algebraic>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    /// `[equations]`: one right-hand side (d state / dt) per state.
    pub equations: IndexMap<String, Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[observables]]`: output quantities.
    pub observables: Vec<Observable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `[regimen]`: how doses and tumor burden enter the model.
    pub regimen: Option<Regimen>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    /// `[lymphodepletion.<name>]`: named lymphodepletion regimens.
    pub lymphodepletion: IndexMap<String, Lymphodepletion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `[summary]`: the quantities the CAR-T and tumor metrics read.
    pub summary: Option<Summary>,
    /// Modelled CRS/ICANS risk grading (see `docs/toxicity.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<ToxicitySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `[[interventions]]`: rescue therapies triggered by the modelled grades.
    pub interventions: Vec<InterventionSpec>,
    /// Time-scheduled state changes (`[[events]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TimedEvent>,
    /// `[concentrations]`: output columns that are concentrations, each with the parameter that
    /// is its compartment's size (`--amounts` reports value x size).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub concentrations: IndexMap<String, Spanned<String>>,
    /// `[amounts]`: output columns that are amounts of a species in a compartment, each with the
    /// parameter that is its compartment's size (`--concentrations` reports value / size).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub amounts: IndexMap<String, Spanned<String>>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// `[[events]]`: at `time` (model time units), or when `trigger` turns from false to true, set
/// states (and, for a triggered event, parameters) to new values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Optional name (`events.<name>` in messages).
    pub name: Option<Spanned<String>>,
    /// Event time, model time units: a number or an expression of parameters (exactly one of
    /// `time` and `trigger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Spanned<toml::Value>>,
    /// A condition over time, states, parameters and assignments: the event fires when it turns
    /// from false to true (the crossing is located on the solver's continuous solution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Spanned<String>>,
    /// Triggered events: time from firing to execution, model time units (a number or an
    /// expression, evaluated when the trigger fires; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Spanned<toml::Value>>,
    /// Triggered events executing at the same time run by decreasing priority (a number or an
    /// expression, evaluated at execution; events without one run after, in file order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Spanned<toml::Value>>,
    /// Triggered events: `false` cancels a delayed execution when the trigger turns false first.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub persistent: bool,
    /// Triggered events: the trigger's value just before the start (`false`: a trigger true at
    /// t = 0 fires then).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub initial_value: bool,
    /// Triggered events: `true` computes the new values when the trigger fires, `false` when the
    /// event executes (they differ only with a delay or simultaneous events).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub values_at_trigger: bool,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    /// New state values: numbers or expressions, evaluated just before the event.
    pub set: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[model]`: the model's name, title, time unit and breakpoints.
pub struct Meta {
    /// Model name.
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// One-line title.
    pub title: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Unit of the model's time axis: `day` or `hour` (outputs are in days).
    pub time_unit: Spanned<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Times (expressions of parameters) where the right-hand side is discontinuous.
    pub breakpoints: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[[references]]`: one source.
pub struct Reference {
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Short key other entries cite it by.
    pub key: String,
    /// Full citation.
    pub citation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// DOI, if any.
    pub doi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// BioModels identifier, if any.
    pub biomodels: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Web address, if any.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// A compiled parameter: its default value, unit, bounds and source.
pub struct Parameter {
    /// Name, as used in expressions and output columns.
    pub name: Spanned<String>,
    /// Default value, in `unit`.
    pub value: Spanned<f64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Lower bound, if any (a value below it is rejected).
    pub lower: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Upper bound, if any (a value above it is rejected).
    pub upper: Option<Spanned<f64>>,
    /// Inter-individual variability: variance of the log-normal random effect (omega^2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omega2: Option<Spanned<f64>>,
    /// A yes/no draw between patients: 1 with probability `value`, else 0 (virtual populations).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bernoulli: bool,
    /// Also an output column (as an observable named by the parameter).
    #[serde(default, skip_serializing_if = "is_false")]
    pub observe: bool,
}

/// `[[correlations]]`: the correlation `r` between the random effects (eta) of two parameters that
/// both have `omega2` (an off-diagonal element of NONMEM's OMEGA BLOCK, as a correlation).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    /// The two parameter names.
    pub between: Spanned<Vec<Spanned<String>>>,
    /// Correlation between the two random effects, in (-1, 1).
    pub r: Spanned<f64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// A compiled state: name, unit and initial value.
pub struct State {
    /// Name, as used in expressions and output columns.
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Initial value: a number or an expression of parameters.
    pub initial: Spanned<toml::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[[assignments]]`: a named intermediate expression.
pub struct Assignment {
    /// Name of the assignment.
    pub name: Spanned<String>,
    /// The expression (compiled, or as written in a spec).
    pub expr: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Also an output column (an observable of the same name), e.g. an SBML species set by an
    /// assignment rule. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observe: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[[algebraic]]`: a quantity `name` defined implicitly by `rule = 0`, which holds at all times
/// (an SBML algebraic rule). The rule must be linear in `name`; it is solved for it once, when the
/// model is compiled, and the solution is evaluated like an assignment.
pub struct Algebraic {
    /// Name of the quantity the rule determines (a new name, like an assignment's).
    pub name: Spanned<String>,
    /// The expression the quantity makes zero.
    pub rule: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Also an output column (an observable of the same name). Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observe: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[[observables]]`: an output quantity.
pub struct Observable {
    /// Name of the observable (an output column).
    pub name: Spanned<String>,
    /// The expression (compiled, or as written in a spec).
    pub expr: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[regimen]`: how doses and tumor burden enter the model, and default inputs.
pub struct Regimen {
    /// The state an infusion adds to.
    pub dose_state: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// State units per infused cell (expression of parameters; default 1).
    pub dose_factor: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The state set by `tumor_burden`, if any.
    pub tumor_state: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// State units per tumor cell (expression of parameters; default 1).
    pub tumor_factor: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Default dose, cells.
    pub dose: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Default dose, cells/kg (times `weight`).
    pub dose_per_kg: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Default body weight, kg.
    pub weight: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// A parameter that receives the run's body weight (kg), for weight-based drug doses.
    pub weight_parameter: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Default tumor burden at infusion, cells.
    pub tumor_burden: Option<Spanned<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Default lymphodepletion regimen (a `[lymphodepletion]` name).
    pub ld: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[lymphodepletion.<name>]`: a lymphodepletion regimen as new initial values.
pub struct Lymphodepletion {
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
    pub description: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    /// New initial values: expressions of parameters and pre-lymphodepletion initial states.
    pub initial: IndexMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[summary]`: the quantities the summary metrics read.
pub struct Summary {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// CAR-T quantity (state or observable) for Cmax, Tmax, AUC.
    pub cart: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Tumor quantity (state or observable) for nadir and end values.
    pub tumor: Option<Spanned<String>>,
    /// CAR transgene level (qPCR units, e.g. copies/ug genomic DNA): `cart_cmax_transgene`,
    /// `cart_auc28_transgene`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transgene: Option<Spanned<String>>,
    /// Normal B cells in blood: `b_cell_aplasia`, `b_cell_recovery_day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_cells: Option<Spanned<String>>,
    /// B-cell aplasia threshold, in the unit of `b_cells` (e.g. 50 cells/uL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_cell_aplasia_below: Option<Spanned<f64>>,
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
    /// Free-text note shown with the grading.
    pub note: String,
    /// Observable or state read for `il6_peak` (default: the CRS observable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub il6: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// CRS grading rules.
    pub crs: Option<GradingSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// ICANS grading rules.
    pub icans: Option<GradingSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
/// `[toxicity.crs]` or `[toxicity.icans]`: four thresholds on an observable.
pub struct GradingSpec {
    /// An observable or a state of the model.
    pub observable: Spanned<String>,
    /// Four ascending thresholds, grades 1-4, in the unit of the observable.
    pub thresholds: Spanned<Vec<Spanned<f64>>>,
    /// Optional: days the observable must stay at or above each threshold before that grade counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Unit of the thresholds (default: the observable's).
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
/// `[[interventions]]`: a rescue therapy triggered by the modelled grades.
pub struct InterventionSpec {
    /// Name (letters, digits, `_` or `-`).
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Free text shown by `cartox describe`.
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
    /// Amounts added to states when the effect starts (and at every repeat dose): numbers or
    /// expressions of parameters.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub add: IndexMap<String, Spanned<toml::Value>>,
    /// Days between repeat doses (absent: one dose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_every: Option<Spanned<f64>>,
    /// Most doses in all (default 1; needs `repeat_every` above 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_doses: Option<Spanned<u32>>,
    /// A repeat dose is given while this holds at its time (`crs >= N || icans >= N` on the
    /// graded quantities' current values; default: the trigger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_while: Option<Spanned<String>>,
    /// Drug class for the summary metrics: `tocilizumab` (`tocilizumab_doses`) or `steroid`
    /// (`steroid_days`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}
