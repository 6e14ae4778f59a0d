//! The event schedule of a scenario: the discontinuities in time the solver integrates between
//! (infusions after day 0, model breakpoints, model `[[events]]`) and the state at day 0.

use crate::model::Model;
use crate::regimen::Scenario;

/// A discontinuity in time: state changes applied at `day` (model breakpoints have none).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub day: f64,
    /// (state index, amount added)
    pub add: Vec<(usize, f64)>,
    /// (parameter index, new value) from this time on
    pub set_params: Vec<(usize, f64)>,
    /// (state index, new value) computed from the state just before the event (model `[[events]]`):
    /// an expression of t, states, parameters in force and assignments.
    pub assign: Vec<(usize, crate::expr::Node)>,
}

impl Event {
    /// Apply the event at model time `t`: the assignments are evaluated from the state just
    /// before the event (with the parameters in force), then the additions, the assignments and
    /// the parameter changes take effect.
    pub fn apply(&self, model: &Model, t: f64, y: &mut [f64], params: &mut [f64]) {
        let values: Vec<f64> = if self.assign.is_empty() {
            Vec::new()
        } else {
            let mut v = model.slots_with_params(params);
            v[0] = t;
            v[1..1 + y.len()].copy_from_slice(y);
            model.eval_assignments(&mut v);
            self.assign.iter().map(|(_, e)| e.eval(&v)).collect()
        };
        for &(i, amount) in &self.add {
            y[i] += amount;
        }
        for ((i, _), x) in self.assign.iter().zip(values) {
            y[*i] = x;
        }
        for &(i, value) in &self.set_params {
            params[i] = value;
        }
    }
}

/// The model's `[[events]]` as solver events at their times (days) for the scenario's parameters,
/// in file order (times that are not finite or negative are dropped).
fn model_events(model: &Model, sc: &Scenario) -> Vec<Event> {
    let v = model.slots_with_params(&sc.params);
    model
        .events
        .iter()
        .filter_map(|e| {
            let day = e.time.eval(&v) / model.time_unit.per_day();
            (day.is_finite() && day >= 0.0).then(|| Event {
                day,
                add: vec![],
                set_params: vec![],
                assign: e.set.iter().map(|(i, n, _)| (*i, n.clone())).collect(),
            })
        })
        .collect()
}

/// Scheduled events of a scenario: infusions after day 0, model breakpoints and model
/// `[[events]]` within (0, end).
pub fn scheduled_events(model: &Model, sc: &Scenario, end_day: f64) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    if let Some(ds) = sc.dose_state {
        for inf in &sc.infusions {
            if inf.day > 0.0 && inf.day < end_day {
                events.push(Event {
                    day: inf.day,
                    add: vec![(ds, inf.cells * sc.dose_factor)],
                    set_params: vec![],
                    assign: vec![],
                });
            }
        }
    }
    let v = model.slots_with_params(&sc.params);
    for b in &model.breakpoints {
        let day = b.eval(&v) / model.time_unit.per_day();
        if day.is_finite() && day > 0.0 && day < end_day {
            events.push(Event {
                day,
                add: vec![],
                set_params: vec![],
                assign: vec![],
            });
        }
    }
    // Model events after day 0 (those at day 0 act on the initial state); the sort is stable, so
    // events on the same day apply in order: infusions, then model events in file order.
    events.extend(
        model_events(model, sc)
            .into_iter()
            .filter(|e| e.day > 0.0 && e.day < end_day),
    );
    events.sort_by(|a, b| a.day.total_cmp(&b.day));
    events
}

/// State at day 0 after the day-0 infusion and the model events at t = 0 (in file order).
pub fn initial_state(model: &Model, sc: &Scenario) -> Vec<f64> {
    let mut y = sc.initial.clone();
    if let Some(ds) = sc.dose_state {
        for inf in sc.infusions.iter().filter(|i| i.day == 0.0) {
            y[ds] += inf.cells * sc.dose_factor;
        }
    }
    let mut params = sc.params.clone();
    for e in model_events(model, sc).iter().filter(|e| e.day == 0.0) {
        e.apply(model, 0.0, &mut y, &mut params);
    }
    y
}
