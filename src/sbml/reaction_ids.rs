//! Reaction ids used as symbols in math: the id means the reaction's current rate (the value of
//! its kinetic law, amount / time). Each one used becomes an assignment named by the id.

use std::collections::HashMap;

use super::mathml::{num, Expr};
use super::xml::{attr_f64, child, list};
use super::{Role, Translator};
use crate::model::spec;

impl Translator<'_, '_> {
    /// Marks every reaction whose id some `<ci>` of the model names (and that has a kinetic law)
    /// as an assignment, before rules, events and kinetic laws are checked.
    pub(super) fn declare_reaction_symbols(&mut self) {
        let used: Vec<String> = self
            .model
            .descendants()
            .filter(|n| n.tag_name().name() == "ci")
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect();
        for r in list(self.model, "listOfReactions", "reaction") {
            let Some(rid) = r.attribute("id") else {
                continue;
            };
            if child(r, "kineticLaw").is_some()
                && used.iter().any(|u| u == rid)
                && !self.roles.contains_key(rid)
            {
                self.roles.insert(rid.to_string(), Role::Assignment);
                self.rate_symbols.push((rid.to_string(), String::new()));
            }
        }
    }

    /// Records the printed kinetic law of reaction `rid` when its id is used as a symbol.
    pub(super) fn record_reaction_rate(&mut self, rid: &str, rate: &str) {
        if let Some(entry) = self.rate_symbols.iter_mut().find(|(r, _)| r == rid) {
            entry.1 = rate.to_string();
        }
    }

    /// The assignments `<reaction id> = <its kinetic law>`.
    pub(super) fn reaction_rate_assignments(&self) -> Vec<spec::Assignment> {
        self.rate_symbols
            .iter()
            .filter(|(_, rate)| !rate.is_empty())
            .map(|(rid, rate)| spec::Assignment {
                name: toml::Spanned::new(0..0, self.names[rid].clone()),
                expr: toml::Spanned::new(0..0, rate.clone()),
                unit: String::new(),
                description: format!("rate of reaction {rid}"),
                observe: false,
            })
            .collect()
    }

    /// The rate of reaction `id` at t0 as an expression (its kinetic law with local parameters
    /// replaced by their values), when `id` is a reaction used as a symbol.
    pub(super) fn reaction_rate_at_t0(&self, id: &str) -> Option<Expr> {
        if !self.rate_symbols.iter().any(|(r, _)| r == id) {
            return None;
        }
        let r = list(self.model, "listOfReactions", "reaction")
            .into_iter()
            .find(|r| r.attribute("id") == Some(id))?;
        let law = child(r, "kineticLaw")?;
        let locals: HashMap<String, f64> = list(law, "listOfParameters", "parameter")
            .into_iter()
            .chain(list(law, "listOfLocalParameters", "localParameter"))
            .filter_map(|p| Some((p.attribute("id")?.to_string(), attr_f64(p, "value")?)))
            .collect();
        let math = child(law, "math")?;
        let mut problems = Vec::new();
        let e = super::mathml::parse_math(math, "", &mut problems);
        let e = super::mathml::inline(&e, &self.funcs, 0, "", &mut problems);
        if !problems.is_empty() {
            return None;
        }
        Some(e.map(&mut |n| match n {
            Expr::Sym(s) => locals.get(s).map(|v| num(*v)),
            _ => None,
        }))
    }
}
