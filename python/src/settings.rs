//! The model, regimen and solver settings of `simulate`, `sweep` and `plot`, as the command
//! line's flags (`cartox simulate --dose ... --set NAME=VALUE`): the same texts, the same checks,
//! in the same order, so a bad value fails with the CLI's message.

use crate::CartoxError;
use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::solve::{Method, SolverOptions};
use pyo3::PyResult;
use std::collections::HashMap;

/// Settings as text, keyed by the CLI flag's name without dashes (`dose_per_kg`).
pub struct Settings {
    /// Bundled model name or path to a model file.
    pub model: String,
    pub values: HashMap<String, String>,
    /// `--set NAME=VALUE`, in order.
    pub set: Vec<(String, String)>,
    pub interventions: bool,
}

/// The regimen flags, in the order the CLI applies them.
const REGIMEN_FLAGS: [(&str, &str); 7] = [
    ("--dose", "dose"),
    ("--dose-per-kg", "dose_per_kg"),
    ("--weight", "weight"),
    ("--schedule", "schedule"),
    ("--ld", "ld"),
    ("--tumor-burden", "tumor_burden"),
    ("--bridging", "bridging"),
];

/// Every key `values` may hold.
const KEYS: [&str; 14] = [
    "dose",
    "dose_per_kg",
    "weight",
    "schedule",
    "ld",
    "tumor_burden",
    "bridging",
    "days",
    "dt",
    "window",
    "alarm_window",
    "method",
    "rtol",
    "atol",
];

fn fail<T>(message: String) -> PyResult<T> {
    Err(CartoxError::new_err(message))
}

fn parse_num(flag: &str, text: &str) -> PyResult<f64> {
    let v: f64 = match text.trim().parse() {
        Ok(v) => v,
        Err(_) => return fail(format!("{flag}: `{text}` is not a number")),
    };
    if !v.is_finite() {
        return fail(format!("{flag}: `{text}` is not a finite number"));
    }
    Ok(v)
}

impl Settings {
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Load the model and turn the settings into inputs and run options (`cartox simulate`'s
    /// `prepare`, message for message).
    pub fn prepare(&self) -> PyResult<(Model, Inputs, RunOptions)> {
        if let Some(k) = self.values.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return fail(format!("unknown setting `{k}`"));
        }
        if self.get("dose").is_some() && self.get("dose_per_kg").is_some() {
            return fail(
                "the argument '--dose <CELLS>' cannot be used with '--dose-per-kg <CELLS_PER_KG>'"
                    .to_string(),
            );
        }
        let model = Model::resolve(&self.model).map_err(crate::error)?;
        let mut inputs = Inputs::default();
        for (flag, name) in REGIMEN_FLAGS {
            if let Some(v) = self.get(name) {
                if let Err(e) = inputs.set(&model, name, v) {
                    return fail(format!("{flag}: {e}"));
                }
            }
        }
        for (name, value) in &self.set {
            if let Err(e) = inputs.set(&model, name.trim(), value) {
                return fail(format!("--set {name}={value}: {e}"));
            }
        }
        let days = parse_num("--days", self.get("days").unwrap_or("28"))?;
        let method_text = self.get("method").unwrap_or("auto");
        let Some(method) = Method::parse(method_text) else {
            return fail(format!(
                "--method: unknown method `{method_text}` (use auto, dopri5, radau5, rodas4 or bdf)"
            ));
        };
        let defaults = RunOptions::for_model(&model).with_days(&model, days);
        let opts = RunOptions {
            days,
            dt: parse_num("--dt", self.get("dt").unwrap_or("0.1"))?,
            window: match self.get("window") {
                Some(w) => parse_num("--window", w)?,
                None => defaults.window,
            },
            alarm_window: match self.get("alarm_window") {
                Some(w) => parse_num("--alarm-window", w)?,
                None => defaults.alarm_window,
            },
            interventions: self.interventions,
            solver: SolverOptions {
                method,
                rtol: parse_num("--rtol", self.get("rtol").unwrap_or("1e-6"))?,
                atol: parse_num("--atol", self.get("atol").unwrap_or("1e-9"))?,
                ..SolverOptions::default()
            },
            ..defaults
        };
        opts.validate().map_err(crate::error)?;
        Ok((model, inputs, opts))
    }
}
