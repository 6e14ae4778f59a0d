//! Draw a figure of two dosing scenarios (CAR-T, tumor, CRS drive panels) to a PNG in a
//! temporary directory, with the library alone.
//!
//! `cargo run --release --example draw_figure`

use cartox::plot::{draw_runs, FigureOptions};
use cartox::{run, Inputs, Model, RunOptions};

fn main() {
    let model = Model::default_model();
    let opts = RunOptions::for_model(&model);
    let low = Inputs::builder(&model).dose(1e7).unwrap().build();
    let high = Inputs::builder(&model).dose(1e9).unwrap().build();
    let (a, b) = (
        run(&model, &low, &opts).unwrap(),
        run(&model, &high, &opts).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("doses.png");
    let fig = FigureOptions {
        panels: vec!["cart_blood".into(), "tumor".into(), "crs_drive".into()],
        title: Some("1e7 vs 1e9 CAR-T cells".into()),
        ..FigureOptions::default()
    };
    draw_runs(
        &model,
        &[("1e7 cells", &a), ("1e9 cells", &b)],
        &opts,
        &fig,
        &out,
    )
    .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
}

#[test]
fn runs() {
    main()
}
