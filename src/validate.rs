//! Clinical validation of the product presets (`cartox validate`): each preset's `[validation]`
//! table lists published figures with an accepted range; this module simulates the preset (and its
//! virtual population, when one is declared) and reports every target as within range or a miss.
//!
//! ```toml
//! [[validation.targets]]
//! metric = "cart_tmax"     # see below
//! published = 9.0
//! low = 7.0                # accepted range, inclusive
//! high = 14.0
//! unit = "day"
//! source = "literature.md 2.1: ZUMA-1 Tmax 7-14 d [M]"
//! tolerance = "why the range is what it is"
//! [validation.population]  # virtual patients for the population metrics
//! n = 200
//! seed = 1
//! ```
//!
//! Metrics:
//! - any numeric [`Run::metrics`](crate::Run::metrics) name (`cart_tmax`, `cart_cmax`, `il6_peak`,
//!   `crs_onset`, ...) of the typical patient (the preset's parameter values);
//! - `cart_dayN`: the CAR-T blood level (the model's `[summary] cart` quantity) at day N;
//! - population metrics over the virtual patients: `crs_any_incidence` (modelled CRS grade >= 1),
//!   `crs_severe_incidence` (grade >= 3), `icans_any_incidence`, `icans_severe_incidence`
//!   (fractions 0-1), `crs_onset_median`, `icans_onset_median` (days, among patients with the
//!   event), and `<metric>_median` for any numeric run metric (e.g. `cart_tmax_median`);
//!   `tocilizumab_incidence`, `steroid_incidence` (shares given the drug under the preset's
//!   management protocol), `crs_duration_median`, `icans_duration_median` (among patients with
//!   the syndrome),
//!   `complete_response_incidence`, `objective_response_incidence` (best response within the
//!   window; at the trial's scheduled visits when the preset's `[response]` declares `visits`,
//!   [`crate::summary::visits`]), `b_cell_aplasia_incidence`, and `<metric>_responder_ratio` (geometric mean in complete
//!   responders over the rest, e.g. `cart_cmax_transgene_responder_ratio`);
//! - `<incidence>_in_crs` for any incidence above: the share among the virtual patients with
//!   modelled CRS grade >= 1 within the window, i.e. (patients with CRS and the event) /
//!   (patients with CRS), as trials report CRS management (e.g. `tocilizumab_incidence_in_crs`,
//!   `steroid_incidence_in_crs`: drug given, for any reason, to a patient who had CRS); the row's
//!   `n` is the number with CRS, and the value is empty when nobody had CRS.
//!
//! Each target may say `sample = "in"` (used in a calibration) or `"out"`; the report counts both.
//! A simulated fraction carries its Monte Carlo standard error sqrt(p (1 - p) / n) ([`Row::mc_se`],
//! CSV column `mc_se`); the text report says how many fractions lie within two of them of a range
//! edge, where the flag is not settled by the population's size (docs/presets.md, ninth session).
//! A target's `unit` must be the unit in which the model reports the metric ([`metric_unit`]), so a
//! figure is always compared in the unit it was published in.
//!
//! Virtual patients are drawn as in `cartox population` ([`crate::sweep::population::Design`]:
//! patient `i` from its own random stream), run in parallel and collected in order, so the report
//! does not depend on the thread count. Modelled grades are risk surrogates, not ASTCT grades.

use crate::error::{Error, InputError, ModelError};
use crate::many::{simulate_many_with, Batch};
use crate::model::{Model, Quantity, BUNDLED};
use crate::output::{csv_line, fmt_num};
use crate::run::{run, Metric, Run, RunOptions};
use crate::summary::visits;
use crate::sweep::population::{Design, WEIGHT_CV};
use crate::trajectory::Reader;
use crate::Inputs;
use crate::Result;
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationFile {
    #[serde(default)]
    targets: Vec<Target>,
    population: Option<Population>,
}

/// One published figure and its accepted range.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub metric: String,
    pub published: f64,
    pub low: f64,
    pub high: f64,
    #[serde(default)]
    pub unit: String,
    pub source: String,
    /// Why the accepted range is what it is.
    #[serde(default)]
    pub tolerance: String,
    /// `in`: the figure was used in a calibration (the preset's or the default model's);
    /// `out`: an out-of-sample check. Empty when the file does not say.
    #[serde(default)]
    pub sample: String,
}

/// The virtual population declared by a preset.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub n: usize,
    pub seed: u64,
}

