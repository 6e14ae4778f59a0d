//! The summary JSON of one run (`cartox simulate --summary`, the web explorer's download): the
//! inputs, every metric of [`Run::metrics`], the modelled toxicity details, the solver's work
//! and the units.

use crate::model::{Model, Quantity};
use crate::run::{Metric, Run, RunOptions};
use crate::solve::Stats;
use crate::Result;
use serde_json::{json, Map, Value};

fn unit_of(model: &Model, q: Option<Quantity>) -> String {
    match q {
        Some(Quantity::State(i)) => model.states[i].unit.clone(),
        Some(Quantity::Observable(i)) => model.observables[i].unit.clone(),
        None => String::new(),
    }
}

/// The summary of `run` as `cartox simulate --summary` writes it (pretty-printed, then a line end).
pub fn summary_json(model: &Model, run: &Run, opts: &RunOptions) -> Result<Value> {
    let s = &run.summary;
    let sc = &run.scenario;
    let cart_unit = unit_of(model, model.summary_cart);
    let tg_unit = unit_of(model, model.summary_transgene);
    let mut m = Map::new();
    m.insert("model".into(), json!(model.name));
    m.insert(
        "note".into(),
        json!("Modelled quantities from a mathematical model; not clinical advice."),
    );
    let mut inp = Map::new();
    inp.insert("dose".into(), json!(sc.total_dose));
    inp.insert("ld".into(), json!(sc.ld));
    inp.insert("days".into(), json!(opts.days));
    inp.insert("window".into(), json!(opts.window.min(opts.days)));
    if run.toxicity.is_some() {
        inp.insert("alarm_window".into(), json!(opts.alarm_window));
        inp.insert("interventions".into(), json!(opts.interventions));
    }
    m.insert("inputs".into(), Value::Object(inp));
    let metrics = serde_json::to_value(s).map_err(|e| crate::Error::Data {
        file: String::new(),
        row: None,
        column: None,
        message: format!("summary: {e}"),
    })?;
    if let Value::Object(o) = metrics {
        m.extend(o);
    }
    toxicity_json(model, run, &mut m);
    m.insert("solver".into(), solver_json(opts, &run.solution.stats));
    m.insert(
        "units".into(),
        json!({
            "cart_cmax": cart_unit, "cart_tmax": "day",
            "cart_auc": format!("{cart_unit} x day"), "cart_last": cart_unit,
            "tumor_nadir": "fraction of baseline", "tumor_end": "fraction of baseline",
            "cart_cmax_transgene": tg_unit, "cart_tmax_transgene": "day",
            "cart_auc28_transgene": format!("{tg_unit} x day"),
            "b_cell_recovery_day": "day", "relapse_day": "day",
        }),
    );
    Ok(Value::Object(m))
}

/// The solver settings and the work done: accepted steps per method that ran, switches (auto).
fn solver_json(opts: &RunOptions, st: &Stats) -> Value {
    let steps: Map<String, Value> = st
        .methods()
        .into_iter()
        .map(|(m, n)| (m.as_str().to_string(), json!(n)))
        .collect();
    json!({
        "method": opts.solver.method.as_str(),
        "rtol": opts.solver.rtol,
        "atol": opts.solver.atol,
        "steps": st.accepted_steps,
        "steps_by_method": steps,
        "switches": st.switches,
        "rejected_steps": st.rejected_steps,
        "rhs_evaluations": st.rhs_evaluations,
    })
}

/// The modelled CRS/ICANS risk-grade metrics (names as in `Run::metrics`), with details and units.
fn toxicity_json(model: &Model, run: &Run, m: &mut Map<String, Value>) {
    let Some(t) = &run.toxicity else { return };
    m.insert("grading".into(), json!(crate::toxicity::DISCLAIMER));
    for (name, metric) in run
        .metrics()
        .into_iter()
        .skip_while(|(n, _)| *n != "crs_grade")
    {
        let v = match metric {
            Metric::Number(x) => json!(x),
            Metric::Flag(b) => json!(b),
            Metric::Text(s) => json!(s),
        };
        m.insert(name.into(), v);
    }
    for (key, r) in [("crs", &t.crs), ("icans", &t.icans)] {
        if let Some(r) = r {
            m.insert(
                format!("{key}_still_above_at_window_end"),
                json!(r.still_above_at_window_end),
            );
        }
    }
    m.insert(
        "interventions_detail".into(),
        Value::Array(
            t.interventions
                .iter()
                .map(|f| {
                    json!({"name": f.name, "trigger_day": f.trigger_day,
                           "start_day": f.start_day, "end_day": f.end_day,
                           "doses": f.doses, "last_dose_day": f.last_dose_day})
                })
                .collect(),
        ),
    );
    if let Some(note) = model.toxicity.as_ref().map(|x| &x.note) {
        if !note.is_empty() {
            m.insert("grading_note".into(), json!(note));
        }
    }
}
