//! Sweep a virtual population in code (no CSV): draw 200 patients from the default model's
//! inter-individual variability, simulate them in parallel, in order, and report the incidence
//! of modelled CRS grade >= 2.
//!
//! `cargo run --release --example population_incidence`

use cartox::sweep::population::{Design, WEIGHT_CV};
use cartox::{simulate_many, Inputs, Model, RunOptions};

/// Virtual patients and the seed of their draws.
const N: usize = 200;
const SEED: u64 = 2026;

/// The inputs of patient `i`: drawn parameters by name, then body weight and dose.
fn patient(model: &Model, design: &Design, i: usize) -> Inputs {
    let names = design.names(model);
    let values = design.patient(model, SEED, i as u64);
    let mut b = Inputs::builder(model);
    for (name, v) in names.iter().zip(values) {
        b = match name.as_str() {
            "weight" => b.weight(v),
            "dose" => b.dose(v),
            _ => b.param(name, v),
        }
        .expect("drawn values lie within the declared bounds");
    }
    b.build()
}

/// Fraction of patients with modelled CRS grade >= 2, and the number that failed to solve.
fn crs2_incidence(model: &Model) -> (f64, usize) {
    let design = Design::from_model(model, WEIGHT_CV).expect("the default model has omega2");
    let opts = RunOptions::for_model(model);
    let inputs = (0..N).map(|i| patient(model, &design, i));
    let (mut hits, mut failed) = (0, 0);
    for r in simulate_many(model, inputs, &opts).expect("valid options") {
        match r {
            Ok(run) => {
                let grade = run.toxicity.as_ref().and_then(|t| t.crs.as_ref());
                if grade.is_some_and(|g| g.grade >= 2) {
                    hits += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    (hits as f64 / N as f64, failed)
}

fn main() {
    let model = Model::default_model();
    let (incidence, failed) = crs2_incidence(&model);
    println!(
        "{N} virtual patients: modelled CRS grade >= 2 in {:.1}% ({failed} failed to solve; modelled risk, not clinical advice)",
        100.0 * incidence
    );
    assert_eq!(failed, 0);
    assert!((0.0..=1.0).contains(&incidence));
}

#[test]
fn runs() {
    main()
}

/// The parallel, streamed sweep gives exactly what one-by-one runs give, in the same order.
#[test]
fn matches_sequential_runs() {
    let model = Model::default_model();
    let design = Design::from_model(&model, WEIGHT_CV).unwrap();
    let opts = RunOptions::for_model(&model);
    let inputs: Vec<Inputs> = (0..24).map(|i| patient(&model, &design, i)).collect();
    let many: Vec<_> = simulate_many(&model, inputs.clone(), &opts)
        .unwrap()
        .map(|r| r.unwrap().metrics())
        .collect();
    for (inp, got) in inputs.iter().zip(&many) {
        let one = cartox::run(&model, inp, &opts).unwrap().metrics();
        assert_eq!(&one, got);
    }
}
