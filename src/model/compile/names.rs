//! Stage 1: every declared name (states, parameters, assignments, observables), checked for
//! syntax, reserved words and duplicates, and the slot each resolves to.

use super::super::location::Locator;
use super::super::spec::ModelSpec;
use super::super::ModelError;
use crate::expr;
use std::collections::HashMap;
use toml::Spanned;

/// What a name in an expression may refer to, by context.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Scope {
    /// Initial values, breakpoints, dose factors: parameters only.
    Parameters,
    /// Lymphodepletion changes: parameters and (pre-LD) initial states.
    Initial,
    /// Assignments, equations, observables: everything.
    Dynamic,
}

impl Scope {
    /// Appended to an unknown-name error.
    pub(super) fn hint(self) -> &'static str {
        match self {
            Scope::Parameters => " (only parameters may appear here)",
            Scope::Initial => " (only parameters and states may appear here)",
            Scope::Dynamic => "",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Time,
    State,
    Param,
    Assignment,
}

/// The slot of every name: `[t, states, parameters, assignments]` (see [`crate::model`]).
pub(super) struct Names {
    slots: HashMap<String, (usize, Kind)>,
}

impl Names {
    /// Check every declaration and lay out the slots.
    pub(super) fn declare(spec: &ModelSpec, loc: &Locator) -> Result<Names, ModelError> {
        let mut seen: HashMap<String, &'static str> = HashMap::new();
        let mut declare = |name: &Spanned<String>, what: &'static str| -> Result<(), ModelError> {
            let n = name.get_ref();
            if !expr::is_identifier(n) {
                return Err(loc.at(name, format!("{what} name `{n}` is not an identifier")));
            }
            if expr::RESERVED.contains(&n.as_str()) {
                return Err(loc.at(name, format!("{what} name `{n}` is reserved")));
            }
            if let Some(prev) = seen.insert(n.clone(), what) {
                return Err(loc.at(name, format!("duplicate name `{n}` (already a {prev})")));
            }
            Ok(())
        };
        for s in &spec.states {
            declare(&s.name, "state")?;
        }
        for p in &spec.parameters {
            declare(&p.name, "parameter")?;
        }
        for a in &spec.assignments {
            declare(&a.name, "assignment")?;
        }
        for a in &spec.algebraic {
            declare(&a.name, "algebraic quantity")?;
        }
        for o in &spec.observables {
            declare(&o.name, "observable")?;
        }

        let n = spec.states.len();
        let np = spec.parameters.len();
        let mut slots = HashMap::new();
        slots.insert("t".into(), (0, Kind::Time));
        for (i, s) in spec.states.iter().enumerate() {
            slots.insert(s.name.get_ref().clone(), (1 + i, Kind::State));
        }
        for (i, p) in spec.parameters.iter().enumerate() {
            slots.insert(p.name.get_ref().clone(), (1 + n + i, Kind::Param));
        }
        for (i, a) in spec.assignments.iter().enumerate() {
            slots.insert(a.name.get_ref().clone(), (1 + n + np + i, Kind::Assignment));
        }
        // Algebraic quantities are evaluated like assignments, in the slots after theirs.
        let na = spec.assignments.len();
        for (j, a) in spec.algebraic.iter().enumerate() {
            slots.insert(
                a.name.get_ref().clone(),
                (1 + n + np + na + j, Kind::Assignment),
            );
        }
        Ok(Names { slots })
    }

    /// Slots for the assignments from `declared` on, which the compiler added (`rate_of(x)`)
    /// after the model's own were checked.
    pub(super) fn hidden_assignments(&mut self, spec: &ModelSpec, declared: usize) {
        let base = 1 + spec.states.len() + spec.parameters.len();
        for (i, a) in spec.assignments.iter().enumerate().skip(declared) {
            self.slots
                .insert(a.name.get_ref().clone(), (base + i, Kind::Assignment));
        }
    }

    /// Slots for the `delay(...)` names, from `base` on (after every assignment).
    pub(super) fn delays(&mut self, used: &[(String, Spanned<String>)], base: usize) {
        for (k, (name, _)) in used.iter().enumerate() {
            self.slots
                .insert(name.clone(), (base + k, Kind::Assignment));
        }
    }

    /// Resolves a name to its slot when `scope` allows it.
    pub(super) fn resolver(&self, scope: Scope) -> impl Fn(&str) -> Option<usize> + '_ {
        move |n: &str| {
            let (slot, kind) = *self.slots.get(n)?;
            let ok = match scope {
                Scope::Parameters => kind == Kind::Param,
                Scope::Initial => matches!(kind, Kind::Param | Kind::State),
                Scope::Dynamic => true,
            };
            ok.then_some(slot)
        }
    }
}

/// Every name in the model's expressions (assignments, equations, observables, event triggers,
/// delays, priorities and values) that `pick` maps to a key, once per key, with the expression it
/// was first found in (for error locations), in order of appearance. Expressions that do not
/// parse are left to the stages that compile them.
pub(super) fn collect_names(
    spec: &ModelSpec,
    pick: fn(&str) -> Option<&str>,
) -> Vec<(String, Spanned<String>)> {
    let mut used: Vec<(String, Spanned<String>)> = Vec::new();
    let mut scan = |text: &Spanned<String>| {
        let Ok(ast) = expr::parse(text.get_ref()) else {
            return;
        };
        for (name, _) in ast.names() {
            if let Some(key) = pick(name) {
                if !used.iter().any(|(u, _)| u == key) {
                    used.push((key.to_string(), text.clone()));
                }
            }
        }
    };
    let value_text = |v: &Spanned<toml::Value>| match v.get_ref() {
        toml::Value::String(s) => Some(Spanned::new(v.span(), s.clone())),
        _ => None,
    };
    for a in &spec.assignments {
        scan(&a.expr);
    }
    for eq in spec.equations.values() {
        scan(eq);
    }
    for o in &spec.observables {
        scan(&o.expr);
    }
    for e in &spec.events {
        if let Some(t) = &e.trigger {
            scan(t);
        }
        let values = e.delay.iter().chain(&e.priority).chain(e.set.values());
        for v in values.filter_map(value_text) {
            scan(&v);
        }
    }
    used
}
