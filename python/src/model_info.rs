//! `cartox.models()` and `cartox.describe(name)`: what `cartox models` and `cartox describe`
//! print, as data (JSON text; the Python side loads it into a dict).

use cartox::model::{Model, BUNDLED};
use serde_json::{json, Map, Value};

/// The bundled models: (name, time unit, title), in the order `cartox models` lists them.
pub fn models() -> Vec<(String, String, String)> {
    BUNDLED
        .iter()
        .map(
            |(name, text)| match Model::from_toml(text, &format!("models/{name}.toml")) {
                Ok(m) => (
                    name.to_string(),
                    m.time_unit.as_str().to_string(),
                    m.title.clone(),
                ),
                Err(e) => (
                    name.to_string(),
                    String::new(),
                    format!("(does not load: {e})"),
                ),
            },
        )
        .collect()
}

/// A model's states, parameters (value, unit, source, bounds, omega2), equations, observables,
/// regimen, lymphodepletion regimens and references.
pub fn describe(m: &Model) -> Value {
    let states: Vec<Value> = m
        .states
        .iter()
        .map(|s| json!({"name": s.name, "unit": s.unit, "initial": s.initial_text, "description": s.description}))
        .collect();
    let parameters: Vec<Value> = m
        .parameters
        .iter()
        .map(|p| {
            json!({"name": p.name, "value": p.value, "unit": p.unit, "description": p.description,
                   "source": p.source, "bounds": [p.lower, p.upper], "omega2": p.omega2})
        })
        .collect();
    let correlations: Vec<Value> = m
        .correlations
        .iter()
        .map(|c| {
            json!({"between": [m.parameters[c.between[0]].name, m.parameters[c.between[1]].name],
                   "r": c.r, "description": c.description, "source": c.source})
        })
        .collect();
    let assignments: Vec<Value> = m
        .assignments
        .iter()
        .map(|a| json!({"name": a.name, "expression": a.text}))
        .collect();
    let equations: Map<String, Value> = m
        .states
        .iter()
        .zip(&m.equation_texts)
        .map(|(s, e)| (s.name.clone(), json!(e)))
        .collect();
    let observables: Vec<Value> = m
        .observables
        .iter()
        .map(|o| json!({"name": o.name, "unit": o.unit, "expression": o.text, "description": o.description}))
        .collect();
    let events: Vec<Value> = m
        .events
        .iter()
        .map(|e| {
            let set: Map<String, Value> = e
                .set
                .iter()
                .map(|(i, _, text)| (m.states[*i].name.clone(), json!(text)))
                .collect();
            json!({"name": e.name, "time": e.time_text, "set": set, "description": e.description,
                   "source": e.source})
        })
        .collect();
    let regimen = m.regimen.as_ref().map(|r| {
        json!({"dose_state": m.states[r.dose_state].name, "dose": r.dose,
               "dose_per_kg": r.dose_per_kg, "weight": r.weight, "tumor_burden": r.tumor_burden,
               "ld": r.ld, "source": r.source})
    });
    let lymphodepletion: Vec<Value> = m
        .lymphodepletion
        .iter()
        .map(|l| {
            let changes: Map<String, Value> = l
                .changes
                .iter()
                .map(|(i, _, text)| (m.states[*i].name.clone(), json!(text)))
                .collect();
            json!({"name": l.name, "description": l.description, "changes": changes,
                   "source": l.source})
        })
        .collect();
    let references: Vec<Value> = m
        .references
        .iter()
        .map(|r| json!({"citation": r.citation, "doi": r.doi, "biomodels": r.biomodels}))
        .collect();
    json!({
        "name": m.name,
        "title": m.title,
        "description": m.description.trim(),
        "file": m.source,
        "time_unit": m.time_unit.as_str(),
        "states": states,
        "parameters": parameters,
        "correlations": correlations,
        "assignments": assignments,
        "equations": equations,
        "observables": observables,
        "events": events,
        "regimen": regimen,
        "lymphodepletion": lymphodepletion,
        "references": references,
    })
}
