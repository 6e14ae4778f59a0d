//! Why ide-cel's CRS is calibrated on the direct CAR-T IL-6 route (issue 14, sixth session;
//! docs/presets.md, docs/calibrate_crs.py): with the myeloma expansion, IL-6 comes from engaged
//! CAR-T (p_E x contact), not from myeloid activation (a_A), so KarMMa's CRS any-grade rate moves
//! with p_E and hardly with a_A. Checked on the bundled preset through `cartox validate` on copies.

use std::path::Path;
use std::process::Command;

/// The ide-cel preset with one override line's value replaced, written next to a temporary
/// directory copy so that `base = "cartox"` still resolves to the bundled base model.
fn variant(dir: &Path, name: &str, key: &str, old: &str, new: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/ide-cel.toml"))
        .unwrap();
    let from = format!("{key} = {{ value = {old},");
    assert_eq!(text.matches(&from).count(), 1, "{from} not found once");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        text.replace(&from, &format!("{key} = {{ value = {new},")),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// (CRS any grade, grade >= 3 CRS) of a preset file's virtual population (n = 100, seed 1).
fn crs(preset: &str) -> (f64, f64) {
    let o = Command::new(env!("CARGO_BIN_EXE_cartox"))
        .args(["validate", "--presets", preset, "--n", "100", "--out", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8(o.stdout).unwrap();
    let get = |metric: &str| -> f64 {
        let line = csv
            .lines()
            .find(|l| l.starts_with(&format!("ide-cel,{metric},")))
            .unwrap_or_else(|| panic!("no {metric} row"));
        line.split(',').nth(2).unwrap().parse().unwrap()
    };
    (get("crs_any_incidence"), get("crs_severe_incidence"))
}

#[test]
fn ide_cel_crs_follows_the_direct_car_t_route_not_myeloid_activation() {
    let dir = tempfile::tempdir().unwrap();
    let base = crs("ide-cel");
    // a_A 10x higher (1e-7 -> 1e-6, inside its calibration grid) or 10x lower: CRS any grade
    // moves by at most 3 points.
    for (name, a) in [("a_hi", "1e-06"), ("a_lo", "1e-08")] {
        let any = crs(&variant(dir.path(), name, "a_A", "1e-07", a)).0;
        assert!(
            (any - base.0).abs() <= 0.03,
            "a_A {a}: CRS any {any} vs {}",
            base.0
        );
    }
    // p_E halved / doubled: CRS any grade and grade >= 3 move with it, monotonically.
    let lo = crs(&variant(dir.path(), "pe_lo", "p_E", "0.23", "0.115"));
    let hi = crs(&variant(dir.path(), "pe_hi", "p_E", "0.23", "0.46"));
    assert!(
        lo.0 + 0.05 < base.0 && base.0 + 0.03 < hi.0,
        "CRS any: p_E 0.115 {lo:?}, 0.23 {base:?}, 0.46 {hi:?}"
    );
    assert!(
        lo.1 <= base.1 && base.1 < hi.1,
        "grade >= 3: {lo:?} {base:?} {hi:?}"
    );
}
