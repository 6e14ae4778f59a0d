//! cartox in the browser: the simulation core compiled to `wasm32-unknown-unknown`, exported to
//! JavaScript with wasm-bindgen. Every function takes and returns JSON text; errors are the CLI's
//! one-line messages (thrown as strings). The page runs these in a Web Worker (`web/src/`).
//!
//! Grades are modelled risk from a mathematical model, not clinical advice.

pub mod explorer;

use wasm_bindgen::prelude::*;

fn js(r: Result<String, String>) -> Result<String, JsValue> {
    r.map_err(|e| JsValue::from_str(&e))
}

/// The bundled models and product presets: `[{name, title, preset}]`.
#[wasm_bindgen]
pub fn models() -> String {
    explorer::models()
}

/// A model's parameters, states, observables, regimens, grading bands and default panels.
#[wasm_bindgen]
pub fn describe(model: &str) -> Result<String, JsValue> {
    js(explorer::describe(model))
}

/// Open a TOML or SBML model file's text under its file name; returns its description.
#[wasm_bindgen]
pub fn open_model(file_name: &str, text: &str) -> Result<String, JsValue> {
    js(explorer::open_model(file_name, text))
}

/// Run one scenario: time courses of the panels, markers, and the summary JSON.
#[wasm_bindgen]
pub fn simulate(scenario: &str) -> Result<String, JsValue> {
    js(explorer::simulate(scenario))
}

/// The time-course CSV (the bytes of `cartox simulate --out`).
#[wasm_bindgen]
pub fn timecourse_csv(scenario: &str) -> Result<String, JsValue> {
    js(explorer::csv(scenario))
}

/// The summary JSON (the bytes of `cartox simulate --summary`).
#[wasm_bindgen]
pub fn summary_json(scenario: &str) -> Result<String, JsValue> {
    js(explorer::summary(scenario))
}

/// `n` virtual patients (seed `seed`): percentile bands and grade incidence.
#[wasm_bindgen]
pub fn population(scenario: &str, n: u32, seed: u32) -> Result<String, JsValue> {
    js(explorer::population(scenario, n as usize, u64::from(seed)))
}
