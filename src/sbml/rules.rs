//! Function definitions, rules (assignment, rate, algebraic) and initial assignments.

use super::mathml::{num, parse_node, too_deep, too_deep_problem, Expr, Function};
use super::symbols::species_value;
use super::xml::{attr_f64, child, elements, list};
use super::{Role, Translator};

impl Translator<'_, '_> {
    /// `<listOfFunctionDefinitions>`: each `lambda(bvars..., body)`, inlined where called.
    pub(super) fn read_functions(&mut self) {
        for fd in list(
            self.model,
            "listOfFunctionDefinitions",
            "functionDefinition",
        ) {
            let id = fd.attribute("id").unwrap_or("").to_string();
            let ctx = format!("function definition '{id}'");
            if child(fd, "math").is_none() {
                // L3V2: a definition without math is allowed; a call of it is then refused
                // as a call of an unknown function.
                continue;
            }
            let Some(lambda) = child(fd, "math").and_then(|m| {
                child(m, "lambda")
                    .or_else(|| child(m, "semantics").and_then(|s| child(s, "lambda")))
            }) else {
                self.malformed(format!("{ctx} has no <lambda>"));
                continue;
            };
            let mut params = Vec::new();
            let mut body = None;
            for c in elements(lambda) {
                if c.tag_name().name() == "bvar" {
                    params.push(
                        child(c, "ci")
                            .and_then(|ci| ci.text())
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    );
                } else if too_deep(c) {
                    self.problems.push(too_deep_problem(&ctx));
                } else {
                    body = Some(parse_node(c, &ctx, &mut self.problems));
                }
            }
            match body {
                Some(body) => drop(self.funcs.insert(id, Function { params, body })),
                None => self.malformed(format!("{ctx} has no body")),
            }
        }
    }

    /// SBML L3V2 lets a rule or initial assignment omit its `<math>`: it then has no effect
    /// (true, and a note, when `n` is such an element).
    fn math_optional(&mut self, n: roxmltree::Node) -> bool {
        if (self.level, self.version) < (3, 2) || child(n, "math").is_some() {
            return false;
        }
        let what = n.tag_name().name();
        let of = n
            .attribute("variable")
            .or(n.attribute("symbol"))
            .unwrap_or("");
        self.notes.push(format!(
            "The {what} of '{of}' has no <math> and was ignored (SBML L3V2: it has no effect)."
        ));
        true
    }

    /// `<listOfRules>` and `<listOfInitialAssignments>`.
    pub(super) fn read_rules(&mut self) {
        if let Some(rules) = child(self.model, "listOfRules") {
            for (i, r) in elements(rules).enumerate() {
                let var = r.attribute("variable").unwrap_or("").to_string();
                if self.math_optional(r) {
                    continue;
                }
                match r.tag_name().name() {
                    "assignmentRule" => {
                        let ctx = format!("the assignment rule for '{var}'");
                        if let Some(e) = self.math_of(r, &ctx) {
                            self.assignment_rules.push((var, e));
                        }
                    }
                    "rateRule" => {
                        let ctx = format!("the rate rule for '{var}'");
                        if let Some(e) = self.math_of(r, &ctx) {
                            self.rate_rules.insert(var, e);
                        }
                    }
                    "algebraicRule" => {
                        let label = Self::algebraic_label(r, i + 1);
                        if let Some(math) = self.math_of(r, &format!("the {label}")) {
                            self.algebraic.push(super::algebraic::AlgebraicRule {
                                label,
                                math,
                                var: None,
                            });
                        }
                    }
                    // L1-style or unknown rule elements.
                    other => self.unsupported(format!("unsupported rule element <{other}>")),
                }
            }
        }
        self.assigned = self
            .assignment_rules
            .iter()
            .map(|(v, _)| v.clone())
            .collect();
        for ia in list(self.model, "listOfInitialAssignments", "initialAssignment") {
            let sym = ia.attribute("symbol").unwrap_or("").to_string();
            if self.math_optional(ia) {
                continue;
            }
            let ctx = format!("the initial assignment for '{sym}'");
            if let Some(e) = self.math_of(ia, &ctx) {
                self.initial_assignments.insert(sym, e);
            }
        }
    }