/// A preset's validation spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub targets: Vec<Target>,
    pub population: Option<Population>,
}

impl Spec {
    /// Read a model's `[validation]` table (`None` when it has none).
    pub fn of(model: &Model) -> Result<Option<Spec>> {
        let Some(t) = &model.validation else {
            return Ok(None);
        };
        let raw: ValidationFile = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e| model_err(&model.source, format!("[validation]: {e}")))?;
        for (i, t) in raw.targets.iter().enumerate() {
            if t.low.partial_cmp(&t.high).is_none_or(|o| o.is_gt()) || !t.published.is_finite() {
                return Err(model_err(
                    &model.source,
                    format!(
                        "validation.targets[{i}] ({}): needs finite published and low <= high",
                        t.metric
                    ),
                ));
            }
            if t.source.trim().is_empty() {
                return Err(model_err(
                    &model.source,
                    format!("validation.targets[{i}] ({}): empty source", t.metric),
                ));
            }
            if !matches!(t.sample.as_str(), "" | "in" | "out") {
                return Err(model_err(
&model.source,
format!("validation.targets[{i}] ({}): sample must be \"in\" or \"out\", got \"{}\"", t.metric,
                    t.sample),
));
            }
            if let Some(u) = metric_unit(model, &t.metric) {
                if !t.unit.is_empty() && t.unit != u {
                    return Err(model_err(
&model.source,
format!("validation.targets[{i}] ({}): unit \"{}\" but the model gives this metric in \"{u}\" (compare in the published unit)", t.metric,
                        t.unit),
));
                }
            }
            if is_population_metric(&t.metric) && raw.population.is_none() {
                return Err(model_err(
&model.source,
format!("validation.targets[{i}]: `{}` is a population metric but the preset declares no [validation.population]", t.metric),
));
            }
        }
        if let Some(p) = raw.population {
            if p.n == 0 {
                return Err(model_err(
                    &model.source,
                    "validation.population.n must be at least 1".to_string(),
                ));
            }
        }
        Ok(Some(Spec {
            targets: raw.targets,
            population: raw.population,
        }))
    }
}

/// One line of the validation report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub product: String,
    pub metric: String,
    /// `None` when the model cannot produce the metric (e.g. nobody in the population had CRS).
    pub simulated: Option<f64>,
    pub published: f64,
    pub low: f64,
    pub high: f64,
    pub unit: String,
    pub within: bool,
    /// Virtual patients behind the value (1 for the typical patient).
    pub n: usize,
    pub source: String,
    pub tolerance: String,
    /// `in` (used in a calibration), `out` (out-of-sample) or empty (not stated).
    pub sample: String,
}

impl Row {
    /// Monte Carlo standard error of a simulated population fraction (an `_incidence` or
    /// `_incidence_in_crs` row): sqrt(p (1 - p) / n), the binomial standard error of a share of
    /// `n` independent virtual patients. `None` for the typical patient's metrics, medians and
    /// ratios (no closed form) and for an empty value.
    pub fn mc_se(&self) -> Option<f64> {
        let fraction = self.metric.ends_with("_incidence")
            || self.metric.ends_with(&format!("_incidence{IN_CRS}"));
        let p = self.simulated?;
        (fraction && self.n > 1).then(|| (p * (1.0 - p) / self.n as f64).sqrt())
    }

    /// The simulated fraction lies within two Monte Carlo standard errors of an edge of its
    /// accepted range, so its within/miss flag may change with the population's size or seed.
    pub fn near_edge(&self) -> bool {
        match (self.simulated, self.mc_se()) {
            (Some(p), Some(se)) if se > 0.0 => {
                (p - self.low).abs() < 2.0 * se || (p - self.high).abs() < 2.0 * se
            }
            _ => false,
        }
    }
}

/// The report's Monte Carlo line: how many population fractions sit within two standard errors
/// of a range edge (their flags are not settled by this population's size).
pub fn noise_line(rows: &[Row]) -> String {
    let fractions = rows.iter().filter(|r| r.mc_se().is_some()).count();
    let near: Vec<&Row> = rows.iter().filter(|r| r.near_edge()).collect();
    let (near_in, near_out) = (
        near.iter().filter(|r| r.sample == "in").count(),
        near.iter().filter(|r| r.sample == "out").count(),
    );
    format!(
        "Monte Carlo: {} of {fractions} simulated fractions lie within 2 standard errors \
         (sqrt(p(1-p)/n)) of a range edge ({near_in} in-sample, {near_out} out-of-sample): their \
         flags may change with --n (column mc_se of --out)",
        near.len()
    )
}

