//! Command-line definitions and dispatch.

mod describe;
mod fit;
pub(crate) mod plot;
mod sensitivity;
mod serve;
mod simulate;
mod sweep;
mod validate;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// cartox: CAR T-cell therapy simulator (CAR-T kinetics, tumor, IL-6, modelled CRS/ICANS risk).
///
/// Grades and metrics are modelled risk from a mathematical model, not clinical advice.
#[derive(Parser, Debug)]
#[command(name = "cartox", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Simulate one patient scenario and print a readable summary.
    Simulate(simulate::SimulateArgs),
    /// Render time courses (CSV from simulate --out or sweep --timecourses) as PNG or SVG.
    Plot(plot::PlotArgs),
    /// List the bundled models.
    Models,
    /// Print a model's states, parameters (value, unit, source), equations and regimens.
    Describe {
        /// Bundled model name or path to a model file.
        model: String,
    },
    /// Convert an SBML Level 2/3 core model into a cartox model file (TOML).
    ImportSbml {
        /// The SBML file (.xml).
        file: std::path::PathBuf,
        /// Where to write the model file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Run every row of a parameter table (CSV) in parallel and write one row of metrics each.
    ///
    /// Exit status: 0 when every row succeeded; 3 when some rows failed (the output is still
    /// complete: those rows have status `error` and a message); 4 when SIGINT/SIGTERM stopped it
    /// after a whole chunk (continue with --resume); 1 on any other error.
    Sweep(sweep::SweepArgs),
    /// Draw virtual patients from the model's inter-individual variability (a sweep input).
    Population(sweep::PopulationArgs),
    /// Run the full grid of a few varied inputs and print a table of key outcomes.
    ///
    /// Exit status 3 when some scenarios failed (see the table and CSV), as for `sweep`.
    Scenarios(sweep::ScenariosArgs),
    /// Join the shard outputs of `sweep --shard K/N` into the unsharded output, in input order.
    Merge(sweep::MergeArgs),
    /// Run the product presets (and their virtual populations) against published clinical
    /// figures and print simulated vs published, with the count of misses.
    ///
    /// Exit status 0 even when targets are missed (it is a report).
    Validate(validate::ValidateArgs),
    /// Which parameters drive an output: local, Morris or Sobol indices as a tidy CSV.
    ///
    /// Exit status 3 when some model runs failed (the indices are still written; n_rows says
    /// how many runs each rests on).
    Sensitivity(Box<sensitivity::SensitivityArgs>),
    /// Fit parameters to patient data (NONMEM-style CSV): per patient or pooled, maximum
    /// likelihood or MAP, with standard errors, 95% intervals, -2LL, AIC and BIC.
    ///
    /// Exit status 3 when some patients' fits failed (their rows say why), as for `sweep`.
    Fit(Box<fit::FitArgs>),
    /// Serve the web explorer (`web/dist`, built by `web/build.sh`) on http://127.0.0.1:PORT/.
    Serve(serve::ServeArgs),
}

/// Model, regimen and solver flags shared by simulate, sweep and scenarios.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Bundled model name or path to a model file (.toml).
    #[arg(long, short = 'm', default_value = cartox::model::DEFAULT_MODEL)]
    pub model: String,
    /// Set a parameter, `<state>_0` or regimen input: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Total infused dose, CAR-T cells.
    #[arg(
        long,
        value_name = "CELLS",
        conflicts_with = "dose_per_kg",
        allow_hyphen_values = true
    )]
    pub dose: Option<String>,
    /// Infused dose per kg of body weight, CAR-T cells/kg.
    #[arg(long, value_name = "CELLS_PER_KG", allow_hyphen_values = true)]
    pub dose_per_kg: Option<String>,
    /// Body weight, kg.
    #[arg(long, value_name = "KG", allow_hyphen_values = true)]
    pub weight: Option<String>,
    /// Split infusion: DAY:FRACTION,... (fractions of the total dose, summing to 1).
    #[arg(long, value_name = "SCHEDULE")]
    pub schedule: Option<String>,
    /// Lymphodepletion regimen declared in the model (e.g. none, flu-cy).
    #[arg(long, value_name = "NAME")]
    pub ld: Option<String>,
    /// Tumor burden at lymphodepletion, cells.
    #[arg(long, value_name = "CELLS", allow_hyphen_values = true)]
    pub tumor_burden: Option<String>,
    /// Bridging therapy: fraction of the tumor removed before infusion (0-1).
    #[arg(long, value_name = "FRACTION", allow_hyphen_values = true)]
    pub bridging: Option<String>,
    /// Simulated span, days after infusion.
    #[arg(long, default_value = "28", allow_hyphen_values = true)]
    pub days: String,
    /// Output grid spacing, days.
    #[arg(long, default_value = "0.1", allow_hyphen_values = true)]
    pub dt: String,
    /// Monitoring window for metrics and modelled CRS/ICANS risk grades, days (default: the
    /// model's `toxicity.window`, else 28; at most --days).
    #[arg(long, allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Early-alarm window for the modelled CRS/ICANS risk grades, days (default: the model's
    /// `toxicity.alarm_window`, else 14).
    #[arg(long, value_name = "DAYS", allow_hyphen_values = true)]
    pub alarm_window: Option<String>,
    /// Do not fire the model's toxicity-triggered interventions (tocilizumab, corticosteroids).
    #[arg(long)]
    pub no_interventions: bool,
    /// Integration method: auto (default: dopri5, switching to radau5 while the model is
    /// stiff), dopri5 (explicit), radau5, rodas4 (Rosenbrock) or bdf (implicit, for stiff
    /// models).
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// Relative tolerance.
    #[arg(long, default_value = "1e-6", allow_hyphen_values = true)]
    pub rtol: String,
    /// Absolute tolerance.
    #[arg(long, default_value = "1e-9", allow_hyphen_values = true)]
    pub atol: String,
}

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Models => describe::list_models(),
        Command::Describe { model } => describe::describe(&model),
        Command::ImportSbml { file, out } => describe::import_sbml(&file, out.as_deref()),
        Command::Sweep(a) => sweep::run_sweep(a),
        Command::Population(a) => sweep::run_population(a),
        Command::Scenarios(a) => sweep::run_scenarios(a),
        Command::Merge(a) => sweep::run_merge(a),
        Command::Validate(a) => validate::run(a),
        Command::Sensitivity(a) => sensitivity::run(*a),
        Command::Fit(a) => fit::run(*a),
        Command::Serve(a) => serve::run(a),
    }
}
