//! The explorer's operations on plain Rust types (JSON text in, JSON text out), so that they read
//! and test like any Rust code; `lib.rs` exports them to JavaScript.
//!
//! Everything goes through the cartox library as the CLI does: the same model loading, the same
//! text setters for inputs (so the same one-line errors), the same run options, the same CSV and
//! summary JSON writers, the same virtual-patient draws.

use cartox::model::{Model, Quantity};
use cartox::output::{fmt_num, summary_json, timecourse_csv};
use cartox::regimen::Inputs;
use cartox::run::{Run, RunOptions};
use cartox::variability::{Design, WEIGHT_CV};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    /// Compiled models by key: bundled names, and files the user opened (by file name).
    static MODELS: RefCell<HashMap<String, Rc<Model>>> = RefCell::new(HashMap::new());
}

/// An error as the CLI prints it: the error and its causes joined by `: ` (without `error: `).
fn line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.join(": ")
}

fn model(key: &str) -> Result<Rc<Model>, String> {
    if let Some(m) = MODELS.with(|m| m.borrow().get(key).cloned()) {
        return Ok(m);
    }
    let m = match Model::bundled(key) {
        Some(m) => Rc::new(m.map_err(|e| line(&e))?),
        None => return Err(format!("unknown model `{key}` (open its file again)")),
    };
    MODELS.with(|c| c.borrow_mut().insert(key.to_string(), m.clone()));
    Ok(m)
}

/// The bundled models and presets: `[{name, title, preset}]`, default model first.
pub fn models() -> String {
    let mut out = vec![];
    let mut names: Vec<&str> = Model::bundled_names().collect();
    names.sort_by_key(|n| *n != cartox::model::DEFAULT_MODEL);
    for name in names {
        if let Ok(m) = model(name) {
            out.push(json!({"name": name, "title": m.title, "preset": m.base.is_some()}));
        }
    }
    Value::Array(out).to_string()
}

/// Open a model file's text (TOML, or SBML when the name ends in `.xml`/`.sbml` or the text
/// starts with `<`); the error is the CLI's line for `--model NAME`. Returns its description.
pub fn open_model(file_name: &str, text: &str) -> Result<String, String> {
    let sbml = file_name.ends_with(".xml")
        || file_name.ends_with(".sbml")
        || text.trim_start().starts_with('<');
    let m = if sbml {
        Model::from_sbml(text, file_name)
    } else {
        Model::from_toml(text, file_name)
    }
    .map_err(|e| line(&e))?;
    MODELS.with(|c| c.borrow_mut().insert(file_name.to_string(), Rc::new(m)));
    describe(file_name)
}

fn quantity(model: &Model, q: Quantity) -> (String, String) {
    match q {
        Quantity::State(i) => (model.states[i].name.clone(), model.states[i].unit.clone()),
        Quantity::Observable(i) => (
            model.observables[i].name.clone(),
            model.observables[i].unit.clone(),
        ),
    }
}

fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |v| json!(v))
}

/// The panels of `cartox simulate --plot`: CAR-T, tumor, the graded drives (with their
/// thresholds), else IL-6 and the neurotoxicity drive; a model with none of these: every
/// observable (else every state).
fn panels(model: &Model) -> Vec<Value> {
    let mut out: Vec<Value> = vec![];
    fn push(out: &mut Vec<Value>, name: String, unit: String, role: &str, bands: Option<[f64; 4]>) {
        if !out.iter().any(|p| p["name"] == json!(name)) {
            out.push(json!({"name": name, "unit": unit, "role": role, "thresholds": bands}));
        }
    }
    if let Some(q) = model.summary_cart {
        let (n, u) = quantity(model, q);
        push(&mut out, n, u, "cart", None);
    }
    if let Some(q) = model.summary_tumor {
        let (n, u) = quantity(model, q);
        push(&mut out, n, u, "tumor", None);
    }
    let graded: Vec<_> = model
        .toxicity
        .iter()
        .flat_map(|t| [("crs", &t.crs), ("icans", &t.icans)])
        .filter_map(|(k, g)| g.as_ref().map(|g| (k, g)))
        .collect();
    if graded.is_empty() {
        for name in ["il6", "icans_drive"] {
            if let Some(i) = model.observable_index(name) {
                push(
                    &mut out,
                    name.into(),
                    model.observables[i].unit.clone(),
                    "drive",
                    None,
                );
            }
        }
    }
    for (k, g) in graded {
        let (n, u) = quantity(model, g.quantity);
        push(&mut out, n, u, k, Some(g.thresholds));
    }
    if out.is_empty() {
        if model.observables.is_empty() {
            for s in &model.states {
                push(&mut out, s.name.clone(), s.unit.clone(), "state", None);
            }
        } else {
            for o in &model.observables {
                push(&mut out, o.name.clone(), o.unit.clone(), "observable", None);
            }
        }
    }
    out
}

