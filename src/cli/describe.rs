//! `cartox models` and `cartox describe`.

use anyhow::Result;
use cartox::model::{Model, BUNDLED};
use std::process::ExitCode;

pub fn list_models() -> Result<ExitCode> {
    println!("{:<26} {:<6} title", "model", "time");
    for (name, text) in BUNDLED {
        match Model::from_toml(text, &format!("models/{name}.toml")) {
            Ok(m) => println!("{:<26} {:<6} {}", name, m.time_unit.as_str(), m.title),
            Err(e) => println!("{name:<26} (does not load: {e})"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn describe(name: &str) -> Result<ExitCode> {
    let m = Model::resolve(name)?;
    println!("{} — {}", m.name, m.title);
    println!("file: {}    time unit: {}", m.source, m.time_unit.as_str());
    if !m.description.trim().is_empty() {
        println!("\n{}", m.description.trim());
    }
    println!("\nStates:");
    for s in &m.states {
        println!(
            "  {:<14} [{}] initial {}  — {}",
            s.name, s.unit, s.initial_text, s.description
        );
    }
    println!("\nParameters:");
    for p in &m.parameters {
        let bounds = match (p.lower, p.upper) {
            (None, None) => String::new(),
            (l, u) => format!(
                " bounds [{}, {}]",
                l.map_or("-inf".into(), |x| x.to_string()),
                u.map_or("inf".into(), |x| x.to_string())
            ),
        };
        let omega = p.omega2.map_or(String::new(), |o| format!(" omega2 {o}"));
        println!("  {:<14} = {} {}{bounds}{omega}", p.name, p.value, p.unit);
        if !p.description.is_empty() {
            println!("      {}", p.description);
        }
        if !p.source.is_empty() {
            println!("      source: {}", p.source);
        }
    }
    if !m.correlations.is_empty() {
        println!("\nCorrelations of the random effects (eta):");
        for c in &m.correlations {
            let [a, b] = c.between;
            println!(
                "  {} ~ {}  r = {}",
                m.parameters[a].name, m.parameters[b].name, c.r
            );
            if !c.description.is_empty() {
                println!("      {}", c.description);
            }
            if !c.source.is_empty() {
                println!("      source: {}", c.source);
            }
        }
    }
    if !m.assignments.is_empty() {
        println!("\nAssignments (evaluation order):");
        for a in &m.assignments {
            println!("  {:<14} = {}", a.name, a.text);
        }
    }
    println!("\nEquations (per {}):", m.time_unit.as_str());
    for (s, e) in m.states.iter().zip(&m.equation_texts) {
        println!("  d{}/dt = {}", s.name, e);
    }
    if !m.observables.is_empty() {
        println!("\nObservables:");
        for o in &m.observables {
            println!(
                "  {:<14} [{}] = {}  — {}",
                o.name, o.unit, o.text, o.description
            );
        }
    }
    if !m.events.is_empty() {
        println!("\nEvents (time in {}s):", m.time_unit.as_str());
        for e in &m.events {
            let set: Vec<String> = e
                .set
                .iter()
                .map(|(i, _, text)| format!("{} := {text}", m.states[*i].name))
                .collect();
            println!("  {:<14} t = {}: {}", e.name, e.time_text, set.join(", "));
        }
    }
    if !m.state_events.is_empty() {
        println!("\nTriggered events:");
        for e in &m.state_events {
            let set: Vec<String> = e
                .set
                .iter()
                .map(|(target, _, text)| {
                    let name = match *target {
                        cartox::model::EventTarget::State(i) => &m.states[i].name,
                        cartox::model::EventTarget::Parameter(j) => &m.parameters[j].name,
                    };
                    format!("{name} := {text}")
                })
                .collect();
            println!(
                "  {:<14} when {}: {}",
                e.name,
                e.trigger_text,
                set.join(", ")
            );
        }
    }
    match &m.regimen {
        Some(r) => {
            println!("\nRegimen:");
            println!("  infusion into state `{}`", m.states[r.dose_state].name);
            if let Some(d) = r.dose {
                println!("  default dose {d} cells");
            }
            if let Some(d) = r.dose_per_kg {
                println!("  default dose {d} cells/kg");
            }
            if let Some(w) = r.weight {
                println!("  default weight {w} kg");
            }
            if let Some(tb) = r.tumor_burden {
                println!("  default tumor burden {tb} cells");
            }
            if let Some(ld) = &r.ld {
                println!("  default lymphodepletion {ld}");
            }
            if !r.source.is_empty() {
                println!("  source: {}", r.source);
            }
        }
        None => println!("\nRegimen: none declared (runs from the initial values; set <state>_0)"),
    }
    if !m.lymphodepletion.is_empty() {
        println!("\nLymphodepletion regimens:");
        for l in &m.lymphodepletion {
            println!("  {:<12} {}", l.name, l.description);
            for (i, _, text) in &l.changes {
                println!("      {} := {}", m.states[*i].name, text);
            }
            if !l.source.is_empty() {
                println!("      source: {}", l.source);
            }
        }
    }
    println!("\nReferences:");
    for r in &m.references {
        let doi = r
            .doi
            .as_deref()
            .map_or(String::new(), |d| format!(" doi:{d}"));
        let bm = r
            .biomodels
            .as_deref()
            .map_or(String::new(), |d| format!(" {d}"));
        println!("  - {}{doi}{bm}", r.citation);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import_sbml(file: &std::path::Path, out: Option<&std::path::Path>) -> Result<ExitCode> {
    let label = file.display().to_string();
    let xml =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{label}: cannot read: {e}"))?;
    let text = cartox::sbml::sbml_to_toml(&xml, &label)?;
    // The result must compile as a cartox model before it is written.
    Model::from_toml(&text, &format!("{label} (imported)"))?;
    let path = out.unwrap_or(std::path::Path::new("-"));
    cartox::output::write_atomic(path, |w| {
        w.write_all(text.as_bytes())?;
        Ok(())
    })?;
    if out.is_some() {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
