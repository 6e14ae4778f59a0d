//! `cartox simulate`: one scenario, a readable summary, optional CSV and JSON.

use super::ModelArgs;
use anyhow::{anyhow, bail, Context, Result};
use cartox::model::{Model, Quantity, TimeUnit};
use cartox::output::{write_atomic, write_timecourse_as};
use cartox::regimen::Inputs;
use cartox::run::{RunOptions, SpeciesAs};
use cartox::solve::{Method, SolverOptions};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Write the time course (CSV, or Parquet for `.parquet`; `-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the summary metrics (JSON; `-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Render the time course (.png or .svg).
    #[arg(long, value_name = "FIG")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub figure: super::plot::FigureArgs,
    /// Unit of the output `time` column and of --until and --dt: day (default), hour, minute,
    /// second, week, or `model` (the model's own time unit, as libRoadRunner and COPASI report).
    #[arg(long, value_name = "UNIT", default_value = "day")]
    pub time_unit: String,
    /// Simulated span in the --time-unit (instead of --days).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Report every species as an amount (a concentration times its compartment's size).
    #[arg(long, conflicts_with = "concentrations")]
    pub amounts: bool,
    /// Report every species as a concentration (an amount divided by its compartment's size).
    #[arg(long)]
    pub concentrations: bool,
    /// Also write these parameters, compartments, species references or assignments as
    /// output columns (comma-separated names).
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub observe: Vec<String>,
}

/// The span and time-unit flags of `simulate`: --time-unit, --until.
pub(crate) struct TimeFlags<'a> {
    pub unit: &'a str,
    pub until: Option<&'a str>,
}

fn parse_num(flag: &str, text: &str) -> Result<f64> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| anyhow!("{flag}: `{text}` is not a number"))?;
    if !v.is_finite() {
        bail!("{flag}: `{text}` is not a finite number");
    }
    Ok(v)
}

/// Load the model and turn the flags into inputs and run options.
pub(crate) fn prepare(a: &ModelArgs) -> Result<(Model, Inputs, RunOptions)> {
    prepare_in(a, None)
}

/// [`prepare`], with `simulate`'s time unit: --until and --dt in that unit.
pub(crate) fn prepare_in(
    a: &ModelArgs,
    time: Option<TimeFlags>,
) -> Result<(Model, Inputs, RunOptions)> {
    let model = Model::resolve(&a.model)?;
    let mut inputs = Inputs::default();
    let flags = [
        ("--dose", "dose", &a.dose),
        ("--dose-per-kg", "dose_per_kg", &a.dose_per_kg),
        ("--weight", "weight", &a.weight),
        ("--schedule", "schedule", &a.schedule),
        ("--ld", "ld", &a.ld),
        ("--tumor-burden", "tumor_burden", &a.tumor_burden),
        ("--bridging", "bridging", &a.bridging),
    ];
    for (flag, name, value) in flags {
        if let Some(v) = value {
            inputs
                .set(&model, name, v)
                .map_err(|e| anyhow!("{flag}: {e}"))?;
        }
    }
    for s in &a.set {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("--set `{s}`: expected NAME=VALUE"))?;
        inputs
            .set(&model, name.trim(), value)
            .map_err(|e| anyhow!("--set {s}: {e}"))?;
    }
    let mut days = parse_num("--days", &a.days)?;
    let mut dt = parse_num("--dt", &a.dt)?;
    let mut time_unit = TimeUnit::Day;
    if let Some(tf) = time {
        time_unit = match tf.unit {
            "model" => model.time_unit,
            u => TimeUnit::parse(u)
                .filter(|u| *u != TimeUnit::Dimensionless)
                .ok_or_else(|| {
                    anyhow!("--time-unit: `{u}` is not day, hour, minute, second, week or model")
                })?,
        };
        if let Some(u) = tf.until {
            let until = parse_num("--until", u)?;
            if until <= 0.0 {
                bail!("--until must be a positive span, got {until}");
            }
            days = time_unit.to_days(until);
        }
        dt = time_unit.to_days(dt);
    }
    let method = Method::parse(&a.method).ok_or_else(|| {
        anyhow!(
            "--method: unknown method `{}` (use auto, dopri5, radau5, rodas4 or bdf)",
            a.method
        )
    })?;
    let defaults = RunOptions::for_model(&model).with_days(&model, days);
    let opts = RunOptions {
        days,
        dt,
        window: match &a.window {
            Some(w) => parse_num("--window", w)?,
            None => defaults.window,
        },
        alarm_window: match &a.alarm_window {
            Some(w) => parse_num("--alarm-window", w)?,
            None => defaults.alarm_window,
        },
        interventions: !a.no_interventions,
        solver: SolverOptions {
            method,
            rtol: parse_num("--rtol", &a.rtol)?,
            atol: parse_num("--atol", &a.atol)?,
            ..SolverOptions::default()
        },
        time_unit,
        species: SpeciesAs::Model,
    };
    opts.validate().map_err(|e| anyhow!(e))?;
    Ok((model, inputs, opts))
}

