//! cartox: CAR T-cell therapy simulation.
//!
//! The crate reads as the pharmacologist's pipeline, one module per stage:
//! [`model`] (states, parameters, equations, from a TOML file) -> [`regimen`] (dose,
//! lymphodepletion, bridging, overrides) -> [`solve`] (ODE integration with events) ->
//! [`trajectory`] (the time course) -> [`summary`] (CK and tumor metrics) -> [`output`]
//! (CSV, JSON). [`run`] chains them for one scenario. [`expr`] is the model files' expression
//! language.
//!
//! Grades and metrics describe *modelled* risk; nothing here is clinical advice.

pub mod expr;
pub mod model;
pub mod output;
pub mod plot;
pub mod regimen;
pub mod run;
pub mod sbml;
pub mod sensitivity;
pub mod solve;
pub mod summary;
pub mod sweep;
pub mod toxicity;
pub mod trajectory;
pub mod validate;

pub use model::Model;
pub use regimen::{Inputs, Scenario};
pub use run::{run, Run, RunOptions};
