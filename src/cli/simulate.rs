//! `cartox simulate`: one scenario, a readable summary, optional CSV and JSON.

use super::ModelArgs;
use anyhow::{anyhow, bail, Context, Result};
use cartox::model::{Model, Quantity};
use cartox::output::{write_atomic, write_timecourse};
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::solve::{Method, SolverOptions};
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Write the time course (CSV; `-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the summary metrics (JSON; `-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
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
    let days = parse_num("--days", &a.days)?;
    let method = Method::parse(&a.method).ok_or_else(|| {
        anyhow!(
            "--method: unknown method `{}` (use dopri5 or bdf)",
            a.method
        )
    })?;
    let opts = RunOptions {
        days,
        dt: parse_num("--dt", &a.dt)?,
        window: match &a.window {
            Some(w) => parse_num("--window", w)?,
            None => days.min(28.0),
        },
        solver: SolverOptions {
            method,
            rtol: parse_num("--rtol", &a.rtol)?,
            atol: parse_num("--atol", &a.atol)?,
            ..SolverOptions::default()
        },
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
    let (model, inputs, opts) = prepare(&a.model)?;
    let run = cartox::run(&model, &inputs, &opts)?;
    let s = &run.summary;
    let sc = &run.scenario;

    if let Some(path) = &a.out {
        let tr = run.trajectory(&model, &opts);
        write_atomic(path, |w| write_timecourse(w, &tr, &[]))
            .with_context(|| format!("--out {}", path.display()))?;
    }
    let cart_unit = unit_of(&model, model.summary_cart);
    if let Some(path) = &a.summary {
        let mut m = Map::new();
        m.insert("model".into(), json!(model.name));
        m.insert(
            "note".into(),
            json!("Modelled quantities from a mathematical model; not clinical advice."),
        );
        let mut inp = Map::new();
        inp.insert("dose".into(), json!(sc.total_dose));
        inp.insert("ld".into(), json!(sc.ld));
        inp.insert("days".into(), json!(opts.days));
        inp.insert("window".into(), json!(opts.window.min(opts.days)));
        m.insert("inputs".into(), Value::Object(inp));
        let metrics = serde_json::to_value(s)?;
        if let Value::Object(o) = metrics {
            m.extend(o);
        }
        m.insert(
            "units".into(),
            json!({
                "cart_cmax": cart_unit, "cart_tmax": "day",
                "cart_auc": format!("{cart_unit} x day"), "cart_last": cart_unit,
                "tumor_nadir": "fraction of baseline", "tumor_end": "fraction of baseline",
            }),
        );
        let text = serde_json::to_string_pretty(&Value::Object(m))?;
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
    let st = run.solution.stats;
    println!(
        "solved {} days with {} (rtol {}, atol {}): {} steps, {} right-hand-side evaluations",
        g(opts.days),
        opts.solver.method.as_str(),
        opts.solver.rtol,
        opts.solver.atol,
        st.accepted_steps,
        st.rhs_evaluations
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
    }
    println!("\nModelled quantities from a mathematical model; not clinical advice.");
}
