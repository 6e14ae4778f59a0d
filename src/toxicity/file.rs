//! The `[toxicity]` and `[[interventions]]` sections of a model file as written on disk, and their
//! compilation (with errors naming the key) into [`super::Toxicity`] and [`super::Intervention`].
//! See `docs/toxicity.md`.

use super::{Grading, Intervention, Term, Toxicity};
use crate::expr;
use crate::model::location::Locator;
use crate::model::{Model, ModelError, Quantity};
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicityFile {
    /// Default monitoring window, days after infusion.
    pub window: Option<Spanned<f64>>,
    /// Default early-alarm window, days after infusion.
    pub alarm_window: Option<Spanned<f64>>,
    #[serde(default)]
    pub note: String,
    /// Observable or state read for `il6_peak` (default: the CRS observable).
    pub il6: Option<Spanned<String>>,
    pub crs: Option<GradingFile>,
    pub icans: Option<GradingFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingFile {
    /// An observable or a state of the model.
    pub observable: Spanned<String>,
    /// Four ascending thresholds, grades 1-4, in the unit of the observable.
    pub thresholds: Spanned<Vec<Spanned<f64>>>,
    /// Optional: days the observable must stay at or above each threshold before that grade counts.
    pub min_duration: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default)]
    pub unit: String,
    /// Source of the thresholds (all four).
    #[serde(default)]
    pub source: String,
    /// Optional: one source per threshold.
    #[serde(default)]
    pub sources: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterventionFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    /// `crs >= N` or `icans >= N`, terms joined by `||`.
    pub trigger: Spanned<String>,
    /// Days from the trigger to the start of the effect.
    pub delay: Option<Spanned<f64>>,
    /// Days of effect (absent: until the end of the simulation).
    pub duration: Option<Spanned<f64>>,
    /// New parameter values for the duration: numbers or expressions of parameters.
    #[serde(default)]
    pub set: IndexMap<String, Spanned<toml::Value>>,
    /// Amounts added to states when the effect starts: numbers or expressions of parameters.
    #[serde(default)]
    pub add: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub source: String,
}

fn finite_nonneg(
    loc: &Locator,
    v: &Option<Spanned<f64>>,
    key: &str,
    positive: bool,
) -> Result<Option<f64>, ModelError> {
    let Some(x) = v else { return Ok(None) };
    let val = *x.get_ref();
    let ok = val.is_finite() && if positive { val > 0.0 } else { val >= 0.0 };
    if !ok {
        let want = if positive { "> 0" } else { ">= 0" };
        return Err(loc.at(
            x,
            format!("{key}: must be a finite number {want}, got {val}"),
        ));
    }
    Ok(Some(val))
}

fn quantity_of(model: &Model, name: &str) -> Option<(Quantity, String)> {
    if let Some(i) = model.observable_index(name) {
        return Some((Quantity::Observable(i), model.observables[i].unit.clone()));
    }
    model
        .state_index(name)
        .map(|i| (Quantity::State(i), model.states[i].unit.clone()))
}

fn compile_grading(
    model: &Model,
    g: &GradingFile,
    key: &str,
    loc: &Locator,
) -> Result<Grading, ModelError> {
    let name = g.observable.get_ref();
    let (quantity, unit) = quantity_of(model, name).ok_or_else(|| {
        loc.at(
            &g.observable,
            format!("toxicity.{key}.observable: `{name}` is neither an observable nor a state"),
        )
    })?;
    let list = |v: &Spanned<Vec<Spanned<f64>>>, what: &str| -> Result<[f64; 4], ModelError> {
        let k = format!("toxicity.{key}.{what}");
        let xs = v.get_ref();
        if xs.len() != 4 {
            return Err(loc.at(
                v,
                format!("{k}: expected 4 values (grades 1-4), got {}", xs.len()),
            ));
        }
        let mut out = [0.0; 4];
        for (i, x) in xs.iter().enumerate() {
            let val = *x.get_ref();
            if !val.is_finite() {
                return Err(loc.at(x, format!("{k}: value {val} is not finite")));
            }
            if val < 0.0 {
                return Err(loc.at(x, format!("{k}: value {val} is negative")));
            }
            out[i] = val;
        }
        Ok(out)
    };
    let thresholds = list(&g.thresholds, "thresholds")?;
    for i in 1..4 {
        if thresholds[i] <= thresholds[i - 1] {
            return Err(loc.at(
                &g.thresholds.get_ref()[i],
                format!(
                    "toxicity.{key}.thresholds: thresholds must ascend ({} after {})",
                    thresholds[i],
                    thresholds[i - 1]
                ),
            ));
        }
    }
    let min_duration = match &g.min_duration {
        None => [0.0; 4],
        Some(v) => list(v, "min_duration")?,
    };
    let sources = match &g.sources {
        None => vec![g.source.clone(); 4],
        Some(s) if s.get_ref().len() == 4 => s.get_ref().clone(),
        Some(s) => {
            return Err(loc.at(
                s,
                format!(
                    "toxicity.{key}.sources: expected 4 sources (grades 1-4), got {}",
                    s.get_ref().len()
                ),
            ))
        }
    };
    Ok(Grading {
        name: name.clone(),
        quantity,
        unit: if g.unit.is_empty() {
            unit
        } else {
            g.unit.clone()
        },
        thresholds,
        min_duration,
        source: g.source.clone(),
        sources,
    })
}