fn is_population_metric(m: &str) -> bool {
    m.ends_with("_incidence")
        || m.ends_with("_median")
        || m.ends_with("_responder_ratio")
        || m.ends_with(IN_CRS)
}

fn quantity_unit(model: &Model, q: Option<Quantity>) -> Option<String> {
    match q? {
        Quantity::State(i) => Some(model.states[i].unit.clone()),
        Quantity::Observable(i) => Some(model.observables[i].unit.clone()),
    }
}

/// The unit in which the model reports `metric` (`None` when it is not known here).
pub fn metric_unit(model: &Model, metric: &str) -> Option<String> {
    let cart = || quantity_unit(model, model.summary_cart);
    let tg = || quantity_unit(model, model.summary_transgene);
    if day_of(metric).is_some() {
        return cart();
    }
    if let Some(base) = metric.strip_suffix("_median") {
        return metric_unit(model, base);
    }
    if metric.ends_with("_incidence") || metric.ends_with(&format!("_incidence{IN_CRS}")) {
        return Some("fraction".into());
    }
    if metric.ends_with("_responder_ratio") {
        return Some("ratio".into());
    }
    Some(match metric {
        "cart_cmax" | "cart_last" => cart()?,
        "cart_auc" => format!("{} x day", cart()?),
        "cart_cmax_transgene" => tg()?,
        "cart_auc28_transgene" => format!("{} x day", tg()?),
        "cart_tmax"
        | "cart_tmax_transgene"
        | "crs_onset"
        | "crs_peak_day"
        | "crs_duration"
        | "crs_severe_duration"
        | "icans_onset"
        | "icans_duration"
        | "relapse_day"
        | "steroid_days"
        | "b_cell_recovery_day" => "day".into(),
        "tocilizumab_doses" => "doses".into(),
        "tumor_nadir" | "tumor_end" => "fraction of baseline".into(),
        _ => return None,
    })
}

fn day_of(metric: &str) -> Option<f64> {
    metric
        .strip_prefix("cart_day")
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// The bundled presets (bundled models with a base and a `[validation]` table), sorted by name.
pub fn bundled_presets() -> Vec<String> {
    let mut names: Vec<String> = BUNDLED
        .iter()
        .filter(|(_, text)| {
            text.parse::<toml::Table>()
                .map(|t| t.contains_key("preset") && t.contains_key("validation"))
                .unwrap_or(false)
        })
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    names
}

/// Run options for validation: the model's toxicity windows, long enough for every `cart_dayN`
/// and for the last scheduled response visit (the windows stay the model's).
pub fn run_options(model: &Model, spec: &Spec) -> RunOptions {
    let last_day = spec
        .targets
        .iter()
        .filter_map(|t| day_of(&t.metric))
        .chain(model.response.last_visit())
        .fold(RunOptions::default_window(model), f64::max);
    RunOptions::for_model(model).with_days(model, last_day)
}

fn number(run: &Run, name: &str) -> Option<Option<f64>> {
    run.metrics().into_iter().find_map(|(n, m)| match m {
        Metric::Number(x) if n == name => Some(x),
        _ => None,
    })
}

/// A problem of a model's validation: prints `LABEL: MESSAGE` (LABEL: the model file or name).
fn model_err(label: &str, message: String) -> Error {
    Error::Model(ModelError::plain(label, message))
}

/// A validation input (a target metric) that does not fit the model, named by it.
fn input_err(name: &str, message: String) -> Error {
    Error::Input(InputError {
        name: name.to_string(),
        message,
    })
}

fn cart_at(model: &Model, run: &Run, day: f64) -> Result<f64> {
    let q = model.summary_cart.ok_or_else(|| {
        input_err(
            &format!("cart_day{day}"),
            format!("model `{}` declares no [summary] cart quantity", model.name),
        )
    })?;
    let mut r = Reader::new(model, &run.solution, &run.scenario.params, q);
    Ok(r.at(day))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    Some(if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    })
}

