//! Trigger qualifiers (issue 14): `crs >= N for D d` fires when the grade has been held without
//! interruption for D days, `crs >= N before D d` only when it is recognised by day D; checked
//! on a constructed model with analytic crossings, through a trial protocol (`[management]`) and
//! in a product population.

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::toxicity::Report;
use cartox::validate::{population_runs, Population};

/// `x = 10 t - t^2` (peak 25 at t = 5): CRS thresholds 9 / 16 / 21 / 24 are crossed upwards at
/// t = 1 / 2 / 3 / 4 and downwards at t = 9 / 8 / 7 / 6. Each intervention sets `a` to itself
/// (an effect that changes nothing), so trigger days are read off the unperturbed hump.
fn hump(min_duration: &str, triggers: &[&str]) -> Model {
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

[[parameters]]
name = "b"
value = -2.0

[[states]]
name = "x"
initial = 0.0

[equations]
x = "a + b * t"

[toxicity]
[toxicity.crs]
observable = "x"
thresholds = [9, 16, 21, 24]
{min_duration}

{iv}"#
    );
    Model::from_toml(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn report(model: &Model) -> Report {
    let o = RunOptions {
        days: 12.0,
        dt: 0.1,
        window: 12.0,
        ..RunOptions::default()
    };
    cartox::run(model, &Inputs::default(), &o)
        .unwrap()
        .toxicity
        .unwrap()
}

/// Trigger day of intervention `t{k}` (`None`: it never fired).
fn fired(r: &Report, k: usize) -> Option<f64> {
    let name = format!("t{k}");
    r.interventions
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.trigger_day)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn for_fires_when_the_grade_has_lasted_its_days() {
    let m = hump(
        "",
        &[
            "crs >= 1",                               // 1.0: the crossing itself
            "crs >= 1 for 2 d",                       // run of >= 9 from 1: held 2 d at 3.0
            "crs >= 3 for 1.5 d",                     // run of >= 21 from 3 to 7: 4.5
            "crs >= 4 for 2.5 d",                     // run of >= 24 lasts 2 d (4 to 6): never
            "crs >= 2 for 5.5 d",                     // run of >= 16 from 2 to 8: 7.5
            "crs >= 4 for 3 d || crs >= 3 for 0.5 d", // the first term never; the second at 3.5
        ],
    );
    let r = report(&m);
    assert!(close(fired(&r, 0), 1.0), "{:?}", r.interventions);
    assert!(close(fired(&r, 1), 3.0), "{:?}", r.interventions);
    assert!(close(fired(&r, 2), 4.5), "{:?}", r.interventions);
    assert_eq!(fired(&r, 3), None, "{:?}", r.interventions);
    assert!(close(fired(&r, 4), 7.5), "{:?}", r.interventions);
    assert!(close(fired(&r, 5), 3.5), "{:?}", r.interventions);
    // The grades themselves are unchanged by the qualifiers: grade 4, onset 1, 8 days at >= 1.
    let c = r.crs.as_ref().unwrap();
    assert_eq!(c.grade, 4);
    assert!(close(c.onset, 1.0));
    assert!((c.duration - 8.0).abs() < 1e-6);
}

/// Durations may be given in hours: `for 12 h` is `for 0.5 d`, `before 36 h` is `before 1.5 d`.
#[test]
fn durations_in_hours_are_days_over_24() {
    let m = hump(
        "",
        &[
            "crs >= 3 for 36 h",            // run of >= 21 from 3: 4.5
            "crs >= 3 for 1.5 d",           // the same in days
            "crs >= 1 before 36 hours",     // 1.0
            "crs >= 2 for 12 h before 2 h", // held at 2.5, after 2 h: never
        ],
    );
    let r = report(&m);
    assert!(close(fired(&r, 0), 4.5), "{:?}", r.interventions);
    assert_eq!(fired(&r, 0), fired(&r, 1), "{:?}", r.interventions);
    assert!(close(fired(&r, 2), 1.0), "{:?}", r.interventions);
    assert_eq!(fired(&r, 3), None, "{:?}", r.interventions);
}

#[test]
fn for_and_the_grading_minimum_duration_take_the_longer() {
    // Grade 1 needs 0.5 d at >= 9: `for 0.25 d` is recognised at 1.5 like the plain term,
    // `for 1 d` at 2.0.
    let m = hump(
        "min_duration = [0.5, 0, 0, 0]",
        &["crs >= 1", "crs >= 1 for 0.25 d", "crs >= 1 for 1 d"],
    );
    let r = report(&m);
    assert!(close(fired(&r, 0), 1.5), "{:?}", r.interventions);
    assert!(close(fired(&r, 1), 1.5), "{:?}", r.interventions);
    assert!(close(fired(&r, 2), 2.0), "{:?}", r.interventions);
}

#[test]
fn before_fires_only_when_recognised_by_its_day() {
    let m = hump(
        "",
        &[
            "crs >= 1 before 0.5 d",           // grade 1 from day 1: never
            "crs >= 1 before 1.5 d",           // 1.0
            "crs >= 2 for 1 d before 2.5 d",   // held 1 d at 3.0, after 2.5: never
            "crs >= 2 for 1 d before 3.5 d",   // 3.0
            "crs >= 4 before 3 d || crs >= 3", // first term never; second at 3.0
        ],
    );
    let r = report(&m);
    assert_eq!(fired(&r, 0), None, "{:?}", r.interventions);
    assert!(close(fired(&r, 1), 1.0), "{:?}", r.interventions);
    assert_eq!(fired(&r, 2), None, "{:?}", r.interventions);
    assert!(close(fired(&r, 3), 3.0), "{:?}", r.interventions);
    assert!(close(fired(&r, 4), 3.0), "{:?}", r.interventions);
}

#[test]
fn malformed_qualifiers_are_rejected_naming_the_key() {
    for (trigger, msg) in [
        ("crs >= 1 for 0 d", "`for` needs a duration > 0"),
        ("crs >= 1 for -1 d", "`for` needs a duration > 0"),
        (
            "crs >= 1 for 2",
            "`for 2` needs the unit `d` (days) or `h` (hours)",
        ),
        (
            "crs >= 1 for 2 min",
            "`for 2` needs the unit `d` (days) or `h` (hours)",
        ),
        ("crs >= 1 before x d", "`before` needs a duration > 0"),
        ("crs >= 1 during 2 d", "unexpected `during`"),
        ("crs >= 1 for 1 d for 2 d", "unexpected `for`"),
        ("crs >= 1 2", "unexpected `2`"),
    ] {
        let text = format!(
            "[model]\nname = \"m\"\ntime_unit = \"day\"\n[[parameters]]\nname = \"a\"\nvalue = 1.0\n[[states]]\nname = \"x\"\ninitial = 0.0\n[equations]\nx = \"a\"\n[toxicity]\n[toxicity.crs]\nobservable = \"x\"\nthresholds = [1, 2, 3, 4]\n[[interventions]]\nname = \"t\"\ntrigger = \"{trigger}\"\nset = {{ a = \"1\" }}\n"
        );
        let e = Model::from_toml(&text, "models/x.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("interventions.t.trigger") && e.contains(msg),
            "{trigger}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

/// TRANSCEND's protocol in the liso-cel preset: tocilizumab for grade 1 CRS lasting > 3 days or
/// grade >= 2. In its virtual population every patient given tocilizumab had been at grade >= 1
/// for at least 3 days (no liso-cel patient reaches grade 2), and some patients were (the base
/// model's grade-2 rule gives none: docs/presets.md).
#[test]
fn transcend_treats_grade_1_crs_lasting_three_days() {
    let m = Model::resolve("liso-cel").unwrap();
    let opts = RunOptions::for_model(&m);
    let runs = population_runs(&m, Population { n: 60, seed: 3 }, &opts).unwrap();
    let mut treated = 0;
    for r in &runs {
        let t = r.toxicity.as_ref().unwrap();
        let Some(f) = t.interventions.iter().find(|f| f.name == "tocilizumab") else {
            continue;
        };
        treated += 1;
        let c = t.crs.as_ref().unwrap();
        let onset = c.onset.expect("treated patients have CRS");
        assert!(
            f.trigger_day >= onset + 3.0 - 1e-6 || c.grade >= 2,
            "trigger {} onset {onset}",
            f.trigger_day
        );
        assert!((f.start_day - f.trigger_day - 0.25).abs() < 1e-9);
    }
    assert!(treated >= 3, "{treated} of {} treated", runs.len());
}
