//! Events: parsed with the rest of the model, translated once every symbol's role is known.
//! Only triggers that are time crossing a constant become `[[events]]`.

use indexmap::IndexMap;
use toml::Spanned;

use super::mathml::Expr;
use super::print::{eval, print};
use super::xml::{child, list};
use super::{Problem, Role, Translator};
use crate::model::spec::TimedEvent;

/// An SBML `<event>` as parsed, before translation.
pub(super) struct SbmlEvent {
    id: Option<String>,
    name: Option<String>,
    /// `'id'` or `#n`, for messages.
    label: String,
    trigger: Expr,
    /// The trigger's `initialValue` (L2: true).
    initial_value: bool,
    delay: Option<Expr>,
    priority: Option<Expr>,
    /// The trigger's `persistent` (L2: true).
    persistent: bool,
    /// `useValuesFromTriggerTime` (L2: true).
    values_at_trigger: bool,
    assignments: Vec<(String, Expr)>,
}

impl Translator<'_, '_> {
    /// `<listOfEvents>` (parsed only) and constraints.
    pub(super) fn read_events(&mut self) {
        let model = self.model;
        // L3V2 makes <math> optional in triggers, delays, priorities and event assignments: a
        // trigger without one never fires, the other elements without one have no effect.
        let optional = self.level == 3 && self.version >= 2;
        let no_math =
            |n: Option<roxmltree::Node>| optional && n.is_some_and(|n| child(n, "math").is_none());
        for (i, ev) in list(model, "listOfEvents", "event").into_iter().enumerate() {
            let tn = child(ev, "trigger");
            if optional && (tn.is_none() || no_math(tn)) {
                continue;
            }
            let label = ev
                .attribute("id")
                .map(|s| format!("'{s}'"))
                .unwrap_or(format!("#{}", i + 1));
            let ctx = format!("the trigger of event {label}");
            let trigger = match tn {
                Some(tn) => self.math_of(tn, &ctx).map(|e| (e, tn)),
                None => {
                    self.malformed(format!("event {label} has no <trigger>"));
                    None
                }
            };
            let delay = child(ev, "delay")
                .filter(|d| !no_math(Some(*d)))
                .and_then(|d| self.math_of(d, &format!("the delay of event {label}")));
            let priority = child(ev, "priority")
                .filter(|d| !no_math(Some(*d)))
                .and_then(|d| self.math_of(d, &format!("the priority of event {label}")));
            let mut assignments = Vec::new();
            for ea in list(ev, "listOfEventAssignments", "eventAssignment") {
                if no_math(Some(ea)) {
                    continue;
                }
                let var = ea.attribute("variable").unwrap_or("").to_string();
                let ctx = format!("the assignment to '{var}' of event {label}");
                if let Some(e) = self.math_of(ea, &ctx) {
                    assignments.push((var, e));
                }
            }
            let Some((trigger, tn)) = trigger else {
                continue;
            };
            self.events.push(SbmlEvent {
                id: ev.attribute("id").map(str::to_string),
                name: ev.attribute("name").map(str::to_string),
                label,
                trigger,
                // L2 triggers behave as initialValue="true" (no firing at t0).
                initial_value: tn.attribute("initialValue") != Some("false"),
                delay,
                priority,
                persistent: tn.attribute("persistent") != Some("false"),
                values_at_trigger: ev.attribute("useValuesFromTriggerTime") != Some("false"),
                assignments,
            });
        }
        if !list(model, "listOfConstraints", "constraint").is_empty() {
            self.notes.push(
                "The SBML constraints were not translated (they do not change the dynamics)."
                    .into(),
            );
        }
    }

    /// The `[[events]]` of the spec: time-scheduled when every event is time crossing a constant
    /// (without delay, priority or parameter assignments), triggered events otherwise.
    pub(super) fn translate_events(&mut self) -> Vec<TimedEvent> {
        let (problems, notes) = (self.problems.len(), self.notes.len());
        let timed = self.timed_events();
        if self.problems.len() == problems {
            return timed;
        }
        self.problems.truncate(problems);
        self.notes.truncate(notes);
        self.triggered_events()
    }

