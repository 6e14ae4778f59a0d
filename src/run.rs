//! One run of the pipeline: inputs -> scenario -> solve -> trajectory -> summary.

use crate::error::{Error, Result};
use crate::model::{Model, TimeUnit};
use crate::regimen::{Inputs, Scenario};
use crate::solve::{self, Solution, SolverOptions};
use crate::summary::{self, CkSummary};
use crate::toxicity;
use crate::trajectory::{output_grid, Samples, Trajectory};

/// Settings shared by every run of a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Simulated span, days after infusion.
    pub days: f64,
    /// Output grid spacing, days.
    pub dt: f64,
    /// Monitoring window for the summary metrics, days (clipped to `days`).
    pub window: f64,
    /// Early-alarm window for the modelled CRS/ICANS risk grades, days (clipped to `window`).
    pub alarm_window: f64,
    /// Fire the model's `[[interventions]]` (tocilizumab, corticosteroids) when their grade
    /// triggers are met.
    pub interventions: bool,
    /// Integration method and tolerances.
    pub solver: SolverOptions,
    /// Unit of the `time` column of [`Run::trajectory`] (day by default; `days`, `dt` and the
    /// windows stay in days). [`RunOptions::in_model_time`] picks the model's own unit.
    pub time_unit: TimeUnit,
    /// How species columns are reported: as the model gives them (default), all as amounts or
    /// all as concentrations (the model's `[concentrations]` and `[amounts]`).
    pub species: SpeciesAs,
}

/// How [`Run::trajectory`] reports species columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpeciesAs {
    /// As the model gives them (SBML: concentration unless `hasOnlySubstanceUnits`).
    #[default]
    Model,
    /// Every species as an amount: a concentration times its compartment's size.
    Amounts,
    /// Every species as a concentration: an amount divided by its compartment's size.
    Concentrations,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            days: 28.0,
            dt: 0.1,
            window: 28.0,
            alarm_window: 14.0,
            interventions: true,
            solver: SolverOptions::default(),
            time_unit: TimeUnit::Day,
            species: SpeciesAs::Model,
        }
    }
}

/// Default simulated span, days.
pub const DEFAULT_DAYS: f64 = 28.0;
/// Monitoring window when the model's `[toxicity]` sets none, days.
pub const DEFAULT_WINDOW: f64 = 28.0;
/// Early-alarm window when the model's `[toxicity]` sets none, days.
pub const DEFAULT_ALARM_WINDOW: f64 = 14.0;

impl RunOptions {
    /// The defaults for `model`: 28 days on a 0.1-day grid, the monitoring and alarm windows of
    /// the model's `[toxicity]` section (`window`, `alarm_window`; else 28 and 14 days), the
    /// window clipped to the span, interventions on, the default solver.
    ///
    /// This is the one place the default windows are worked out (the CLI and `validate` start
    /// from it).
    pub fn for_model(model: &Model) -> RunOptions {
        let tox = model.toxicity.as_ref();
        RunOptions {
            days: DEFAULT_DAYS,
            window: DEFAULT_DAYS.min(Self::default_window(model)),
            alarm_window: tox
                .and_then(|t| t.alarm_window)
                .unwrap_or(DEFAULT_ALARM_WINDOW),
            ..RunOptions::default()
        }
    }

    /// The model's monitoring window (`toxicity.window`, else 28 days), before clipping to a span.
    pub fn default_window(model: &Model) -> f64 {
        model
            .toxicity
            .as_ref()
            .and_then(|t| t.window)
            .unwrap_or(DEFAULT_WINDOW)
    }

    /// The same options over `days` (the default window clipped to it, as [`Self::for_model`]
    /// does for 28 days).
    pub fn with_days(self, model: &Model, days: f64) -> RunOptions {
        RunOptions {
            days,
            window: days.min(Self::default_window(model)),
            ..self
        }
    }

    /// The same options with `time` reported in the model's own time unit (as libRoadRunner
    /// and COPASI report it).
    pub fn in_model_time(self, model: &Model) -> RunOptions {
        RunOptions {
            time_unit: model.time_unit,
            ..self
        }
    }

