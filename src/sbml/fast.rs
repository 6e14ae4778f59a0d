//! Fast reactions (SBML `fast="true"`): rapid equilibrium, an algebraic constraint.
//!
//! A fast reaction is at equilibrium at every time: its rate is 0, while it moves its species
//! along its stoichiometry as fast as needed. With `s_i` the net stoichiometry of each species it
//! changes (not boundary, not constant) and `p` the first of them (the pivot), the amounts
//! `z_i = n_i - (s_i / s_p) n_p` (i != p) do not change by the fast reaction: they become states
//! (`<i>_fast_total`, amount units) driven by the other reactions, `z_i' = slow_i -
//! (s_i / s_p) slow_p`. Each species `i` is then an assignment, `n_i = z_i + (s_i / s_p) n_p` (as
//! a concentration unless only-substance), and the pivot is an `[[algebraic]]` quantity whose
//! rule is the fast rate law with those assignments substituted, solved by the model compiler.
//! The declared initial amounts give `z_i(0)`; the equilibrium holds from t = 0.
//!
//! Refused, naming the reaction: a rate law that is not linear in the pivot once substituted
//! (`k * S1 * S2`), species shared by fast reactions, a stoichiometry that is not a fixed number,
//! species that rules, events or initial assignments set or that initial assignments read,
//! conversion factors, and species in compartments of variable size.

use std::collections::{HashMap, HashSet};

use super::mathml::{num, Expr};
use super::print::print;
use super::reactions::species_rhs;
use super::symbols::species_value;
use super::xml::{attr_bool, attr_f64, child, list};
use super::Translator;
use crate::model::spec;
use toml::Spanned;

/// One fast reaction, as planned before the reactions are read.
pub(super) struct FastPlan {
    rid: String,
    pivot: String,
    /// The other species it changes, each with `s_i / s_pivot`.
    others: Vec<(String, f64)>,
    /// The kinetic law (local parameters renamed), once read.
    pub(super) rate: Option<Expr>,
}

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

