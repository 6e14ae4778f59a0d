//! `cartox sweep`, `population`, `scenarios` and `merge`: many runs from a table, virtual
//! patients, scenario grids and the merge of sharded sweeps. See `cartox::sweep`.

use super::simulate::prepare;
use super::ModelArgs;
use anyhow::{bail, Context, Result};
use cartox::model::Model;
use cartox::output::table::Format;
use cartox::output::write_atomic;
use cartox::sweep::resume::{self, Identity, Plan};
use cartox::sweep::{
    self, population, scenarios, stream, Columns, Fnv1a, Outcome, Report, Shard, Spec,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status when the output is complete but some rows (or scenarios) failed.
pub const EXIT_ROWS_FAILED: u8 = 3;
/// Exit status when SIGINT or SIGTERM stopped a sweep after a whole chunk (`--resume` continues).
pub const EXIT_STOPPED: u8 = 4;

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input table (CSV; `-` for standard input): optional `ID`, then parameter names,
    /// `<state>_0` and regimen inputs (dose, dose_per_kg, weight, tumor_burden, ld, bridging,
    /// schedule). Cells override the command-line flags.
    #[arg(long, value_name = "FILE")]
    pub params: PathBuf,
    /// Results (CSV, or Parquet for `.parquet`; `-` for standard output): ID, metrics, status,
    /// message. Written in durable chunks, with a resume record beside it (FILE.cartox-resume).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Also write every time course in long format: ID, time, states, observables (CSV, or
    /// Parquet for `.parquet`).
    #[arg(long, value_name = "FILE")]
    pub timecourses: Option<PathBuf>,
    /// Continue a sweep whose output exists (killed, pre-empted, or stopped by SIGINT/SIGTERM,
    /// exit status 4) after checking it belongs to the same parameter file, model and options;
    /// the finished output is byte for byte that of an uninterrupted run.
    #[arg(long)]
    pub resume: bool,
    /// Run only the K-th of N slices (rows with index % N == K-1), e.g. a Slurm array task;
    /// join the outputs with `cartox merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Carry columns that are not model inputs through to the output (after ID) instead of
    /// failing.
    #[arg(long)]
    pub allow_extra: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PopulationArgs {
    /// Number of virtual patients.
    #[arg(long)]
    pub n: usize,
    /// Random seed: the same seed gives the same file on any thread count.
    #[arg(long)]
    pub seed: u64,
    /// Bundled model name or path to a model file (.toml).
    #[arg(long, short = 'm', default_value = cartox::model::DEFAULT_MODEL)]
    pub model: String,
    /// Output (CSV, a valid `sweep --params` input, or Parquet for `.parquet`; `-` for standard
    /// output).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Coefficient of variation of body weight (log-normal around the regimen's weight).
    #[arg(long, default_value_t = population::WEIGHT_CV)]
    pub weight_cv: f64,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ScenariosArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An input and its values: NAME=V1,V2,... (repeatable; the full grid is run, the first
    /// --vary varying slowest). NAME: any parameter, regimen input or `<state>_0`.
    #[arg(long, value_name = "NAME=V1,V2,...", required = true)]
    pub vary: Vec<String>,
    /// Also write the results (CSV, sweep columns with the varied inputs after ID; `-` for
    /// standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Overlay every scenario's time course in one figure (.png or .svg).
    #[arg(long, value_name = "FIG")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub figure: super::plot::FigureArgs,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Merged output (CSV, or Parquet for `.parquet` from Parquet shards; `-` for standard
    /// output).
    pub out: PathBuf,
    /// The shard outputs of one input (`sweep --shard K/N`), all N of them, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

fn is_dash(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn progress_bar(total: Option<u64>, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows  {per_sec}  {elapsed_precise} elapsed, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} rows  {per_sec}  {elapsed_precise}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}

/// Data rows in a file (line count minus the header; approximate when cells hold line breaks).
fn count_rows(path: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Some(lines.saturating_sub(1))
}

fn finish(report: Report, what: &str) -> ExitCode {
    if report.failed > 0 {
        eprintln!("{} of {} {what}", report.failed, report.rows);
        ExitCode::from(EXIT_ROWS_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a sweep's output belongs to, for `--resume`: cartox version, parameter file bytes, model,
/// and every option that changes the output.
fn identity(a: &SweepArgs, model: &Model, input_hash: Option<u64>, chunk: usize) -> Identity {
    let mut model_hash = Fnv1a::default();
    model_hash.update(format!("{model:?}").as_bytes());
    let flags = super::ModelArgs {
        model: String::new(),
        ..a.model.clone()
    };
    let format = |p: &Path| match Format::of(p) {
        Format::Csv => "csv",
        Format::Parquet => "parquet",
    };
    vec![
        ("cartox version".into(), env!("CARGO_PKG_VERSION").into()),
        (
            "parameter file".into(),
            match input_hash {
                Some(h) => format!("fnv1a64:{h:016x}"),
                None => "standard input".into(),
            },
        ),
        (
            "model".into(),
            format!("`{}` fnv1a64:{:016x}", model.name, model_hash.0),
        ),
        (
            "options".into(),
            format!(
                "{flags:?} shard={:?} allow_extra={} chunk={chunk} out={} timecourses={}",
                a.shard,
                a.allow_extra,
                format(&a.out),
                a.timecourses.as_deref().map_or("none", format)
            ),
        ),
    ]
}

/// Set when SIGINT or SIGTERM arrives (a second one ends the process at once).
fn stop_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flag.clone())
            .context("cannot handle signals")?;
        signal_hook::flag::register(sig, flag.clone()).context("cannot handle signals")?;
    }
    Ok(flag)
}

/// `cartox sweep`.
pub fn run_sweep(a: SweepArgs) -> Result<ExitCode> {
    let (model, base, opts) = prepare(&a.model)?;
    if is_dash(&a.out) && a.timecourses.as_deref().is_some_and(is_dash) {
        bail!("--out and --timecourses cannot both be standard output");
    }
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    let from_stdin = is_dash(&a.params);
    if shard.is_some() && from_stdin {
        bail!("--shard needs --params FILE (the shard records a hash of the input file)");
    }
    if a.resume && from_stdin {
        bail!("--resume needs --params FILE (the output records a hash of the input file)");
    }
    let input_hash = if from_stdin {
        None
    } else {
        Some(
            Fnv1a::of_reader(
                std::fs::File::open(&a.params)
                    .with_context(|| format!("--params {}", a.params.display()))?,
            )
            .with_context(|| format!("--params {}", a.params.display()))?,
        )
    };
    let input: Box<dyn Read> = if from_stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&a.params)
                .with_context(|| format!("--params {}", a.params.display()))?,
        )
    };
    let mut reader = sweep::csv_reader(std::io::BufReader::with_capacity(1 << 16, input));
    let header = sweep::read_header(&mut reader)
        .with_context(|| format!("--params {}", a.params.display()))?;
    let cols = Columns::resolve(&model, &header, a.allow_extra)
        .with_context(|| format!("--params {}", a.params.display()))?;
    let names = sweep::metric_names(&model);
    let chunk = if a.timecourses.is_some() {
        sweep::CHUNK_ROWS_TIMECOURSES
    } else {
        sweep::CHUNK_ROWS
    };
    let spec = Spec {
        model: &model,
        base,
        opts,
        jobs: a.jobs.unwrap_or(0),
        chunk,
        shard,
        input_hash: shard.and(input_hash),
        keep_runs: false,
    };
    let what = format!(
        "rows of {} failed (see `status`/`message` in {})",
        a.params.display(),
        a.out.display()
    );
    let identity = identity(&a, &model, input_hash, chunk);
    let plan = resume::open(
        &a.out,
        a.timecourses.as_deref(),
        &identity,
        a.resume,
        &spec,
        &cols,
        &names,
    )
    .with_context(|| format!("--out {}", a.out.display()))?;
    let mut opened = match plan {
        Plan::Complete(report) => {
            eprintln!(
                "{} is already complete ({} rows); nothing to resume",
                a.out.display(),
                report.rows
            );
            return Ok(finish(report, &what));
        }
        Plan::Run(o) => *o,
    };
    let stop = stop_flag()?;
    let show = !a.quiet && std::io::stderr().is_terminal();
    let total = if show && !from_stdin {
        count_rows(&a.params).map(|n| match shard {
            Some(s) => (n + (s.n - s.k) as u64) / s.n as u64,
            None => n,
        })
    } else {
        None
    };
    let bar = progress_bar(total, a.quiet);
    bar.set_position(opened.prior.rows as u64);
    let rows = sweep::csv_rows(reader);
    let progress = |n: u64| bar.set_position(n);
    let mut log = opened.log.take();
    let report = stream::run_tables(
        &spec,
        &cols,
        &names,
        rows,
        &mut opened.results,
        opened.timecourses.as_mut(),
        opened.prior,
        &mut |_, _| {},
        &progress,
        &mut |r, m, t| {
            if let Some(l) = log.as_mut() {
                l.chunk(r, m, t)?;
            }
            Ok(stop.load(Ordering::SeqCst))
        },
    )
    .with_context(|| format!("--out {}", a.out.display()))?;
    bar.finish_and_clear();
    if report.stopped {
        eprintln!(
            "stopped by a signal after {} rows: {} holds whole chunks; continue with --resume",
            report.rows,
            a.out.display()
        );
        return Ok(ExitCode::from(EXIT_STOPPED));
    }
    if let Some(l) = log.as_mut() {
        l.done(&report)
            .with_context(|| format!("--out {}", a.out.display()))?;
    }
    Ok(finish(report, &what))
}

