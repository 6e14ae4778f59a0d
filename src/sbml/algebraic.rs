//! Algebraic rules: which variable each one determines, and the `[[algebraic]]` entries.
//!
//! SBML semantics: an algebraic rule determines a variable that nothing else determines, one of
//! its symbols that is not constant, not the variable of an assignment or rate rule, and not a
//! species that reactions change (a non-boundary reactant or product); compartments, parameters
//! and species references count too. With several rules the variables come from a matching of
//! rules to the candidates of each (augmenting paths). Only a model where that choice is forced
//! is accepted: every candidate appearing in a rule is determined by one (as many candidates as
//! rules, and a perfect matching). Otherwise, or when a rule has nothing to determine, the rule
//! is refused by name (an under- or overdetermined model).
//!
//! A determined variable takes the role of an assignment-rule variable (it is not a parameter or
//! state of the cartox model); its rule is emitted as `[[algebraic]]`, which the model compiler
//! solves for it (see `docs/model-format.md`).

use std::collections::{HashMap, HashSet};

use super::mathml::Expr;
use super::print::print;
use super::xml::{attr_bool, list};
use super::{Role, Translator};
use crate::model::spec;
use toml::Spanned;

/// One `<algebraicRule>`: its label in messages and its math.
pub(super) struct AlgebraicRule {
    pub(super) label: String,
    pub(super) math: Expr,
    /// The variable it determines, once matched.
    pub(super) var: Option<String>,
}

/// An SBML boolean attribute with its level's default.
fn flag(n: roxmltree::Node, name: &str, default: bool) -> bool {
    match n.attribute(name) {
        Some(v) => v == "true" || v == "1",
        None => default,
    }
}

impl Translator<'_, '_> {
    /// The label of rule number `i` (1-based) in messages: its id or metaid when it has one.
    pub(super) fn algebraic_label(n: roxmltree::Node, i: usize) -> String {
        match n.attribute("id").or(n.attribute("metaid")) {
            Some(id) => format!("algebraic rule '{id}' (rule #{i})"),
            None => format!("algebraic rule #{i}"),
        }
    }

    /// Every symbol an algebraic rule may determine.
    fn algebraic_candidates(&self) -> HashSet<String> {
        let model = self.model;
        let mut free = HashSet::new();
        for c in list(model, "listOfCompartments", "compartment") {
            if !flag(c, "constant", true) {
                free.insert(c.attribute("id").unwrap_or("").to_string());
            }
        }
        for p in list(model, "listOfParameters", "parameter") {
            if !flag(p, "constant", true) {
                free.insert(p.attribute("id").unwrap_or("").to_string());
            }
        }
        let mut reacting = HashSet::new();
        for r in list(model, "listOfReactions", "reaction") {
            for sr in ["listOfReactants", "listOfProducts"]
                .iter()
                .flat_map(|l| list(r, l, "speciesReference"))
            {
                reacting.insert(sr.attribute("species").unwrap_or("").to_string());
                if let Some(id) = sr.attribute("id") {
                    if !flag(sr, "constant", true) {
                        free.insert(id.to_string());
                    }
                }
            }
        }
        for s in list(model, "listOfSpecies", "species") {
            let id = s.attribute("id").unwrap_or("");
            let changed = reacting.contains(id) && !attr_bool(s, "boundaryCondition");
            if !flag(s, "constant", false) && !changed {
                free.insert(id.to_string());
            }
        }
        for v in self.assigned.iter().chain(self.rate_rules.keys()) {
            free.remove(v);
        }
        free
    }

