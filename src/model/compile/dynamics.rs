//! Stage 3: the dynamics: states and their initial values, assignments in dependency order,
//! one equation per state, observables, breakpoints and time-scheduled events.

use super::names::Scope;
use super::{Context, ModelSpec};
use crate::expr::Node;
use crate::model::spec::{self, Meta};
use crate::model::{Derived, EventTarget, ModelError, State, StateEvent, TimedEvent};
use toml::Spanned;

/// `[[states]]`: initial values are numbers or expressions of parameters.
pub(super) fn states(raw: &[spec::State], cx: &Context) -> Result<Vec<State>, ModelError> {
    let mut states = Vec::with_capacity(raw.len());
    for s in raw {
        let what = format!("initial value of state `{}`", s.name.get_ref());
        let (initial, initial_text) = cx.value_or_expr(&s.initial, Scope::Parameters, &what)?;
        states.push(State {
            name: s.name.get_ref().clone(),
            unit: s.unit.clone(),
            description: s.description.clone(),
            initial,
            initial_text,
        });
    }
    Ok(states)
}

/// `[[assignments]]` and the solutions of `[[algebraic]]` rules, sorted by dependency (a cycle
/// is an error), with their slots.
pub(super) fn assignments(
    spec: &ModelSpec,
    cx: &Context,
) -> Result<(Vec<Derived>, Vec<usize>), ModelError> {
    let base = 1 + spec.states.len() + spec.parameters.len();
    let na = spec.assignments.len();
    let mut nodes = Vec::new();
    for a in &spec.assignments {
        let (_, node) = cx.expr(
            &a.expr,
            Scope::Dynamic,
            &format!("assignment `{}`", a.name.get_ref()),
        )?;
        nodes.push(node);
    }
    for (j, a) in spec.algebraic.iter().enumerate() {
        nodes.push(super::algebraic::solve(a, base + na + j, cx)?);
    }
    let names: Vec<&str> = spec
        .assignments
        .iter()
        .map(|a| a.name.get_ref().as_str())
        .chain(spec.algebraic.iter().map(|a| a.name.get_ref().as_str()))
        .collect();
    let total = nodes.len();
    let deps: Vec<Vec<usize>> = nodes
        .iter()
        .map(|node| {
            let mut slots = Vec::new();
            node.slots(&mut slots);
            slots
                .into_iter()
                .filter(|s| (base..base + total).contains(s))
                .map(|s| s - base)
                .collect()
        })
        .collect();
    let order = dependency_order(&deps).map_err(|cycle| {
        let path: Vec<&str> = cycle.iter().map(|&i| names[i]).collect();
        let path = format!("{} -> {}", path.join(" -> "), path[0]);
        match cycle.iter().find(|&&i| i >= na) {
            Some(&k) => {
                let a = &spec.algebraic[k - na];
                cx.loc.at(
                    &a.rule,
                    format!(
                        "algebraic.{}.rule: solved for `{}`, it depends on itself through \
                         {path} (coupled algebraic rules are not supported)",
                        names[k], names[k]
                    ),
                )
            }
            None => cx.loc.at(
                &spec.assignments[cycle[0]].expr,
                format!("assignment cycle: {path}"),
            ),
        }
    })?;
    let mut assignments = Vec::new();
    let mut slots = Vec::new();
    for &i in &order {
        assignments.push(if i < na {
            let a = &spec.assignments[i];
            Derived {
                name: a.name.get_ref().clone(),
                unit: a.unit.clone(),
                description: a.description.clone(),
                expr: nodes[i].clone(),
                text: a.expr.get_ref().clone(),
            }
        } else {
            let a = &spec.algebraic[i - na];
            Derived {
                name: a.name.get_ref().clone(),
                unit: a.unit.clone(),
                description: a.description.clone(),
                expr: nodes[i].clone(),
                text: format!("solution of 0 = {}", a.rule.get_ref()),
            }
        });
        slots.push(base + i);
    }
    Ok((assignments, slots))
}

