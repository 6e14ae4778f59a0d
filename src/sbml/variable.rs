//! Variable compartment sizes and variable stoichiometries (SBML L3V2 sections 4.11, 4.13).
//!
//! * A compartment whose size a rate rule drives is a **state**, one an assignment rule sets an
//!   **assignment** (an output column), one only events set a **parameter** the events change.
//! * In such a compartment a species that reactions change is kept as its **amount**: a state
//!   `<id>_amount` with `dn/dt = Σ stoichiometry · rate` (no division by the size), and the
//!   species symbol is the assignment `<id> = <id>_amount / compartment` (its concentration), so
//!   a change of size (continuous or by an event) leaves the amount unchanged and moves the
//!   concentration. An event that sets the species sets the amount to `value * compartment`.
//!   `[concentrations]` names the compartment (a state or an observable) so `--amounts` reports
//!   the amount. A species with a rate rule keeps its concentration as the state (the rule gives
//!   `d[S]/dt`); a species with `hasOnlySubstanceUnits` is an amount already.
//! * A species reference with an id whose stoichiometry a rule, an initial assignment or an
//!   event sets is a symbol of the reaction term (`stoichiometry * rate`): a state, an
//!   assignment, or a parameter (initial assignments are evaluated once, events change it).
//!
//! A boundary or constant species in such a compartment keeps its amount (SBML test 01118): a
//! parameter `<id>_amount` (events may set it) and the same concentration assignment.
//!
//! An event evaluates all its assignments before it applies them (SBML tests 01779, 01506): a
//! species it sets gets the amount `value * size before the event`; a species whose rate rule
//! gives its concentration keeps its amount when the event resizes its compartment
//! (`S := (S or its new value) * size / new size`).
//!
//! Refused (one line, naming the construct): an event with a delay and values from its trigger
//! time that sets a species of a variable compartment, or resizes the compartment of a species
//! with a rate rule (the size at the execution time is not known at the trigger time).

use std::collections::HashSet;

use indexmap::IndexMap;

use roxmltree::Node;

use super::mathml::Expr;
use super::print::print;
use super::reactions::event_targets;
use super::symbols::species_value;
use super::xml::{attr_f64, child, list};
use super::{LocalParam, Problem, Role, SpeciesInfo, Translator, RESERVED};
use crate::model::spec;

/// The species reference (reactant or product) with this id.
pub(super) fn species_reference<'a, 'i>(model: Node<'a, 'i>, id: &str) -> Option<Node<'a, 'i>> {
    super::symbols::species_references(model).find(|n| n.attribute("id") == Some(id))
}

fn sp<T>(value: T) -> toml::Spanned<T> {
    toml::Spanned::new(0..0, value)
}

