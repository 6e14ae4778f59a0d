//! Watching a span's levels and the model's event triggers at every step end: what ends a
//! span early (see [`Span::watch`]).

use super::{left_limit, Span};
use crate::model::{Model, Quantity};

/// The levels a span watches (see [`Span::watch`]): for each, whether it was below its level at
/// the last step end.
pub(crate) struct Watcher<'a> {
    model: &'a Model,
    slots: Vec<f64>,
    t_last: f64,
    items: Vec<(Quantity, f64, bool)>,
    /// The model's event triggers as they stood at the last step end (empty without events).
    triggers: Vec<bool>,
    /// The solution's past, for a model with `delay(x, tau)`, and working space.
    past: Option<&'a crate::model::delay::Past<'a>>,
    scratch: Vec<f64>,
}

impl<'a> Watcher<'a> {
    /// The span's watched levels, as they stand at its start.
    pub fn new(span: &Span<'a>) -> Self {
        // An observable that is a state alone is watched as that state (`Model::direct`); the
        // value vector is only needed for the others and for the model's events.
        let items: Vec<(Quantity, f64, bool)> = span
            .watch
            .iter()
            .map(|&(q, c)| (span.model.direct(q), c, true))
            .collect();
        let observed = items
            .iter()
            .any(|(q, _, _)| matches!(q, Quantity::Observable(_)));
        let mut w = Watcher {
            model: span.model,
            slots: if observed || !span.model.state_events.is_empty() {
                span.model.slots_with_params(span.params)
            } else {
                Vec::new()
            },
            t_last: left_limit(span.t1),
            items,
            triggers: Vec::new(),
            past: span.past,
            scratch: Vec::new(),
        };
        w.crossed(span.t0, span.y0);
        w
    }

    /// True when a watched quantity has risen from below its level to at or above it at this
    /// step end, or a model event's trigger changed (updates the flags).
    pub fn crossed(&mut self, t: f64, y: &[f64]) -> bool {
        let mut hit = false;
        let events = &self.model.state_events;
        if !events.is_empty() {
            let n = y.len();
            self.slots[0] = t;
            self.slots[1..1 + n].copy_from_slice(y);
            if let Some(past) = self.past {
                self.model
                    .fill_delays(&mut self.slots, t, past, &mut self.scratch);
            }
            self.model.eval_assignments(&mut self.slots);
            let first = self.triggers.is_empty();
            for (i, e) in events.iter().enumerate() {
                let value = e.trigger.eval(&self.slots) != 0.0;
                if first {
                    self.triggers.push(value);
                } else {
                    hit |= value != self.triggers[i];
                    self.triggers[i] = value;
                }
            }
        }
        for (q, level, was_below) in self.items.iter_mut() {
            let x = match *q {
                Quantity::State(i) => y[i],
                Quantity::Observable(i) => {
                    self.model
                        .observe_one(&mut self.slots, t.min(self.t_last), y, i)
                }
            };
            let below = x < *level;
            hit |= *was_below && !below;
            *was_below = below;
        }
        hit
    }
}