/// `cartox population`.
pub fn run_population(a: PopulationArgs) -> Result<ExitCode> {
    let model = Model::resolve(&a.model)?;
    let design = population::Design::from_model(&model, a.weight_cv)?;
    write_atomic(&a.out, |w| {
        let format = Format::of(&a.out);
        population::write_population_as(
            &model,
            &design,
            a.n,
            a.seed,
            a.jobs.unwrap_or(0),
            format,
            w,
        )?;
        Ok(())
    })
    .with_context(|| format!("--out {}", a.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `cartox scenarios`.
pub fn run_scenarios(a: ScenariosArgs) -> Result<ExitCode> {
    let (model, base, opts) = prepare(&a.model)?;
    let varies: Vec<scenarios::Vary> = a
        .vary
        .iter()
        .map(|v| scenarios::Vary::parse(&model, v))
        .collect::<cartox::Result<_>>()?;
    let cols = scenarios::columns(&varies)?;
    let names = sweep::metric_names(&model);
    let n = scenarios::size(&varies);
    // The plotted runs come from the same solve as the table (at most 8 are drawn).
    let plotting = a.plot.is_some() && n <= MAX_OVERLAY;
    let spec = Spec {
        model: &model,
        base,
        opts,
        jobs: a.jobs.unwrap_or(0),
        chunk: sweep::CHUNK_ROWS,
        shard: None,
        input_hash: None,
        keep_runs: plotting,
    };
    let mut outcomes: Vec<Outcome> = vec![];
    let mut kept: Vec<sweep::Kept> = vec![];
    let mut report = Report::default();
    let mut go = |w: &mut dyn Write| -> Result<()> {
        report = sweep::run_rows(
            &spec,
            &cols,
            &names,
            scenarios::rows(&varies),
            w,
            None,
            &mut |o, k| {
                outcomes.push(o.clone());
                kept.extend(k);
            },
            &|_| {},
        )?;
        Ok(())
    };
    match &a.out {
        Some(path) => write_atomic(path, |w| Ok(go(w)?))
            .with_context(|| format!("--out {}", path.display()))?,
        None => go(&mut std::io::sink())?,
    }
    if let Some(path) = &a.plot {
        plot_scenarios(&model, &spec.opts, &varies, kept, &a.figure, path)?;
    }
    if !a.out.as_deref().is_some_and(is_dash) {
        println!(
            "cartox scenarios · model `{}` · {} scenario{} over {} days",
            model.name,
            outcomes.len(),
            if outcomes.len() == 1 { "" } else { "s" },
            spec.opts.days
        );
        print!("{}", scenarios::table(&varies, &names, &outcomes));
        println!("Modelled quantities from a mathematical model; not clinical advice.");
    }
    Ok(finish(report, "scenarios failed"))
}

/// `cartox merge`.
pub fn run_merge(a: MergeArgs) -> Result<ExitCode> {
    // Check every shard before creating the output (merge reads them as it writes).
    let parquet = Format::of(&a.out) == Format::Parquet;
    write_atomic(&a.out, |w| {
        if parquet {
            sweep::merge_parquet::merge(&a.shards, w)?;
        } else {
            sweep::shard::merge(&a.shards, w)?;
        }
        Ok(())
    })
    .with_context(|| format!("merge into {}", a.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Most scenarios `--plot` overlays.
const MAX_OVERLAY: usize = 8;

/// Overlay every scenario's time course (the runs of the table), one colour each.
fn plot_scenarios(
    model: &cartox::Model,
    opts: &cartox::RunOptions,
    varies: &[scenarios::Vary],
    kept: Vec<sweep::Kept>,
    args: &super::plot::FigureArgs,
    path: &Path,
) -> Result<()> {
    let n = scenarios::size(varies);
    if n > MAX_OVERLAY {
        anyhow::bail!("--plot: {n} scenarios is too many to overlay (at most {MAX_OVERLAY})");
    }
    let mut runs = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for (index, k) in kept.into_iter().enumerate() {
        let cells = scenarios::scenario(varies, index);
        let label: Vec<String> = varies
            .iter()
            .zip(&cells)
            .map(|(v, cell)| format!("{} {}", v.name, cell))
            .collect();
        labels.push(label.join(", "));
        runs.push(k.map_err(|e| anyhow::anyhow!("scenario {}: {e}", index + 1))?);
    }
    let labelled: Vec<(&str, &cartox::Run)> =
        labels.iter().map(String::as_str).zip(runs.iter()).collect();
    cartox::plot::draw_runs(model, &labelled, opts, &args.options(), path)?;
    Ok(())
}
