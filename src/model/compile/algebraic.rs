//! `[[algebraic]]`: each rule is compiled with its quantity in that quantity's own slot, then
//! solved for it symbolically ([`crate::expr::solve_linear`]); the solution is evaluated like an
//! assignment (sorted with them by dependency, so events, equations and outputs read the
//! quantity's current value). A rule that is not linear in its quantity is refused, naming it.

use super::names::Scope;
use super::Context;
use crate::expr::{solve_linear, Node};
use crate::model::spec::Algebraic;
use crate::model::ModelError;

/// The solution of `a.rule = 0` for `a.name`, whose slot is `slot`.
pub(super) fn solve(a: &Algebraic, slot: usize, cx: &Context) -> Result<Node, ModelError> {
    let name = a.name.get_ref();
    let what = format!("algebraic.{name}.rule");
    let (ast, node) = cx.expr(&a.rule, Scope::Dynamic, &what)?;
    if !ast.names().iter().any(|(n, _)| n == name) {
        return Err(cx.loc.at(
            &a.rule,
            format!(
                "{what}: `{}` does not contain `{name}`, the quantity it determines",
                a.rule.get_ref()
            ),
        ));
    }
    solve_linear(&node, slot).ok_or_else(|| {
        cx.loc.at(
            &a.rule,
            format!(
                "{what}: `{}` = 0 cannot be solved for `{name}`: only rules linear in the \
                 quantity they determine are supported",
                a.rule.get_ref()
            ),
        )
    })
}
