//! `cartox validate`: run the product presets against their published figures.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Presets to validate, comma-separated bundled names or paths (default: every bundled preset).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub presets: Vec<String>,
    /// Also write the table as CSV (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Virtual patients per population (default: each preset's `validation.population.n`).
    #[arg(long, value_name = "N")]
    pub n: Option<usize>,
    /// Worker threads (default: one per core). The report does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Exit 0 even with misses: the command is a report; the count of misses ends the table.
pub fn run(a: ValidateArgs) -> Result<ExitCode> {
    if a.n == Some(0) {
        anyhow::bail!("--n must be at least 1");
    }
    let pool = cartox::par::Pool::new(a.jobs.unwrap_or(0)).map_err(|e| anyhow::anyhow!(e))?;
    let names: Vec<String> = a
        .presets
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let rows = pool.install(|| cartox::validate::validate(&names, a.n))?;
    let to_stdout = a.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let table = cartox::validate::table(&rows);
    if to_stdout {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(path) = &a.out {
        cartox::output::write_atomic(path, |w| Ok(cartox::validate::write_csv(&rows, w)?))?;
        if !to_stdout {
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
