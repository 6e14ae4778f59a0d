//! The history `delay(x, tau)` reads before the start. The SBML Test Suite evaluates a state's
//! initial assignment at the earlier time there (cases 00938, 00940-00943: `x = sin(10 t)` at
//! t0, so `delay(x, 0.5)` at t = 0 is `sin(-5)`), whereas cartox keeps a state at its initial
//! value before the start. When an initial assignment could depend on time, a model that uses
//! the `delay` csymbol is refused rather than given another history.

use super::xml::list;
use super::{Role, Translator};

impl Translator<'_, '_> {
    /// Refuses the `delay` csymbol next to an initial assignment that uses time or a symbol
    /// other than a parameter (through which it could depend on time). Called before the
    /// initial assignments are evaluated at t0.
    pub(super) fn check_delay_history(&mut self) {
        let uses_delay = self.model.descendants().any(|n| {
            n.tag_name().name() == "csymbol"
                && n.attribute("definitionURL")
                    .is_some_and(|u| u.ends_with("/delay"))
        });
        if !uses_delay
            || list(self.model, "listOfInitialAssignments", "initialAssignment").is_empty()
        {
            return;
        }
        let mut bad = Vec::new();
        for (id, e) in &self.initial_assignments {
            let mut syms = Vec::new();
            e.symbols(&mut syms);
            let non_constant = syms
                .iter()
                .any(|s| self.roles.get(s) != Some(&Role::Parameter));
            if e.uses_time() || non_constant {
                bad.push(id.clone());
            }
        }
        for id in bad {
            self.unsupported(format!(
                "MathML <csymbol> delay with the initial assignment of '{id}', which may depend on \
                 time (its history before the start)"
            ));
        }
    }
}
