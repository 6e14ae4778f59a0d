//! Function definitions, rules (assignment, rate, algebraic) and initial assignments.

use super::mathml::{parse_node, too_deep, too_deep_problem, Function};
use super::xml::{child, elements, list};
use super::Translator;

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
                    "algebraicRule" => self.unsupported(format!(
                        "algebraic rule (rule #{}): algebraic rules are not supported",
                        i + 1
                    )),
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