/// Run the virtual population: patient `i` uses `Design::patient(model, seed, i)`; solved
/// through [`crate::many::simulate_many_with`] on the current rayon pool.
pub fn population_runs(model: &Model, pop: Population, opts: &RunOptions) -> Result<Vec<Run>> {
    let design = Design::from_model(model, WEIGHT_CV)?;
    let names = design.names(model);
    let patients = (0..pop.n).map(Ok::<usize, std::convert::Infallible>);
    let batch = Batch {
        jobs: 0,
        chunk: pop.n.max(1),
    };
    let runs = simulate_many_with(model, patients, opts, batch, |i, runner| {
        let mut inputs = Inputs::default();
        for (name, v) in names.iter().zip(design.patient(model, pop.seed, i as u64)) {
            inputs
                .set(model, name, &fmt_num(v))
                .map_err(|e| input_err(name, format!("virtual patient {}: {name}: {e}", i + 1)))?;
        }
        runner.run(&inputs).map_err(|e| {
            model_err(
                &model.name,
                format!("virtual patient {} failed: {e}", i + 1),
            )
        })
    })?;
    runs.flatten().collect()
}

/// Each run's best response as the trial reads it: over the preset's scheduled visits when it
/// declares them, else on the continuous nadir within the window (`best_response`).
fn best_responses(model: &Model, runs: &[Run]) -> Result<Vec<String>> {
    runs.iter()
        .map(|r| {
            if model.response.visits.is_empty() {
                return Ok(text_metric("best_response", r));
            }
            let best = visits::best_at_visits(model, &r.scenario, &r.solution)?;
            Ok(best.map_or("", |b| b.as_str()).to_string())
        })
        .collect()
}

fn text_metric(name: &str, r: &Run) -> String {
    r.metrics()
        .into_iter()
        .find_map(|(n, m)| match m {
            Metric::Text(t) if n == name => Some(t),
            _ => None,
        })
        .unwrap_or_default()
}

/// The suffix of a conditional incidence: `<incidence>_in_crs` is that incidence among the virtual
/// patients with modelled CRS (grade >= 1 within the window), as trials report CRS management.
pub const IN_CRS: &str = "_in_crs";

fn has_crs(r: &Run) -> bool {
    number(r, "crs_grade").flatten().is_some_and(|g| g >= 1.0)
}

/// `<incidence>_in_crs`: the incidence among the patients with modelled CRS grade >= 1, i.e.
/// (patients with CRS and the event) / (patients with CRS); `None` when nobody had CRS.
fn in_crs_value(metric: &str, runs: &[&Run], best: &[String]) -> Result<Option<f64>> {
    let base = metric.strip_suffix(IN_CRS).unwrap_or_default();
    let unknown = || {
        input_err(
            metric,
            format!(
                "unknown population metric `{metric}` (`{IN_CRS}` takes an incidence metric, e.g. `tocilizumab_incidence{IN_CRS}`)"
            ),
        )
    };
    if !base.ends_with("_incidence") {
        return Err(unknown());
    }
    let (crs_runs, crs_best): (Vec<&Run>, Vec<String>) = runs
        .iter()
        .zip(best)
        .filter(|(r, _)| has_crs(r))
        .map(|(r, b)| (*r, b.clone()))
        .unzip();
    // The base name is checked on the whole population, so an unknown name is an error even
    // when nobody had CRS.
    population_value(base, runs, best).map_err(|_| unknown())?;
    if crs_runs.is_empty() {
        return Ok(None);
    }
    population_value(base, &crs_runs, &crs_best)
}

