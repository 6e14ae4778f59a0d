//! Disease burden as a patient covariate (issue 14): `burden_iiv` scales the antigen-positive tumor
//! at infusion; the ELIANA preset (tisa-cel ALL) draws it log-normally with the spread of ELIANA's
//! marrow blasts (omega2 1.25 by the rule of docs/presets.md), and CRS severity follows it.

use cartox::sweep::population::{Design, WEIGHT_CV};
use cartox::validate::{population_runs, Population};
use cartox::{Inputs, Model, RunOptions};
use common::{crs_above_and_below_median, median};

mod common;

/// T(0) = tumor_burden x (1 + neg_odds) x burden_iiv: doubling the covariate doubles the tumor.
#[test]
fn the_covariate_scales_the_tumor_at_infusion() {
    let m = Model::resolve("cartox").unwrap();
    let opts = RunOptions::for_model(&m);
    let t0 = |b: &str| {
        let mut i = Inputs::default();
        i.set(&m, "burden_iiv", b).unwrap();
        let r = cartox::run(&m, &i, &opts).unwrap();
        r.trajectory(&m, &opts).column("tumor").unwrap()[0]
    };
    let neg_odds = m.parameters[m.parameter_index("neg_odds").unwrap()].value;
    assert!((t0("1") - 1e11 * (1.0 + neg_odds)).abs() < 1.0);
    assert!((t0("2") / t0("1") - 2.0).abs() < 1e-12);
    // No variability in the base model: only presets with a reported spread draw it.
    assert!(m.parameters[m.parameter_index("burden_iiv").unwrap()]
        .omega2
        .is_none());
}

/// ELIANA population (n = 100, seed 3): the drawn burden has the stated spread, and the patients
/// with the higher half of burdens have the higher CRS drive and more CRS.
#[test]
fn eliana_crs_follows_marrow_burden() {
    let m = Model::resolve("tisa-cel-all").unwrap();
    let k = m.parameter_index("burden_iiv").unwrap();
    assert_eq!(m.parameters[k].omega2, Some(1.25));
    let pop = Population { n: 100, seed: 3 };
    let d = Design::from_model(&m, WEIGHT_CV).unwrap();
    let col = d.names(&m).iter().position(|c| c == "burden_iiv").unwrap();
    let burden: Vec<f64> = (0..pop.n as u64)
        .map(|i| d.patient(&m, pop.seed, i)[col])
        .collect();
    let ln: Vec<f64> = burden.iter().map(|b| b.ln()).collect();
    let mean = ln.iter().sum::<f64>() / ln.len() as f64;
    let sd = (ln.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (ln.len() - 1) as f64).sqrt();
    // SD 1.118; the sample SD of 100 draws has a standard error of ~0.08.
    assert!((sd - 1.25f64.sqrt()).abs() < 0.25, "sd {sd}");
    let runs = population_runs(&m, pop, &RunOptions::for_model(&m)).unwrap();
    let (hi, lo) = crs_above_and_below_median(&runs, &burden);
    let peak = |v: &[cartox::toxicity::GradeResult]| median(v.iter().map(|c| c.peak).collect());
    let any = |v: &[cartox::toxicity::GradeResult]| v.iter().filter(|c| c.grade >= 1).count();
    assert!(
        peak(&hi) > 2.0 * peak(&lo),
        "{} vs {}",
        peak(&hi),
        peak(&lo)
    );
    assert!(any(&hi) > any(&lo), "{} vs {}", any(&hi), any(&lo));
}
