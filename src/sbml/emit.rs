//! Emitting the [`ModelSpec`]: parameters (compartments, parameters, constant species, local
//! parameters), states with their right-hand sides, assignments (rule-defined species also as
//! output columns), breakpoints, events, `[model]` and `[[references]]`.

use std::collections::HashMap;

use indexmap::IndexMap;
use roxmltree::Node;
use toml::Spanned;

use super::mathml::Expr;
use super::print::print;
use super::reactions::species_rhs;
use super::symbols::species_value;
use super::units::unit_text;
use super::xml::{annotation_ids, attr_f64};
use super::{Problem, Role, SpeciesInfo, Translator};
use crate::model::spec::{self, Meta, ModelSpec, Reference};

fn sp<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn name_attr(n: Node, id: &str) -> String {
    n.attribute("name").unwrap_or(id).to_string()
}

impl Translator<'_, '_> {
    fn parameter(
        &self,
        name: &str,
        value: f64,
        unit: String,
        description: String,
    ) -> spec::Parameter {
        spec::Parameter {
            name: sp(name.to_string()),
            value: sp(value),
            unit,
            description,
            source: format!("{} (SBML)", self.source),
            lower: None,
            upper: None,
            omega2: None,
            bernoulli: false,
            observe: false,
        }
    }

    /// The default unit of a model-wide kind (`volume`, `substance`): L2 built-ins, L3 model
    /// attributes.
    fn default_unit(&self, l2: &str, l3_attribute: &str) -> String {
        if self.level == 2 {
            l2.to_string()
        } else {
            self.model.attribute(l3_attribute).unwrap_or("").to_string()
        }
    }

    /// Unit text of a species: its substance unit, per its compartment's unit unless
    /// only-substance.
    pub(super) fn species_unit(
        &self,
        s: &SpeciesInfo,
        comp_unit: &HashMap<String, String>,
    ) -> String {
        let sub = s
            .node
            .attribute("substanceUnits")
            .map(str::to_string)
            .unwrap_or_else(|| self.default_unit("substance", "substanceUnits"));
        if sub.is_empty() {
            return String::new();
        }
        let sub = unit_text(&sub, &self.unit_defs);
        if s.only_substance {
            sub
        } else {
            match comp_unit.get(&s.compartment) {
                Some(v) if !v.is_empty() => format!("{sub}/{v}"),
                _ => String::new(),
            }
        }
    }