    /// Every identifier used in rules and initial assignments must be defined.
    pub(super) fn check_rule_symbols(&mut self) {
        let rules = std::mem::take(&mut self.assignment_rules);
        for (v, e) in &rules {
            self.check_symbols(e, &format!("the assignment rule for '{v}'"));
        }
        self.assignment_rules = rules;
        let rates = std::mem::take(&mut self.rate_rules);
        for (v, e) in &rates {
            self.check_symbols(e, &format!("the rate rule for '{v}'"));
        }
        self.rate_rules = rates;
        let initial = std::mem::take(&mut self.initial_assignments);
        for (v, e) in &initial {
            self.check_symbols(e, &format!("the initial assignment for '{v}'"));
        }
        self.initial_assignments = initial;
    }
}

impl Translator<'_, '_> {
    /// Initial assignments hold at t0, so in each one a symbol that is not a parameter (a
    /// species or rate-rule variable, an assignment-rule variable) is replaced by its own value
    /// at t0: its initial assignment, its assignment rule, or its declared initial value; time
    /// is 0. What is left is an expression of parameters (or it is refused as before).
    pub(super) fn initial_assignments_at_t0(&mut self) {
        let ids: Vec<String> = self.initial_assignments.keys().cloned().collect();
        for id in ids {
            let e = self.inline_at_t0(self.initial_assignments[&id].clone());
            self.initial_assignments.insert(id, e);
        }
    }

    /// `e` at t0: each symbol that is not a parameter replaced by its definition at t0, time by 0.
    pub(super) fn inline_at_t0(&self, mut e: Expr) -> Expr {
        // Each round replaces one level of definitions (a cycle stops after the last).
        for _ in 0..8 {
            let mut changed = false;
            e = e.map(&mut |node| match node {
                Expr::Time => Some(num(0.0)),
                // rateOf: 0 for a constant; of anything else it is left (and refused).
                Expr::Apply(op, a) if op == "rateOf" => Some(match &a[..] {
                    [Expr::Sym(x)] if self.roles.get(x) == Some(&Role::Parameter) => num(0.0),
                    _ => node.clone(),
                }),
                Expr::Sym(s) if self.roles.get(s) != Some(&Role::Parameter) => {
                    let d = self.definition_at_t0(s)?;
                    changed = true;
                    Some(d)
                }
                _ => None,
            });
            if !changed {
                break;
            }
        }
        e
    }

    /// The value of `id` at t0 as an expression: its initial assignment, its assignment rule,
    /// or its declared initial value (a species in its own units, a parameter's value).
    fn definition_at_t0(&self, id: &str) -> Option<Expr> {
        // A variable an algebraic rule determines has no declared value at t0.
        if self.algebraic.iter().any(|r| r.var.as_deref() == Some(id)) {
            return None;
        }
        if let Some(e) = self.reaction_rate_at_t0(id) {
            return Some(e);
        }
        if let Some(e) = self.initial_assignments.get(id) {
            return Some(e.clone());
        }
        if let Some((_, e)) = self.assignment_rules.iter().find(|(v, _)| v == id) {
            return Some(e.clone());
        }
        if let Some(s) = self.species.iter().find(|s| s.id == id) {
            let size = self.comp_size.get(&s.compartment).copied().flatten();
            return species_value(s.node, s.only_substance, size).map(num);
        }
        if let Some(size) = self.comp_size.get(id) {
            return size.map(num);
        }
        if let Some(sr) = super::variable::species_reference(self.model, id) {
            return attr_f64(sr, "stoichiometry").map(num);
        }
        let p = self
            .parameters
            .iter()
            .find(|p| p.attribute("id") == Some(id))?;
        attr_f64(*p, "value").map(num)
    }
}
