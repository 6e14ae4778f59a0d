//! The crate's imports run one way, down the pipeline. This test reads `src/` and fails on any
//! import (`crate::<module>`, outside `#[cfg(test)]` code and comments) from a module to one at
//! the same or a higher layer, and on any module missing from the layer table below — which is
//! also the module map: what each top-level module may import.

use std::collections::BTreeMap;
use std::path::Path;

/// Top-level modules, lowest layer first. A module may import only modules of a lower layer.
const LAYERS: &[(&str, u32)] = &[
    ("expr", 0),         // the expression language: parse, compile, programs
    ("par", 0), // the one place with threads: ordered parallel map (sequential without `parallel`)
    ("error", 1), // the library's one error type
    ("model", 2), // spec (file schema), compile stages, runtime model, toxicity rules
    ("sbml", 3), // SBML front end: lowers into model::spec
    ("regimen", 3), // inputs and scenarios: dose, lymphodepletion, overrides
    ("variability", 3), // inter-individual variability: virtual patients
    ("catalog", 4), // where models come from: bundled, TOML files, SBML files
    ("solve", 4), // ODE integration with events
    ("trajectory", 5), // time course, samples of the continuous solution
    ("summary", 6), // CAR-T and tumor metrics
    ("toxicity", 6), // modelled CRS/ICANS grading runtime and intervention triggers
    ("run", 7), // one scenario through the pipeline
    ("many", 8), // many scenarios: simulate_many, ordered and parallel
    ("output", 8), // CSV/JSON writing
    ("plot", 8), // figures
    ("sweep", 9), // many runs: CSV sweeps, populations, scenarios
    ("validate", 10), // presets against published figures
    ("sensitivity", 10), // local, Morris and Sobol sensitivity analysis
    ("fit", 10), // estimation from patient data: ML / MAP, residual error models
];

/// Items re-exported at the crate root (`crate::Model`), by the module that defines them.
const ROOT_EXPORTS: &[(&str, &str)] = &[
    ("Model", "model"),
    ("Inputs", "regimen"),
    ("Scenario", "regimen"),
    ("Run", "run"),
    ("RunOptions", "run"),
    ("Error", "error"),
    ("InputsBuilder", "regimen"),
    ("simulate_many", "many"),
    ("simulate_many_with", "many"),
    ("Batch", "many"),
    ("Result", "error"),
];

fn rank(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The module a `crate::<name>` path imports (resolving root re-exports).
fn module_of(name: &str) -> String {
    ROOT_EXPORTS
        .iter()
        .find(|(item, _)| *item == name)
        .map_or(name, |(_, m)| *m)
        .to_string()
}

/// `crate::name` and `crate::{a, b::c}` references in code (comments removed).
fn imports(code: &str) -> Vec<String> {
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

#[test]
fn imports_run_one_way_down_the_pipeline() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut edges: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if ["main", "lib", "cli"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let Some(from) = rank(&module) else {
            problems.push(format!(
                "module `{module}` ({}) is not in LAYERS",
                rel.display()
            ));
            continue;
        };
        for to in imports(code).iter().map(|n| module_of(n)) {
            if to == module || to == "self" {
                continue;
            }
            match rank(&to) {
                None => problems.push(format!("{}: imports unknown module `{to}`", rel.display())),
                Some(r) if r >= from => problems.push(format!(
                    "{}: `{module}` (layer {from}) imports `{to}` (layer {r})",
                    rel.display()
                )),
                Some(_) => {}
            }
            edges
                .entry(module.clone())
                .or_default()
                .push((to, rel.display().to_string()));
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the pipeline:\n{}",
        problems.join("\n")
    );
    // The check is not vacuous: the core imports what the pipeline says it does.
    for (from, to) in [
        ("model", "expr"),
        ("solve", "model"),
        ("run", "solve"),
        ("toxicity", "trajectory"),
    ] {
        assert!(
            edges
                .get(from)
                .is_some_and(|e| e.iter().any(|(t, _)| t == to)),
            "expected `{from}` to import `{to}`"
        );
    }
}

#[test]
fn the_import_reader_sees_grouped_and_plain_paths() {
    let code = "use crate::{model::Model, solve};\nlet x = crate::expr::parse(s); // crate::run\n";
    assert_eq!(imports(code), vec!["model", "solve", "expr"]);
}