    /// Compartments, parameters, constant species and local parameters, in that order; the
    /// compartments' unit texts.
    fn emit_parameters(&mut self) -> (Vec<spec::Parameter>, HashMap<String, String>) {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let mut comp_unit: HashMap<String, String> = HashMap::new();
        for c in &self.compartments {
            let id = c.attribute("id").unwrap_or("");
            let unit = c
                .attribute("units")
                .map(str::to_string)
                .unwrap_or_else(|| self.default_unit("volume", "volumeUnits"));
            let unit = if unit.is_empty() {
                unit
            } else {
                unit_text(&unit, &self.unit_defs)
            };
            comp_unit.insert(id.to_string(), unit.clone());
            if self.roles.get(id) != Some(&Role::Parameter) {
                continue; // a variable size: a state or an assignment
            }
            match self.values.get(id) {
                Some(v) => out.push(self.parameter(
                    &self.names[id],
                    *v,
                    unit,
                    format!("size of compartment {}", name_attr(*c, id)),
                )),
                None => problems.push(Problem::malformed(format!(
                    "compartment '{id}' has no size"
                ))),
            }
        }
        for p in &self.parameters {
            let id = p.attribute("id").unwrap_or("");
            if self.roles[id] != Role::Parameter {
                continue;
            }
            // A parameter with an initial assignment keeps the evaluated number; the description
            // records the expression (it is not re-evaluated if another parameter is changed).
            let description = match self.initial_assignments.get(id) {
                Some(e) => format!(
                    "{}; initial assignment {} evaluated at translation",
                    name_attr(*p, id),
                    print(e, &self.names)
                ),
                None => name_attr(*p, id),
            };
            match self.values.get(id) {
                Some(v) => {
                    out.push(self.parameter(&self.names[id], *v, self.unit_of(*p), description))
                }
                None if self.initial_assignments.contains_key(id) => {} // reported already
                None => problems.push(Problem::malformed(format!("parameter '{id}' has no value"))),
            }
        }
        let species = std::mem::take(&mut self.species);
        for s in &species {
            if self.roles[&s.id] != Role::Parameter {
                continue;
            }
            if self.amount_states.contains_key(&s.id) {
                if let Some((name, amount)) = self.amount_parameter(s) {
                    let amount_unit = SpeciesInfo {
                        only_substance: true,
                        id: s.id.clone(),
                        compartment: s.compartment.clone(),
                        node: s.node,
                    };
                    let unit = self.species_unit(&amount_unit, &comp_unit);
                    let what = format!("amount of {} (variable compartment)", s.id);
                    out.push(self.parameter(&name, amount, unit, what));
                }
                continue;
            }
            match self.values.get(&s.id) {
                Some(v) => out.push(spec::Parameter {
                    // Every species is an output column, as libRoadRunner and COPASI report.
                    observe: true,
                    ..self.parameter(
                        &self.names[&s.id],
                        *v,
                        self.species_unit(s, &comp_unit),
                        format!("constant species {}", name_attr(s.node, &s.id)),
                    )
                }),
                None if self.initial_assignments.contains_key(&s.id) => {}
                None => problems.push(Problem::malformed(format!(
                    "species '{}' has no initial value",
                    s.id
                ))),
            }
        }
        self.species = species;
        for l in &self.local_params {
            out.push(self.parameter(&l.name, l.value, l.unit.clone(), l.description.clone()));
        }
        self.problems.extend(problems);
        (out, comp_unit)
    }

    /// A state: its initial value (an initial assignment wins) and its right-hand side.
    pub(super) fn emit_state(
        &mut self,
        id: &str,
        unit: String,
        description: String,
        initial: Option<toml::Value>,
        rhs: String,
        out: &mut ModelSpec,
    ) {
        let param_names = self.param_names();
        let initial = match self.initial_assignments.get(id) {
            Some(e) => {
                let mut syms = Vec::new();
                e.symbols(&mut syms);
                let mut problems = Vec::new();
                if let Some(bad) = syms.iter().find(|s| !param_names.contains(*s)) {
                    problems.push(Problem::unsupported(format!(
                        "initial assignment of '{id}' uses '{bad}', which is not a parameter"
                    )));
                }
                if e.uses_time() {
                    problems.push(Problem::unsupported(format!(
                        "initial assignment of '{id}' uses time"
                    )));
                }
                self.problems.extend(problems);
                Some(toml::Value::from(print(e, &self.names)))
            }
            None => initial,
        };
        let Some(initial) = initial else {
            self.malformed(format!("'{id}' has no initial value"));
            return;
        };
        out.states.push(spec::State {
            name: sp(self.names[id].clone()),
            unit,
            description,
            initial: sp(initial),
        });
        out.equations.insert(self.names[id].clone(), sp(rhs));
    }

    /// States: reacting or rate-ruled species, then rate-ruled parameters.
    fn emit_states(&mut self, comp_unit: &HashMap<String, String>, out: &mut ModelSpec) {
        let species = std::mem::take(&mut self.species);
        for s in &species {
            if self.roles[&s.id] != Role::State {
                continue;
            }
            if self.amount_states.contains_key(&s.id) {
                let amount = SpeciesInfo {
                    only_substance: true,
                    id: s.id.clone(),
                    compartment: s.compartment.clone(),
                    node: s.node,
                };
                let unit = self.species_unit(&amount, comp_unit);
                self.emit_amount_state(s, unit, out);
                continue;
            }
            let rhs = if let Some(e) = self.rate_rules.get(&s.id) {
                print(e, &self.names)
            } else {
                let ts = self.terms.remove(&s.id).unwrap_or_default();
                let compartment = self
                    .names
                    .get(&s.compartment)
                    .map(String::as_str)
                    .unwrap_or("1");
                species_rhs(&ts, (!s.only_substance).then_some(compartment))
            };
            let size = self.comp_size.get(&s.compartment).copied().flatten();
            let initial = match self.initial_in_variable_compartment(s) {
                Some(v) => Some(toml::Value::from(v)),
                None => species_initial(s, size, &self.names),
            };
            let unit = self.species_unit(s, comp_unit);
            self.emit_state(&s.id, unit, name_attr(s.node, &s.id), initial, rhs, out);
        }
        self.species = species;
        let parameters = self.parameters.clone();
        for p in &parameters {
            let id = p.attribute("id").unwrap_or("");
            if self.roles[id] != Role::State {
                continue;
            }
            let initial = attr_f64(*p, "value").map(toml::Value::from);
            let rhs = print(&self.rate_rules[id], &self.names);
            let unit = self.unit_of(*p);
            self.emit_state(id, unit, name_attr(*p, id), initial, rhs, out);
        }
        self.emit_rule_states(out);
    }

