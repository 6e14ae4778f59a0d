//! Regimen: what is given to the patient and when — infusion dose and schedule, lymphodepletion
//! (an initial-condition effect), bridging therapy — plus per-run parameter and initial-state
//! overrides. Inputs have the same names everywhere (flags, CSV columns, JSON): `dose` (cells),
//! `dose_per_kg` (cells/kg), `weight` (kg), `tumor_burden` (cells), `ld`, `bridging` (fraction),
//! `schedule` (`day:fraction,...`), any parameter name, and `<state>_0`.

use crate::model::Model;
use std::fmt;

/// An input that could not be used; the caller adds where it came from (flag, file, row, column).
#[derive(Debug, Clone, PartialEq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn bad<T>(msg: impl Into<String>) -> Result<T, InputError> {
    Err(InputError(msg.into()))
}

/// The regimen input names (besides parameters and `<state>_0`).
pub const REGIMEN_INPUTS: &[&str] = &[
    "dose",
    "dose_per_kg",
    "weight",
    "tumor_burden",
    "ld",
    "bridging",
    "schedule",
];

/// Per-run inputs; anything unset falls back to the model file's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// (parameter index, value)
    pub params: Vec<(usize, f64)>,
    /// (state index, initial value) from `<state>_0`
    pub initial: Vec<(usize, f64)>,
    pub dose: Option<f64>,
    pub dose_per_kg: Option<f64>,
    pub weight: Option<f64>,
    pub tumor_burden: Option<f64>,
    pub ld: Option<String>,
    pub bridging: Option<f64>,
    /// Split infusion: (day, fraction of the total dose)
    pub schedule: Option<Vec<(f64, f64)>>,
}

fn number(name: &str, text: &str) -> Result<f64, InputError> {
    let t = text.trim();
    if t.is_empty() {
        return bad(format!("`{name}` is empty"));
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => bad(format!("`{name}` = {v} is not a finite number")),
        Err(_) => bad(format!("`{name}` = `{t}` is not a number")),
    }
}

fn non_negative(name: &str, text: &str) -> Result<f64, InputError> {
    let v = number(name, text)?;
    if v < 0.0 {
        return bad(format!("`{name}` = {v} must not be negative"));
    }
    Ok(v)
}

