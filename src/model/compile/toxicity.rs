//! Stage 5: the toxicity rules: `[toxicity]` (modelled CRS/ICANS risk grading) and
//! `[[interventions]]` (rescue therapies triggered by the grades), with errors naming the key.
//! See `docs/toxicity.md`.

use crate::expr;
use crate::model::location::Locator;
use crate::model::rules::{DrugKind, Grading, Intervention, Term, Toxicity};
use crate::model::spec::{GradingSpec, InterventionSpec, ToxicitySpec};
use crate::model::{Model, ModelError, Quantity};
use toml::Spanned;

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
    g: &GradingSpec,
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

/// Parse `crs >= 2 || icans >= 2`; `param` finds the parameter an `if NAME` gate names.
pub(in crate::model) fn parse_trigger(
    text: &str,
    param: &dyn Fn(&str) -> Option<usize>,
) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for part in text.split("||") {
        let p = part.trim();
        let (lhs, rhs) = p.split_once(">=").ok_or_else(|| {
            format!("`{p}` is not of the form `crs >= N` or `icans >= N` (optionally `for D d`, `before D d`, `if PARAMETER`)")
        })?;
        let crs = match lhs.trim() {
            "crs" => true,
            "icans" => false,
            other => return Err(format!("`{other}` is neither `crs` nor `icans`")),
        };
        let mut words = rhs.split_whitespace();
        let g = words.next().unwrap_or("");
        let n: u8 = g
            .parse()
            .ok()
            .filter(|n| (1..=4).contains(n))
            .ok_or_else(|| format!("grade `{g}` is not 1, 2, 3 or 4"))?;
        let mut term = Term::at_least(crs, n);
        let (mut seen_for, mut seen_before, mut seen_if) = (false, false, false);
        while let Some(kw) = words.next() {
            let days = |w: Option<&str>, unit: Option<&str>| -> Result<f64, String> {
                let d: f64 = w
                    .and_then(|w| w.parse().ok())
                    .filter(|d: &f64| d.is_finite() && *d > 0.0)
                    .ok_or_else(|| {
                        format!("`{p}`: `{kw}` needs a duration > 0 (`{kw} 1 d`, `{kw} 8 h`)")
                    })?;
                match unit {
                    Some("d" | "day" | "days") => Ok(d),
                    Some("h" | "hour" | "hours") => Ok(d / 24.0),
                    _ => Err(format!(
                        "`{p}`: `{kw} {}` needs the unit `d` (days) or `h` (hours)",
                        w.unwrap_or("")
                    )),
                }
            };
            match kw {
                "for" if !seen_for => {
                    term.hold = days(words.next(), words.next())?;
                    seen_for = true;
                }
                "before" if !seen_before => {
                    term.before = Some(days(words.next(), words.next())?);
                    seen_before = true;
                }
                "if" if !seen_if => {
                    let name = words.next().unwrap_or("");
                    term.gate = Some(param(name).ok_or_else(|| {
                        format!("`{p}`: `if {name}` needs the name of a parameter")
                    })?);
                    seen_if = true;
                }
                _ => {
                    return Err(format!(
                        "`{p}`: unexpected `{kw}` (a term is `crs >= N`, then optionally `for D d`, `before D d` and `if PARAMETER`, once each)"
                    ))
                }
            }
        }
        terms.push(term);
    }
    Ok(terms)
}

/// Every term names a syndrome the model grades.
fn check_graded<T>(
    toxicity: &Option<Toxicity>,
    terms: &[Term],
    at: &Spanned<T>,
    key: &str,
    loc: &Locator,
) -> Result<(), ModelError> {
    for term in terms {
        let declared = toxicity.as_ref().is_some_and(|t| {
            if term.crs {
                t.crs.is_some()
            } else {
                t.icans.is_some()
            }
        });
        if !declared {
            let which = if term.crs { "crs" } else { "icans" };
            return Err(loc.at(
                at,
                format!("{key}: `{which}` is graded only with a [toxicity.{which}] section"),
            ));
        }
    }
    Ok(())
}

/// Compile the toxicity sections against the rest of the model (already compiled).
pub(super) fn rules(
    model: &Model,
    tox: Option<&ToxicitySpec>,
    interventions: &[InterventionSpec],
    loc: &Locator,
) -> Result<(Option<Toxicity>, Vec<Intervention>), ModelError> {
    let mut toxicity = None;
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
        toxicity = Some(Toxicity {
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
    let value_expr = |v: &Spanned<toml::Value>,
                      key: &str|
     -> Result<(expr::Node, String), ModelError> {
        super::value_or_expr(loc, v, key, |spanned| {
            let ast = expr::parse(spanned.get_ref()).map_err(|e| loc.in_expr(spanned, &e, key))?;
            ast.compile(&resolve).map_err(|e| {
                let e = expr::ExprError {
                    pos: e.pos,
                    message: format!("{} (only parameters may appear here)", e.message),
                };
                loc.in_expr(spanned, &e, key)
            })
        })
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
        let param = |n: &str| model.parameter_index(n);
        let terms = parse_trigger(iv.trigger.get_ref(), &param)
            .map_err(|e| loc.at(&iv.trigger, format!("{key}.trigger: {e}")))?;
        check_graded(
            &toxicity,
            &terms,
            &iv.trigger,
            &format!("{key}.trigger"),
            loc,
        )?;
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
        let repeat_every =
            finite_nonneg(loc, &iv.repeat_every, &format!("{key}.repeat_every"), false)?;
        if repeat_every == Some(0.0) {
            let v = iv.repeat_every.as_ref().expect("given");
            return Err(loc.at(v, format!("{key}.repeat_every: must be above 0 days")));
        }
        let max_doses = match &iv.max_doses {
            None => 1,
            Some(m) if *m.get_ref() == 0 => {
                return Err(loc.at(m, format!("{key}.max_doses: must be at least 1")))
            }
            Some(m) if *m.get_ref() > 1 && repeat_every.is_none() => {
                return Err(loc.at(
                    m,
                    format!("{key}.max_doses: more than one dose needs `repeat_every` (days)"),
                ))
            }
            Some(m) => *m.get_ref(),
        };
        let repeat_while = match &iv.repeat_while {
            None => terms.clone(),
            Some(w) => {
                let t = parse_trigger(w.get_ref(), &param)
                    .map_err(|e| loc.at(w, format!("{key}.repeat_while: {e}")))?;
                check_graded(&toxicity, &t, w, &format!("{key}.repeat_while"), loc)?;
                t
            }
        };
        let kind = match &iv.kind {
            None => None,
            Some(k) => Some(match k.get_ref().as_str() {
                "tocilizumab" => DrugKind::Tocilizumab,
                "steroid" => DrugKind::Steroid,
                other => {
                    return Err(loc.at(
                        k,
                        format!("{key}.kind: `{other}` is neither `tocilizumab` nor `steroid`"),
                    ))
                }
            }),
        };
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
            repeat_every,
            max_doses,
            repeat_while,
            kind,
            source: iv.source.clone(),
        });
    }
    Ok((toxicity, out))
}