    /// Assignment rules; a rule-defined species is also an output column named by its id.
    fn emit_assignments(&self, comp_unit: &HashMap<String, String>) -> Vec<spec::Assignment> {
        let mut out = Vec::new();
        for (var, e) in &self.assignment_rules {
            let Some(id) = self.names.get(var) else {
                continue;
            };
            let mut a = spec::Assignment {
                name: sp(id.clone()),
                expr: sp(print(e, &self.names)),
                unit: String::new(),
                description: String::new(),
                observe: false,
            };
            if let Some(s) = self.species.iter().find(|s| &s.id == var) {
                a.unit = self.species_unit(s, comp_unit);
                a.description = name_attr(s.node, var);
                a.observe = true;
            } else if let Some(c) = self
                .compartments
                .iter()
                .find(|c| c.attribute("id") == Some(var))
            {
                // A variable compartment size is an output column (and `[concentrations]`
                // reads it).
                a.unit = comp_unit.get(var).cloned().unwrap_or_default();
                a.description = format!("size of compartment {}", name_attr(*c, var));
                a.observe = true;
            } else if let Some(p) = self
                .parameters
                .iter()
                .find(|p| p.attribute("id") == Some(var))
            {
                a.unit = self.unit_of(*p);
                a.description = name_attr(*p, var);
            }
            out.push(a);
        }
        out
    }

    /// Discontinuities in time: conditions comparing t with an expression of parameters.
    fn breakpoints(&self) -> Vec<String> {
        let param_names = self.param_names();
        let mut breakpoints: Vec<String> = Vec::new();
        for e in self
            .assignment_rules
            .iter()
            .map(|(_, e)| e)
            .chain(self.rate_rules.values())
            .chain(self.algebraic.iter().map(|r| &r.math))
        {
            e.map(&mut |node| {
                if let Expr::Apply(op, a) = node {
                    if matches!(op.as_str(), "lt" | "gt" | "leq" | "geq" | "eq") && a.len() == 2 {
                        let other = match (&a[0], &a[1]) {
                            (Expr::Time, o) | (o, Expr::Time) => Some(o),
                            _ => None,
                        };
                        if let Some(o) = other {
                            let mut syms = Vec::new();
                            o.symbols(&mut syms);
                            if !o.uses_time() && syms.iter().all(|s| param_names.contains(s)) {
                                let bp = print(o, &self.names);
                                if !breakpoints.contains(&bp) {
                                    breakpoints.push(bp);
                                }
                            }
                        }
                    }
                }
                None
            });
        }
        breakpoints
    }

