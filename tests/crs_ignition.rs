//! The myeloid ignition loop of the CRS block (issue 14, eighth session; models/cartox.toml
//! `g_loop`, `S_loop`; docs/presets.md, docs/calibrate_ignition.py): contact-driven myeloid
//! activation a_A x contact is multiplied by 1 + g_loop x S/(S + S_loop). Off by default.

use cartox::validate::{population_runs, Population};
use cartox::{Inputs, Model, RunOptions};

/// The default model file with the myeloid equation as it was before the loop.
fn model_without_loop() -> Model {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/cartox.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let with =
        r#"A = "a_A * (1 - I_steroid) * contact * (1 + g_loop * ignition) * (1 - A) - k_off * A""#;
    let without = r#"A = "a_A * (1 - I_steroid) * contact * (1 - A) - k_off * A""#;
    assert_eq!(text.matches(with).count(), 1, "loop equation not found");
    Model::from_toml(&text.replace(with, without), "models/cartox.toml (no loop)").unwrap()
}

fn set(m: &mut Model, name: &str, value: f64, omega2: Option<f64>) {
    let i = m.parameter_index(name).unwrap();
    m.parameters[i].value = value;
    m.parameters[i].omega2 = omega2;
}

fn trajectory(m: &Model, burden: f64, interventions: bool) -> cartox::trajectory::Trajectory {
    let inputs = Inputs::builder(m).tumor_burden(burden).unwrap().build();
    let mut o = RunOptions::for_model(m);
    o.interventions = interventions;
    cartox::run(m, &inputs, &o).unwrap().trajectory(m, &o)
}

/// With the shipped g_loop = 0 the model is the one before the loop, to the last bit: every
/// column of the typical patient's trajectory, at the default burden and at a burden high
/// enough for tocilizumab and steroids to be given.
#[test]
fn loop_off_is_the_model_before_bit_for_bit() {
    let now = Model::default_model();
    assert_eq!(
        now.parameters[now.parameter_index("g_loop").unwrap()].value,
        0.0
    );
    let before = model_without_loop();
    for burden in [1e11, 1e12] {
        let (a, b) = (
            trajectory(&now, burden, true),
            trajectory(&before, burden, true),
        );
        assert_eq!(a.time, b.time, "burden {burden}: time grid");
        for c in [
            "E",
            "T",
            "A",
            "IL6",
            "S",
            "EA",
            "Z",
            "TCZ",
            "DEX",
            "il6",
            "crs_drive",
        ] {
            let (x, y) = (a.column(c).unwrap(), b.column(c).unwrap());
            assert!(
                x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()),
                "burden {burden}: column {c} differs"
            );
        }
        if burden == 1e12 {
            let tcz = a.column("TCZ").unwrap();
            assert!(tcz.iter().any(|&v| v > 0.0), "tocilizumab never given");
        }
    }
}

/// ZUMA-1 population (axi-cel, n = 60, seed 5, loop spread omega2 4, no interventions so that
/// nothing but the loop differs): each patient's peak CRS drive never falls as g_loop rises
/// (the loop only adds myeloid activation), and the share of CRS patients who reach base grade 2
/// rises, strictly from no loop to g_loop 3, while CRS of any grade (the onset of the syndrome,
/// below the loop's half-gain point) moves less than that share.
#[test]
fn severity_share_rises_with_g_loop() {
    let mut m = Model::resolve("axi-cel").unwrap();
    let mut o = RunOptions::for_model(&m);
    o.interventions = false;
    let pop = Population { n: 60, seed: 5 };
    let mut last_peaks: Option<Vec<f64>> = None;
    let mut shares = Vec::new();
    let mut any = Vec::new();
    for g in [0.0, 0.5, 1.0, 3.0] {
        set(&mut m, "g_loop", g, Some(4.0));
        let runs = population_runs(&m, pop, &o).unwrap();
        let crs: Vec<_> = runs
            .iter()
            .map(|r| r.toxicity.as_ref().unwrap().crs.clone().unwrap())
            .collect();
        let peaks: Vec<f64> = crs.iter().map(|c| c.peak).collect();
        if let Some(prev) = &last_peaks {
            for (i, (p, q)) in prev.iter().zip(&peaks).enumerate() {
                assert!(*q >= p * (1.0 - 1e-6), "g {g}: patient {i} peak {q} < {p}");
            }
        }
        last_peaks = Some(peaks);
        let n_any = crs.iter().filter(|c| c.grade >= 1).count();
        let n_g2 = crs.iter().filter(|c| c.grade >= 2).count();
        assert!(n_any > 0);
        shares.push(n_g2 as f64 / n_any as f64);
        any.push(n_any as f64 / pop.n as f64);
    }
    for w in shares.windows(2) {
        assert!(
            w[1] >= w[0],
            "share of CRS reaching grade 2 fell: {shares:?}"
        );
    }
    assert!(shares[3] > shares[0] + 0.1, "{shares:?}");
    assert!(
        any[3] - any[0] < shares[3] - shares[0],
        "any {any:?} vs share {shares:?}"
    );
}

/// A strong loop (g_loop 50) at a high burden, with tocilizumab and steroids: IL-6, the CRS drive
/// and the myeloid fraction stay in their ranges (IL-6 >= 0, 0 <= A <= 1), the loop lifts the IL-6
/// peak, and CRS still resolves (the loop needs CAR-T/tumor contact, so it ends with it).
#[test]
fn strong_loop_keeps_states_in_range_and_resolves() {
    let mut m = Model::default_model();
    let off = trajectory(&m, 1e12, true);
    set(&mut m, "g_loop", 50.0, None);
    let on = trajectory(&m, 1e12, true);
    let il6 = on.column("IL6").unwrap();
    let a = on.column("A").unwrap();
    let s = on.column("S").unwrap();
    assert!(il6.iter().all(|&v| v >= 0.0), "IL-6 < 0");
    assert!(s.iter().all(|&v| v >= 0.0), "S < 0");
    assert!(
        a.iter().all(|&v| (0.0..=1.0).contains(&v)),
        "A outside 0..1"
    );
    let max = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max);
    assert!(
        max(&il6) > 1.5 * max(&off.column("IL6").unwrap()),
        "loop did not lift IL-6"
    );
    let last = on.time.len() - 1;
    assert!(
        on.time[last] >= 28.0,
        "window ends at day {}",
        on.time[last]
    );
    assert!(
        s[last] < 12.0,
        "CRS drive {} at day {}",
        s[last],
        on.time[last]
    );
    assert!(a[last] < 0.01, "myeloid activation {} persists", a[last]);
}
