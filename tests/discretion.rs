//! Clinician discretion (issue 14): a "may be considered" rule is a trigger term gated by a
//! yes/no parameter (`crs >= 1 for 3 d if tcz_discretion`), which a virtual population draws per
//! patient (`bernoulli = true`: 1 with probability `value`). Checked on a constructed model with
//! analytic crossings, on the population draw itself, and on the KarMMa protocol (ide-cel).

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::sweep::population::{Design, WEIGHT_CV};
use cartox::validate::{population_runs, Population};
use std::process::Command;

/// `x = 10 t - t^2` (CRS thresholds 9 / 16 / 21 / 24 crossed upwards at t = 1 / 2 / 3 / 4), a
/// yes/no parameter `g` and one intervention per trigger (an effect that changes nothing).
fn hump(g: f64, triggers: &[&str]) -> Model {
    let mut iv = String::new();
    for (k, t) in triggers.iter().enumerate() {
        iv += &format!(
            "[[interventions]]\nname = \"t{k}\"\ntrigger = \"{t}\"\nset = {{ a = \"a\" }}\n\n"
        );
    }
    let text = format!(
        r#"[model]
name = "hump"
time_unit = "day"

[[parameters]]
name = "a"
value = 10.0
omega2 = 0.1

[[parameters]]
name = "g"
value = {g}
bernoulli = true

[[states]]
name = "x"
initial = 0.0

[equations]
x = "a - 2 * t"

[toxicity]
[toxicity.crs]
observable = "x"
thresholds = [9, 16, 21, 24]

{iv}"#
    );
    Model::from_toml(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Trigger day of each intervention `t{k}` (`None`: it never fired).
fn fired(model: &Model, g: f64) -> Vec<Option<f64>> {
    let o = RunOptions {
        days: 12.0,
        dt: 0.1,
        window: 12.0,
        ..RunOptions::default()
    };
    let mut inputs = Inputs::default();
    inputs.set(model, "g", &g.to_string()).unwrap();
    let r = cartox::run(model, &inputs, &o).unwrap().toxicity.unwrap();
    (0..model.interventions.len())
        .map(|k| {
            r.interventions
                .iter()
                .find(|f| f.name == format!("t{k}"))
                .map(|f| f.trigger_day)
        })
        .collect()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn an_if_term_applies_only_when_its_parameter_is_yes() {
    let triggers = [
        "crs >= 1 if g",                     // 1.0 for g = 1; never for g = 0
        "crs >= 1 for 2 d if g || crs >= 3", // 3.0 either way (held 2 d at 3.0; grade 3 at 3.0)
        "crs >= 1 if g || crs >= 4",         // 1.0 for g = 1; 4.0 for g = 0
    ];
    let m = hump(0.5, &triggers);
    let yes = fired(&m, 1.0);
    let no = fired(&m, 0.0);
    assert!(close(yes[0], 1.0), "{yes:?}");
    assert_eq!(no[0], None, "{no:?}");
    assert!(close(yes[1], 3.0) && close(no[1], 3.0), "{yes:?} {no:?}");
    assert!(close(yes[2], 1.0) && close(no[2], 4.0), "{yes:?} {no:?}");
    // The typical patient (value 0.5) counts as yes: the more likely decision is taken.
    assert!(close(fired(&m, 0.5)[0], 1.0));
    assert_eq!(fired(&m, 0.49)[0], None);
}

#[test]
fn the_population_draw_is_reproducible_and_has_its_probability() {
    let m = hump(0.3, &["crs >= 1 if g"]);
    let d = Design::from_model(&m, WEIGHT_CV).unwrap();
    assert_eq!(d.names(&m), ["a", "g"]);
    let n = 4000u64;
    let draws: Vec<Vec<f64>> = (0..n).map(|i| d.patient(&m, 11, i)).collect();
    let yes = draws.iter().filter(|p| p[1] == 1.0).count() as f64 / n as f64;
    assert!(draws.iter().all(|p| p[1] == 0.0 || p[1] == 1.0));
    // Binomial SD at p = 0.3, n = 4000: 0.0072; 4 SD either way.
    assert!((yes - 0.3).abs() < 0.03, "fraction {yes}");
    // Same seed, same patients, in any order (each patient has its own stream).
    for i in [0u64, 17, 3999] {
        assert_eq!(d.patient(&m, 11, i), draws[i as usize]);
    }
    let other: Vec<f64> = (0..n).map(|i| d.patient(&m, 12, i)[1]).collect();
    assert_ne!(other, draws.iter().map(|p| p[1]).collect::<Vec<_>>());
    // The yes/no draw comes after the random effects: `a` is drawn exactly as without `g`.
    let plain = Model::from_toml(
        "[model]\nname = \"p\"\ntime_unit = \"day\"\n[[parameters]]\nname = \"a\"\nvalue = 10.0\nomega2 = 0.1\n[[states]]\nname = \"x\"\ninitial = 0.0\n[equations]\nx = \"a\"\n",
        "p.toml",
    )
    .unwrap();
    let dp = Design::from_model(&plain, WEIGHT_CV).unwrap();
    for i in 0..50u64 {
        assert_eq!(
            dp.patient(&plain, 11, i)[0].to_bits(),
            draws[i as usize][0].to_bits()
        );
    }
    // Probabilities 0 and 1 are never / always.
    for (p, want) in [(0.0, 0.0), (1.0, 1.0)] {
        let m = hump(p, &["crs >= 1 if g"]);
        let d = Design::from_model(&m, WEIGHT_CV).unwrap();
        assert!((0..500).all(|i| d.patient(&m, 5, i)[1] == want));
    }
}

/// KarMMa's protocol (ide-cel): tocilizumab for grade 1 CRS lasting > 3 days only where the
/// clinician chose to (tcz_discretion = 1), always at grade >= 2.
#[test]
fn karmma_early_tocilizumab_follows_the_discretion_draw() {
    let m = Model::resolve("ide-cel").unwrap();
    let toci = m
        .interventions
        .iter()
        .find(|iv| iv.name == "tocilizumab")
        .unwrap();
    assert_eq!(
        toci.trigger_text,
        "crs >= 1 for 3 d if tcz_discretion || crs >= 2"
    );
    let opts = RunOptions::for_model(&m);
    let pop = Population { n: 100, seed: 3 };
    let runs = population_runs(&m, pop, &opts).unwrap();
    let d = Design::from_model(&m, WEIGHT_CV).unwrap();
    let col = d
        .names(&m)
        .iter()
        .position(|c| c == "tcz_discretion")
        .unwrap();
    let (mut early, mut withheld) = (0, 0);
    for (i, r) in runs.iter().enumerate() {
        let yes = d.patient(&m, pop.seed, i as u64)[col] == 1.0;
        let t = r.toxicity.as_ref().unwrap();
        let c = t.crs.as_ref().unwrap();
        let given = t.interventions.iter().find(|f| f.name == "tocilizumab");
        match given {
            Some(f) if c.grade < 2 => {
                assert!(
                    yes,
                    "patient {i}: early tocilizumab without the clinician's yes"
                );
                assert!(f.trigger_day >= c.onset.unwrap() + 3.0 - 1e-6);
                early += 1;
            }
            None if !yes && c.duration >= 3.5 => withheld += 1,
            _ => {}
        }
    }
    assert!(
        early >= 5 && withheld >= 5,
        "early {early}, withheld {withheld}"
    );
}

/// `validate` gives the same report whatever --jobs (the draw is per patient stream).
#[test]
fn validate_with_discretion_is_the_same_for_any_jobs() {
    let out = |jobs: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_cartox"))
            .args([
                "validate",
                "--presets",
                "ide-cel,cilta-cel",
                "--n",
                "60",
                "--jobs",
                jobs,
            ])
            .args(["--out", "-"])
            .output()
            .unwrap();
        assert!(o.status.success());
        o.stdout
    };
    assert_eq!(out("1"), out("3"));
}

#[test]
fn bad_discretion_keys_are_one_line_errors() {
    let base = "[model]\nname = \"m\"\ntime_unit = \"day\"\n[[parameters]]\nname = \"a\"\nvalue = 1.0\n[[states]]\nname = \"x\"\ninitial = 0.0\n[equations]\nx = \"a\"\n[toxicity]\n[toxicity.crs]\nobservable = \"x\"\nthresholds = [1, 2, 3, 4]\n";
    let iv = |t: &str| {
        format!("[[interventions]]\nname = \"t\"\ntrigger = \"{t}\"\nset = {{ a = \"1\" }}\n")
    };
    for (extra, key, msg) in [
        (
            iv("crs >= 1 if nope"),
            "interventions.t.trigger",
            "`if nope` needs the name of a parameter",
        ),
        (
            iv("crs >= 1 if a if a"),
            "interventions.t.trigger",
            "unexpected `if`",
        ),
        (
            "[[parameters]]\nname = \"g\"\nvalue = 1.5\nbernoulli = true\n".to_string(),
            "parameter `g`",
            "probability) in [0, 1]",
        ),
        (
            "[[parameters]]\nname = \"g\"\nvalue = 0.5\nomega2 = 0.1\nbernoulli = true\n"
                .to_string(),
            "parameter `g`",
            "no omega2",
        ),
    ] {
        let text = base.replace("[[states]]", &format!("{extra}[[states]]"));
        let text = if extra.starts_with("[[interventions]]") {
            format!("{base}{extra}")
        } else {
            text
        };
        let e = Model::from_toml(&text, "models/x.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains(msg), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