/// `[equations]`: exactly one right-hand side per state, in state order (with its text).
pub(super) fn equations(
    spec: &ModelSpec,
    cx: &Context,
) -> Result<(Vec<Node>, Vec<String>), ModelError> {
    let n = spec.states.len();
    let mut equations = Vec::with_capacity(n);
    let mut texts = Vec::with_capacity(n);
    for (key, text) in &spec.equations {
        if super::state_index(spec, key).is_none() {
            return Err(cx
                .loc
                .at(text, format!("equations.{key}: `{key}` is not a state")));
        }
    }
    for s in &spec.states {
        let name = s.name.get_ref();
        let Some(text) = spec.equations.get(name) else {
            return Err(cx.loc.at(
                &s.name,
                format!("state `{name}` has no equation in [equations]"),
            ));
        };
        let (_, node) = cx.expr(text, Scope::Dynamic, &format!("equations.{name}"))?;
        equations.push(node);
        texts.push(text.get_ref().clone());
    }
    Ok((equations, texts))
}

/// `[[observables]]`, then the assignments and parameters marked `observe = true` (each read
/// from its slot).
pub(super) fn observables(spec: &ModelSpec, cx: &Context) -> Result<Vec<Derived>, ModelError> {
    let raw = &spec.observables;
    let mut observables = Vec::new();
    for o in raw {
        let (_, node) = cx.expr(
            &o.expr,
            Scope::Dynamic,
            &format!("observable `{}`", o.name.get_ref()),
        )?;
        observables.push(Derived {
            name: o.name.get_ref().clone(),
            unit: o.unit.clone(),
            description: o.description.clone(),
            expr: node,
            text: o.expr.get_ref().clone(),
        });
    }
    for a in spec.assignments.iter().filter(|a| a.observe) {
        let name = a.name.get_ref();
        let own = Spanned::new(a.name.span(), name.clone());
        let (_, node) = cx.expr(&own, Scope::Dynamic, &format!("assignment `{name}`"))?;
        observables.push(Derived {
            name: name.clone(),
            unit: a.unit.clone(),
            description: a.description.clone(),
            expr: node,
            text: name.clone(),
        });
    }
    for a in spec.algebraic.iter().filter(|a| a.observe) {
        let name = a.name.get_ref();
        let own = Spanned::new(a.name.span(), name.clone());
        let (_, node) = cx.expr(&own, Scope::Dynamic, &format!("algebraic `{name}`"))?;
        observables.push(Derived {
            name: name.clone(),
            unit: a.unit.clone(),
            description: a.description.clone(),
            expr: node,
            text: name.clone(),
        });
    }
    for p in spec.parameters.iter().filter(|p| p.observe) {
        let name = p.name.get_ref();
        let own = Spanned::new(p.name.span(), name.clone());
        let (_, node) = cx.expr(&own, Scope::Dynamic, &format!("parameter `{name}`"))?;
        observables.push(Derived {
            name: name.clone(),
            unit: p.unit.clone(),
            description: p.description.clone(),
            expr: node,
            text: name.clone(),
        });
    }
    Ok(observables)
}

/// `model.breakpoints`: times (expressions of parameters) where the right-hand side jumps.
pub(super) fn breakpoints(meta: &Meta, cx: &Context) -> Result<Vec<Node>, ModelError> {
    meta.breakpoints
        .iter()
        .map(|b| Ok(cx.expr(b, Scope::Parameters, "model.breakpoints")?.1))
        .collect()
}

/// A compiled event list (timed and triggered), and each timed event's time value with its key
/// (checked once the whole model exists).
type Events<'s> = (
    Vec<TimedEvent>,
    Vec<StateEvent>,
    Vec<(&'s Spanned<toml::Value>, String)>,
);