fn population_value(metric: &str, runs: &[&Run], best: &[String]) -> Result<Option<f64>> {
    if metric.ends_with(IN_CRS) {
        return in_crs_value(metric, runs, best);
    }
    let grade = |name: &str, r: &Run| number(r, name).flatten();
    let incidence = |name: &str, at_least: f64| -> Option<f64> {
        let hit = runs
            .iter()
            .filter(|r| grade(name, r).is_some_and(|g| g >= at_least))
            .count();
        Some(hit as f64 / runs.len() as f64)
    };
    // Best response (trials report best response), run by run.
    let share = |pred: &dyn Fn(&Run) -> bool| -> Option<f64> {
        Some(runs.iter().filter(|r| pred(r)).count() as f64 / runs.len() as f64)
    };
    let share_best = |pred: &dyn Fn(&str) -> bool| -> Option<f64> {
        Some(best.iter().filter(|b| pred(b)).count() as f64 / runs.len() as f64)
    };
    Ok(match metric {
        "complete_response_incidence" => share_best(&|b| b == "complete"),
        "objective_response_incidence" => share_best(&|b| matches!(b, "complete" | "partial")),
        "b_cell_aplasia_incidence" => share(&|r: &Run| {
            r.metrics()
                .into_iter()
                .any(|(n, m)| n == "b_cell_aplasia" && m == Metric::Flag(true))
        }),
        "crs_any_incidence" => incidence("crs_grade", 1.0),
        "crs_severe_incidence" => incidence("crs_grade", 3.0),
        "icans_any_incidence" => incidence("icans_grade", 1.0),
        "icans_severe_incidence" => incidence("icans_grade", 3.0),
        // Share of patients given the drug under the preset's management protocol.
        "tocilizumab_incidence" => incidence("tocilizumab_doses", 1.0),
        "steroid_incidence" => share(&|r: &Run| grade("steroid_days", r).is_some_and(|d| d > 0.0)),
        // Durations are reported among the patients with the syndrome.
        "crs_duration_median" | "icans_duration_median" => {
            let which = metric.split('_').next().unwrap_or_default();
            median(
                runs.iter()
                    .filter(|r| grade(&format!("{which}_grade"), r).is_some_and(|g| g >= 1.0))
                    .filter_map(|r| grade(&format!("{which}_duration"), r))
                    .collect(),
            )
        }
        _ if metric.ends_with("_responder_ratio") => {
            // Geometric mean of a metric in complete responders over that in the others
            // (Mueller 2018: Cmax and AUC0-28 in responders vs non-responders).
            let base = metric.strip_suffix("_responder_ratio").unwrap_or_default();
            if runs.first().and_then(|r| number(r, base)).is_none() {
                return Err(input_err(
                    metric,
                    format!("unknown metric `{base}` in `{metric}` (not a numeric run metric)"),
                ));
            }
            let gm = |want: bool| -> Option<f64> {
                let v: Vec<f64> = runs
                    .iter()
                    .zip(best)
                    .filter(|(_, b)| (b.as_str() == "complete") == want)
                    .filter_map(|(r, _)| grade(base, r))
                    .filter(|x| *x > 0.0)
                    .map(f64::ln)
                    .collect();
                (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64).exp())
            };
            match (gm(true), gm(false)) {
                (Some(a), Some(b)) => Some(a / b),
                _ => None,
            }
        }
        _ => {
            let Some(base) = metric.strip_suffix("_median") else {
                return Err(input_err(
                    metric,
                    format!("unknown population metric `{metric}`"),
                ));
            };
            if runs.first().and_then(|r| number(r, base)).is_none() {
                return Err(input_err(
                    metric,
                    format!("unknown metric `{base}` in `{metric}` (not a numeric run metric)"),
                ));
            }
            median(runs.iter().filter_map(|r| grade(base, r)).collect())
        }
    })
}

/// Validate one preset: one row per declared target, in declaration order. `n` overrides the
/// population size.
pub fn validate_model(model: &Model, n: Option<usize>) -> Result<Vec<Row>> {
    let Some(spec) = Spec::of(model)? else {
        return Err(input_err(
            "validation",
            format!("model `{}` has no [validation] table", model.name),
        ));
    };
    let opts = run_options(model, &spec);
    let typical = run(model, &Inputs::default(), &opts)
        .map_err(|e| model_err(&model.name, format!("typical patient failed: {e}")))?;
    let pop = spec.population.map(|p| Population {
        n: n.unwrap_or(p.n),
        ..p
    });
    let needs_pop = spec.targets.iter().any(|t| is_population_metric(&t.metric));
    let runs = match pop {
        Some(p) if needs_pop => population_runs(model, p, &opts)?,
        _ => Vec::new(),
    };
    let best = best_responses(model, &runs)?;
    let mut rows = Vec::with_capacity(spec.targets.len());
    for t in &spec.targets {
        let (simulated, count) = if let Some(day) = day_of(&t.metric) {
            (Some(cart_at(model, &typical, day)?), 1)
        } else if is_population_metric(&t.metric) {
            let all: Vec<&Run> = runs.iter().collect();
            let count = if t.metric.ends_with(IN_CRS) {
                runs.iter().filter(|r| has_crs(r)).count()
            } else {
                runs.len()
            };
            (population_value(&t.metric, &all, &best)?, count)
        } else {
            match number(&typical, &t.metric) {
                Some(v) => (v, 1),
                None => {
                    return Err(model_err(
                        &model.name,
                        format!(
                            "validation target `{}` is not a numeric run metric, `cart_dayN` or a population metric",
                            t.metric
                        ),
                    ))
                }
            }
        };
        rows.push(Row {
            product: model.name.clone(),
            metric: t.metric.clone(),
            simulated,
            published: t.published,
            low: t.low,
            high: t.high,
            unit: t.unit.clone(),
            within: simulated.is_some_and(|v| v >= t.low && v <= t.high),
            n: count,
            source: t.source.clone(),
            tolerance: t.tolerance.clone(),
            sample: t.sample.clone(),
        });
    }
    Ok(rows)
}

