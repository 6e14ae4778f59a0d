//! `cartox sensitivity`: local, Morris or Sobol indices as a tidy CSV (see `cartox::sensitivity`).

use super::simulate::prepare;
use super::ModelArgs;
use anyhow::{anyhow, bail, Result};
use cartox::model::Model;
use cartox::output::{fmt_num, write_atomic};
use cartox::plot::indices as chart;
use cartox::sensitivity::analysis::{self, Global, Setup};
use cartox::sensitivity::estimators::Bootstrap;
use cartox::sensitivity::outputs::split_list;
use cartox::sensitivity::{self as sens, local, Factor, Index, IndexRow, OutputSpec, Population};
use cartox::sweep::{self, population};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when the indices are written but some model runs failed.
const EXIT_ROWS_FAILED: u8 = 3;

#[derive(Args, Debug)]
pub struct SensitivityArgs {
    /// local (d ln y / d ln p at the typical patient), morris (elementary effects) or sobol
    /// (first-order and total indices).
    #[arg(long)]
    pub method: String,
    /// Inputs to vary, comma-separated: parameters; with --ranges also `<state>_0`, dose,
    /// dose_per_kg, weight, tumor_burden, bridging.
    #[arg(long, value_delimiter = ',', required = true)]
    pub params: Vec<String>,
    /// Ranges, comma-separated: NAME=LO:HI (uniform) or NAME=log:LO:HI (log-uniform). Default:
    /// the model's lower..upper when both are declared (log-uniform when lower > 0 and
    /// upper/lower >= 100), else value x/÷ 1.5 log-uniform.
    #[arg(long, value_delimiter = ',')]
    pub ranges: Vec<String>,
    /// Parameters without --ranges vary over value/(1+F) .. value*(1+F), log-uniform, instead
    /// of their model bounds.
    #[arg(long, value_name = "F")]
    pub around: Option<f64>,
    /// Outputs, comma-separated: metrics (cart_cmax, crs_grade, ...), STATE@DAY or
    /// OBSERVABLE@DAY (il6@5), P(METRIC>=X) (default: cart_cmax, crs_grade, icans_grade).
    #[arg(long)]
    pub outputs: Option<String>,
    /// sobol: base rows (N (k+2) runs; default 1024); morris: trajectories (N (k+1) runs;
    /// default 20).
    #[arg(long)]
    pub n: Option<usize>,
    /// morris: grid levels (even).
    #[arg(long, default_value_t = 4)]
    pub levels: usize,
    /// sobol: also second-order indices S2 (N (2k+2) runs).
    #[arg(long)]
    pub second_order: bool,
    /// Random seed of the design, the population and the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bootstrap resamples for the confidence intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Evaluate each design point over this many virtual patients (the model's variability,
    /// the same patients at every point): metrics become population means and P(...) fractions.
    #[arg(long, value_name = "M")]
    pub population: Option<usize>,
    /// Coefficient of variation of body weight in the population.
    #[arg(long, default_value_t = population::WEIGHT_CV)]
    pub weight_cv: f64,
    /// local: log step h (differences at e^(+-h) and e^(+-h/2)).
    #[arg(long, default_value_t = local::DEFAULT_STEP)]
    pub step: f64,
    /// local: also write the sensitivity of every observable over the time grid (CSV).
    #[arg(long, value_name = "FILE")]
    pub timecourses: Option<PathBuf>,
    /// morris/sobol: also write the design (input values) and each point's outputs (CSV).
    #[arg(long, value_name = "FILE")]
    pub design: Option<PathBuf>,
    /// Worker threads (default: one per core). The output does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Indices (CSV): output, parameter, index, value, ci_low, ci_high, n_rows.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Chart (.png or .svg): tornado (local), mu*-sigma (morris), bars with CIs (sobol).
    #[arg(long, value_name = "FIG")]
    pub plot: Option<PathBuf>,
    /// Chart title.
    #[arg(long)]
    pub title: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    // ---- model, regimen and solver (as simulate; the integration method is --solver)
    /// Bundled model name or path to a model file (.toml).
    #[arg(long, short = 'm', default_value = cartox::model::DEFAULT_MODEL)]
    pub model: String,
    /// Set a parameter, `<state>_0` or regimen input of the typical patient: NAME=VALUE.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Lymphodepletion regimen declared in the model.
    #[arg(long, value_name = "NAME")]
    pub ld: Option<String>,
    /// Simulated span, days after infusion.
    #[arg(long, default_value = "28", allow_hyphen_values = true)]
    pub days: String,
    /// Output grid spacing, days (time courses).
    #[arg(long, default_value = "0.1", allow_hyphen_values = true)]
    pub dt: String,
    /// Monitoring window for metrics and grades, days.
    #[arg(long, allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Do not fire the model's toxicity-triggered interventions.
    #[arg(long)]
    pub no_interventions: bool,
    /// Integration method: dopri5, radau5, rodas4 or bdf.
    #[arg(long, default_value = "dopri5")]
    pub solver: String,
    /// Relative tolerance (default 1e-6; 1e-10 for local).
    #[arg(long, allow_hyphen_values = true)]
    pub rtol: Option<String>,
    /// Absolute tolerance (default 1e-9; 1e-12 for local).
    #[arg(long, allow_hyphen_values = true)]
    pub atol: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Local,
    Morris,
    Sobol,
}

