//! Command-line definitions and dispatch.

mod describe;
mod simulate;

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
    /// Monitoring window for metrics, days (default: --days, at most 28).
    #[arg(long, allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Integration method: dopri5 (explicit, default) or bdf (implicit, for stiff models).
    #[arg(long, default_value = "dopri5")]
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
        Command::Models => describe::list_models(),
        Command::Describe { model } => describe::describe(&model),
        Command::ImportSbml { file, out } => describe::import_sbml(&file, out.as_deref()),
    }
}