/// Validate presets by bundled name or path (all bundled presets when `names` is empty).
pub fn validate(names: &[String], n: Option<usize>) -> Result<Vec<Row>> {
    let names = if names.is_empty() {
        bundled_presets()
    } else {
        names.to_vec()
    };
    let mut rows = Vec::new();
    for name in &names {
        let model = Model::resolve(name)?;
        rows.extend(
            validate_model(&model, n)
                .map_err(|e| model_err(&format!("validating `{name}`"), e.to_string()))?,
        );
    }
    Ok(rows)
}

/// Number formatting for the report: 4 significant digits.
pub fn fmt_value(x: f64) -> String {
    if x == 0.0 || (1e-3..1e5).contains(&x.abs()) {
        let s = format!(
            "{:.*}",
            (3 - x.abs().log10().floor().max(-3.0) as i32).max(0) as usize,
            x
        );
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.3e}")
    }
}

const HEADER: [&str; 9] = [
    "product",
    "metric",
    "simulated",
    "published",
    "range",
    "unit",
    "within",
    "sample",
    "source",
];

/// The report's last line: totals, then in-sample and out-of-sample counts.
pub fn counts_line(rows: &[Row]) -> String {
    let count = |f: &dyn Fn(&Row) -> bool| {
        let all: Vec<&Row> = rows.iter().filter(|r| f(r)).collect();
        (all.len(), all.iter().filter(|r| r.within).count())
    };
    let (n, w) = count(&|_| true);
    let (ni, wi) = count(&|r| r.sample == "in");
    let (no, wo) = count(&|r| r.sample == "out");
    let mut s = format!(
        "{n} targets, {w} within range, {} misses; in-sample {wi}/{ni} within, out-of-sample {wo}/{no} within",
        n - w
    );
    let unstated = n - ni - no;
    if unstated > 0 {
        s.push_str(&format!(", {unstated} not marked"));
    }
    s.push_str(
        " (modelled values vs published figures; grades are modelled risk, not ASTCT grades)",
    );
    s
}

/// The report as an aligned text table, then the count of misses.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.product.clone(),
                r.metric.clone(),
                r.simulated.map_or("-".into(), fmt_value),
                fmt_value(r.published),
                format!("{}-{}", fmt_value(r.low), fmt_value(r.high)),
                r.unit.clone(),
                if r.within { "yes" } else { "no" }.into(),
                if r.sample.is_empty() { "-" } else { &r.sample }.into(),
                r.source.clone(),
            ]
        })
        .collect();
    let mut width = HEADER.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| -> String {
        let mut s = String::new();
        for (k, (w, v)) in width.iter().zip(c).enumerate() {
            if k == 8 {
                s.push_str(v);
            } else if (2..=4).contains(&k) {
                s.push_str(&format!("{v:>w$}  "));
            } else {
                s.push_str(&format!("{v:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADER.map(String::from));
    for c in &cells {
        out.push_str(&line(c));
    }
    out.push('\n');
    if rows.iter().any(|r| r.mc_se().is_some()) {
        out.push_str(&noise_line(rows));
        out.push('\n');
    }
    out.push_str(&counts_line(rows));
    out.push('\n');
    out
}

/// The report as CSV.
pub fn write_csv(rows: &[Row], w: &mut dyn Write) -> Result<()> {
    w.write_all(
        csv_line([
            "product",
            "metric",
            "simulated",
            "published",
            "low",
            "high",
            "unit",
            "within",
            "sample",
            "n",
            "mc_se",
            "source",
            "tolerance",
        ])
        .as_bytes(),
    )?;
    for r in rows {
        let cells = [
            r.product.clone(),
            r.metric.clone(),
            r.simulated.map_or(String::new(), fmt_num),
            fmt_num(r.published),
            fmt_num(r.low),
            fmt_num(r.high),
            r.unit.clone(),
            if r.within { "yes" } else { "no" }.into(),
            r.sample.clone(),
            r.n.to_string(),
            r.mc_se().map_or(String::new(), fmt_num),
            r.source.clone(),
            r.tolerance.clone(),
        ];
        w.write_all(csv_line(cells.iter().map(String::as_str)).as_bytes())?;
    }
    Ok(())
}
