//! `import-sbml` writes the imported spec as TOML: that text must load back to the same model as
//! the spec itself, for every SBML file of the reference folder (`$CARTOX_SBML_REFERENCE` or
//! ../shared/reference beside the checkout): the curated BioModels, the extra files and every
//! case of the SBML Test Suite that imports.

use std::path::{Path, PathBuf};

use cartox::sbml::{sbml_to_spec, sbml_to_toml, SbmlErrorKind};
use cartox::Model;

fn reference(rel: &str) -> PathBuf {
    let root = std::env::var("CARTOX_SBML_REFERENCE")
        .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference").into());
    PathBuf::from(root).join(rel)
}

fn xml_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() && depth > 0 {
            xml_files(&path, depth - 1, out);
        } else if path.extension().is_some_and(|x| x == "xml") {
            out.push(path);
        }
    }
}

/// The compiled model without the label it was loaded under.
fn fingerprint(mut m: Model) -> String {
    m.source.clear();
    format!("{m:?}")
}

/// The SBML Test Suite's second-based time unit rewritten to days (as its runner's
/// `--patch-time` does), so that the cases import.
fn seconds_to_days(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find("<unit kind=\"second\"") {
        let end = i + rest[i..].find("/>").unwrap_or(rest.len() - i);
        out.push_str(&rest[..i]);
        out.push_str(&rest[i..end].replace("multiplier=\"1\"", "multiplier=\"86400\""));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Imports `path`; if it imports, checks the TOML round trip. Returns whether it imported.
fn round_trip(path: &Path, patch_time: bool) -> bool {
    let name = path.display().to_string();
    let mut xml = std::fs::read_to_string(path).unwrap();
    if patch_time {
        xml = seconds_to_days(&xml);
    }
    let spec = match sbml_to_spec(&xml, &name) {
        Ok(spec) => spec,
        Err(e) => {
            // Refusals are one line, with a kind and at least one problem.
            let line = e.to_string();
            assert!(!line.contains('\n') && !e.problems.is_empty(), "{line}");
            let kind = e.kind().as_str();
            assert!(
                line.starts_with(&format!("{name}: {kind} SBML: ")),
                "{line}"
            );
            assert_eq!(
                e.kind() == SbmlErrorKind::Malformed,
                e.problems
                    .iter()
                    .any(|p| p.kind == SbmlErrorKind::Malformed)
            );
            return false;
        }
    };
    let text = sbml_to_toml(&xml, &name).unwrap();
    assert_eq!(text, toml::to_string(&spec).unwrap(), "{name}");
    let direct = Model::from_spec(spec, "direct");
    let loaded = Model::from_toml(&text, "loaded");
    match (direct, loaded) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                fingerprint(a),
                fingerprint(b),
                "{name}: the TOML loads differently"
            )
        }
        (Err(a), Err(b)) => assert_eq!(message(a), message(b), "{name}"),
        (a, b) => panic!(
            "{name}: spec {:?} but TOML {:?}",
            a.err().map(message),
            b.err().map(message)
        ),
    }
    true
}

#[test]
fn curated_and_extra_models_round_trip() {
    let mut files = Vec::new();
    xml_files(&reference("biomodels"), 0, &mut files);
    xml_files(&reference("sbml-more"), 0, &mut files);
    files.sort();
    assert!(files.len() >= 13, "{} files", files.len());
    let imported = files.iter().filter(|f| round_trip(f, false)).count();
    // All but MODEL2109110005 (if any) import.
    assert!(imported >= files.len() - 1, "{imported} of {}", files.len());
}

#[test]
fn sbml_test_suite_cases_round_trip() {
    let mut files = Vec::new();
    xml_files(&reference("sbml-test-suite/semantic"), 1, &mut files);
    files.sort();
    assert!(files.len() > 1000, "{} SBML Test Suite cases", files.len());
    let imported = files.iter().filter(|f| round_trip(f, true)).count();
    println!("{imported} of {} cases import and round-trip", files.len());
    // 695 of 1821 imported when this test was written (the rest are refused, one line each).
    assert!(imported >= 650, "{imported} of {}", files.len());
}

/// An error's message without its file label and position (the two loads name different files).
fn message(e: cartox::Error) -> String {
    match e {
        cartox::Error::Model(m) => m.message,
        other => other.to_string(),
    }
}