    /// The whole spec (meaningful only if no problems were found).
    pub(super) fn emit(&mut self) -> Option<ModelSpec> {
        let (parameters, comp_unit) = self.emit_parameters();
        let mut out = ModelSpec {
            model: Meta {
                name: sp(String::new()),
                title: String::new(),
                description: String::new(),
                time_unit: sp(self.time_unit.clone()),
                breakpoints: Vec::new(),
            },
            references: Vec::new(),
            parameters,
            correlations: Vec::new(),
            states: Vec::new(),
            assignments: Vec::new(),
            algebraic: Vec::new(),
            equations: IndexMap::new(),
            observables: Vec::new(),
            regimen: None,
            lymphodepletion: IndexMap::new(),
            summary: None,
            toxicity: None,
            interventions: Vec::new(),
            events: Vec::new(),
            concentrations: IndexMap::new(),
            amounts: IndexMap::new(),
        };
        self.emit_states(&comp_unit, &mut out);
        out.assignments = self.emit_assignments(&comp_unit);
        out.algebraic = self.emit_algebraic(&comp_unit);
        self.emit_fast(&comp_unit, &mut out);
        let units: Vec<(String, String)> = self
            .species
            .iter()
            .map(|s| (s.id.clone(), self.species_unit(s, &comp_unit)))
            .collect();
        out.assignments.extend(self.amount_assignments(&units));
        out.assignments.extend(self.reaction_rate_assignments());
        // Species columns and their compartments: `--amounts` multiplies concentrations by the
        // size, `--concentrations` divides amounts (hasOnlySubstanceUnits) by it.
        for s in &self.species {
            if let (Some(name), Some(comp)) =
                (self.names.get(&s.id), self.names.get(&s.compartment))
            {
                let table = if s.only_substance {
                    &mut out.amounts
                } else {
                    &mut out.concentrations
                };
                table.insert(name.clone(), sp(comp.clone()));
            }
        }
        let breakpoints = self.breakpoints();
        out.events = self.translate_events();
        if !self.problems.is_empty() {
            return None;
        }
        out.model.breakpoints = breakpoints.into_iter().map(sp).collect();
        self.emit_meta(&mut out);
        Some(out)
    }

    /// `[model]` and `[[references]]`.
    fn emit_meta(&self, out: &mut ModelSpec) {
        let model = self.model;
        let model_id = model.attribute("id").unwrap_or("sbml_model");
        let title = model.attribute("name").unwrap_or(model_id).to_string();
        let mut description = format!(
            "Translated from the SBML file {} (SBML Level {} Version {}, model id {model_id}) by the \
             cartox SBML translator. Species are concentrations (amount / compartment size) unless \
             hasOnlySubstanceUnits is set; compartment sizes are parameters named by the compartment id.",
            self.source, self.level, self.version
        );
        for n in &self.notes {
            description.push(' ');
            description.push_str(n);
        }
        if !self.renames.is_empty() {
            description.push_str(&format!(
                " Renamed (reserved words of the expression language): {}.",
                self.renames.join(", ")
            ));
        }
        if !self.evaluated_notes.is_empty() {
            description.push_str(&format!(
                " Initial assignments of parameters evaluated once: {}.",
                self.evaluated_notes.join("; ")
            ));
        }
        let sanitized: String = model_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let (biomodels, doi, pubmed) = annotation_ids(model);
        out.model.name = sp(sanitized.clone());
        out.model.title = title.clone();
        out.model.description = description;
        out.references.push(Reference {
            key: biomodels.clone().unwrap_or(sanitized),
            citation: title,
            doi,
            biomodels,
            url: pubmed.map(|p| format!("https://identifiers.org/pubmed:{p}")),
        });
    }
}

/// A state species' `initial`: a number, or `amount / compartment` (`conc * compartment`) when
/// the compartment size is not 1, so that the value follows a changed compartment parameter.
fn species_initial(
    s: &SpeciesInfo,
    size: Option<f64>,
    names: &HashMap<String, String>,
) -> Option<toml::Value> {
    let comp = names.get(&s.compartment)?;
    let conc = attr_f64(s.node, "initialConcentration");
    let amount = attr_f64(s.node, "initialAmount");
    let text = |a: &str| s.node.attribute(a).unwrap_or("").trim().to_string();
    if size == Some(1.0)
        || (conc.is_some() && !s.only_substance)
        || (conc.is_none() && s.only_substance)
    {
        return species_value(s.node, s.only_substance, size).map(toml::Value::from);
    }
    match (conc, amount) {
        (Some(_), _) => Some(format!("{} * {comp}", text("initialConcentration")).into()),
        (None, Some(_)) => Some(format!("{} / {comp}", text("initialAmount")).into()),
        _ => None,
    }
}
