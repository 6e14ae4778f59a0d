//! `cartox.simulate(...)` and `cartox.plot(...)`: one scenario through the library, giving what
//! `cartox simulate --out tc.csv --summary s.json --plot fig` writes.

use cartox::model::{Model, Quantity};
use cartox::run::{Metric, Run, RunOptions};
use serde_json::{json, Map, Value};

/// The time course of `cartox simulate --out`: (column, values) for `time` (days), every
/// state, every observable, then `crs_grade` and `icans_grade` (NaN: not graded, or after the
/// monitoring window) when the model grades toxicity.
pub fn timecourse(model: &Model, run: &Run, opts: &RunOptions) -> Vec<(String, Vec<f64>)> {
    let tr = run.trajectory(model, opts);
    let mut cols = vec![("time".to_string(), tr.time.clone())];
    for (j, name) in tr.state_names.iter().enumerate() {
        cols.push((name.clone(), tr.states.column(j).to_vec()));
    }
    for (j, name) in tr.observable_names.iter().enumerate() {
        cols.push((name.clone(), tr.observables.column(j).to_vec()));
    }
    if let Some(t) = &run.toxicity {
        for (name, r) in [("crs_grade", &t.crs), ("icans_grade", &t.icans)] {
            if let Some(r) = r {
                let col = tr
                    .time
                    .iter()
                    .map(|&d| r.grade_at(d, t.window).map_or(f64::NAN, f64::from))
                    .collect();
                cols.push((name.to_string(), col));
            }
        }
    }
    cols
}

fn unit_of(model: &Model, q: Option<Quantity>) -> String {
    match q {
        Some(Quantity::State(i)) => model.states[i].unit.clone(),
        Some(Quantity::Observable(i)) => model.observables[i].unit.clone(),
        None => String::new(),
    }
}

/// The summary JSON of `cartox simulate --summary`, key for key.
pub fn summary(model: &Model, run: &Run, opts: &RunOptions) -> Value {
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
    if let Ok(Value::Object(o)) = serde_json::to_value(s) {
        m.extend(o);
    }
    toxicity(model, run, &mut m);
    let st = &run.solution.stats;
    let steps: Map<String, Value> = st
        .methods()
        .into_iter()
        .map(|(meth, n)| (meth.as_str().to_string(), json!(n)))
        .collect();
    m.insert(
        "solver".into(),
        json!({
            "method": opts.solver.method.as_str(),
            "rtol": opts.solver.rtol,
            "atol": opts.solver.atol,
            "steps": st.accepted_steps,
            "steps_by_method": steps,
            "switches": st.switches,
            "rejected_steps": st.rejected_steps,
            "rhs_evaluations": st.rhs_evaluations,
        }),
    );
    m.insert(
        "units".into(),
        json!({
            "cart_cmax": cart_unit, "cart_tmax": "day",
            "cart_auc": format!("{cart_unit} x day"), "cart_last": cart_unit,
            "tumor_nadir": "fraction of baseline", "tumor_end": "fraction of baseline",
            "cart_cmax_transgene": tg_unit, "cart_auc28_transgene": format!("{tg_unit} x day"),
            "b_cell_recovery_day": "day", "relapse_day": "day",
        }),
    );
    Value::Object(m)
}

/// The modelled CRS/ICANS risk-grade metrics, details and the grading disclaimer.
fn toxicity(model: &Model, run: &Run, m: &mut Map<String, Value>) {
    let Some(t) = &run.toxicity else { return };
    m.insert("grading".into(), json!(cartox::toxicity::DISCLAIMER));
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
                           "start_day": f.start_day, "end_day": f.end_day})
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