    /// Reject negative, zero or non-finite spans and steps ([`Error::Options`] naming the option).
    pub fn validate(&self) -> Result<()> {
        self.check().map_err(|(option, message)| Error::Options {
            option: option.to_string(),
            message,
        })
    }

    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.days.is_finite() && self.days > 0.0) {
            return Err((
                "--days",
                format!(
                    "--days must be a positive number of days, got {}",
                    self.days
                ),
            ));
        }
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return Err((
                "--dt",
                format!("--dt must be a positive number of days, got {}", self.dt),
            ));
        }
        if self.dt > self.days {
            return Err((
                "--dt",
                format!("--dt ({}) is longer than --days ({})", self.dt, self.days),
            ));
        }
        if !(self.window.is_finite() && self.window > 0.0) {
            return Err((
                "--window",
                format!(
                    "--window must be a positive number of days, got {}",
                    self.window
                ),
            ));
        }
        if !(self.alarm_window.is_finite() && self.alarm_window > 0.0) {
            return Err((
                "--alarm-window",
                format!(
                    "--alarm-window must be a positive number of days, got {}",
                    self.alarm_window
                ),
            ));
        }
        let s = &self.solver;
        if !(s.rtol.is_finite() && s.rtol > 0.0 && s.rtol < 1.0) {
            return Err((
                "--rtol",
                format!("--rtol must be in (0, 1), got {}", s.rtol),
            ));
        }
        if !(s.atol.is_finite() && s.atol > 0.0) {
            return Err(("--atol", format!("--atol must be > 0, got {}", s.atol)));
        }
        Ok(())
    }
}

/// The result of one run.
pub struct Run {
    /// The inputs resolved against the model (parameters, initial states, infusions).
    pub scenario: Scenario,
    /// The continuous solution (dense output over the simulated span).
    pub solution: Solution,
    /// CAR-T and tumor metrics over the monitoring window.
    pub summary: CkSummary,
    /// Modelled CRS/ICANS risk grades and fired interventions (when the model has `[toxicity]`).
    pub toxicity: Option<toxicity::Report>,
}

/// A named summary value; `None` when the model has no such quantity (empty CSV cell).
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A number (`None`: the model has no such quantity).
    Number(Option<f64>),
    /// A yes/no flag (`alarm`).
    Flag(bool),
    /// Text (`interventions`; empty for a model without `[toxicity]`).
    Text(String),
}

impl Run {
    /// The run's summary metrics in a fixed order, with the names used in the summary JSON and
    /// as sweep columns. Later pipeline stages (toxicity grading) append theirs here.
    pub fn metrics(&self) -> Vec<(&'static str, Metric)> {
        let s = &self.summary;
        let mut m = vec![
            ("cart_cmax", Metric::Number(s.cart_cmax)),
            ("cart_tmax", Metric::Number(s.cart_tmax)),
            ("cart_auc", Metric::Number(s.cart_auc)),
            ("cart_last", Metric::Number(s.cart_last)),
            ("tumor_nadir", Metric::Number(s.tumor_nadir)),
            ("tumor_end", Metric::Number(s.tumor_end)),
            ("cart_cmax_transgene", Metric::Number(s.cart_cmax_transgene)),
            ("cart_tmax_transgene", Metric::Number(s.cart_tmax_transgene)),
            (
                "cart_auc28_transgene",
                Metric::Number(s.cart_auc28_transgene),
            ),
            (
                "b_cell_aplasia",
                match s.b_cell_aplasia {
                    Some(b) => Metric::Flag(b),
                    None => Metric::Text(String::new()),
                },
            ),
            ("b_cell_recovery_day", Metric::Number(s.b_cell_recovery_day)),
            (
                "response",
                Metric::Text(s.response.map_or("", |r| r.as_str()).to_string()),
            ),
            (
                "best_response",
                Metric::Text(s.best_response.map_or("", |r| r.as_str()).to_string()),
            ),
            ("relapse_day", Metric::Number(s.relapse_day)),
        ];
        let t = self.toxicity.as_ref();
        let crs = t.and_then(|t| t.crs.as_ref());
        let icans = t.and_then(|t| t.icans.as_ref());
        m.extend([
            ("crs_grade", Metric::Number(crs.map(|g| g.grade as f64))),
            ("crs_onset", Metric::Number(crs.and_then(|g| g.onset))),
            ("crs_peak_day", Metric::Number(crs.map(|g| g.peak_day))),
            ("crs_duration", Metric::Number(crs.map(|g| g.duration))),
            (
                "crs_severe_duration",
                Metric::Number(crs.map(|g| g.severe_duration)),
            ),
            ("il6_peak", Metric::Number(t.and_then(|t| t.il6_peak))),
            ("icans_grade", Metric::Number(icans.map(|g| g.grade as f64))),
            ("icans_onset", Metric::Number(icans.and_then(|g| g.onset))),
            ("icans_duration", Metric::Number(icans.map(|g| g.duration))),
            (
                "alarm",
                match t {
                    Some(t) => Metric::Flag(t.alarm),
                    None => Metric::Text(String::new()),
                },
            ),
            (
                "interventions",
                Metric::Text(t.map(|t| t.interventions_text()).unwrap_or_default()),
            ),
            (
                "tocilizumab_doses",
                Metric::Number(t.and_then(|t| t.tocilizumab_doses)),
            ),
            (
                "steroid_days",
                Metric::Number(t.and_then(|t| t.steroid_days)),
            ),
        ]);
        m
    }