impl Translator<'_, '_> {
    /// Plan every fast reaction (after the rules are read and matched, before roles): its
    /// species become assignment-like symbols; a refusal names the reaction.
    pub(super) fn plan_fast(&mut self) {
        let model = self.model;
        let event_targets: HashSet<String> = list(model, "listOfEvents", "event")
            .into_iter()
            .flat_map(|ev| list(ev, "listOfEventAssignments", "eventAssignment"))
            .filter_map(|ea| ea.attribute("variable").map(str::to_string))
            .collect();
        let mut read_at_t0 = Vec::new();
        for e in self.initial_assignments.values() {
            e.symbols(&mut read_at_t0);
        }
        let mut taken_by: HashMap<String, String> = HashMap::new();
        for r in list(model, "listOfReactions", "reaction") {
            if !attr_bool(r, "fast") {
                continue;
            }
            let rid = r.attribute("id").unwrap_or("").to_string();
            let refuse = |why: String| format!("fast reaction '{rid}': {why}");
            let mut problems = Vec::new();
            let mut net: Vec<(String, f64)> = Vec::new();
            for (l, sign) in [("listOfReactants", -1.0), ("listOfProducts", 1.0)] {
                for sr in list(r, l, "speciesReference") {
                    let sid = sr.attribute("species").unwrap_or("").to_string();
                    let fixed =
                        child(sr, "stoichiometryMath").is_none() && sr.attribute("id").is_none();
                    let st = attr_f64(sr, "stoichiometry").or((self.level == 2).then_some(1.0));
                    let Some(st) = st.filter(|v| fixed && v.is_finite()) else {
                        problems.push(refuse(format!(
                            "the stoichiometry of '{sid}' is not a fixed number"
                        )));
                        continue;
                    };
                    match net.iter_mut().find(|(s, _)| *s == sid) {
                        Some((_, v)) => *v += sign * st,
                        None => net.push((sid, sign * st)),
                    }
                }
            }
            let species = list(model, "listOfSpecies", "species");
            net.retain(|(sid, v)| {
                *v != 0.0
                    && species.iter().any(|s| {
                        s.attribute("id") == Some(sid.as_str())
                            && !attr_bool(*s, "boundaryCondition")
                            && !attr_bool(*s, "constant")
                    })
            });
            if net.is_empty() {
                problems.push(refuse("it changes no species".into()));
            }
            let model_cf = model.attribute("conversionFactor").is_some();
            for (sid, _) in &net {
                let node = species
                    .iter()
                    .find(|s| s.attribute("id") == Some(sid.as_str()));
                let comp = node.and_then(|n| n.attribute("compartment")).unwrap_or("");
                let comp_node = list(model, "listOfCompartments", "compartment")
                    .into_iter()
                    .find(|c| c.attribute("id") == Some(comp));
                let comp_varies = self.assigned.contains(comp)
                    || self.rate_rules.contains_key(comp)
                    || event_targets.contains(comp)
                    || comp_node.is_some_and(|c| c.attribute("constant") == Some("false"));
                let why = if let Some(other) = taken_by.get(sid) {
                    Some(format!(
                        "species '{sid}' is also changed by fast reaction '{other}'"
                    ))
                } else if self.assigned.contains(sid) || self.rate_rules.contains_key(sid) {
                    Some(format!("species '{sid}' is also set by a rule"))
                } else if event_targets.contains(sid) {
                    Some(format!("species '{sid}' is set by an event"))
                } else if self.initial_assignments.contains_key(sid) || read_at_t0.contains(sid) {
                    Some(format!(
                        "species '{sid}' has or is read by an initial assignment"
                    ))
                } else if model_cf
                    || node.is_some_and(|n| n.attribute("conversionFactor").is_some())
                {
                    Some(format!("species '{sid}' has a conversion factor"))
                } else if comp_varies {
                    Some(format!(
                        "species '{sid}' is in a compartment of variable size"
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    problems.push(refuse(why));
                }
            }
            if !problems.is_empty() {
                for p in problems {
                    self.unsupported(p);
                }
                continue;
            }
            for (sid, _) in &net {
                taken_by.insert(sid.clone(), rid.clone());
                self.assigned.insert(sid.clone());
            }
            let (pivot, sp_) = net[0].clone();
            let others = net[1..].iter().map(|(s, v)| (s.clone(), v / sp_)).collect();
            self.fast.push(FastPlan {
                rid,
                pivot,
                others,
                rate: None,
            });
        }
    }

    /// The plan of fast reaction `rid`, if it was accepted.
    pub(super) fn fast_plan(&mut self, rid: &str) -> Option<&mut FastPlan> {
        self.fast.iter_mut().find(|p| p.rid == rid)
    }

    /// States, assignments and `[[algebraic]]` entries of the planned fast reactions.
    pub(super) fn emit_fast(
        &mut self,
        comp_unit: &HashMap<String, String>,
        out: &mut spec::ModelSpec,
    ) {
        let plans = std::mem::take(&mut self.fast);
        for plan in &plans {
            let Some(rate) = &plan.rate else { continue };
            let info = |id: &str| self.species.iter().find(|s| s.id == id);
            let (Some(p), true) = (
                info(&plan.pivot),
                plan.others.iter().all(|(i, _)| info(i).is_some()),
            ) else {
                continue;
            };
            let amount = |s: &super::SpeciesInfo| -> Expr {
                if s.only_substance {
                    Expr::Sym(s.id.clone())
                } else {
                    Expr::Apply(
                        "times".into(),
                        vec![Expr::Sym(s.id.clone()), Expr::Sym(s.compartment.clone())],
                    )
                }
            };
            let amount0 = |s: &super::SpeciesInfo| -> Option<f64> {
                let size = self.comp_size.get(&s.compartment).copied().flatten();
                let v = species_value(s.node, s.only_substance, size)?;
                Some(if s.only_substance { v } else { v * size? })
            };
            let n_p = amount(p);
            let sum = |id: &str| species_rhs(self.terms.get(id).map_or(&[][..], |t| &t[..]), None);
            let mut subst: HashMap<String, Expr> = HashMap::new();
            let mut states = Vec::new();
            let mut assignments = Vec::new();
            let mut bad = None;
            for (id, ratio) in &plan.others {
                let s = info(id).expect("checked above");
                let (Some(a0), Some(p0)) = (amount0(s), amount0(p)) else {
                    bad = Some(format!(
                        "fast reaction '{}': '{id}' or '{}' has no initial value",
                        plan.rid, plan.pivot
                    ));
                    break;
                };
                let mut z = format!("{id}_fast_total");
                while self.taken.contains(&z) || super::RESERVED.contains(&z.as_str()) {
                    z.push('_');
                }
                self.taken.insert(z.clone());
                self.names.insert(z.clone(), z.clone());
                let rhs = format!("({}) - ({ratio:?}) * ({})", sum(id), sum(&plan.pivot));
                states.push((
                    spec::State {
                        name: sp(z.clone()),
                        unit: String::new(),
                        description: format!(
                            "amount of {id} - ({ratio:?}) x amount of {}: unchanged by fast reaction {}",
                            plan.pivot, plan.rid
                        ),
                        initial: sp(toml::Value::from(a0 - ratio * p0)),
                    },
                    rhs,
                ));
                let amount_i = Expr::Apply(
                    "plus".into(),
                    vec![
                        Expr::Sym(z),
                        Expr::Apply("times".into(), vec![num(*ratio), n_p.clone()]),
                    ],
                );
                let value = if s.only_substance {
                    amount_i
                } else {
                    Expr::Apply(
                        "divide".into(),
                        vec![amount_i, Expr::Sym(s.compartment.clone())],
                    )
                };
                assignments.push(spec::Assignment {
                    name: sp(self.names[id].clone()),
                    expr: sp(print(&value, &self.names)),
                    unit: self.species_unit(s, comp_unit),
                    description: format!("{id}, with fast reaction {} at equilibrium", plan.rid),
                    observe: true,
                });
                subst.insert(id.clone(), value);
            }
            if let Some(bad) = bad {
                self.unsupported(bad);
                continue;
            }
            let rule = rate.map(&mut |e| match e {
                Expr::Sym(s) => subst.get(s).cloned(),
                _ => None,
            });
            let rule = print(&rule, &self.names);
            let pivot = self.names[&plan.pivot].clone();
            if let Err(why) = self.solvable(&rule, &pivot) {
                self.unsupported(format!(
                    "fast reaction '{}': at equilibrium, its rate law {why} '{}'",
                    plan.rid, plan.pivot
                ));
                continue;
            }
            for (st, rhs) in states {
                out.equations.insert(st.name.get_ref().clone(), sp(rhs));
                out.states.push(st);
            }
            out.assignments.extend(assignments);
            out.algebraic.push(spec::Algebraic {
                name: sp(pivot),
                rule: sp(rule),
                unit: self.species_unit(p, comp_unit),
                description: format!(
                    "{}, at the equilibrium of fast reaction {}",
                    plan.pivot, plan.rid
                ),
                observe: true,
            });
        }
        self.fast = plans;
    }
}