    /// Decide the variable of every algebraic rule (after `read_rules`, before roles): each
    /// becomes an assignment-like symbol; refusals name the rule.
    pub(super) fn match_algebraic(&mut self) {
        if self.algebraic.is_empty() {
            return;
        }
        let free = self.algebraic_candidates();
        let mut vars: Vec<String> = Vec::new();
        let mut adj: Vec<Vec<usize>> = Vec::new();
        let mut problems = Vec::new();
        for rule in &self.algebraic {
            let mut syms = Vec::new();
            rule.math.symbols(&mut syms);
            let mut cand = Vec::new();
            for s in syms.into_iter().filter(|s| free.contains(s)) {
                let k = match vars.iter().position(|v| *v == s) {
                    Some(k) => k,
                    None => {
                        vars.push(s);
                        vars.len() - 1
                    }
                };
                if !cand.contains(&k) {
                    cand.push(k);
                }
            }
            if cand.is_empty() {
                problems.push(format!(
                    "{}: it determines no variable (each of its symbols is constant, set by \
                     another rule or changed by reactions: an overdetermined model)",
                    rule.label
                ));
            }
            adj.push(cand);
        }
        if problems.is_empty() {
            // Kuhn's augmenting paths: owner[var] = the rule determining it.
            let mut owner: Vec<Option<usize>> = vec![None; vars.len()];
            for r in 0..adj.len() {
                let mut seen = vec![false; vars.len()];
                if !augment(r, &adj, &mut seen, &mut owner) {
                    problems.push(format!(
                        "{}: no variable is left for it to determine (an overdetermined model)",
                        self.algebraic[r].label
                    ));
                }
            }
            if problems.is_empty() && vars.len() > adj.len() {
                let which = |r: usize| {
                    adj[r]
                        .iter()
                        .map(|&k| format!("'{}'", vars[k]))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let r = (0..adj.len()).find(|&r| adj[r].len() > 1).unwrap_or(0);
                problems.push(format!(
                    "{}: which of {} it determines is not fixed (more undetermined variables than \
                     algebraic rules)",
                    self.algebraic[r].label,
                    which(r)
                ));
            }
            if problems.is_empty() {
                for (k, o) in owner.iter().enumerate() {
                    if let Some(r) = o {
                        self.algebraic[*r].var = Some(vars[k].clone());
                    }
                }
            }
        }
        for p in problems {
            self.unsupported(p);
        }
        let determined: Vec<(String, String)> = self
            .algebraic
            .iter()
            .filter_map(|r| r.var.clone().map(|v| (v, r.label.clone())))
            .collect();
        for (v, label) in determined {
            if self.initial_assignments.contains_key(&v) {
                self.unsupported(format!(
                    "{label}: it determines '{v}', which also has an initial assignment"
                ));
            }
            self.assigned.insert(v);
        }
    }

    /// Every identifier used in algebraic rules must be defined.
    pub(super) fn check_algebraic_symbols(&mut self) {
        let rules = std::mem::take(&mut self.algebraic);
        for r in &rules {
            self.check_symbols(&r.math, &format!("the {}", r.label));
        }
        self.algebraic = rules;
    }

    /// `[[algebraic]]`: a species it determines is also an output column named by its id.
    pub(super) fn emit_algebraic(
        &mut self,
        comp_unit: &HashMap<String, String>,
    ) -> Vec<spec::Algebraic> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for r in &self.algebraic {
            let Some(var) = &r.var else { continue };
            let Some(name) = self.names.get(var) else {
                continue;
            };
            let rule = print(&r.math, &self.names);
            if let Err(why) = self.solvable(&rule, name) {
                problems.push(format!("{}: it {why} '{var}'", r.label));
                continue;
            }
            let mut a = spec::Algebraic {
                name: Spanned::new(0..0, name.clone()),
                rule: Spanned::new(0..0, rule),
                unit: String::new(),
                description: format!("determined by the {}", r.label),
                observe: false,
            };
            if let Some(s) = self.species.iter().find(|s| &s.id == var) {
                a.unit = self.species_unit(s, comp_unit);
                a.observe = true;
            } else if self.comp_size.contains_key(var) {
                // A compartment size a rule determines is an output column (and
                // `[concentrations]` reads it), as for an assignment rule.
                a.unit = comp_unit.get(var).cloned().unwrap_or_default();
                a.observe = true;
            } else if let Some(p) = self
                .parameters
                .iter()
                .find(|p| p.attribute("id") == Some(var))
            {
                a.unit = self.unit_of(*p);
            }
            out.push(a);
        }
        for p in problems {
            self.unsupported(p);
        }
        out
    }

    /// Whether the printed rule `rule` can be solved for the name `x` for the whole run: linear
    /// in `x`, with a coefficient of constant parameters only (no event or rule changes them)
    /// that is finite and non-zero. Else the reason, ending in "in" or "for" (before `x`).
    pub(super) fn solvable(&self, rule: &str, x: &str) -> Result<(), String> {
        let not_linear = || "is not linear in".to_string();
        let ast = crate::expr::parse(rule).map_err(|_| not_linear())?;
        let names: Vec<String> = ast.names().iter().map(|(n, _)| n.to_string()).collect();
        let slot = |n: &str| names.iter().position(|m| m == n);
        let xs = slot(x).ok_or_else(not_linear)?;
        let node = ast.compile(&slot).map_err(|_| not_linear())?;
        let c = crate::expr::linear_coefficient(&node, xs).ok_or_else(not_linear)?;
        let ids: HashMap<&str, &str> = self
            .names
            .iter()
            .map(|(id, n)| (n.as_str(), id.as_str()))
            .collect();
        let targets: HashSet<&str> = list(self.model, "listOfEvents", "event")
            .into_iter()
            .flat_map(|ev| list(ev, "listOfEventAssignments", "eventAssignment"))
            .filter_map(|ea| ea.attribute("variable"))
            .collect();
        let mut used = Vec::new();
        c.slots(&mut used);
        let mut v = vec![f64::NAN; names.len()];
        for s in used {
            let id = ids.get(names[s].as_str()).copied().unwrap_or("");
            let fixed = self.roles.get(id) == Some(&Role::Parameter) && !targets.contains(id);
            let local = self.local_params.iter().find(|l| l.name == names[s]);
            match self.values.get(id).or(local.map(|l| &l.value)) {
                Some(val) if fixed => v[s] = *val,
                _ => {
                    return Err(format!(
                        "has a coefficient that varies ('{}') for",
                        names[s]
                    ))
                }
            }
        }
        let cv = c.eval(&v);
        if !(cv.is_finite() && cv != 0.0) {
            return Err(format!("has a zero coefficient ({cv}) for"));
        }
        Ok(())
    }
}

/// Try to give rule `r` a variable, moving other rules along augmenting paths.
fn augment(r: usize, adj: &[Vec<usize>], seen: &mut [bool], owner: &mut [Option<usize>]) -> bool {
    for &k in &adj[r] {
        if seen[k] {
            continue;
        }
        seen[k] = true;
        let free = match owner[k] {
            None => true,
            Some(o) => augment(o, adj, seen, owner),
        };
        if free {
            owner[k] = Some(r);
            return true;
        }
    }
    false
}
