//! Simulate one patient with the default model: 1e8 CAR-T cells after Flu/Cy, and print the
//! CAR-T peak, the tumor response and the modelled CRS risk grade.
//!
//! `cargo run --release --example simulate_patient`

use cartox::{run, Inputs, Model, RunOptions};

fn main() {
    let model = Model::default_model();
    let inputs = Inputs::builder(&model)
        .dose(1e8)
        .and_then(|b| b.ld("flu-cy"))
        .and_then(|b| b.tumor_burden(1e11))
        .expect("valid inputs for the default model")
        .build();
    let opts = RunOptions::for_model(&model);
    let r = run(&model, &inputs, &opts).expect("the default patient solves");
    let s = &r.summary;
    let cmax = s.cart_cmax.expect("the default model has a CAR-T quantity");
    let tmax = s.cart_tmax.expect("and its peak day");
    println!("CAR-T peak {cmax:.1} cells/uL at day {tmax:.1}");
    println!(
        "tumor at day {}: {:.3e} of baseline",
        opts.window,
        s.tumor_end.expect("the default model has a tumor quantity")
    );
    let crs = r.toxicity.as_ref().and_then(|t| t.crs.as_ref());
    println!(
        "modelled CRS risk grade {} (not an ASTCT grade)",
        crs.map_or(0, |g| g.grade)
    );
    assert!(cmax > 0.0 && (0.0..=opts.days).contains(&tmax));
}

#[test]
fn runs() {
    main()
}
