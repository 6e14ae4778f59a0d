//! Symbols: SBML ids and their cartox names, the role each symbol takes (parameter, state or
//! assignment), and the values at t0 of everything that becomes a parameter.

use std::collections::HashMap;

use super::print::{eval, print};
use super::xml::{attr_bool, attr_f64, list};
use roxmltree::Node;

use super::{Problem, Role, SpeciesInfo, Translator, RESERVED};

impl Translator<'_, '_> {
    /// SBML ids are kept; a reserved word of the expression language gets a trailing '_'.
    pub(super) fn declare_identifiers(&mut self) {
        let model = self.model;
        let global_ids: Vec<String> = [
            "listOfCompartments/compartment",
            "listOfSpecies/species",
            "listOfParameters/parameter",
            "listOfReactions/reaction",
        ]
        .iter()
        .flat_map(|p| {
            let (l, i) = p.split_once('/').unwrap();
            list(model, l, i)
        })
        .chain(species_references(model).filter(|n| n.attribute("id").is_some()))
        .map(|n| n.attribute("id").unwrap_or("").to_string())
        .collect();
        if global_ids.iter().any(String::is_empty) {
            self.malformed("a compartment, species, parameter or reaction without an id");
        }
        if global_ids.iter().any(|id| id == "time") {
            // It would be reported as `time_`, next to the output's own `time` column.
            self.unsupported(
                "an id `time` (a compartment, species, parameter or reaction named like the \
                 output's time column)",
            );
        }
        let (names, taken, renames) = (&mut self.names, &mut self.taken, &mut self.renames);
        taken.extend(global_ids.iter().cloned());
        for id in &global_ids {
            let mut name = id.clone();
            if RESERVED.contains(&id.as_str()) {
                while taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                    name.push('_');
                }
                taken.insert(name.clone());
                renames.push(format!("{id} -> {name}"));
            }
            names.insert(id.clone(), name);
        }
    }

    /// Compartments, species, parameters: decide each symbol's role.
    pub(super) fn assign_roles(&mut self) {
        let (model, level) = (self.model, self.level);
        let (assigned, rate_rules) = (self.assigned.clone(), &self.rate_rules);
        let rate_ruled: std::collections::HashSet<String> = rate_rules.keys().cloned().collect();
        let mut roles: HashMap<String, Role> = HashMap::new();
        let mut problems = Vec::new();
        let role_of = |id: &str| {
            if assigned.contains(id) {
                Role::Assignment
            } else if rate_ruled.contains(id) {
                Role::State
            } else {
                Role::Parameter
            }
        };
        let compartments = list(model, "listOfCompartments", "compartment");
        let mut comp_size: HashMap<String, Option<f64>> = HashMap::new();
        for c in &compartments {
            let id = c.attribute("id").unwrap_or("").to_string();
            // L2 default size is 1 when unset (and spatialDimensions 0 has no size).
            // A 0-dimensional compartment has no size: its species are amounts (size 1).
            let point = c.attribute("spatialDimensions") == Some("0");
            let size = attr_f64(*c, "size")
                .or(attr_f64(*c, "volume"))
                .or(if level == 2 || point { Some(1.0) } else { None });
            comp_size.insert(id.clone(), size);
            // A rate rule makes the size a state, an assignment rule an assignment
            // (`variable.rs` keeps the species in such a compartment as amounts).
            roles.insert(id.clone(), role_of(&id));
        }
        let mut species: Vec<SpeciesInfo> = Vec::new();
        for s in list(model, "listOfSpecies", "species") {
            let id = s.attribute("id").unwrap_or("").to_string();
            let compartment = s.attribute("compartment").unwrap_or("").to_string();
            if !comp_size.contains_key(&compartment) {
                problems.push(Problem::malformed(format!(
                    "species '{id}' is in unknown compartment '{compartment}'"
                )));
            }
            let fixed = attr_bool(s, "boundaryCondition") || attr_bool(s, "constant");
            let role = role_of(&id);
            // Not boundary, not constant, no rule: a state changed by reactions.
            let reactive = role == Role::Parameter && !fixed;
            roles.insert(id.clone(), if reactive { Role::State } else { role });
            species.push(SpeciesInfo {
                node: s,
                id,
                compartment,
                only_substance: attr_bool(s, "hasOnlySubstanceUnits"),
            });
        }
        let parameters = list(model, "listOfParameters", "parameter");
        for p in &parameters {
            let id = p.attribute("id").unwrap_or("").to_string();
            roles.insert(id.clone(), role_of(&id));
        }
        // A species reference with an id is a parameter (its stoichiometry), an assignment or a
        // state when a rule sets it (variable stoichiometry, `variable.rs`); one with an initial
        // assignment gets its value once the parameters are evaluated.
        for r in list(model, "listOfReactions", "reaction") {
            for sr in ["listOfReactants", "listOfProducts"]
                .iter()
                .flat_map(|l| list(r, l, "speciesReference"))
            {
                let Some(id) = sr.attribute("id") else {
                    continue;
                };
                if roles.contains_key(id) {
                    continue;
                }
                let role = role_of(id);
                roles.insert(id.to_string(), role);
                if role != Role::Parameter || self.initial_assignments.contains_key(id) {
                    continue;
                }
                let value = attr_f64(sr, "stoichiometry").or((level == 2).then_some(1.0));
                if let Some(value) = value {
                    let name = self
                        .names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.to_string());
                    self.names.insert(id.to_string(), name.clone());
                    self.local_params.push(super::LocalParam {
                        name,
                        value,
                        unit: String::new(),
                        description: format!(
                            "stoichiometry of {} in reaction {}",
                            sr.attribute("species").unwrap_or(""),
                            r.attribute("id").unwrap_or("")
                        ),
                    });
                }
            }
        }
        for (var, _) in &self.assignment_rules {
            if !roles.contains_key(var) {
                problems.push(Problem::malformed(format!(
                    "assignment rule for unknown symbol '{var}'"
                )));
            }
        }
        for var in self.rate_rules.keys() {
            if !roles.contains_key(var) {
                problems.push(Problem::malformed(format!(
                    "rate rule for unknown symbol '{var}'"
                )));
            }
        }
        self.problems.extend(problems);
        self.roles = roles;
        self.compartments = compartments;
        self.comp_size = comp_size;
        self.species = species;
        self.parameters = parameters;
    }

    /// Base values from attributes, then initial assignments evaluated to a fixed point.
    pub(super) fn evaluate_parameters(&mut self) {
        let (comp_size, parameters, species) = (&self.comp_size, &self.parameters, &self.species);
        let (initial_assignments, roles, names) =
            (&self.initial_assignments, &self.roles, &self.names);
        let mut base: HashMap<String, f64> = HashMap::new();
        for (id, size) in comp_size {
            if let Some(v) = size {
                base.insert(id.clone(), *v);
            }
        }
        for p in parameters {
            if let Some(v) = attr_f64(*p, "value") {
                base.insert(p.attribute("id").unwrap_or("").to_string(), v);
            }
        }
        // Species references with a fixed stoichiometry (the only local parameters so far).
        for l in &self.local_params {
            base.insert(l.name.clone(), l.value);
        }
        for s in species {
            let size = comp_size.get(&s.compartment).copied().flatten();
            if let Some(v) = species_value(s.node, s.only_substance, size) {
                base.insert(s.id.clone(), v);
            }
        }
        let mut values: HashMap<String, f64> = base
            .iter()
            .filter(|(id, _)| !initial_assignments.contains_key(*id))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let pending: Vec<&String> = initial_assignments
            .keys()
            .filter(|id| roles.get(*id) == Some(&Role::Parameter))
            .collect();
        // Initial assignments are evaluated at t0, where a parameter, a compartment and a state
        // have their declared values (COPASI's "Initial for X" parameters refer to states).
        // Assignment-rule variables are not evaluated here.
        let known_at_t0 = |s: &str| matches!(roles.get(s), Some(Role::Parameter | Role::State));
        loop {
            let mut progress = false;
            for id in &pending {
                if values.contains_key(*id) {
                    continue;
                }
                let r = eval(&initial_assignments[*id], &|s| {
                    values.get(s).copied().filter(|_| known_at_t0(s))
                });
                if let Ok(v) = r {
                    values.insert((*id).clone(), v);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        let mut evaluated_notes = Vec::new();
        let mut problems = Vec::new();
        for id in &pending {
            let e = &initial_assignments[*id];
            if let Some(v) = values.get(*id) {
                evaluated_notes.push(format!("{} = {} (= {v:?})", names[*id], print(e, names)));
            } else {
                let bad = match eval(e, &|s| values.get(s).copied().filter(|_| known_at_t0(s))) {
                    Err(s) => s,
                    Ok(_) => String::new(),
                };
                problems.push(Problem::unsupported(format!(
                    "initial assignment of parameter '{id}' depends on '{bad}', which has no \
                     constant value at t0"
                )));
            }
        }
        self.problems.extend(problems);
        self.evaluated_notes = evaluated_notes;
        self.values = values;
    }
}

/// The species references (reactants and products) of every reaction.
pub(super) fn species_references<'a, 'i>(
    model: Node<'a, 'i>,
) -> impl Iterator<Item = Node<'a, 'i>> {
    list(model, "listOfReactions", "reaction")
        .into_iter()
        .flat_map(|r| {
            ["listOfReactants", "listOfProducts"]
                .into_iter()
                .flat_map(move |l| list(r, l, "speciesReference"))
        })
}

/// A species' initial value in its own units (concentration unless only-substance), as a number.
pub(super) fn species_value(s: Node, only_substance: bool, size: Option<f64>) -> Option<f64> {
    match (
        attr_f64(s, "initialConcentration"),
        attr_f64(s, "initialAmount"),
    ) {
        (Some(c), _) if only_substance => Some(c * size?),
        (Some(c), _) => Some(c),
        (None, Some(a)) if only_substance => Some(a),
        (None, Some(a)) => Some(a / size?),
        _ => None,
    }
}