fn model_args(a: &SensitivityArgs, method: Method) -> ModelArgs {
    let local = method == Method::Local;
    ModelArgs {
        model: a.model.clone(),
        set: a.set.clone(),
        dose: None,
        dose_per_kg: None,
        weight: None,
        schedule: None,
        ld: a.ld.clone(),
        tumor_burden: None,
        bridging: None,
        days: a.days.clone(),
        dt: a.dt.clone(),
        window: a.window.clone(),
        alarm_window: None,
        no_interventions: a.no_interventions,
        method: a.solver.clone(),
        rtol: a
            .rtol
            .clone()
            .unwrap_or_else(|| if local { "1e-10" } else { "1e-6" }.into()),
        atol: a
            .atol
            .clone()
            .unwrap_or_else(|| if local { "1e-12" } else { "1e-9" }.into()),
    }
}

/// The population: per patient, `exp(eta)` for parameters, absolute weight and dose.
fn build_population(model: &Model, m: usize, seed: u64, weight_cv: f64) -> Result<Population> {
    if m == 0 {
        bail!("--population must be at least 1");
    }
    let design = population::Design::from_model(model, weight_cv)?;
    let names = design.names(model);
    // a seed apart from the design's row streams
    let seed = seed ^ 0x9E37_79B9_7F4A_7C15;
    let patients = (0..m as u64)
        .map(|i| {
            design
                .patient(model, seed, i)
                .into_iter()
                .zip(&names)
                .map(|(v, n)| match model.parameter_index(n) {
                    Some(j) if model.parameters[j].value != 0.0 => v / model.parameters[j].value,
                    Some(_) => 1.0,
                    None => v,
                })
                .collect()
        })
        .collect();
    Ok(Population { names, patients })
}

