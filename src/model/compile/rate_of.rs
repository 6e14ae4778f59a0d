//! Stage 2b: `rate_of(x)`, the current time derivative of `x` (SBML's `rateOf` csymbol).
//!
//! The parser reads `rate_of(x)` as one derived name ([`crate::expr::rate_of_name`]); this stage
//! defines each one used as a hidden assignment: the right-hand side of `x` when `x` is a state,
//! `0` when it is a parameter (parameters change only at events). The assignments are then
//! sorted with the others, so the derivatives are evaluated before what reads them, and a
//! derivative that needs itself (`x' = rate_of(x)`) is reported as an assignment cycle.

use super::super::location::Locator;
use super::super::spec::{Assignment, ModelSpec};
use super::super::ModelError;
use super::names::collect_names;
use crate::expr;
use toml::Spanned;

/// Every `rate_of(x)` that an assignment, equation, observable or event uses, added to
/// `spec.assignments` (after the model's own); returns how many were added. Expressions that do
/// not parse are left to the stages that compile them.
pub(super) fn define(spec: &mut ModelSpec, loc: &Locator) -> Result<usize, ModelError> {
    let mut used = collect_names(spec, expr::rate_of_target);
    // Derivatives of states may read other derivatives: repeat until no new one appears.
    let mut k = 0;
    while k < used.len() {
        let (x, at) = used[k].clone();
        let derivative = if spec.states.iter().any(|s| s.name.get_ref() == &x) {
            spec.equations.get(&x).cloned()
        } else if spec.parameters.iter().any(|p| p.name.get_ref() == &x) {
            Some(Spanned::new(at.span(), "0".to_string()))
        } else if spec.assignments.iter().any(|a| a.name.get_ref() == &x) {
            return Err(loc.at(
                &at,
                format!(
                    "`rate_of({x})`: `{x}` is an assignment (rate_of takes a state or a parameter)"
                ),
            ));
        } else {
            return Err(loc.at(
                &at,
                format!("`rate_of({x})`: `{x}` is not a state or a parameter"),
            ));
        };
        // A state without an equation is reported by the equations stage.
        let Some(derivative) = derivative else {
            k += 1;
            continue;
        };
        if let Ok(ast) = expr::parse(derivative.get_ref()) {
            for (name, _) in ast.names() {
                if let Some(y) = expr::rate_of_target(name) {
                    if !used.iter().any(|(u, _)| u == y) {
                        used.push((y.to_string(), derivative.clone()));
                    }
                }
            }
        }
        spec.assignments.push(Assignment {
            name: Spanned::new(at.span(), expr::rate_of_name(&x)),
            expr: derivative,
            unit: String::new(),
            description: format!("time derivative of `{x}`"),
            observe: false,
        });
        k += 1;
    }
    Ok(used.len())
}
