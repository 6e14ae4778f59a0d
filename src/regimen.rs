//! Regimen: what is given to the patient and when — infusion dose and schedule, lymphodepletion
//! (an initial-condition effect), bridging therapy — plus per-run parameter and initial-state
//! overrides. Inputs have the same names everywhere (flags, CSV columns, JSON): `dose` (cells),
//! `dose_per_kg` (cells/kg), `weight` (kg), `tumor_burden` (cells), `ld`, `bridging` (fraction),
//! `schedule` (`day:fraction,...`), any parameter name, and `<state>_0`.

pub use crate::error::InputError;
use crate::error::Result;
use crate::model::Model;

fn bad<T>(name: &str, msg: impl Into<String>) -> Result<T> {
    Err(InputError {
        name: name.to_string(),
        message: msg.into(),
    }
    .into())
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

/// The number in `text` (finite or not: the typed setters check that).
fn parse_number(name: &str, text: &str) -> Result<f64> {
    let t = text.trim();
    if t.is_empty() {
        return bad(name, format!("`{name}` is empty"));
    }
    t.parse::<f64>()
        .or_else(|_| bad(name, format!("`{name}` = `{t}` is not a number")))
}

fn finite(name: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        bad(name, format!("`{name}` = {v} is not a finite number"))
    }
}

fn non_negative(name: &str, v: f64) -> Result<f64> {
    let v = finite(name, v)?;
    if v < 0.0 {
        return bad(name, format!("`{name}` = {v} must not be negative"));
    }
    Ok(v)
}

