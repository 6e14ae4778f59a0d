//! Trial management policies (issue 14, seventh session): a preset's `[management]` section
//! states its trial's rules for tocilizumab and corticosteroids. ZUMA-1's pivotal cohorts gave
//! corticosteroids only for grade >= 3 neurologic events and severe CRS (models/axi-cel.toml),
//! not at the base model's ICANS grade 2. Checked on the axi-cel virtual population: who receives
//! dexamethasone under the preset's rule, and that the same patients under the base rule would
//! have been treated at grade 2.

use cartox::model::Model;
use cartox::run::RunOptions;
use cartox::validate::{population_runs, Population};
use std::fs;

const POP: Population = Population { n: 60, seed: 1 };

fn axi_cel_text() -> String {
    fs::read_to_string(format!(
        "{}/models/axi-cel.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// (ICANS grade, CRS grade, dexamethasone trigger day) per virtual patient.
fn patients(m: &Model) -> Vec<(u8, u8, Option<f64>)> {
    let opts = RunOptions::for_model(m);
    population_runs(m, POP, &opts)
        .unwrap()
        .iter()
        .map(|r| {
            let t = r.toxicity.as_ref().unwrap();
            let dex = t
                .interventions
                .iter()
                .find(|f| f.name == "dexamethasone")
                .map(|f| f.trigger_day);
            (
                t.icans.as_ref().unwrap().grade,
                t.crs.as_ref().unwrap().grade,
                dex,
            )
        })
        .collect()
}

#[test]
fn zuma1_gives_steroids_for_severe_events_only() {
    let text = axi_cel_text();
    let m = Model::from_toml(&text, "models/axi-cel.toml").unwrap();
    let iv = m
        .interventions
        .iter()
        .find(|i| i.name == "dexamethasone")
        .unwrap();
    assert_eq!(
        iv.max_doses, 8,
        "dexamethasone 10 mg every 6 h, at most 8 doses"
    );
    let ps = patients(&m);
    let mut grade2_untreated = 0;
    for (i, &(icans, crs, dex)) in ps.iter().enumerate() {
        if dex.is_some() {
            assert!(
                icans >= 3 || crs >= 3,
                "patient {i}: steroids at ICANS {icans} / CRS {crs}"
            );
        }
        if icans >= 3 {
            assert!(dex.is_some(), "patient {i}: ICANS grade {icans} untreated");
        }
        if icans == 2 && crs < 3 && dex.is_none() {
            grade2_untreated += 1;
        }
    }
    assert!(
        grade2_untreated >= 3,
        "grade-2-only patients: {grade2_untreated}"
    );

    // The same population under the base rule (dexamethasone at ICANS >= 2 or CRS >= 3): the
    // preset's override removed, everything else equal. Every patient the ZUMA-1 rule treats is
    // treated no later under the base rule, and more patients are treated.
    let start = text
        .find("[management.interventions.dexamethasone]")
        .unwrap();
    let end = start + text[start..].find("\n\n[").unwrap() + 2;
    let base_text = format!("{}{}", &text[..start], &text[end..]);
    let b = Model::from_toml(&base_text, "models/axi-cel.toml").unwrap();
    let bs = patients(&b);
    let treated = |v: &[(u8, u8, Option<f64>)]| v.iter().filter(|p| p.2.is_some()).count();
    assert!(
        treated(&bs) > treated(&ps),
        "{} vs {}",
        treated(&bs),
        treated(&ps)
    );
    for (i, (p, q)) in ps.iter().zip(&bs).enumerate() {
        if let (Some(day), Some(base_day)) = (p.2, q.2) {
            assert!(base_day <= day + 1e-9, "patient {i}: {base_day} > {day}");
        }
        if p.2.is_some() {
            assert!(q.2.is_some(), "patient {i}: treated by ZUMA-1's rule only");
        }
    }
}