    /// Events as triggered `[[events]]` (the engine locates the crossings).
    fn triggered_events(&mut self) -> Vec<TimedEvent> {
        let events = std::mem::take(&mut self.events);
        let names = self.names.clone();
        let sp = |v: toml::Value| Spanned::new(0..0, v);
        let mut out = Vec::new();
        for ev in &events {
            let label = &ev.label;
            let before = self.problems.len();
            self.check_symbols(&ev.trigger, &format!("the trigger of event {label}"));
            let mut set = IndexMap::new();
            for (var, e) in &ev.assignments {
                let ctx = format!("the assignment to '{var}' of event {label}");
                match self.roles.get(var) {
                    None => self.malformed(format!("{ctx}: unknown symbol '{var}'")),
                    Some(Role::State) | Some(Role::Parameter) => {
                        self.check_symbols(e, &ctx);
                        let (target, value) = self.event_set(var, e);
                        set.insert(target, sp(value.into()));
                    }
                    Some(r) => {
                        let what = if self.comp_size.contains_key(var) {
                            "a compartment"
                        } else if *r == Role::Assignment {
                            "set by an assignment rule"
                        } else {
                            "not a species or parameter"
                        };
                        self.problems.push(Problem::unsupported(format!(
                            "event {label}: assignment to '{var}' ({what})"
                        )));
                    }
                }
            }
            self.resize_concentration_states(&ev.assignments, &mut set);
            let mut expr = |e: &Option<Expr>, what: &str| {
                e.as_ref().map(|e| {
                    self.check_symbols(e, &format!("the {what} of event {label}"));
                    sp(print(e, &names).into())
                })
            };
            let delay = expr(&ev.delay, "delay");
            let priority = expr(&ev.priority, "priority");
            if self.problems.len() > before || set.is_empty() {
                continue;
            }
            let trig = print(&ev.trigger, &names);
            let mut description = format!("SBML event, trigger {trig}");
            if let Some(n) = ev.name.as_ref().filter(|n| Some(*n) != ev.id.as_ref()) {
                description = format!("{n}: {description}");
            }
            out.push(TimedEvent {
                name: ev.id.clone().map(|id| Spanned::new(0..0, id)),
                time: None,
                trigger: Some(Spanned::new(0..0, trig)),
                delay,
                priority,
                persistent: ev.persistent,
                initial_value: ev.initial_value,
                values_at_trigger: ev.values_at_trigger,
                set,
                description,
                source: String::new(),
            });
        }
        out
    }

