//! Stage 2c: `delay(x, tau)` (see `model::delay`): each distinct one used by an assignment,
//! equation, observable or event gets a slot after the assignments; `x` is compiled like an
//! assignment, `tau` as an expression of parameters. What the engine cannot evaluate exactly is
//! refused with the delay named: a delay inside `x` (nested), a `tau` that is not an
//! expression of parameters or not > 0, a delay that a timed event (`time = ...`) reads in its
//! values, events or interventions changing a parameter a delay reads. Triggered events may
//! read delays (the solver fills them wherever it evaluates the triggers).

use super::names::{collect_names, Scope};
use super::{Context, ModelSpec};
use crate::expr;
use crate::model::delay::Delayed;
use crate::model::{EventTarget, Model, ModelError, Node};
use toml::Spanned;

/// Every `delay(...)` name the model's expressions use, with the expression it was found in
/// (for error locations), in order of appearance.
pub(super) fn collect(spec: &ModelSpec) -> Vec<(String, Spanned<String>)> {
    collect_names(spec, |name| expr::delay_arguments(name).map(|_| name))
}

/// Compile each delay's `x` and `tau`; `base` is the slot of the first.
pub(super) fn compile(
    used: &[(String, Spanned<String>)],
    base: usize,
    cx: &Context,
) -> Result<Vec<Delayed>, ModelError> {
    let mut out = Vec::with_capacity(used.len());
    for (k, (name, at)) in used.iter().enumerate() {
        let Some((x, tau)) = expr::delay_arguments(name) else {
            continue;
        };
        let fail = |what: String| Err(cx.loc.at(at, format!("`{name}`: {what}")));
        let x_ast = expr::parse(x).map_err(|e| cx.loc.at(at, format!("`{name}`: {e}")))?;
        if x_ast
            .names()
            .iter()
            .any(|(n, _)| expr::delay_arguments(n).is_some())
        {
            return fail("a delay inside a delay is not supported".into());
        }
        let what = format!("`{name}`");
        let (_, x_node) = cx.expr(
            &Spanned::new(at.span(), x.to_string()),
            Scope::Dynamic,
            &what,
        )?;
        let Ok((_, tau_node)) = cx.expr(
            &Spanned::new(at.span(), tau.to_string()),
            Scope::Parameters,
            &what,
        ) else {
            return fail(format!(
                "the delay `{tau}` must be an expression of parameters (a constant delay)"
            ));
        };
        out.push(Delayed {
            name: name.clone(),
            expr: x_node,
            tau: tau_node,
            slot: base + k,
            needs: Vec::new(),
        });
    }
    Ok(out)
}

/// Once the model is assembled: what each delay needs, and the refusals that need the whole
/// model (see the module documentation).
pub(super) fn check(model: &mut Model, spec: &ModelSpec, cx: &Context) -> Result<(), ModelError> {
    if model.delays.is_empty() {
        return Ok(());
    }
    let at = |name: &str| {
        collect(spec)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, at)| at)
            .unwrap_or_else(|| Spanned::new(0..0, String::new()))
    };
    let delay_slots: Vec<usize> = model.delays.iter().map(|d| d.slot).collect();
    // Every slot an expression reads, directly or through assignments.
    let reads = |model: &Model, e: &Node| {
        let mut slots = Vec::new();
        e.slots(&mut slots);
        for k in model.needed_assignments(e) {
            model.assignments[k].expr.slots(&mut slots);
        }
        slots
    };
    let params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
    let v = model.slots_with_params(&params);
    let mut changed_params: Vec<usize> = Vec::new();
    for e in &model.state_events {
        for (target, _, _) in &e.set {
            if let EventTarget::Parameter(p) = target {
                changed_params.push(model.param_slot(*p));
            }
        }
    }
    for e in &model.events {
        for (_, n, _) in &e.set {
            if reads(model, n).iter().any(|s| delay_slots.contains(s)) {
                return Err(cx.loc.at(
                    &at(&model.delays[0].name),
                    format!(
                        "event `{}` reads a delay (`delay(x, tau)` in an event at a `time` is \
                         not supported; a `trigger` event may read one)",
                        e.name
                    ),
                ));
            }
        }
    }
    let with_interventions = !model.interventions.is_empty();
    let mut delays = std::mem::take(&mut model.delays);
    for d in &mut delays {
        d.needs = model.needed_assignments(&d.expr);
        let read = reads(model, &d.expr);
        let fail = |what: &str| Err(cx.loc.at(&at(&d.name), format!("`{}`: {what}", d.name)));
        if read.iter().any(|s| delay_slots.contains(s)) {
            return fail("a delay inside a delay is not supported");
        }
        let mut tau_slots = Vec::new();
        d.tau.slots(&mut tau_slots);
        if read
            .iter()
            .chain(&tau_slots)
            .any(|s| changed_params.contains(s))
        {
            return fail("an event changes a parameter the delay reads (not supported)");
        }
        if with_interventions {
            return fail("a model with delays cannot have [[interventions]]");
        }
        let tau = d.tau.eval(&v);
        if !(tau.is_finite() && tau > 0.0) {
            return fail(&format!("the delay must be finite and > 0, got {tau}"));
        }
    }
    model.delays = delays;
    Ok(())
}