    /// The time course on the output grid, `time` in `opts.time_unit`, species as
    /// `opts.species` asks.
    pub fn trajectory(&self, model: &Model, opts: &RunOptions) -> Trajectory {
        let grid = output_grid(opts.days, opts.dt);
        let mut tr = Trajectory::sample(model, &self.solution, &self.scenario.params, &grid);
        match opts.species {
            SpeciesAs::Model => {}
            SpeciesAs::Amounts => tr.rescale(&model.concentrations, &self.solution, false),
            SpeciesAs::Concentrations => tr.rescale(&model.amounts, &self.solution, true),
        }
        if opts.time_unit != TimeUnit::Day {
            for t in &mut tr.time {
                *t = opts.time_unit.from_days(*t);
            }
        }
        tr
    }
}

/// Names of [`Run::metrics`], in order. They are fixed (a model without a quantity gives an
/// empty value, not a missing name), so this needs no simulation.
pub const METRIC_NAMES: &[&str] = &[
    "cart_cmax",
    "cart_tmax",
    "cart_auc",
    "cart_last",
    "tumor_nadir",
    "tumor_end",
    "cart_cmax_transgene",
    "cart_tmax_transgene",
    "cart_auc28_transgene",
    "b_cell_aplasia",
    "b_cell_recovery_day",
    "response",
    "best_response",
    "relapse_day",
    "crs_grade",
    "crs_onset",
    "crs_peak_day",
    "crs_duration",
    "crs_severe_duration",
    "il6_peak",
    "icans_grade",
    "icans_onset",
    "icans_duration",
    "alarm",
    "interventions",
    "tocilizumab_doses",
    "steroid_days",
];

/// Simulate one scenario.
///
/// Errors: [`Error::Options`] when `opts` fails [`RunOptions::validate`] (e.g. a `dt` of 0),
/// [`Error::Input`] when the inputs do not fit the model, [`Error::Solve`] when the solver
/// fails.
pub fn run(model: &Model, inputs: &Inputs, opts: &RunOptions) -> Result<Run> {
    opts.validate()?;
    let scenario = Scenario::prepare(model, inputs)?;
    let use_interventions =
        opts.interventions && model.toxicity.is_some() && !model.interventions.is_empty();
    let mut trigger = toxicity::InterventionTrigger::new(model, &scenario.params);
    let solution = solve::solve(
        model,
        &scenario,
        opts.days,
        &opts.solver,
        if use_interventions {
            Some(&mut trigger as &mut dyn solve::Trigger)
        } else {
            None
        },
    )?;
    let samples = Samples::new(model, &solution, opts.window.min(solution.end_day()));
    let summary = summary::summarize(model, &scenario, &samples);
    let fired = trigger
        .fired
        .iter()
        .filter(|f| f.start_day <= opts.days)
        .cloned()
        .collect();
    let toxicity = toxicity::grade(model, &samples, opts.window, opts.alarm_window, fired);
    drop(samples);
    Ok(Run {
        scenario,
        solution,
        summary,
        toxicity,
    })
}