impl Inputs {
    /// Set one input by name from text, validating it against the model.
    pub fn set(&mut self, model: &Model, name: &str, text: &str) -> Result<(), InputError> {
        match name {
            "dose" => self.dose = Some(non_negative(name, text)?),
            "dose_per_kg" => self.dose_per_kg = Some(non_negative(name, text)?),
            "weight" => {
                let w = non_negative(name, text)?;
                if w == 0.0 {
                    return bad("`weight` must be above 0 kg");
                }
                self.weight = Some(w)
            }
            "tumor_burden" => self.tumor_burden = Some(non_negative(name, text)?),
            "bridging" => {
                let b = non_negative(name, text)?;
                if b >= 1.0 {
                    return bad(format!("`bridging` = {b} must be a fraction in [0, 1)"));
                }
                self.bridging = Some(b)
            }
            "ld" => {
                let ld = text.trim();
                if model.ld_regimen(ld).is_none() {
                    let known: Vec<&str> = model
                        .lymphodepletion
                        .iter()
                        .map(|l| l.name.as_str())
                        .collect();
                    return bad(format!(
                        "unknown lymphodepletion regimen `{ld}` (model `{}` declares: {})",
                        model.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ));
                }
                self.ld = Some(ld.to_string())
            }
            "schedule" => self.schedule = Some(parse_schedule(text)?),
            _ => {
                if let Some(i) = model.parameter_index(name) {
                    let v = number(name, text)?;
                    check_bounds(model, i, v)?;
                    self.params.retain(|(j, _)| *j != i);
                    self.params.push((i, v));
                } else if let Some(i) = name.strip_suffix("_0").and_then(|s| model.state_index(s)) {
                    let v = number(name, text)?;
                    self.initial.retain(|(j, _)| *j != i);
                    self.initial.push((i, v));
                } else {
                    return bad(format!(
                        "unknown name `{name}`: not a parameter, `<state>_0` or regimen input of model `{}` (see `cartox describe {}`)",
                        model.name, model.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// True when `name` is an input `set` accepts for this model.
    pub fn accepts(model: &Model, name: &str) -> bool {
        REGIMEN_INPUTS.contains(&name)
            || model.parameter_index(name).is_some()
            || name
                .strip_suffix("_0")
                .is_some_and(|s| model.state_index(s).is_some())
    }
}

fn check_bounds(model: &Model, i: usize, v: f64) -> Result<(), InputError> {
    let p = &model.parameters[i];
    if let Some(l) = p.lower {
        if v < l {
            return bad(format!("`{}` = {v} is below its lower bound {l}", p.name));
        }
    }
    if let Some(u) = p.upper {
        if v > u {
            return bad(format!("`{}` = {v} is above its upper bound {u}", p.name));
        }
    }
    Ok(())
}

/// Parse `day:fraction,day:fraction,...`; fractions must sum to 1.
pub fn parse_schedule(text: &str) -> Result<Vec<(f64, f64)>, InputError> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for part in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((d, f)) = part.split_once(':') else {
            return bad(format!("schedule entry `{part}` is not `day:fraction`"));
        };
        let day = non_negative("schedule day", d)?;
        let frac = non_negative("schedule fraction", f)?;
        if out.last().is_some_and(|(prev, _)| day <= *prev) {
            return bad(format!("schedule days must increase (`{part}`)"));
        }
        out.push((day, frac));
    }
    if out.is_empty() {
        return bad("schedule is empty");
    }
    let total: f64 = out.iter().map(|(_, f)| f).sum();
    if (total - 1.0).abs() > 1e-9 {
        return bad(format!("schedule fractions sum to {total}, not 1"));
    }
    Ok(out)
}

/// One infusion: time (days) and amount (cells).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Infusion {
    pub day: f64,
    pub cells: f64,
}

/// Everything the solver needs for one run, resolved from the model and the inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Parameter values, in model order.
    pub params: Vec<f64>,
    /// State values at day 0, after bridging and lymphodepletion, before the first infusion.
    pub initial: Vec<f64>,
    pub infusions: Vec<Infusion>,
    /// State units per infused cell.
    pub dose_factor: f64,
    pub dose_state: Option<usize>,
    pub ld: Option<String>,
    /// Value of the summary tumor quantity before bridging and lymphodepletion.
    pub tumor_baseline_state: Option<f64>,
    pub total_dose: f64,
}

impl Scenario {
    /// Resolve inputs against the model's defaults.
    pub fn prepare(model: &Model, inputs: &Inputs) -> Result<Scenario, InputError> {
        let mut params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
        for &(i, v) in &inputs.params {
            params[i] = v;
        }
        let mut v = model.slots_with_params(&params);
        let n = model.n_states();
        let mut initial: Vec<f64> = model.states.iter().map(|s| s.initial.eval(&v)).collect();
        for &(i, x) in &inputs.initial {
            initial[i] = x;
        }

        let hooks = model.regimen.as_ref();
        if hooks.is_none() {
            for (name, given) in [
                (
                    "dose",
                    inputs.dose.is_some() || inputs.dose_per_kg.is_some(),
                ),
                ("tumor_burden", inputs.tumor_burden.is_some()),
                ("ld", inputs.ld.is_some()),
                ("bridging", inputs.bridging.is_some()),
                ("schedule", inputs.schedule.is_some()),
                ("weight", inputs.weight.is_some()),
            ] {
                if given {
                    return bad(format!(
                        "`{name}` cannot be used: model `{}` declares no [regimen]; set initial states with `<state>_0`",
                        model.name
                    ));
                }
            }
        }
        if let Some(h) = hooks {
            if let Some(tb) = inputs.tumor_burden.or(h.tumor_burden) {
                match h.tumor_state {
                    Some(ts) => initial[ts] = tb * h.tumor_factor.eval(&v),
                    None => {
                        if inputs.tumor_burden.is_some() {
                            return bad(format!(
                                "`tumor_burden` cannot be used: model `{}` declares no regimen.tumor_state",
                                model.name
                            ));
                        }
                    }
                }
            }
        }
        let tumor_of = |y: &[f64], v: &mut Vec<f64>| -> Option<f64> {
            match model.summary_tumor? {
                crate::model::Quantity::State(i) => Some(y[i]),
                crate::model::Quantity::Observable(i) => {
                    let mut obs = vec![0.0; model.observables.len()];
                    model.observe(v, 0.0, y, &mut obs);
                    Some(obs[i])
                }
            }
        };
        let tumor_baseline_state = tumor_of(&initial, &mut v);

        if let (Some(b), Some(h)) = (inputs.bridging, hooks) {
            match h.tumor_state {
                Some(ts) => initial[ts] *= 1.0 - b,
                None => return bad("`bridging` needs regimen.tumor_state in the model"),
            }
        }

        let ld = inputs
            .ld
            .clone()
            .or_else(|| hooks.and_then(|h| h.ld.clone()));
        if let Some(name) = &ld {
            let Some(regimen) = model.ld_regimen(name) else {
                return bad(format!("unknown lymphodepletion regimen `{name}`"));
            };
            v[1..1 + n].copy_from_slice(&initial);
            for (i, expr, _) in &regimen.changes {
                initial[*i] = expr.eval(&v);
            }
        }
        for (s, x) in model.states.iter().zip(&initial) {
            if !x.is_finite() {
                return bad(format!(
                    "initial value of state `{}` is not finite ({x})",
                    s.name
                ));
            }
        }

        let (mut infusions, mut dose_factor, mut dose_state, mut total) = (vec![], 0.0, None, 0.0);
        if let Some(h) = hooks {
            let weight = inputs.weight.or(h.weight);
            let per_kg = |x: f64| -> Result<f64, InputError> {
                match weight {
                    Some(w) => Ok(x * w),
                    None => bad("`dose_per_kg` needs `weight` (kg)"),
                }
            };
            total = match (inputs.dose, inputs.dose_per_kg) {
                (Some(_), Some(_)) => return bad("give `dose` (cells) or `dose_per_kg`, not both"),
                (Some(d), None) => d,
                (None, Some(x)) => per_kg(x)?,
                (None, None) => match (h.dose, h.dose_per_kg) {
                    (Some(d), _) => d,
                    (None, Some(x)) => per_kg(x)?,
                    (None, None) => 0.0,
                },
            };
            let schedule = inputs.schedule.clone().unwrap_or_else(|| vec![(0.0, 1.0)]);
            infusions = schedule
                .iter()
                .filter(|(_, f)| *f > 0.0)
                .map(|&(day, f)| Infusion {
                    day,
                    cells: total * f,
                })
                .collect();
            dose_factor = h.dose_factor.eval(&v);
            dose_state = Some(h.dose_state);
            if !dose_factor.is_finite() || dose_factor < 0.0 {
                return bad(format!("regimen.dose_factor evaluates to {dose_factor}"));
            }
        }
        Ok(Scenario {
            params,
            initial,
            infusions,
            dose_factor,
            dose_state,
            ld,
            tumor_baseline_state,
            total_dose: total,
        })
    }
}