/// `[[events]]`: `events.<name>` (or `events[<n>]`, 1-based, when unnamed).
pub(super) fn events<'s>(spec: &'s ModelSpec, cx: &Context) -> Result<Events<'s>, ModelError> {
    let mut events = Vec::new();
    let mut state_events = Vec::new();
    let mut event_times = Vec::new();
    for (i, e) in spec.events.iter().enumerate() {
        let key = match &e.name {
            Some(n) => {
                let name = n.get_ref();
                if name.trim().is_empty() {
                    return Err(cx.loc.at(n, format!("events[{}].name: empty name", i + 1)));
                }
                if spec.events[..i]
                    .iter()
                    .any(|o| o.name.as_ref().is_some_and(|o| o.get_ref() == name))
                {
                    return Err(cx.loc.at(n, format!("events.{name}: duplicate event name")));
                }
                format!("events.{name}")
            }
            None => format!("events[{}]", i + 1),
        };
        let name = e
            .name
            .as_ref()
            .map_or_else(|| format!("event {}", i + 1), |n| n.get_ref().clone());
        let here = || {
            let at = e.name.as_ref().map(|n| n.span());
            let at = at
                .or(e.time.as_ref().map(|t| t.span()))
                .or(e.trigger.as_ref().map(|t| t.span()))
                .unwrap_or(0..0);
            Spanned::new(at, ())
        };
        if e.set.is_empty() {
            return Err(cx
                .loc
                .at(&here(), format!("{key}.set: the event sets no state")));
        }
        let trigger = match (&e.time, &e.trigger) {
            (Some(at), None) => {
                for (v, what) in [
                    (e.delay.is_some(), "delay"),
                    (e.priority.is_some(), "priority"),
                    (!e.persistent, "persistent"),
                    (!e.initial_value, "initial_value"),
                    (!e.values_at_trigger, "values_at_trigger"),
                ] {
                    if v {
                        return Err(cx.loc.at(
                            &here(),
                            format!("{key}.{what}: only an event with a `trigger` takes it"),
                        ));
                    }
                }
                let (time, time_text) =
                    cx.value_or_expr(at, Scope::Parameters, &format!("{key}.time"))?;
                let mut set = Vec::new();
                for (state, v) in &e.set {
                    let skey = format!("{key}.set.{state}");
                    let idx = super::state_index(spec, state)
                        .ok_or_else(|| cx.loc.at(v, format!("{skey}: `{state}` is not a state")))?;
                    let (node, text) = cx.value_or_expr(v, Scope::Dynamic, &skey)?;
                    set.push((idx, node, text));
                }
                event_times.push((at, key.clone()));
                events.push(TimedEvent {
                    name,
                    description: e.description.clone(),
                    source: e.source.clone(),
                    time,
                    time_text,
                    set,
                });
                continue;
            }
            (None, Some(trigger)) => trigger,
            _ => {
                return Err(cx.loc.at(
                    &here(),
                    format!("{key}: give exactly one of `time` and `trigger`"),
                ))
            }
        };
        let trigger_node = cx
            .expr(trigger, Scope::Dynamic, &format!("{key}.trigger"))?
            .1;
        let optional = |v: &Option<Spanned<toml::Value>>, what: &str| {
            v.as_ref()
                .map(|v| {
                    Ok(cx
                        .value_or_expr(v, Scope::Dynamic, &format!("{key}.{what}"))?
                        .0)
                })
                .transpose()
        };
        let mut set = Vec::new();
        for (target, v) in &e.set {
            let skey = format!("{key}.set.{target}");
            let what = match super::state_index(spec, target) {
                Some(i) => EventTarget::State(i),
                None => match spec
                    .parameters
                    .iter()
                    .position(|p| p.name.get_ref() == target)
                {
                    Some(j) => EventTarget::Parameter(j),
                    None => {
                        return Err(cx.loc.at(
                            v,
                            format!("{skey}: `{target}` is not a state or a parameter"),
                        ))
                    }
                },
            };
            let (node, text) = cx.value_or_expr(v, Scope::Dynamic, &skey)?;
            set.push((what, node, text));
        }
        state_events.push(StateEvent {
            name,
            description: e.description.clone(),
            trigger: trigger_node,
            trigger_text: trigger.get_ref().clone(),
            delay: optional(&e.delay, "delay")?,
            priority: optional(&e.priority, "priority")?,
            persistent: e.persistent,
            initial_value: e.initial_value,
            values_at_trigger: e.values_at_trigger,
            set,
        });
    }
    Ok((events, state_events, event_times))
}

/// Topological order of assignments (`deps[i]`: the assignments `i` reads); on a cycle, the
/// indices along it.
fn dependency_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    // 0 = unvisited, 1 = on the path, 2 = done. Depth-first with an explicit stack of
    // (assignment, next dependency to visit), so a long chain of assignments cannot overflow.
    let mut mark = vec![0u8; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..deps.len() {
        if mark[root] != 0 {
            continue;
        }
        mark[root] = 1;
        path.push((root, 0));
        while let Some(top) = path.last_mut() {
            let (i, k) = *top;
            if let Some(&d) = deps[i].get(k) {
                top.1 += 1;
                match mark[d] {
                    0 => {
                        mark[d] = 1;
                        path.push((d, 0));
                    }
                    1 => {
                        let from = path.iter().position(|&(s, _)| s == d).unwrap_or(0);
                        return Err(path[from..].iter().map(|&(s, _)| s).collect());
                    }
                    _ => {}
                }
            } else {
                mark[i] = 2;
                order.push(i);
                path.pop();
            }
        }
    }
    Ok(order)
}
