//! cartox: CAR T-cell therapy simulation.
//!
//! The crate reads as the pharmacologist's pipeline, one module per stage:
//! [`model`] (states, parameters, equations, from a TOML file) -> [`regimen`] (dose,
//! lymphodepletion, bridging, overrides) -> [`solve`] (ODE integration with events) ->
//! [`trajectory`] (the time course) -> [`summary`] (CK and tumor metrics) -> [`output`]
//! (CSV, JSON). [`run()`] chains them for one scenario; [`many`] runs many, in parallel ([`par`]). [`expr`] is the model files' expression
//! language; [`variability`] draws virtual patients from a model's inter-individual variability.
//!
//! Grades and metrics describe *modelled* risk; nothing here is clinical advice.
//!
//! # Quick start
//!
//! One patient, then a small sweep in code (streamed, in input order, in parallel):
//!
//! ```
//! use cartox::{run, simulate_many, Inputs, Model, RunOptions};
//!
//! let model = Model::default_model();
//! let opts = RunOptions::for_model(&model); // 28 days, the model's toxicity windows
//! let inputs = Inputs::builder(&model)
//!     .dose(1e8)? // CAR-T cells
//!     .ld("flu-cy")?
//!     .param("k_act", 0.5)? // any parameter, by name (unknown names are an error)
//!     .build();
//! let one = run(&model, &inputs, &opts)?;
//! let peak = one.summary.cart_cmax.unwrap(); // cells/uL
//! assert!(peak > 0.0);
//!
//! let doses = [1e7, 1e8, 1e9].map(|d| Inputs::builder(&model).dose(d).unwrap().build());
//! let grades: Vec<u8> = simulate_many(&model, doses, &opts)?
//!     .map(|r| r.unwrap().toxicity.unwrap().crs.unwrap().grade)
//!     .collect();
//! assert_eq!(grades.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Figures of runs: [`plot::draw_runs`]. More in `examples/` (run by `cargo test`).

pub mod catalog;
pub mod error;
pub mod expr;
#[cfg(feature = "files")]
pub mod fit;
pub mod many;
pub mod model;
pub mod output;
pub mod par;
#[cfg(feature = "plot")]
pub mod plot;
pub mod regimen;
pub mod run;
pub mod sbml;
#[cfg(feature = "files")]
pub mod sensitivity;
pub mod solve;
pub mod summary;
#[cfg(feature = "files")]
pub mod sweep;
pub mod toxicity;
pub mod trajectory;
#[cfg(feature = "files")]
pub mod validate;
pub mod variability;

pub use error::{Error, Result};
pub use many::{simulate_many, simulate_many_with, Batch};
pub use model::Model;
pub use regimen::{Inputs, InputsBuilder, Scenario};
pub use run::{run, Run, RunOptions};

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