/// Parse `crs >= 2 || icans >= 2`.
fn parse_trigger(text: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for part in text.split("||") {
        let p = part.trim();
        let (lhs, rhs) = p
            .split_once(">=")
            .ok_or_else(|| format!("`{p}` is not of the form `crs >= N` or `icans >= N`"))?;
        let crs = match lhs.trim() {
            "crs" => true,
            "icans" => false,
            other => return Err(format!("`{other}` is neither `crs` nor `icans`")),
        };
        let n: u8 = rhs
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=4).contains(n))
            .ok_or_else(|| format!("grade `{}` is not 1, 2, 3 or 4", rhs.trim()))?;
        terms.push(Term { crs, grade: n });
    }
    Ok(terms)
}

/// Compile the toxicity sections into `model` (called by the model compiler once the rest of the
/// model exists).
pub(crate) fn compile_into(
    model: &mut Model,
    tox: Option<&ToxicityFile>,
    interventions: &[InterventionFile],
    loc: &Locator,
) -> Result<(), ModelError> {
    if let Some(t) = tox {
        let window = finite_nonneg(loc, &t.window, "toxicity.window", true)?;
        let alarm_window = finite_nonneg(loc, &t.alarm_window, "toxicity.alarm_window", true)?;
        let crs = match &t.crs {
            None => None,
            Some(g) => Some(compile_grading(model, g, "crs", loc)?),
        };
        let icans = match &t.icans {
            None => None,
            Some(g) => Some(compile_grading(model, g, "icans", loc)?),
        };
        let il6 = match &t.il6 {
            None => None,
            Some(n) => Some(
                quantity_of(model, n.get_ref())
                    .ok_or_else(|| {
                        loc.at(
                            n,
                            format!(
                                "toxicity.il6: `{}` is neither an observable nor a state",
                                n.get_ref()
                            ),
                        )
                    })?
                    .0,
            ),
        };
        model.toxicity = Some(Toxicity {
            window,
            alarm_window,
            note: t.note.clone(),
            il6,
            crs,
            icans,
        });
    }
    let param_resolver = |m: &Model| {
        let slots: Vec<(String, usize)> = m
            .parameters
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), m.param_slot(i)))
            .collect();
        move |n: &str| slots.iter().find(|(s, _)| s == n).map(|(_, i)| *i)
    };
    let resolve = param_resolver(model);
    let value_expr =
        |v: &Spanned<toml::Value>, key: &str| -> Result<(expr::Node, String), ModelError> {
            match v.get_ref() {
                toml::Value::Float(x) => Ok((expr::Node::Const(*x), x.to_string())),
                toml::Value::Integer(i) => Ok((expr::Node::Const(*i as f64), i.to_string())),
                toml::Value::String(s) => {
                    let spanned = Spanned::new(v.span(), s.clone());
                    let ast = expr::parse(s).map_err(|e| loc.in_expr(&spanned, &e, key))?;
                    let node = ast.compile(&resolve).map_err(|e| {
                        let e = expr::ExprError {
                            pos: e.pos,
                            message: format!("{} (only parameters may appear here)", e.message),
                        };
                        loc.in_expr(&spanned, &e, key)
                    })?;
                    Ok((node, s.clone()))
                }
                _ => Err(loc.at(
                    v,
                    format!("{key}: expected a number or an expression string"),
                )),
            }
        };
    let mut out: Vec<Intervention> = Vec::new();
    for iv in interventions {
        let name = iv.name.get_ref().clone();
        if !expr::is_identifier(&name)
            && !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(loc.at(
                &iv.name,
                format!("interventions.name: `{name}` must be letters, digits, _ or -"),
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(loc.at(
                &iv.name,
                format!("interventions.name: duplicate intervention `{name}`"),
            ));
        }
        let key = format!("interventions.{name}");
        let terms = parse_trigger(iv.trigger.get_ref())
            .map_err(|e| loc.at(&iv.trigger, format!("{key}.trigger: {e}")))?;
        for term in &terms {
            let declared = model.toxicity.as_ref().is_some_and(|t| {
                if term.crs {
                    t.crs.is_some()
                } else {
                    t.icans.is_some()
                }
            });
            if !declared {
                let which = if term.crs { "crs" } else { "icans" };
                return Err(loc.at(
                    &iv.trigger,
                    format!(
                        "{key}.trigger: `{which}` is graded only with a [toxicity.{which}] section"
                    ),
                ));
            }
        }
        let delay = finite_nonneg(loc, &iv.delay, &format!("{key}.delay"), false)?.unwrap_or(0.0);
        let duration = finite_nonneg(loc, &iv.duration, &format!("{key}.duration"), true)?;
        let mut set = Vec::new();
        for (p, v) in &iv.set {
            let k = format!("{key}.set.{p}");
            let idx = model
                .parameter_index(p)
                .ok_or_else(|| loc.at(v, format!("{k}: `{p}` is not a parameter")))?;
            let (node, text) = value_expr(v, &k)?;
            set.push((idx, node, text));
        }
        let mut add = Vec::new();
        for (s, v) in &iv.add {
            let k = format!("{key}.add.{s}");
            let idx = model
                .state_index(s)
                .ok_or_else(|| loc.at(v, format!("{k}: `{s}` is not a state")))?;
            let (node, text) = value_expr(v, &k)?;
            add.push((idx, node, text));
        }
        if set.is_empty() && add.is_empty() {
            return Err(loc.at(
                &iv.name,
                format!("{key}: no effect (give `set` and/or `add`)"),
            ));
        }
        out.push(Intervention {
            name,
            description: iv.description.clone(),
            trigger_text: iv.trigger.get_ref().clone(),
            trigger: terms,
            delay,
            duration,
            set,
            add,
            source: iv.source.clone(),
        });
    }
    model.interventions = out;
    Ok(())
}
