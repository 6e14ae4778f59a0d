//! `cartox fit`: estimate parameters from patient data (see `cartox::fit` and docs/fitting.md).

use anyhow::{anyhow, Context, Result};
use cartox::fit::{self, report, ErrorModel, Settings};
use cartox::model::Model;
use cartox::output::write_atomic;
use cartox::plot::fit::FitPanel;
use cartox::solve::{Method, SolverOptions};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when the outputs are written but some patients' fits failed.
const EXIT_ROWS_FAILED: u8 = 3;

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Bundled model name or path to a model file.
    #[arg(long, short = 'm', default_value = cartox::model::DEFAULT_MODEL)]
    pub model: String,
    /// Observations and dose records (CSV, NONMEM/mrgsolve convention: ID, TIME in days, DV,
    /// OBS or CMT, optional EVID, AMT, MDV, BLQ, LLOQ, and model inputs as covariates).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Parameters to estimate, comma-separated (on the log scale).
    #[arg(long, value_name = "NAMES")]
    pub estimate: String,
    /// Residual error model: exponential, proportional, additive or combined.
    #[arg(long, default_value = "exponential")]
    pub error: String,
    /// typical: MAP estimation with the model's omega2 as a log-normal prior (parameters without
    /// omega2 have none); none: maximum likelihood.
    #[arg(long, default_value = "none")]
    pub prior: String,
    /// One fit per patient (the default).
    #[arg(long, conflicts_with = "pooled")]
    pub by_id: bool,
    /// One fit of all patients together (naive pooled).
    #[arg(long)]
    pub pooled: bool,
    /// Starts per fit: the typical values, then Halton points within a factor e of them.
    #[arg(long, default_value_t = 4)]
    pub starts: usize,
    /// Trust-region iterations per start.
    #[arg(long, default_value_t = 200)]
    pub max_iterations: u64,
    /// Integration method (auto, dopri5, radau5, rodas4, bdf).
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// Relative tolerance of the model solves.
    #[arg(long, default_value_t = 1e-8)]
    pub rtol: f64,
    /// Absolute tolerance of the model solves.
    #[arg(long, default_value_t = 1e-10)]
    pub atol: f64,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Estimates (CSV), one row per patient or `pooled`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Correlations of the estimates (CSV: ID,row,column,r).
    #[arg(long, value_name = "FILE")]
    pub correlations: Option<PathBuf>,
    /// Predictions at the data times and on a fine grid (CSV).
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Figure of data and fit (PNG or SVG); one file per patient when there are several
    /// (`fit.png` -> `fit_<ID>.png`).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn write_lines(path: &Path, head: &str, lines: &[String]) -> Result<()> {
    write_atomic(path, |w| {
        w.write_all(head.as_bytes())?;
        for l in lines {
            w.write_all(l.as_bytes())?;
        }
        Ok(())
    })?;
    Ok(())
}

/// `fit.png` with ID `7` -> `fit_7.png` (the ID's characters outside [A-Za-z0-9_-] as `_`).
fn per_patient(path: &Path, id: &str) -> PathBuf {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = path
        .file_stem()
        .map_or("fit".into(), |s| s.to_string_lossy().to_string());
    let ext = path
        .extension()
        .map_or("png".into(), |e| e.to_string_lossy().to_string());
    path.with_file_name(format!("{stem}_{safe}.{ext}"))
}

pub fn run(a: FitArgs) -> Result<ExitCode> {
    let model = Model::resolve(&a.model)?;
    let error = ErrorModel::parse(&a.error)?;
    let prior_typical = match a.prior.as_str() {
        "typical" => true,
        "none" => false,
        other => return Err(anyhow!("--prior `{other}`: expected typical or none")),
    };
    if a.starts == 0 {
        return Err(anyhow!("--starts must be at least 1"));
    }
    let method = Method::parse(&a.method).ok_or_else(|| {
        anyhow!(
            "--method `{}`: expected auto, dopri5, radau5, rodas4 or bdf",
            a.method
        )
    })?;
    let solver = SolverOptions {
        method,
        rtol: a.rtol,
        atol: a.atol,
        ..SolverOptions::default()
    };
    let est = fit::parameters(&model, &a.estimate)?;
    let file = std::fs::File::open(&a.data)
        .with_context(|| format!("cannot read {}", a.data.display()))?;
    let ds = fit::read_data(
        &model,
        std::io::BufReader::new(file),
        &a.data.display().to_string(),
    )?;
    let settings = Settings {
        error,
        prior_typical,
        starts: a.starts,
        start_spread: 1.0,
        max_iterations: a.max_iterations,
        solver,
    };
    let pool = cartox::par::Pool::new(a.jobs.unwrap_or(0)).map_err(|e| anyhow!("{e}"))?;
    if !a.quiet {
        eprintln!(
            "fitting {} of model `{}` to {} patient(s), {} observation(s) ({} error model{}) ...",
            a.estimate,
            model.name,
            ds.patients.len(),
            ds.patients
                .iter()
                .map(|p| p.observations.len())
                .sum::<usize>(),
            error.as_str(),
            if prior_typical {
                ", MAP with omega2"
            } else {
                ""
            }
        );
    }
    let fits = fit::fit(&model, &ds, &est, &settings, a.pooled, &pool)?;
    let names = report::estimate_names(&model, &ds, &est, error);
    let lines: Vec<String> = fits
        .iter()
        .map(|f| report::estimates_line(f, &names, est.len()))
        .collect();
    write_lines(&a.out, &report::estimates_header(&names, est.len()), &lines)?;
    if let Some(path) = &a.correlations {
        let c = report::correlation_lines(&fits, &names);
        write_lines(path, &c[0], &c[1..])?;
    }
    let need_preds = a.predictions.is_some() || a.plot.is_some();
    let preds = if need_preds {
        report::predictions(&model, &ds, &fits, &est, &settings)
    } else {
        vec![]
    };
    if let Some(path) = &a.predictions {
        let p = report::prediction_lines(&ds, &preds);
        write_lines(path, &p[0], &p[1..])?;
    }
    if let Some(path) = &a.plot {
        for p in &preds {
            let out = if preds.len() > 1 {
                per_patient(path, &p.id)
            } else {
                path.clone()
            };
            let panels = figure_panels(&model, &ds.obs_names, p);
            let title = format!(
                "{} - ID {} ({} error model)",
                model.name,
                p.id,
                error.as_str()
            );
            cartox::plot::fit::render_fit(&title, &panels, &out)?;
        }
    }
    let failed = fits.iter().filter(|f| f.result.is_err()).count();
    if !a.quiet {
        for f in &fits {
            match &f.result {
                Ok(e) => eprintln!(
                    "ID {}: {} -2LL {:.4}, {} iterations: {}",
                    f.id, e.status, e.ofv, e.iterations, e.message
                ),
                Err(m) => eprintln!("ID {}: failed: {m}", f.id),
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_ROWS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// One panel per observed quantity of the patient: data, censored data, fit and typical curve.
fn figure_panels(
    model: &Model,
    obs_names: &[String],
    p: &report::PatientPredictions,
) -> Vec<FitPanel> {
    p.grid
        .iter()
        .map(|(o, days, fitted, typical)| FitPanel {
            label: cartox::plot::figure::label_for(model, &obs_names[*o]),
            time: days.clone(),
            fitted: fitted.clone(),
            typical: typical.clone(),
            points: p
                .data
                .iter()
                .filter(|d| d.obs == *o)
                .map(|d| (d.time, d.dv, d.censored))
                .collect(),
        })
        .collect()
}
