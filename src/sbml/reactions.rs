//! Reactions: each kinetic law, its local parameters (renamed `<reactionId>_<parameterId>`) and
//! the signed, stoichiometry-weighted terms it adds to its species' right-hand sides.

use roxmltree::Node;
use std::collections::HashMap;

use super::mathml::{cartox_number_text, Expr};
use super::print::print;
use super::xml::{attr_bool, attr_f64, child, list};
use super::{LocalParam, Role, Translator, RESERVED};

impl Translator<'_, '_> {
    /// `<listOfReactions>`.
    pub(super) fn read_reactions(&mut self) {
        for r in list(self.model, "listOfReactions", "reaction") {
            let rid = r.attribute("id").unwrap_or("").to_string();
            // A fast reaction's rate law is kept for its equilibrium (`fast.rs`); one that
            // could not be planned was refused there.
            let fast = attr_bool(r, "fast");
            let Some(law) = child(r, "kineticLaw") else {
                self.unsupported(format!("reaction '{rid}' has no kinetic law"));
                continue;
            };
            // Local parameters (L2 listOfParameters, L3 listOfLocalParameters) → <rid>_<pid>.
            let mut local: HashMap<String, String> = HashMap::new();
            let locals = list(law, "listOfParameters", "parameter")
                .into_iter()
                .chain(list(law, "listOfLocalParameters", "localParameter"));
            for p in locals {
                let pid = p.attribute("id").unwrap_or("");
                let mut name = format!("{rid}_{pid}");
                while self.taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                    name.push('_');
                }
                self.taken.insert(name.clone());
                self.names.insert(name.clone(), name.clone());
                self.roles.insert(name.clone(), Role::Parameter);
                local.insert(pid.to_string(), name.clone());
                let Some(v) = attr_f64(p, "value") else {
                    self.malformed(format!(
                        "local parameter '{pid}' of reaction '{rid}' has no value"
                    ));
                    continue;
                };
                let what = p.attribute("name").unwrap_or(pid);
                let unit = self.unit_of(p);
                self.local_params.push(LocalParam {
                    name,
                    value: v,
                    unit,
                    description: format!("{what} (local to reaction {rid})"),
                });
            }
            let ctx = format!("the kinetic law of reaction '{rid}'");
            let Some(rate) = self.math_of(law, &ctx) else {
                continue;
            };
            let rate = rate.map(&mut |e| match e {
                Expr::Sym(s) => local.get(s).map(|n| Expr::Sym(n.clone())),
                _ => None,
            });
            self.check_symbols(&rate, &ctx);
            if fast {
                if let Some(plan) = self.fast_plan(&rid) {
                    plan.rate = Some(rate);
                }
                continue;
            }
            let rate = print(&rate, &self.names);
            self.record_reaction_rate(&rid, &rate);
            for (list_name, sign) in [("listOfReactants", "-"), ("listOfProducts", "+")] {
                for sr in list(r, list_name, "speciesReference") {
                    let sp = sr.attribute("species").unwrap_or("").to_string();
                    if !self.species.iter().any(|s| s.id == sp) {
                        self.malformed(format!(
                            "reaction '{rid}' refers to unknown species '{sp}'"
                        ));
                        continue;
                    }
                    let stoich = if let Some(sm) = child(sr, "stoichiometryMath") {
                        let ctx = format!("the stoichiometryMath of '{sp}' in reaction '{rid}'");
                        let Some(e) = self.math_of(sm, &ctx) else {
                            continue;
                        };
                        print(&e, &self.names)
                    } else if let Some(name) = self.variable_stoichiometry(sr) {
                        name
                    } else {
                        let s = sr.attribute("stoichiometry").unwrap_or("1").trim();
                        match s.parse::<f64>() {
                            Ok(v) if v.is_finite() => cartox_number_text(s, v),
                            _ => {
                                self.malformed(format!(
                                    "bad stoichiometry '{s}' in reaction '{rid}'"
                                ));
                                continue;
                            }
                        }
                    };
                    let mut term = if stoich.parse::<f64>() == Ok(1.0) {
                        rate.clone()
                    } else {
                        format!("({stoich} * {rate})")
                    };
                    // A species' conversionFactor (else the model's) scales what reactions
                    // change it by.
                    let node = self.species.iter().find(|s| s.id == sp).map(|s| s.node);
                    let cf = node
                        .and_then(|n| n.attribute("conversionFactor"))
                        .or_else(|| self.model.attribute("conversionFactor"));
                    if let Some(cf) = cf {
                        match self.names.get(cf) {
                            Some(name) if self.roles.contains_key(cf) => {
                                term = format!("({name} * {term})");
                            }
                            _ => self.malformed(format!(
                                "conversionFactor '{cf}' of species '{sp}' is not a parameter"
                            )),
                        }
                    }
                    self.terms
                        .entry(sp)
                        .or_default()
                        .push(format!("{sign}{term}"));
                }
            }
        }
    }
}

/// `d[S]/dt` from the signed reaction terms: `(±r1 ± r2 ...) / compartment`.
pub(super) fn species_rhs(terms: &[String], compartment: Option<&str>) -> String {
    if terms.is_empty() {
        return "0".into();
    }
    let mut sum = String::new();
    for (i, t) in terms.iter().enumerate() {
        let (sign, body) = t.split_at(1);
        match (i, sign) {
            (0, "-") => sum.push_str(&format!("-{body}")),
            (0, _) => sum.push_str(body),
            (_, s) => sum.push_str(&format!(" {s} {body}")),
        }
    }
    match compartment {
        Some(c) => format!("({sum}) / {c}"),
        None => sum,
    }
}

/// Variables that some event assigns (a stoichiometry an event changes is variable: the reaction
/// term reads its parameter, `variable.rs`).
pub(super) fn event_targets<'a, 'i>(model: Node<'a, 'i>) -> impl Iterator<Item = &'a str> + 'a {
    list(model, "listOfEvents", "event")
        .into_iter()
        .flat_map(|ev| {
            list(ev, "listOfEventAssignments", "eventAssignment")
                .into_iter()
                .filter_map(|ea| ea.attribute("variable"))
        })
}