fn unit_of(model: &Model, q: Option<Quantity>) -> String {
    match q {
        Some(Quantity::State(i)) => model.states[i].unit.clone(),
        Some(Quantity::Observable(i)) => model.observables[i].unit.clone(),
        None => String::new(),
    }
}

fn name_of(model: &Model, q: Option<Quantity>) -> String {
    match q {
        Some(Quantity::State(i)) => model.states[i].name.clone(),
        Some(Quantity::Observable(i)) => model.observables[i].name.clone(),
        None => String::new(),
    }
}

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    let time = TimeFlags {
        unit: &a.time_unit,
        until: a.until.as_deref(),
    };
    let (mut model, inputs, mut opts) = prepare_in(&a.model, Some(time))?;
    opts.species = match (a.amounts, a.concentrations) {
        (true, _) => SpeciesAs::Amounts,
        (_, true) => SpeciesAs::Concentrations,
        _ => SpeciesAs::Model,
    };
    let observe: Vec<&str> = a
        .observe
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    model
        .observe_more(&observe)
        .map_err(|e| anyhow!("--observe: {e}"))?;
    let run = cartox::run(&model, &inputs, &opts)?;

    if let Some(path) = &a.out {
        let tr = run.trajectory(&model, &opts);
        let extra = cartox::output::grade_columns(&run, &tr);
        let format = cartox::output::table::Format::of(path);
        write_atomic(path, |w| Ok(write_timecourse_as(format, w, &tr, &extra)?))
            .with_context(|| format!("--out {}", path.display()))?;
    }
    if let Some(path) = &a.plot {
        render(&model, &run, &opts, &a.figure, path)?;
    }
    let cart_unit = unit_of(&model, model.summary_cart);
    if let Some(path) = &a.summary {
        let summary = cartox::output::summary_json(&model, &run, &opts)?;
        let text = serde_json::to_string_pretty(&summary)?;
        write_atomic(path, |w| {
            writeln!(w, "{text}")?;
            Ok(())
        })
        .with_context(|| format!("--summary {}", path.display()))?;
    }

    // Readable summary on stdout (unless stdout carries data).
    let stdout_taken = a.out.as_deref().is_some_and(|p| p.as_os_str() == "-")
        || a.summary.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !stdout_taken {
        print_summary(&model, &run, &opts, &cart_unit);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_toxicity(model: &Model, run: &cartox::Run, opts: &RunOptions) {
    let Some(t) = &run.toxicity else { return };
    println!(
        "\nModelled CRS/ICANS risk grade (threshold bands on a model observable; NOT an ASTCT grade) over days 0-{}:",
        g(t.window)
    );
    for (label, r, g_rules) in [
        (
            "CRS",
            &t.crs,
            model.toxicity.as_ref().and_then(|x| x.crs.as_ref()),
        ),
        (
            "ICANS",
            &t.icans,
            model.toxicity.as_ref().and_then(|x| x.icans.as_ref()),
        ),
    ] {
        let (Some(r), Some(rules)) = (r, g_rules) else {
            continue;
        };
        let th: Vec<String> = rules.thresholds.iter().map(|x| g(*x)).collect();
        println!(
            "  {label:<6} modelled risk grade {} (from `{}`, thresholds {} {})",
            r.grade,
            r.observable,
            th.join("/"),
            r.unit
        );
        match r.onset {
            Some(on) => println!(
                "         onset day {}, {} days at grade >= 1, {} days at grade >= 3",
                g(on),
                g(r.duration),
                g(r.severe_duration)
            ),
            None => println!("         no modelled grade >= 1 in the window"),
        }
        println!(
            "         peak {} {} at day {}",
            g(r.peak),
            r.unit,
            g(r.peak_day)
        );
        if r.still_above_at_window_end {
            println!("         still above the grade-1 threshold at the window's end");
        }
    }
    println!(
        "  alarm (grade >= 2 by day {}): {}",
        g(t.alarm_window),
        if t.alarm { "yes" } else { "no" }
    );
    if model.interventions.is_empty() {
        return;
    }
    if !opts.interventions {
        println!("  interventions: disabled (--no-interventions)");
    } else if t.interventions.is_empty() {
        println!("  interventions: none fired");
    }
    for f in &t.interventions {
        let doses = match f.doses {
            1 => String::new(),
            n => format!(" ({n} doses, last day {})", g(f.last_dose_day)),
        };
        println!(
            "  intervention {}: triggered day {}, given day {}{doses}{}",
            f.name,
            g(f.trigger_day),
            g(f.start_day),
            f.end_day
                .map_or(String::new(), |e| format!(", effect until day {}", g(e)))
        );
    }
}

fn g(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (0.01..1e5).contains(&a) {
        format!("{:.3}", x)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// The response as the preset's trial read it, at its scheduled visits (when it declares them).
fn print_visits(model: &Model, run: &cartox::Run) {
    let visits = &model.response.visits;
    let Some(last) = model.response.last_visit() else {
        return;
    };
    let days = visits.iter().map(|d| g(*d)).collect::<Vec<_>>().join(", ");
    if run.solution.end_day() < last {
        println!(
            "  trial visits     days {days} (run --days {} to read them)",
            g(last)
        );
        return;
    }
    if let Ok(Some(b)) =
        cartox::summary::visits::best_at_visits(model, &run.scenario, &run.solution)
    {
        println!(
            "  at trial visits  best {} over days {days}{}",
            b.as_str(),
            if model.response.confirm > 1 {
                format!(
                    " (confirmed at {} consecutive visits)",
                    model.response.confirm
                )
            } else {
                String::new()
            }
        );
    }
}

fn print_summary(model: &Model, run: &cartox::Run, opts: &RunOptions, cart_unit: &str) {
    let sc = &run.scenario;
    let s = &run.summary;
    let window = opts.window.min(opts.days);
    println!("cartox · model `{}` — {}", model.name, model.title);
    if model.regimen.is_some() {
        let doses: Vec<String> = sc
            .infusions
            .iter()
            .map(|i| format!("{} cells at day {}", g(i.cells), g(i.day)))
            .collect();
        println!(
            "regimen: {}; lymphodepletion {}",
            if doses.is_empty() {
                "no infusion".into()
            } else {
                doses.join(", ")
            },
            sc.ld.as_deref().unwrap_or("none")
        );
    }
    println!(
        "solved {} days with {} (rtol {:e}, atol {:e}): {}",
        g(opts.days),
        opts.solver.method.as_str(),
        opts.solver.rtol,
        opts.solver.atol,
        run.solution.stats.describe(opts.solver.method)
    );
    if let (Some(cmax), Some(tmax), Some(auc), Some(last)) =
        (s.cart_cmax, s.cart_tmax, s.cart_auc, s.cart_last)
    {
        println!(
            "\nCAR-T ({}, {cart_unit}) over days 0-{}:",
            name_of(model, model.summary_cart),
            g(window)
        );
        println!(
            "  peak (Cmax)      {} {cart_unit} at day {}",
            g(cmax),
            g(tmax)
        );
        println!("  AUC              {} {cart_unit} x day", g(auc));
        println!("  at day {:<9} {} {cart_unit}", g(window), g(last));
    }
    if let (Some(nadir), Some(end)) = (s.tumor_nadir, s.tumor_end) {
        println!(
            "\nTumor ({}), fraction of pre-treatment baseline:",
            name_of(model, model.summary_tumor)
        );
        println!("  nadir            {}", g(nadir));
        println!("  at day {:<9} {}", g(window), g(end));
        if let (Some(r), Some(b)) = (s.response, s.best_response) {
            println!(
                "  response         {} at day {}, best {} (modelled rule: {}, docs/default-model.md)",
                r.as_str(),
                g(window),
                b.as_str(),
                model.response.criteria
            );
        }
        print_visits(model, run);
        if let Some(d) = s.relapse_day {
            println!("  relapse          day {}", g(d));
        }
    }
    if let Some(cmax) = s.cart_cmax_transgene {
        let u = unit_of(model, model.summary_transgene);
        println!(
            "\nCAR transgene ({}, {u}):",
            name_of(model, model.summary_transgene)
        );
        println!("  peak             {} {u}", g(cmax));
        if let Some(tmax) = s.cart_tmax_transgene {
            println!("  peak day         {}", g(tmax));
        }
        if let Some(auc) = s.cart_auc28_transgene {
            println!("  AUC days 0-28    {} {u} x day", g(auc));
        }
    }
    if let Some(aplasia) = s.b_cell_aplasia {
        println!(
            "\nNormal B cells ({}): aplasia (< {} {}) at day {}: {}{}",
            name_of(model, model.summary_b_cells),
            g(model.b_cell_aplasia_below.unwrap_or(f64::NAN)),
            unit_of(model, model.summary_b_cells),
            g(window),
            if aplasia { "yes" } else { "no" },
            s.b_cell_recovery_day
                .map_or(String::new(), |d| format!(", recovery day {}", g(d)))
        );
    }
    print_toxicity(model, run, opts);
    println!("\nModelled quantities from a mathematical model; not clinical advice.");
}

/// Render one run as the default figure: panels, thresholds, dose and intervention markers,
/// monitoring and alarm windows.
fn render(
    model: &Model,
    run: &cartox::Run,
    opts: &RunOptions,
    args: &super::plot::FigureArgs,
    path: &std::path::Path,
) -> Result<()> {
    cartox::plot::draw_runs(model, &[(&model.name, run)], opts, &args.options(), path)?;
    Ok(())
}