/// A model's description for the page: parameters (value, unit, description, source, bounds,
/// omega2), states, observables, lymphodepletion regimens, regimen defaults, grading bands,
/// interventions, panels.
pub fn describe(key: &str) -> Result<String, String> {
    let m = model(key)?;
    let params: Vec<Value> = m
        .parameters
        .iter()
        .map(|p| {
            json!({"name": p.name, "value": p.value, "unit": p.unit, "description": p.description,
                   "source": p.source, "lower": opt(p.lower), "upper": opt(p.upper),
                   "omega2": opt(p.omega2)})
        })
        .collect();
    let states: Vec<Value> = m
        .states
        .iter()
        .map(|s| json!({"name": s.name, "unit": s.unit, "description": s.description}))
        .collect();
    let observables: Vec<Value> = m
        .observables
        .iter()
        .map(|s| json!({"name": s.name, "unit": s.unit, "description": s.description}))
        .collect();
    let ld: Vec<Value> = m
        .lymphodepletion
        .iter()
        .map(|l| json!({"name": l.name, "description": l.description, "source": l.source}))
        .collect();
    let regimen = m.regimen.as_ref().map(|h| {
        json!({"dose": opt(h.dose), "dose_per_kg": opt(h.dose_per_kg), "weight": opt(h.weight),
               "tumor_burden": opt(h.tumor_burden), "ld": h.ld, "source": h.source,
               "tumor": h.tumor_state.is_some()})
    });
    let grading: Vec<Value> = m
        .toxicity
        .iter()
        .flat_map(|t| [("CRS", &t.crs), ("ICANS", &t.icans)])
        .filter_map(|(k, g)| {
            g.as_ref().map(|g| {
                json!({"syndrome": k, "observable": quantity(&m, g.quantity).0, "unit": g.unit,
                       "thresholds": g.thresholds, "min_duration": g.min_duration,
                       "source": g.source})
            })
        })
        .collect();
    let opts = RunOptions::for_model(&m);
    let out = json!({
        "key": key, "name": m.name, "title": m.title, "description": m.description,
        "preset": m.base, "parameters": params, "states": states, "observables": observables,
        "lymphodepletion": ld, "regimen": regimen, "grading": grading,
        "interventions": m.interventions.iter().map(|i| json!({"name": i.name,
            "description": i.description, "trigger": i.trigger_text})).collect::<Vec<_>>(),
        "panels": panels(&m), "days": opts.days, "dt": opts.dt, "window": opts.window,
        "alarm_window": opts.alarm_window,
        "variability": m.parameters.iter().any(|p| p.omega2.is_some()),
    });
    Ok(out.to_string())
}

