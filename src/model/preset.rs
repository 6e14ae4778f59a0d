//! Product presets: a file that names a base model and overrides its parameter values, default
//! dose, weight, tumor burden and lymphodepletion (e.g. `models/axi-cel.toml` over `cartox`).
//!
//! ```toml
//! [preset]
//! name = "axi-cel"
//! base = "cartox"                      # bundled model name, or a path relative to this file
//! title = "..."
//! description = "..."
//! [[references]]                       # appended to the base model's
//! citation = "..."
//! [parameters]                         # value overrides; an unknown name is an error
//! rho_E = { value = 0.55, source = "fitted to ZUMA-1 Moffitt medians" }
//! [regimen]                            # default-input overrides
//! dose_per_kg = 2e6
//! ld = "flu-cy"
//! [response]                           # the trial's response criteria (model::response)
//! criteria = "IMWG 2016"
//! complete_below = 1e-2
//! partial_below = 0.5
//! source = "..."
//! visits = [28, 90, 180]               # optional: the trial's assessment days (model::response)
//! visits_source = "..."
//! [validation]                         # free-form targets read by `cartox validate`
//! ```

use super::location::Locator;
use super::{spec::Reference, Model, ModelError};
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    preset: Meta,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    parameters: IndexMap<String, Spanned<Override>>,
    regimen: Option<RegimenOverride>,
    management: Option<ManagementSpec>,
    response: Option<Spanned<ResponseSpec>>,
    validation: Option<toml::Table>,
}

/// `[response]`: the trial's published response criteria as cut-points on the tumor relative to
/// its baseline (see [`super::response`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    /// Criteria name and cut-points; each defaults to the base model's (a preset that only
    /// declares its trial's visits keeps the base criteria).
    criteria: Option<String>,
    complete_below: Option<f64>,
    partial_below: Option<f64>,
    #[serde(default)]
    source: String,
    /// Scheduled assessment visits, days after infusion (optional).
    visits: Option<Spanned<Vec<f64>>>,
    /// Consecutive visits a category must hold at (optional, default 1).
    confirm: Option<Spanned<usize>>,
    #[serde(default)]
    visits_source: String,
}

/// `[management]`: the trial's grading scale and its intervention rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagementSpec {
    scale: String,
    #[serde(default)]
    source: String,
    /// Per intervention of the base model: a new trigger, dose limit or repeat rule.
    #[serde(default)]
    interventions: IndexMap<String, Spanned<PolicyOverride>>,
    /// The trial scale's CRS grade cut-points on the base model's CRS observable.
    crs: Option<Spanned<ScaleThresholds>>,
}