    /// Events that are all time crossing a constant, as time-scheduled `[[events]]` (problems
    /// reported otherwise).
    fn timed_events(&mut self) -> Vec<TimedEvent> {
        let param_names = self.param_names();
        let events = std::mem::take(&mut self.events);
        let (names, values) = (self.names.clone(), &self.values.clone());
        let mut notes = Vec::new();
        let mut events_out = Vec::new();
        let sp = |v: toml::Value| Spanned::new(0..0, v);
        let n_events = events.len();
        for ev in &events {
            let label = &ev.label;
            let before = self.problems.len();
            let const_expr = |e: &Expr| {
                let mut syms = Vec::new();
                e.symbols(&mut syms);
                !e.uses_time() && syms.iter().all(|s| param_names.contains(s))
            };
            let value_of = |e: &Expr| eval(e, &|s| values.get(s).copied());
            // time >= T, time > T, time == T (and the mirrored forms), T constant.
            let crossing = match &ev.trigger {
                Expr::Apply(op, a) if a.len() == 2 => match (op.as_str(), &a[0], &a[1]) {
                    ("geq" | "gt" | "eq", Expr::Time, o) if const_expr(o) => Some((op.as_str(), o)),
                    ("leq", o, Expr::Time) if const_expr(o) => Some(("geq", o)),
                    ("lt", o, Expr::Time) if const_expr(o) => Some(("gt", o)),
                    ("eq", o, Expr::Time) if const_expr(o) => Some(("eq", o)),
                    _ => None,
                },
                _ => None,
            };
            let Some((op, at)) = crossing else {
                self.problems.push(Problem::unsupported(format!(
                    "event {label}: trigger {} is not time crossing a constant (state-dependent \
                     triggers are not supported)",
                    print(&ev.trigger, &names)
                )));
                continue;
            };
            if let Some(d) = &ev.delay {
                if !(const_expr(d) && value_of(d) == Ok(0.0)) {
                    self.problems.push(Problem::unsupported(format!(
                        "event {label}: <delay> {} (only a zero delay is supported)",
                        print(d, &names)
                    )));
                }
            }
            if ev.priority.is_some() && n_events > 1 {
                self.problems.push(Problem::unsupported(format!(
                    "event {label}: <priority> (the order of simultaneous events is not translated)"
                )));
            }
            let mut set = IndexMap::new();
            for (var, e) in &ev.assignments {
                let ctx = format!("the assignment to '{var}' of event {label}");
                match self.roles.get(var) {
                    None => self.malformed(format!("{ctx}: unknown symbol '{var}'")),
                    Some(Role::State) => {
                        self.check_symbols(e, &ctx);
                        let (target, value) = self.event_set(var, e);
                        set.insert(target, sp(value.into()));
                    }
                    Some(r) => {
                        let what = if self.comp_size.contains_key(var) {
                            "a compartment"
                        } else if *r == Role::Assignment {
                            "set by an assignment rule"
                        } else {
                            "a parameter in the translated model"
                        };
                        self.problems.push(Problem::unsupported(format!(
                            "event {label}: assignment to '{var}' ({what}; events may only set \
                             species or rate-rule variables)"
                        )));
                    }
                }
            }
            if self.problems.len() > before {
                continue;
            }
            self.resize_concentration_states(&ev.assignments, &mut set);
            let t_value = match value_of(at) {
                Ok(v) if v.is_finite() => v,
                _ => {
                    self.problems.push(Problem::unsupported(format!(
                        "event {label}: trigger time {} has no finite value",
                        print(at, &names)
                    )));
                    continue;
                }
            };
            let true_at_t0 = match op {
                "geq" => t_value <= 0.0,
                "gt" => t_value < 0.0,
                _ => t_value == 0.0,
            };
            if op == "eq" && t_value < 0.0 {
                notes.push(format!(
                    "Event {label} was not translated: its trigger time is before t = 0, so it \
                     never fires."
                ));
                continue;
            }
            let time = if true_at_t0 && ev.initial_value {
                notes.push(format!(
                    "Event {label} was not translated: its trigger is already true at t = 0 and \
                     initialValue is true, so it never fires."
                ));
                continue;
            } else if true_at_t0 || t_value <= 0.0 {
                "0".to_string()
            } else {
                print(at, &names)
            };
            if set.is_empty() {
                continue;
            }
            let trig = print(&ev.trigger, &names);
            let mut description = format!("SBML event, trigger {trig}");
            if let Some(n) = ev.name.as_ref().filter(|n| Some(*n) != ev.id.as_ref()) {
                description = format!("{n}: {description}");
            }
            events_out.push(TimedEvent {
                name: ev.id.clone().map(|id| Spanned::new(0..0, id)),
                time: Some(sp(time.into())),
                trigger: None,
                delay: None,
                priority: None,
                persistent: true,
                initial_value: true,
                values_at_trigger: true,
                set,
                description,
                source: String::new(),
            });
        }
        self.notes.extend(notes);
        self.events = events;
        events_out
    }
}
