//! Stage 4: how a regimen enters the model: named lymphodepletion regimens (new initial
//! values), the dose and tumor hooks with their defaults, and the quantities the summary reads.

use super::names::Scope;
use super::{Context, ModelSpec};
use crate::expr::Node;
use crate::model::location::Locator;
use crate::model::{Lymphodepletion, ModelError, Quantity, RegimenHooks};
use toml::Spanned;

/// `[lymphodepletion.<name>]`: new initial values, expressions of parameters and pre-LD states.
pub(super) fn lymphodepletion(
    spec: &ModelSpec,
    cx: &Context,
) -> Result<Vec<Lymphodepletion>, ModelError> {
    let mut lymphodepletion = Vec::new();
    for (ld_name, ld) in &spec.lymphodepletion {
        let mut changes = Vec::new();
        for (state, v) in &ld.initial {
            let key = format!("lymphodepletion.{ld_name}.initial.{state}");
            let idx = super::state_index(spec, state)
                .ok_or_else(|| cx.loc.at(v, format!("{key}: `{state}` is not a state")))?;
            let (node, text) = cx.value_or_expr(v, Scope::Initial, &key)?;
            changes.push((idx, node, text));
        }
        lymphodepletion.push(Lymphodepletion {
            name: ld_name.clone(),
            description: ld.description.clone(),
            source: ld.source.clone(),
            changes,
        });
    }

    Ok(lymphodepletion)
}

/// `[regimen]`: the dosed state, dose and tumor factors, and default inputs.
pub(super) fn hooks(spec: &ModelSpec, cx: &Context) -> Result<Option<RegimenHooks>, ModelError> {
    Ok(match &spec.regimen {
        None => None,
        Some(r) => {
            let dose_state = cx.state_of(spec, &r.dose_state, "regimen.dose_state")?;
            let factor = |f: &Option<Spanned<String>>, key: &str| -> Result<Node, ModelError> {
                match f {
                    None => Ok(Node::Const(1.0)),
                    Some(text) => Ok(cx.expr(text, Scope::Parameters, key)?.1),
                }
            };
            let tumor_state = match &r.tumor_state {
                None => None,
                Some(s) => Some(cx.state_of(spec, s, "regimen.tumor_state")?),
            };
            let positive =
                |v: &Option<Spanned<f64>>, key: &str| -> Result<Option<f64>, ModelError> {
                    match v {
                        None => Ok(None),
                        Some(x) if x.get_ref().is_finite() && *x.get_ref() >= 0.0 => {
                            Ok(Some(*x.get_ref()))
                        }
                        Some(x) => Err(cx
                            .loc
                            .at(x, format!("regimen.{key}: must be a finite number >= 0"))),
                    }
                };
            if let Some(ld) = &r.ld {
                if !spec.lymphodepletion.contains_key(ld.get_ref()) {
                    return Err(cx.loc.at(
                        ld,
                        format!(
                            "regimen.ld: `{}` is not a declared lymphodepletion regimen",
                            ld.get_ref()
                        ),
                    ));
                }
            }
            let weight_parameter = match &r.weight_parameter {
                None => None,
                Some(w) => Some(
                    spec.parameters
                        .iter()
                        .position(|p| p.name.get_ref() == w.get_ref())
                        .ok_or_else(|| {
                            cx.loc.at(
                                w,
                                format!(
                                    "regimen.weight_parameter: `{}` is not a parameter",
                                    w.get_ref()
                                ),
                            )
                        })?,
                ),
            };
            Some(RegimenHooks {
                dose_state,
                dose_factor: factor(&r.dose_factor, "regimen.dose_factor")?,
                tumor_state,
                tumor_factor: factor(&r.tumor_factor, "regimen.tumor_factor")?,
                dose: positive(&r.dose, "dose")?,
                dose_per_kg: positive(&r.dose_per_kg, "dose_per_kg")?,
                weight: positive(&r.weight, "weight")?,
                weight_parameter,
                tumor_burden: positive(&r.tumor_burden, "tumor_burden")?,
                ld: r.ld.as_ref().map(|s| s.get_ref().clone()),
                source: r.source.clone(),
            })
        }
    })
}

/// The quantities `[summary]` names, and the B-cell aplasia threshold.
pub(super) struct SummaryHooks {
    pub cart: Option<Quantity>,
    pub tumor: Option<Quantity>,
    pub transgene: Option<Quantity>,
    pub b_cells: Option<Quantity>,
    pub b_cell_aplasia_below: Option<f64>,
}

/// `[summary]`: the quantities the summary metrics read (CAR-T, tumor, transgene, B cells).
pub(super) fn summary_hooks(spec: &ModelSpec, loc: &Locator) -> Result<SummaryHooks, ModelError> {
    let quantity =
        |q: &Option<Spanned<String>>, key: &str| -> Result<Option<Quantity>, ModelError> {
            let Some(q) = q else { return Ok(None) };
            let name = q.get_ref();
            if let Some(i) = spec
                .observables
                .iter()
                .position(|o| o.name.get_ref() == name)
            {
                return Ok(Some(Quantity::Observable(i)));
            }
            if let Some(i) = spec.states.iter().position(|s| s.name.get_ref() == name) {
                return Ok(Some(Quantity::State(i)));
            }
            Err(loc.at(
                q,
                format!("{key}: `{name}` is neither an observable nor a state"),
            ))
        };
    let Some(s) = &spec.summary else {
        return Ok(SummaryHooks {
            cart: None,
            tumor: None,
            transgene: None,
            b_cells: None,
            b_cell_aplasia_below: None,
        });
    };
    let b_cell_aplasia_below = match &s.b_cell_aplasia_below {
        None => None,
        Some(v) if v.get_ref().is_finite() && *v.get_ref() >= 0.0 => Some(*v.get_ref()),
        Some(v) => {
            return Err(loc.at(
                v,
                "summary.b_cell_aplasia_below must be a finite number >= 0".to_string(),
            ))
        }
    };
    if let (Some(b), None) = (&s.b_cells, &s.b_cell_aplasia_below) {
        return Err(loc.at(
            b,
            "summary.b_cells needs summary.b_cell_aplasia_below (the aplasia threshold)"
                .to_string(),
        ));
    }
    Ok(SummaryHooks {
        cart: quantity(&s.cart, "summary.cart")?,
        tumor: quantity(&s.tumor, "summary.tumor")?,
        transgene: quantity(&s.transgene, "summary.transgene")?,
        b_cells: quantity(&s.b_cells, "summary.b_cells")?,
        b_cell_aplasia_below,
    })
}