/// `[management.crs]`: where the trial scale's grades 1-4 fall on the base model's graded
/// quantity (e.g. Penn grade 3 at the level of the base scale's grade 2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleThresholds {
    thresholds: Vec<f64>,
    source: String,
    #[serde(default)]
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyOverride {
    trigger: Option<Spanned<String>>,
    repeat_while: Option<Spanned<String>>,
    max_doses: Option<Spanned<u32>>,
    #[serde(default)]
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    base: Spanned<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    value: f64,
    #[serde(default)]
    source: String,
    omega2: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegimenOverride {
    dose: Option<f64>,
    dose_per_kg: Option<f64>,
    weight: Option<f64>,
    tumor_burden: Option<Spanned<f64>>,
    ld: Option<Spanned<String>>,
    #[serde(default)]
    source: String,
}

/// True when the text is a preset (has a top-level `[preset]` table).
pub(super) fn is_preset(text: &str) -> bool {
    text.parse::<toml::Table>()
        .map(|t| t.contains_key("preset"))
        .unwrap_or(false)
}

/// Load a preset: its base model with the overrides applied.
pub(super) fn load(text: &str, label: &str, depth: usize) -> Result<Model, ModelError> {
    let loc = Locator::new(label, text);
    let raw: PresetFile = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
    if depth > 4 {
        return Err(loc.at(
            &raw.preset.base,
            "preset.base: presets nest too deeply".into(),
        ));
    }
    let base_name = raw.preset.base.get_ref();
    let mut model = if super::BUNDLED.iter().any(|(n, _)| n == base_name) {
        Model::resolve(base_name)
    } else {
        let dir = std::path::Path::new(label)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        Model::load(&dir.join(base_name))
    }
    .map_err(|e| loc.at(&raw.preset.base, format!("preset.base `{base_name}`: {e}")))?;

    for (name, o) in &raw.parameters {
        let Some(i) = model.parameter_index(name) else {
            return Err(loc.at(
                o,
                format!(
                    "parameters.{name}: `{name}` is not a parameter of base model `{}`",
                    model.name
                ),
            ));
        };
        let v = o.get_ref().value;
        let p = &mut model.parameters[i];
        if !v.is_finite() || p.lower.is_some_and(|l| v < l) || p.upper.is_some_and(|u| v > u) {
            return Err(loc.at(
                o,
                format!("parameters.{name}: value {v} is not finite or outside its bounds"),
            ));
        }
        p.value = v;
        if !o.get_ref().source.is_empty() {
            p.source = o.get_ref().source.clone();
        }
        if let Some(w) = o.get_ref().omega2 {
            if p.bernoulli {
                return Err(loc.at(
                    o,
                    format!("parameters.{name}: a bernoulli draw has no omega2"),
                ));
            }
            p.omega2 = Some(w);
        }
        if p.bernoulli && !(0.0..=1.0).contains(&v) {
            return Err(loc.at(
                o,
                format!(
                    "parameters.{name}: a bernoulli draw's value is its probability, in [0, 1]"
                ),
            ));
        }
    }
    if let Some(r) = &raw.regimen {
        let lds: Vec<String> = model
            .lymphodepletion
            .iter()
            .map(|l| l.name.clone())
            .collect();
        let Some(hooks) = model.regimen.as_mut() else {
            return Err(ModelError::plain(
                label,
                format!("regimen: base model `{base_name}` has no [regimen]"),
            ));
        };
        if r.dose.is_some() || r.dose_per_kg.is_some() {
            hooks.dose = r.dose;
            hooks.dose_per_kg = r.dose_per_kg;
        }
        if r.weight.is_some() {
            hooks.weight = r.weight;
        }
        if let Some(tb) = &r.tumor_burden {
            hooks.tumor_burden = Some(*tb.get_ref());
        }
        if let Some(ld) = &r.ld {
            if !lds.contains(ld.get_ref()) {
                return Err(loc.at(
                    ld,
                    format!(
                        "regimen.ld: `{}` is not a regimen of `{base_name}` ({})",
                        ld.get_ref(),
                        lds.join(", ")
                    ),
                ));
            }
            hooks.ld = Some(ld.get_ref().clone());
        }
        if !r.source.is_empty() {
            hooks.source = r.source.clone();
        }
    }
    if let Some(m) = &raw.management {
        apply_management(&mut model, m, &loc)?;
    }
    if let Some(r) = &raw.response {
        let spec = r.get_ref();
        let base = &model.response;
        let cut_points_given = spec.complete_below.is_some() || spec.partial_below.is_some();
        if (cut_points_given || spec.criteria.is_some()) && spec.source.trim().is_empty() {
            return Err(loc.at(
                r,
                "response.source: criteria or cut-points need a source".to_string(),
            ));
        }
        let criteria = super::response::ResponseCriteria {
            criteria: spec
                .criteria
                .clone()
                .unwrap_or_else(|| base.criteria.clone()),
            complete_below: spec.complete_below.unwrap_or(base.complete_below),
            partial_below: spec.partial_below.unwrap_or(base.partial_below),
            source: if cut_points_given || spec.criteria.is_some() {
                spec.source.clone()
            } else {
                base.source.clone()
            },
            visits: spec
                .visits
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
            confirm: spec.confirm.as_ref().map_or(1, |c| *c.get_ref()),
            visits_source: spec.visits_source.clone(),
        };
        criteria.check().map_err(|e| loc.at(r, e))?;
        criteria
            .check_visits()
            .map_err(|e| match (&spec.visits, &spec.confirm) {
                (_, Some(c)) if e.starts_with("response.confirm") => loc.at(c, e),
                (Some(v), _) => loc.at(v, e),
                _ => loc.at(r, e),
            })?;
        model.response = criteria;
    }
    model.base = Some(model.name.clone());
    model.name = raw.preset.name;
    if !raw.preset.title.is_empty() {
        model.title = raw.preset.title;
    }
    if !raw.preset.description.is_empty() {
        model.description = raw.preset.description;
    }
    model.references.extend(raw.references);
    model.validation = raw.validation;
    model.source = label.to_string();
    Ok(model)
}

/// Replace the base model's intervention rules by the trial's (`[management.interventions.X]`).
fn apply_management(
    model: &mut Model,
    m: &ManagementSpec,
    loc: &Locator,
) -> Result<(), ModelError> {
    use super::compile::toxicity::parse_trigger;
    for (name, o) in &m.interventions {
        let key = format!("management.interventions.{name}");
        let Some(iv) = model.interventions.iter_mut().find(|iv| &iv.name == name) else {
            return Err(loc.at(
                o,
                format!("{key}: `{name}` is not an intervention of the base model"),
            ));
        };
        let o = o.get_ref();
        let names: Vec<String> = model.parameters.iter().map(|p| p.name.clone()).collect();
        let param = |n: &str| names.iter().position(|p| p == n);
        let parse = |t: &Spanned<String>, what: &str| {
            parse_trigger(t.get_ref(), &param).map_err(|e| loc.at(t, format!("{key}.{what}: {e}")))
        };
        if let Some(t) = &o.trigger {
            let terms = parse(t, "trigger")?;
            if o.repeat_while.is_none() && iv.repeat_while == iv.trigger {
                iv.repeat_while = terms.clone();
            }
            iv.trigger = terms;
            iv.trigger_text = t.get_ref().clone();
        }
        if let Some(t) = &o.repeat_while {
            iv.repeat_while = parse(t, "repeat_while")?;
        }
        if let Some(n) = &o.max_doses {
            let v = *n.get_ref();
            if v == 0 || (v > 1 && iv.repeat_every.is_none()) {
                return Err(loc.at(
                    n,
                    format!("{key}.max_doses: must be at least 1, and 1 unless the intervention repeats"),
                ));
            }
            iv.max_doses = v;
        }
        if !o.source.is_empty() {
            iv.source = format!("{} Trial protocol: {}", iv.source, o.source);
        }
    }
    if let Some(c) = &m.crs {
        let t = &c.get_ref().thresholds;
        let ok = t.len() == 4
            && t.iter().all(|v| v.is_finite() && *v > 0.0)
            && t.windows(2).all(|w| w[0] <= w[1]);
        if !ok {
            return Err(loc.at(
                c,
                "management.crs.thresholds: four finite, positive, ascending cut-points (grades 1-4) are needed".into(),
            ));
        }
        let Some(g) = model.toxicity.as_mut().and_then(|t| t.crs.as_mut()) else {
            return Err(loc.at(
                c,
                "management.crs: the base model grades no CRS ([toxicity.crs])".into(),
            ));
        };
        g.thresholds = [t[0], t[1], t[2], t[3]];
        g.source = format!("{} ({})", c.get_ref().source, m.scale);
        g.sources = c.get_ref().sources.clone();
    }
    model.management = Some(super::rules::Management {
        scale: m.scale.clone(),
        source: m.source.clone(),
    });
    Ok(())
}