impl Translator<'_, '_> {
    /// Which compartments vary and which species are kept as amounts (after the parameters are
    /// evaluated); the sub-cases that cannot be translated exactly are refused.
    pub(super) fn plan_variable_compartments(&mut self) {
        let targets: HashSet<&str> = event_targets(self.model).collect();
        let varying: HashSet<String> = self
            .compartments
            .iter()
            .filter_map(|c| c.attribute("id"))
            .filter(|id| self.roles.get(*id) != Some(&Role::Parameter) || targets.contains(id))
            .map(str::to_string)
            .collect();
        let mut problems = Vec::new();
        for s in &self.species {
            if !varying.contains(&s.compartment) || s.only_substance {
                continue;
            }
            match self.roles.get(&s.id) {
                // Reactions change the amount; a boundary or constant species keeps its amount
                // (a parameter `<id>_amount`, which events may set).
                Some(Role::State | Role::Parameter) if !self.rate_rules.contains_key(&s.id) => {
                    let mut name = format!("{}_amount", self.names[&s.id]);
                    while self.taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                        name.push('_');
                    }
                    self.taken.insert(name.clone());
                    self.amount_states.insert(s.id.clone(), name);
                }
                _ => {}
            }
        }
        for ev in list(self.model, "listOfEvents", "event") {
            let sets: Vec<&str> = list(ev, "listOfEventAssignments", "eventAssignment")
                .into_iter()
                .filter_map(|ea| ea.attribute("variable"))
                .collect();
            let label = ev.attribute("id").unwrap_or("");
            // L2 and L3 default: values from the trigger time.
            let at_trigger = ev
                .attribute("useValuesFromTriggerTime")
                .is_none_or(|v| v == "true" || v == "1");
            if child(ev, "delay").is_none() || !at_trigger {
                continue;
            }
            // After a delay, the size the amount is computed with would be the trigger time's.
            for s in &self.species {
                let amount =
                    self.amount_states.contains_key(&s.id) && sets.contains(&s.id.as_str());
                let resized = sets.contains(&s.compartment.as_str())
                    && self.rate_rules.contains_key(&s.id)
                    && !s.only_substance;
                if amount || resized {
                    problems.push(Problem::unsupported(format!(
                        "event '{label}' sets species '{}' or its variable compartment '{}' \
                         after a delay with values from its trigger time (variable compartment \
                         size)",
                        s.id, s.compartment
                    )));
                }
            }
        }
        self.problems.extend(problems);
        self.varying = varying;
    }

    /// A compartment whose size an assignment rule or an initial assignment gives has that size
    /// at t0 (not its `size` attribute): species' initial values use it. True if one changed.
    pub(super) fn compartment_sizes_at_t0(&mut self) -> bool {
        let mut changed = false;
        let ids: Vec<String> = self.comp_size.keys().cloned().collect();
        for id in ids {
            let ruled = self.assigned.contains(&id) || self.initial_assignments.contains_key(&id);
            if !ruled {
                continue;
            }
            let Some(v) = self.number_at_t0(&id) else {
                continue;
            };
            if self.comp_size[&id] != Some(v) {
                self.comp_size.insert(id, Some(v));
                changed = true;
            }
        }
        changed
    }

    /// Species references with an initial assignment (and no rule) become parameters with the
    /// value the initial assignment gives at t0.
    pub(super) fn stoichiometry_parameters(&mut self) {
        for sr in super::symbols::species_references(self.model) {
            let Some(id) = sr.attribute("id") else {
                continue;
            };
            if self.roles.get(id) != Some(&Role::Parameter)
                || !self.initial_assignments.contains_key(id)
            {
                continue;
            }
            // Not evaluated: `evaluate_parameters` reported it.
            let Some(value) = self.values.get(id).copied() else {
                continue;
            };
            let name = self.names[id].clone();
            if self.local_params.iter().any(|l| l.name == name) {
                continue;
            }
            self.local_params.push(LocalParam {
                name,
                value,
                unit: String::new(),
                description: format!(
                    "stoichiometry of {} (initial assignment evaluated at translation)",
                    sr.attribute("species").unwrap_or("")
                ),
            });
        }
    }

    /// A species reference whose stoichiometry varies (a rule, an initial assignment or an event
    /// sets it): its cartox name, which the reaction term uses instead of a number.
    pub(super) fn variable_stoichiometry(&self, sr: Node) -> Option<String> {
        let id = sr.attribute("id")?;
        let variable = matches!(self.roles.get(id), Some(Role::State | Role::Assignment))
            || self.initial_assignments.contains_key(id)
            || event_targets(self.model).any(|v| v == id);
        variable.then(|| self.names[id].clone())
    }

    /// What an event assignment to `var` sets, and to what: a species kept as an amount gets
    /// `value * compartment` in its amount state.
    pub(super) fn event_set(&self, var: &str, e: &Expr) -> (String, String) {
        let value = print(e, &self.names);
        match (
            self.amount_states.get(var),
            self.species.iter().find(|s| s.id == var),
        ) {
            (Some(n), Some(s)) => (
                n.clone(),
                format!("(({value}) * {})", self.names[&s.compartment]),
            ),
            _ => (self.names[var].clone(), value),
        }
    }

    /// The amount parameter of a boundary or constant species in a variable compartment.
    pub(super) fn amount_parameter(&mut self, s: &SpeciesInfo) -> Option<(String, f64)> {
        let name = self.amount_states.get(&s.id)?.clone();
        let given = attr_f64(s.node, "initialAmount")
            .filter(|_| !self.initial_assignments.contains_key(&s.id));
        let amount = match given {
            Some(a) => Some(a),
            None => self
                .values
                .get(&s.id)
                .copied()
                .zip(self.number_at_t0(&s.compartment))
                .map(|(c, v)| c * v),
        };
        match amount {
            Some(a) => Some((name, a)),
            None => {
                self.unsupported(format!(
                    "species '{}' has no initial amount at t0 (variable compartment size)",
                    s.id
                ));
                None
            }
        }
    }

    /// An event that resizes a compartment keeps the amount of each species of it whose rate
    /// rule gives its concentration: `S := (S or its new value) * size / (new size)`.
    pub(super) fn resize_concentration_states(
        &self,
        assignments: &[(String, Expr)],
        set: &mut IndexMap<String, toml::Spanned<toml::Value>>,
    ) {
        for (c, new_size) in assignments {
            if !self.comp_size.contains_key(c) {
                continue;
            }
            for s in &self.species {
                if s.compartment != *c || s.only_substance || !self.rate_rules.contains_key(&s.id) {
                    continue;
                }
                let value = match assignments.iter().find(|(v, _)| *v == s.id) {
                    Some((_, e)) => print(e, &self.names),
                    None => self.names[&s.id].clone(),
                };
                let text = format!(
                    "(({value}) * {} / ({}))",
                    self.names[c],
                    print(new_size, &self.names)
                );
                set.insert(self.names[&s.id].clone(), sp(text.into()));
            }
        }
    }

    /// The value of `id` at t0 as a number, when it has one (time 0, parameters as evaluated).
    pub(super) fn number_at_t0(&self, id: &str) -> Option<f64> {
        let e = self.inline_at_t0(Expr::Sym(id.to_string()));
        super::print::eval(&e, &|s| self.values.get(s).copied()).ok()
    }

    /// A species kept as its amount: the state `<id>_amount` (reactions change it without
    /// division by the size) and its initial amount (an expression of parameters).
    pub(super) fn emit_amount_state(
        &mut self,
        s: &SpeciesInfo,
        unit: String,
        out: &mut spec::ModelSpec,
    ) {
        let name = self.amount_states[&s.id].clone();
        let ts = self.terms.remove(&s.id).unwrap_or_default();
        let rhs = super::reactions::species_rhs(&ts, None);
        let comp = Expr::Sym(s.compartment.clone());
        let amount = match (
            self.initial_assignments.get(&s.id),
            s.node.attribute("initialAmount"),
        ) {
            (Some(e), _) => Some(Expr::Apply(
                "times".into(),
                vec![e.clone(), self.inline_at_t0(comp)],
            )),
            (None, Some(a)) => a.trim().parse().ok().map(super::mathml::num),
            (None, None) => attr_f64(s.node, "initialConcentration").map(|c| {
                Expr::Apply(
                    "times".into(),
                    vec![super::mathml::num(c), self.inline_at_t0(comp)],
                )
            }),
        };
        let Some(amount) = amount else {
            self.malformed(format!("species '{}' has no initial value", s.id));
            return;
        };
        let mut syms = Vec::new();
        amount.symbols(&mut syms);
        let params = self.param_names();
        if let Some(bad) = syms.iter().find(|x| !params.contains(*x)) {
            self.unsupported(format!(
                "initial amount of species '{}' uses '{bad}', which has no value at t0 \
                 (variable compartment size)",
                s.id
            ));
            return;
        }
        out.states.push(spec::State {
            name: sp(name.clone()),
            unit,
            description: format!(
                "amount of {} (variable compartment {})",
                s.node.attribute("name").unwrap_or(&s.id),
                s.compartment
            ),
            initial: sp(toml::Value::from(print(&amount, &self.names))),
        });
        out.equations.insert(name, sp(rhs));
    }

    /// The concentration assignments `<id> = <id>_amount / compartment` (output columns).
    pub(super) fn amount_assignments(&self, units: &[(String, String)]) -> Vec<spec::Assignment> {
        let mut out = Vec::new();
        for s in &self.species {
            let Some(n) = self.amount_states.get(&s.id) else {
                continue;
            };
            let unit = units
                .iter()
                .find(|(id, _)| *id == s.id)
                .map(|(_, u)| u.clone())
                .unwrap_or_default();
            out.push(spec::Assignment {
                name: sp(self.names[&s.id].clone()),
                expr: sp(format!("({n} / {})", self.names[&s.compartment])),
                unit,
                description: format!(
                    "concentration of {} (amount / size of compartment {})",
                    s.node.attribute("name").unwrap_or(&s.id),
                    s.compartment
                ),
                observe: true,
            });
        }
        out
    }

    /// Rate-rule states that are neither species nor parameters: compartment sizes and
    /// stoichiometries.
    pub(super) fn emit_rule_states(&mut self, out: &mut spec::ModelSpec) {
        let compartments = self.compartments.clone();
        for c in &compartments {
            let id = c.attribute("id").unwrap_or("");
            if self.roles.get(id) != Some(&Role::State) {
                continue;
            }
            let initial = self.comp_size.get(id).copied().flatten();
            let rhs = print(&self.rate_rules[id], &self.names);
            let unit = self.unit_of(*c);
            let what = format!("size of compartment {}", c.attribute("name").unwrap_or(id));
            self.emit_state(id, unit, what, initial.map(toml::Value::from), rhs, out);
        }
        let refs: Vec<Node> = super::symbols::species_references(self.model).collect();
        for sr in refs {
            let Some(id) = sr.attribute("id") else {
                continue;
            };
            if self.roles.get(id) != Some(&Role::State) || !self.rate_rules.contains_key(id) {
                continue;
            }
            let initial = attr_f64(sr, "stoichiometry").map(toml::Value::from);
            let rhs = print(&self.rate_rules[id], &self.names);
            let what = format!(
                "stoichiometry of {} (rate rule)",
                sr.attribute("species").unwrap_or("")
            );
            self.emit_state(id, String::new(), what, initial, rhs, out);
        }
    }

    /// A species' initial value as a number when its compartment's size is not a parameter.
    pub(super) fn initial_in_variable_compartment(&self, s: &SpeciesInfo) -> Option<f64> {
        if self.roles.get(&s.compartment) == Some(&Role::Parameter) {
            return None;
        }
        let size = self.number_at_t0(&s.compartment)?;
        species_value(s.node, s.only_substance, Some(size))
    }
}