/// One scenario as the page sends it: input texts under the CLI's names.
struct Prepared {
    model: Rc<Model>,
    inputs: Inputs,
    opts: RunOptions,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn number(flag: &str, text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{flag}: `{text}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{flag}: `{text}` is not a finite number"));
    }
    Ok(v)
}

/// The scenario `{model, dose, dose_per_kg, weight, schedule, ld, tumor_burden, bridging,
/// set: {name: value}, days, dt}` as `cartox simulate` reads the same flags.
fn prepare(scenario: &str) -> Result<Prepared, String> {
    let s: Value = serde_json::from_str(scenario).map_err(|e| format!("scenario: {e}"))?;
    let key = s["model"].as_str().unwrap_or(cartox::model::DEFAULT_MODEL);
    let model = model(key)?;
    let mut inputs = Inputs::default();
    for (flag, name) in [
        ("--dose", "dose"),
        ("--dose-per-kg", "dose_per_kg"),
        ("--weight", "weight"),
        ("--schedule", "schedule"),
        ("--ld", "ld"),
        ("--tumor-burden", "tumor_burden"),
        ("--bridging", "bridging"),
    ] {
        if let Some(v) = text_of(&s[name]) {
            inputs
                .set(&model, name, &v)
                .map_err(|e| format!("{flag}: {e}"))?;
        }
    }
    if let Some(set) = s["set"].as_object() {
        for (name, v) in set {
            if let Some(v) = text_of(v) {
                inputs
                    .set(&model, name, &v)
                    .map_err(|e| format!("--set {name}={v}: {e}"))?;
            }
        }
    }
    let days = match text_of(&s["days"]) {
        Some(t) => number("--days", &t)?,
        None => cartox::run::DEFAULT_DAYS,
    };
    let mut opts = RunOptions::for_model(&model).with_days(&model, days);
    if let Some(t) = text_of(&s["dt"]) {
        opts.dt = number("--dt", &t)?;
    }
    opts.validate().map_err(|e| line(&e))?;
    Ok(Prepared {
        model,
        inputs,
        opts,
    })
}

fn run_one(p: &Prepared, inputs: &Inputs) -> Result<Run, String> {
    cartox::run(&p.model, inputs, &p.opts).map_err(|e| line(&e))
}

/// Run a scenario: the panels' time courses, markers (doses, interventions), windows and the
/// summary JSON of `cartox simulate --summary` (`summary`).
pub fn simulate(scenario: &str) -> Result<String, String> {
    let p = prepare(scenario)?;
    let run = run_one(&p, &p.inputs)?;
    let tr = run.trajectory(&p.model, &p.opts);
    let panels = panels(&p.model);
    let mut series = Map::new();
    for panel in &panels {
        let name = panel["name"].as_str().unwrap_or_default();
        series.insert(name.into(), json!(tr.column(name).unwrap_or_default()));
    }
    let extra = cartox::output::grade_columns(&run, &tr);
    for (name, col) in &extra {
        series.insert((*name).into(), json!(col));
    }
    let summary = summary_json(&p.model, &run, &p.opts).map_err(|e| line(&e))?;
    let doses: Vec<Value> = run
        .scenario
        .infusions
        .iter()
        .map(|i| json!({"day": i.day, "cells": i.cells}))
        .collect();
    let out = json!({
        "time": tr.time, "series": series, "panels": panels, "doses": doses,
        "window": p.opts.window.min(p.opts.days),
        "alarm_window": p.model.toxicity.as_ref().map(|_| p.opts.alarm_window),
        "summary": summary,
    });
    Ok(out.to_string())
}

/// The time-course CSV: the bytes of `cartox simulate --out` for the same inputs.
pub fn csv(scenario: &str) -> Result<String, String> {
    let p = prepare(scenario)?;
    let run = run_one(&p, &p.inputs)?;
    let bytes = timecourse_csv(&p.model, &run, &p.opts).map_err(|e| line(&e))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The summary JSON: the bytes of `cartox simulate --summary` for the same inputs.
pub fn summary(scenario: &str) -> Result<String, String> {
    let p = prepare(scenario)?;
    let run = run_one(&p, &p.inputs)?;
    let v = summary_json(&p.model, &run, &p.opts).map_err(|e| line(&e))?;
    Ok(serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n")
}

/// Linear-interpolated quantile of sorted values (type 7, as R's and NumPy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// `n` virtual patients from the model's variability (patient `i` draws as `cartox population
/// --seed SEED` row `i + 1`, applied over the scenario as `cartox sweep` applies a row, except
/// that a dose set in the scenario is kept): per panel
/// the 5/25/50/75/95th percentiles over time; the share of patients at each modelled grade;
/// percentiles of Cmax.
pub fn population(scenario: &str, n: usize, seed: u64) -> Result<String, String> {
    let p = prepare(scenario)?;
    let design = Design::from_model(&p.model, WEIGHT_CV).map_err(|e| line(&e))?;
    let names = design.names(&p.model);
    let panels = panels(&p.model);
    let cols: Vec<String> = panels
        .iter()
        .map(|x| x["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut per_panel: Vec<Vec<Vec<f64>>> = vec![vec![]; cols.len()];
    let mut time = vec![];
    let (mut crs, mut icans) = ([0usize; 5], [0usize; 5]);
    let (mut graded_crs, mut graded_icans) = (false, false);
    let mut cmax = vec![];
    let mut alarms = 0;
    let mut failed = vec![];
    // The drawn `dose` column (the model's cells/kg x the drawn weight) stands in for the
    // model's default dose only: a dose set on the page is kept (cells/kg: x each drawn weight).
    let user_dose = p.inputs.dose.is_some() || p.inputs.dose_per_kg.is_some();
    for i in 0..n {
        let mut inputs = p.inputs.clone();
        for (name, v) in names.iter().zip(design.patient(&p.model, seed, i as u64)) {
            if name == "dose" && user_dose {
                continue;
            }
            inputs
                .set(&p.model, name, &fmt_num(v))
                .map_err(|e| format!("virtual patient {}: {name}: {}", i + 1, line(&e)))?;
        }
        let run = match run_one(&p, &inputs) {
            Ok(r) => r,
            Err(e) => {
                failed.push(json!({"patient": i + 1, "message": e}));
                continue;
            }
        };
        let tr = run.trajectory(&p.model, &p.opts);
        time = tr.time.clone();
        for (k, c) in cols.iter().enumerate() {
            per_panel[k].push(tr.column(c).unwrap_or_default());
        }
        if let Some(c) = run.summary.cart_cmax {
            cmax.push(c);
        }
        if let Some(t) = &run.toxicity {
            if let Some(g) = &t.crs {
                graded_crs = true;
                crs[g.grade.min(4) as usize] += 1;
            }
            if let Some(g) = &t.icans {
                graded_icans = true;
                icans[g.grade.min(4) as usize] += 1;
            }
            alarms += usize::from(t.alarm);
        }
    }
    let done = n - failed.len();
    let qs = [0.05, 0.25, 0.5, 0.75, 0.95];
    let mut bands = Map::new();
    for (k, c) in cols.iter().enumerate() {
        let runs = &per_panel[k];
        let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(time.len()); qs.len()];
        let mut v = Vec::with_capacity(runs.len());
        for t in 0..time.len() {
            v.clear();
            v.extend(runs.iter().filter_map(|r| r.get(t)).copied());
            v.sort_by(f64::total_cmp);
            for (j, q) in qs.iter().enumerate() {
                out[j].push(quantile(&v, *q));
            }
        }
        bands.insert(c.clone(), json!(out));
    }
    cmax.sort_by(f64::total_cmp);
    let share = |counts: &[usize; 5]| -> Vec<f64> {
        counts
            .iter()
            .map(|&c| c as f64 / done.max(1) as f64)
            .collect()
    };
    let out = json!({
        "n": n, "seed": seed, "done": done, "failed": failed, "time": time, "quantiles": qs,
        "bands": bands, "panels": panels,
        "crs_grades": if graded_crs { json!(share(&crs)) } else { Value::Null },
        "icans_grades": if graded_icans { json!(share(&icans)) } else { Value::Null },
        "alarm": alarms as f64 / done.max(1) as f64,
        "cmax": qs.iter().map(|q| quantile(&cmax, *q)).collect::<Vec<_>>(),
        "varied": names,
    });
    Ok(out.to_string())
}