impl Inputs {
    /// A builder of inputs for `model`: typed setters, each validated at once.
    ///
    /// ```
    /// let model = cartox::Model::default_model();
    /// let inputs = cartox::Inputs::builder(&model)
    ///     .dose(1e8)?
    ///     .ld("flu-cy")?
    ///     .param("k_act", 0.5)?
    ///     .build();
    /// assert_eq!(inputs.dose, Some(1e8));
    /// assert!(cartox::Inputs::builder(&model).param("no_such", 1.0).is_err());
    /// # Ok::<(), cartox::Error>(())
    /// ```
    pub fn builder(model: &Model) -> InputsBuilder<'_> {
        InputsBuilder {
            model,
            inputs: Inputs::default(),
        }
    }

    /// Set the total infused dose, CAR-T cells (finite, >= 0).
    pub fn set_dose(&mut self, cells: f64) -> Result<()> {
        self.dose = Some(non_negative("dose", cells)?);
        Ok(())
    }

    /// Set the dose per kg of body weight, CAR-T cells/kg (finite, >= 0; needs a `weight`).
    pub fn set_dose_per_kg(&mut self, cells_per_kg: f64) -> Result<()> {
        self.dose_per_kg = Some(non_negative("dose_per_kg", cells_per_kg)?);
        Ok(())
    }

    /// Set the body weight, kg (finite, > 0).
    pub fn set_weight(&mut self, kg: f64) -> Result<()> {
        let w = non_negative("weight", kg)?;
        if w == 0.0 {
            return bad("weight", "`weight` must be above 0 kg");
        }
        self.weight = Some(w);
        Ok(())
    }

    /// Set the tumor burden at lymphodepletion, cells (finite, >= 0).
    pub fn set_tumor_burden(&mut self, cells: f64) -> Result<()> {
        self.tumor_burden = Some(non_negative("tumor_burden", cells)?);
        Ok(())
    }

    /// Set the bridging therapy: fraction of the tumor removed before infusion, in [0, 1).
    pub fn set_bridging(&mut self, fraction: f64) -> Result<()> {
        let b = non_negative("bridging", fraction)?;
        if b >= 1.0 {
            return bad(
                "bridging",
                format!("`bridging` = {b} must be a fraction in [0, 1)"),
            );
        }
        self.bridging = Some(b);
        Ok(())
    }

    /// Choose a lymphodepletion regimen declared by the model (`[[lymphodepletion]]` name).
    pub fn set_ld(&mut self, model: &Model, name: &str) -> Result<()> {
        let ld = name.trim();
        if model.ld_regimen(ld).is_none() {
            let known: Vec<&str> = model
                .lymphodepletion
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            return bad(
                "ld",
                format!(
                    "unknown lymphodepletion regimen `{ld}` (model `{}` declares: {})",
                    model.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        self.ld = Some(ld.to_string());
        Ok(())
    }

    /// Set a split infusion: (day, fraction of the total dose), days >= 0 and increasing,
    /// fractions >= 0 summing to 1 (as [`parse_schedule`] reads it).
    pub fn set_schedule(&mut self, schedule: Vec<(f64, f64)>) -> Result<()> {
        check_schedule(&schedule, |k| {
            format!("{}:{}", schedule[k].0, schedule[k].1)
        })?;
        self.schedule = Some(schedule);
        Ok(())
    }

    /// Override a parameter of the model (by name; within its declared bounds).
    pub fn set_param(&mut self, model: &Model, name: &str, value: f64) -> Result<()> {
        let Some(i) = model.parameter_index(name) else {
            return bad(
                name,
                format!(
                "unknown parameter `{name}`: model `{}` has no such parameter (see `cartox describe {}`)",
                model.name, model.name
            ));
        };
        let v = finite(name, value)?;
        check_bounds(model, i, v)?;
        self.params.retain(|(j, _)| *j != i);
        self.params.push((i, v));
        Ok(())
    }

    /// Override the initial value of a state of the model (by state name, without `_0`).
    pub fn set_initial(&mut self, model: &Model, state: &str, value: f64) -> Result<()> {
        let Some(i) = model.state_index(state) else {
            return bad(
                &format!("{state}_0"),
                format!(
                "unknown state `{state}`: model `{}` has no such state (see `cartox describe {}`)",
                model.name, model.name
            ),
            );
        };
        let v = finite(&format!("{state}_0"), value)?;
        self.initial.retain(|(j, _)| *j != i);
        self.initial.push((i, v));
        Ok(())
    }

    /// Set one input by name from text (flags, CSV cells), validating it against the model: the
    /// text is read as a number (or regimen name, or schedule) and handed to the typed setter.
    pub fn set(&mut self, model: &Model, name: &str, text: &str) -> Result<()> {
        match name {
            "dose" => self.set_dose(parse_number(name, text)?),
            "dose_per_kg" => self.set_dose_per_kg(parse_number(name, text)?),
            "weight" => self.set_weight(parse_number(name, text)?),
            "tumor_burden" => self.set_tumor_burden(parse_number(name, text)?),
            "bridging" => self.set_bridging(parse_number(name, text)?),
            "ld" => self.set_ld(model, text),
            "schedule" => self.set_schedule(parse_schedule(text)?),
            _ => {
                if model.parameter_index(name).is_some() {
                    self.set_param(model, name, parse_number(name, text)?)
                } else if let Some(state) = name
                    .strip_suffix("_0")
                    .filter(|s| model.state_index(s).is_some())
                {
                    self.set_initial(model, state, parse_number(name, text)?)
                } else {
                    bad(
                        name,
                        format!(
                        "unknown name `{name}`: not a parameter, `<state>_0` or regimen input of model `{}` (see `cartox describe {}`)",
                        model.name, model.name
                    ))
                }
            }
        }
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

/// Typed construction of [`Inputs`] for one model (see [`Inputs::builder`]). Every setter
/// validates its value (and names against the model) and returns the builder, or an
/// [`InputError`] naming the input.
#[derive(Debug, Clone)]
pub struct InputsBuilder<'m> {
    model: &'m Model,
    inputs: Inputs,
}

impl InputsBuilder<'_> {
    /// Total infused dose, CAR-T cells.
    pub fn dose(mut self, cells: f64) -> Result<Self> {
        self.inputs.set_dose(cells)?;
        Ok(self)
    }
    /// Dose per kg of body weight, CAR-T cells/kg.
    pub fn dose_per_kg(mut self, cells_per_kg: f64) -> Result<Self> {
        self.inputs.set_dose_per_kg(cells_per_kg)?;
        Ok(self)
    }
    /// Body weight, kg.
    pub fn weight(mut self, kg: f64) -> Result<Self> {
        self.inputs.set_weight(kg)?;
        Ok(self)
    }
    /// Lymphodepletion regimen declared by the model.
    pub fn ld(mut self, name: &str) -> Result<Self> {
        self.inputs.set_ld(self.model, name)?;
        Ok(self)
    }
    /// Tumor burden at lymphodepletion, cells.
    pub fn tumor_burden(mut self, cells: f64) -> Result<Self> {
        self.inputs.set_tumor_burden(cells)?;
        Ok(self)
    }
    /// Bridging therapy: fraction of the tumor removed before infusion, in [0, 1).
    pub fn bridging(mut self, fraction: f64) -> Result<Self> {
        self.inputs.set_bridging(fraction)?;
        Ok(self)
    }
    /// Split infusion: (day, fraction of the total dose), fractions summing to 1.
    pub fn schedule(mut self, schedule: Vec<(f64, f64)>) -> Result<Self> {
        self.inputs.set_schedule(schedule)?;
        Ok(self)
    }
    /// Override a parameter by name.
    pub fn param(mut self, name: &str, value: f64) -> Result<Self> {
        self.inputs.set_param(self.model, name, value)?;
        Ok(self)
    }
    /// Override a state's initial value by state name.
    pub fn initial(mut self, state: &str, value: f64) -> Result<Self> {
        self.inputs.set_initial(self.model, state, value)?;
        Ok(self)
    }
    /// Any input by name from text, as [`Inputs::set`].
    pub fn set(mut self, name: &str, text: &str) -> Result<Self> {
        self.inputs.set(self.model, name, text)?;
        Ok(self)
    }
    /// The inputs.
    pub fn build(self) -> Inputs {
        self.inputs
    }
}

fn check_bounds(model: &Model, i: usize, v: f64) -> Result<()> {
    let p = &model.parameters[i];
    if let Some(l) = p.lower {
        if v < l {
            return bad(
                &p.name,
                format!("`{}` = {v} is below its lower bound {l}", p.name),
            );
        }
    }
    if let Some(u) = p.upper {
        if v > u {
            return bad(
                &p.name,
                format!("`{}` = {v} is above its upper bound {u}", p.name),
            );
        }
    }
    Ok(())
}

/// Parse `day:fraction,day:fraction,...` (`;` also separates entries); fractions must sum to 1.
pub fn parse_schedule(text: &str) -> Result<Vec<(f64, f64)>> {
    let parts: Vec<&str> = text
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for part in &parts {
        let Some((d, f)) = part.split_once(':') else {
            return bad(
                "schedule",
                format!("schedule entry `{part}` is not `day:fraction`"),
            );
        };
        let day = non_negative("schedule day", parse_number("schedule day", d)?)?;
        let frac = non_negative("schedule fraction", parse_number("schedule fraction", f)?)?;
        out.push((day, frac));
        check_schedule_entry(&out, part)?;
    }
    check_schedule(&out, |k| parts[k].to_string())?;
    Ok(out)
}

/// The checks on the last entry of a schedule being built.
fn check_schedule_entry(s: &[(f64, f64)], label: &str) -> Result<()> {
    let k = s.len() - 1;
    let (day, frac) = s[k];
    non_negative("schedule day", day)?;
    non_negative("schedule fraction", frac)?;
    if k > 0 && day <= s[k - 1].0 {
        return bad(
            "schedule",
            format!("schedule days must increase (`{label}`)"),
        );
    }
    Ok(())
}

/// Days finite, >= 0 and increasing; fractions finite, >= 0, summing to 1; not empty.
fn check_schedule(s: &[(f64, f64)], label: impl Fn(usize) -> String) -> Result<()> {
    for k in 0..s.len() {
        check_schedule_entry(&s[..=k], &label(k))?;
    }
    if s.is_empty() {
        return bad("schedule", "schedule is empty");
    }
    let total: f64 = s.iter().map(|(_, f)| f).sum();
    if (total - 1.0).abs() > 1e-9 {
        return bad(
            "schedule",
            format!("schedule fractions sum to {total}, not 1"),
        );
    }
    Ok(())
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
    pub fn prepare(model: &Model, inputs: &Inputs) -> Result<Scenario> {
        let mut params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
        for &(i, v) in &inputs.params {
            params[i] = v;
        }
        if let Some(h) = model.regimen.as_ref() {
            if let Some(wp) = h.weight_parameter {
                let name = &model.parameters[wp].name;
                if inputs.params.iter().any(|&(i, _)| i == wp) {
                    return bad(
                        name,
                        format!("`{name}` is the body weight (regimen.weight_parameter): set `weight` (kg) instead"),
                    );
                }
                if let Some(w) = inputs.weight.or(h.weight) {
                    params[wp] = w;
                }
            }
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
                    return bad(
                        name,
                        format!(
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
                            return bad(
                                "tumor_burden",
                                format!(
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
                None => {
                    return bad(
                        "bridging",
                        "`bridging` needs regimen.tumor_state in the model",
                    )
                }
            }
        }

        let ld = inputs
            .ld
            .clone()
            .or_else(|| hooks.and_then(|h| h.ld.clone()));
        if let Some(name) = &ld {
            let Some(regimen) = model.ld_regimen(name) else {
                return bad("ld", format!("unknown lymphodepletion regimen `{name}`"));
            };
            v[1..1 + n].copy_from_slice(&initial);
            for (i, expr, _) in &regimen.changes {
                initial[*i] = expr.eval(&v);
            }
        }
        for (s, x) in model.states.iter().zip(&initial) {
            if !x.is_finite() {
                return bad(
                    &format!("{}_0", s.name),
                    format!("initial value of state `{}` is not finite ({x})", s.name),
                );
            }
        }

        let (mut infusions, mut dose_factor, mut dose_state, mut total) = (vec![], 0.0, None, 0.0);
        if let Some(h) = hooks {
            let weight = inputs.weight.or(h.weight);
            let per_kg = |x: f64| -> Result<f64> {
                match weight {
                    Some(w) => Ok(x * w),
                    None => bad("dose_per_kg", "`dose_per_kg` needs `weight` (kg)"),
                }
            };
            total = match (inputs.dose, inputs.dose_per_kg) {
                (Some(_), Some(_)) => {
                    return bad("dose", "give `dose` (cells) or `dose_per_kg`, not both")
                }
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
                return bad(
                    "dose",
                    format!("regimen.dose_factor evaluates to {dose_factor}"),
                );
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