fn write_design(path: &Path, factors: &[Factor], outputs: &[OutputSpec], g: &Global) -> Result<()> {
    write_atomic(path, |w| {
        let mut head: Vec<String> = vec!["row".into()];
        head.extend(factors.iter().map(|f| f.name.clone()));
        head.extend(outputs.iter().map(|o| o.label.clone()));
        head.push("status".into());
        head.push("message".into());
        w.write_all(sweep::csv_line(head.iter().map(String::as_str)).as_bytes())?;
        for (j, p) in g.points.iter().enumerate() {
            let mut cells: Vec<String> = vec![(j + 1).to_string()];
            cells.extend(p.iter().map(|x| fmt_num(*x)));
            cells.extend(
                g.evaluation.values[j]
                    .iter()
                    .map(|x| x.map(fmt_num).unwrap_or_default()),
            );
            let err = &g.evaluation.errors[j];
            cells.push(if err.is_some() { "error" } else { "ok" }.into());
            cells.push(err.clone().unwrap_or_default());
            w.write_all(sweep::csv_line(cells.iter().map(String::as_str)).as_bytes())?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_timecourses(path: &Path, names: &[String], tc: &local::Timecourses) -> Result<()> {
    write_atomic(path, |w| {
        let mut head = vec!["parameter", "time"];
        head.extend(tc.observables.iter().map(String::as_str));
        w.write_all(sweep::csv_line(head).as_bytes())?;
        for (name, per_time) in names.iter().zip(&tc.values) {
            for (t, row) in tc.time.iter().zip(per_time) {
                let mut cells = vec![name.clone(), fmt_num(*t)];
                cells.extend(row.iter().map(|x| x.map(fmt_num).unwrap_or_default()));
                w.write_all(sweep::csv_line(cells.iter().map(String::as_str)).as_bytes())?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// A short table of the indices on standard output.
fn print_table(rows: &[IndexRow]) {
    let cell = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{:<22} {:<22} {:<8} {:>10} {:>21} {:>8}",
        "output", "parameter", "index", "value", "CI", "n_rows"
    );
    for r in rows {
        println!(
            "{:<22} {:<22} {:<8} {:>10} {:>21} {:>8}",
            r.output,
            r.parameter,
            r.index.as_str(),
            cell(r.value),
            format!("[{}, {}]", cell(r.ci_low), cell(r.ci_high)),
            r.n_rows
        );
    }
}

fn chart_data(
    method: Method,
    rows: &[IndexRow],
    outputs: &[OutputSpec],
    names: &[String],
) -> chart::Chart {
    let kind = match method {
        Method::Local => chart::Kind::Tornado,
        Method::Morris => chart::Kind::MuSigma,
        Method::Sobol => chart::Kind::Bars,
    };
    let find = |o: &str, p: &str, i: Index| {
        rows.iter()
            .find(|r| r.output == o && r.parameter == p && r.index == i)
    };
    let point = |r: Option<&IndexRow>| chart::Value {
        value: r.and_then(|r| r.value).unwrap_or(f64::NAN),
        low: r.and_then(|r| r.ci_low).unwrap_or(f64::NAN),
        high: r.and_then(|r| r.ci_high).unwrap_or(f64::NAN),
    };
    let series: Vec<Index> = match method {
        Method::Local => vec![Index::Local],
        Method::Morris => vec![Index::MuStar, Index::Sigma],
        Method::Sobol => vec![Index::S1, Index::ST],
    };
    let panels = outputs
        .iter()
        .map(|o| chart::ChartPanel {
            title: o.label.clone(),
            items: names
                .iter()
                .map(|p| chart::Item {
                    label: p.clone(),
                    values: series
                        .iter()
                        .map(|&i| point(find(&o.label, p, i)))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    chart::Chart {
        kind,
        series: series.iter().map(|i| i.as_str().to_string()).collect(),
        panels,
    }
}

/// `cartox sensitivity`.
pub fn run(a: SensitivityArgs) -> Result<ExitCode> {
    let method = match a.method.as_str() {
        "local" => Method::Local,
        "morris" => Method::Morris,
        "sobol" => Method::Sobol,
        m => bail!("--method: unknown method `{m}` (use local, morris or sobol)"),
    };
    let (model, base, opts) = prepare(&model_args(&a, method))?;
    let names: Vec<String> = a.params.iter().map(|s| s.trim().to_string()).collect();
    let ranges = a
        .ranges
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| sens::parse_range(r))
        .collect::<cartox::Result<Vec<_>>>()?;
    let metric_names = sweep::metric_names(&model);
    let default_outputs = if model.toxicity.is_some() {
        "cart_cmax,crs_grade,icans_grade"
    } else {
        "cart_cmax"
    };
    let outputs = split_list(a.outputs.as_deref().unwrap_or(default_outputs))
        .iter()
        .map(|o| OutputSpec::parse(&model, &metric_names, o, opts.days))
        .collect::<cartox::Result<Vec<_>>>()?;
    if outputs.is_empty() {
        bail!("--outputs: no outputs given");
    }
    if a.levels < 2 || !a.levels.is_multiple_of(2) {
        bail!("--levels must be an even number >= 2, got {}", a.levels);
    }
    if method == Method::Local {
        for (flag, used) in [
            ("--ranges", !ranges.is_empty()),
            ("--around", a.around.is_some()),
            ("--population", a.population.is_some()),
            ("--n", a.n.is_some()),
            ("--design", a.design.is_some()),
            ("--second-order", a.second_order),
        ] {
            if used {
                bail!("{flag} is not used by --method local (derivatives at the typical patient)");
            }
        }
    } else if a.timecourses.is_some() {
        bail!("--timecourses is for --method local");
    }
    if a.second_order && method != Method::Sobol {
        bail!("--second-order is for --method sobol");
    }
    let pool = cartox::par::Pool::new(a.jobs.unwrap_or(0)).map_err(|e| anyhow!("{e}"))?;
    let (rows, runs, failed, first_error) = match method {
        Method::Local => {
            let l = local::local(
                &model,
                &base,
                &names,
                &outputs,
                &opts,
                a.step,
                a.timecourses.is_some(),
                &pool,
            )?;
            if let (Some(path), Some(tc)) = (&a.timecourses, &l.timecourses) {
                write_timecourses(path, &names, tc)?;
            }
            (l.rows, l.runs, l.failed.0, l.failed.1)
        }
        Method::Morris | Method::Sobol => {
            let factors = sens::resolve_factors(&model, &names, &ranges, a.around)?;
            let pop = a
                .population
                .map(|m| build_population(&model, m, a.seed, a.weight_cv))
                .transpose()?;
            let n =
                a.n.unwrap_or(if method == Method::Sobol { 1024 } else { 20 });
            if n < 2 {
                bail!("--n must be at least 2, got {n}");
            }
            if !a.quiet {
                for f in &factors {
                    eprintln!("{}", f.describe());
                }
            }
            let setup = Setup {
                model: &model,
                base: &base,
                factors: &factors,
                outputs: &outputs,
                population: pop.as_ref(),
                opts: &opts,
                pool: &pool,
                seed: a.seed,
                bootstrap: Bootstrap {
                    resamples: a.bootstrap,
                    level: 0.95,
                    seed: a.seed,
                },
            };
            let g = if method == Method::Sobol {
                analysis::sobol(&setup, n, a.second_order)
            } else {
                analysis::morris(&setup, n, a.levels)
            };
            if let Some(path) = &a.design {
                write_design(path, &factors, &outputs, &g)?;
            }
            let first = g.evaluation.errors.iter().flatten().next().cloned();
            (g.rows, g.evaluation.runs, g.evaluation.failed_runs, first)
        }
    };
    let csv = sens::to_csv(&rows);
    write_atomic(&a.out, |w| Ok(w.write_all(csv.as_bytes())?))?;
    if let Some(fig) = &a.plot {
        let data = chart_data(method, &rows, &outputs, &names);
        let title = a
            .title
            .clone()
            .unwrap_or_else(|| format!("{} sensitivity, model {}", a.method, model.name));
        chart::render(&data, &title, fig)?;
    }
    if !a.quiet && a.out.as_os_str() != "-" {
        print_table(&rows);
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {runs} model runs failed (the indices rest on the rows that succeeded, see n_rows); first: {}",
            first_error.unwrap_or_default()
        );
        return Ok(ExitCode::from(EXIT_ROWS_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
