//! The typed library API: run options, the inputs builder, simulate_many, metric names.

use cartox::run::METRIC_NAMES;
use cartox::sweep::{self, Columns, Spec};
use cartox::Error;
use cartox::{run, simulate_many, simulate_many_with, Batch, Inputs, Model, RunOptions};

/// `run` rejects unusable options instead of building an unbounded grid.
#[test]
fn run_validates_its_options() {
    let m = Model::default_model();
    for bad in [
        RunOptions {
            dt: 0.0,
            ..RunOptions::for_model(&m)
        },
        RunOptions {
            days: f64::NAN,
            ..RunOptions::for_model(&m)
        },
        RunOptions {
            window: -1.0,
            ..RunOptions::for_model(&m)
        },
    ] {
        match run(&m, &Inputs::default(), &bad) {
            Err(Error::Options { message, .. }) => {
                assert!(message.contains("must be"), "{message}")
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("accepted {bad:?}"),
        }
        assert!(matches!(
            simulate_many(&m, [Inputs::default()], &bad),
            Err(Error::Options { .. })
        ));
    }
}

/// The defaults come from the model's `[toxicity]` windows (28 and 14 days in the default model,
/// written there explicitly), else 28 and 14; the window is clipped to the span.
#[test]
fn run_options_for_model() {
    let m = Model::default_model();
    let t = m.toxicity.as_ref().unwrap();
    let o = RunOptions::for_model(&m);
    assert_eq!(o.days, 28.0);
    assert_eq!(o.dt, 0.1);
    assert_eq!(Some(o.window), t.window);
    assert_eq!(Some(o.alarm_window), t.alarm_window);
    assert_eq!(o.with_days(&m, 10.0).window, 10.0);
    assert_eq!(o.with_days(&m, 90.0).window, t.window.unwrap());
    // A model file with other windows.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/cartox.toml"))
        .unwrap()
        .replace("window = 28 ", "window = 21 ")
        .replace("alarm_window = 14 ", "alarm_window = 7 ");
    let m2 = Model::from_toml(&text, "c.toml").unwrap();
    let o2 = RunOptions::for_model(&m2);
    assert_eq!((o2.window, o2.alarm_window), (21.0, 7.0));
    // Without [toxicity]: 28 and 14.
    let k = Model::resolve("kimmel2021").unwrap();
    assert!(k.toxicity.is_none());
    let o3 = RunOptions::for_model(&k);
    assert_eq!((o3.window, o3.alarm_window), (28.0, 14.0));
}

/// Typed setters validate at once and name the input; `set` (text) gives the same inputs.
#[test]
fn inputs_builder_validates_and_matches_text_set() {
    let m = Model::default_model();
    let typed = Inputs::builder(&m)
        .dose(2e8)
        .and_then(|b| b.weight(70.0))
        .and_then(|b| b.ld("flu-cy"))
        .and_then(|b| b.tumor_burden(5e10))
        .and_then(|b| b.bridging(0.5))
        .and_then(|b| b.schedule(vec![(0.0, 0.5), (1.0, 0.5)]))
        .and_then(|b| b.param("k_act", 0.5))
        .and_then(|b| b.initial("N", 10.0))
        .unwrap()
        .build();
    let mut text = Inputs::default();
    for (name, value) in [
        ("dose", "2e8"),
        ("weight", "70"),
        ("ld", "flu-cy"),
        ("tumor_burden", "5e10"),
        ("bridging", "0.5"),
        ("schedule", "0:0.5,1:0.5"),
        ("k_act", "0.5"),
        ("N_0", "10"),
    ] {
        text.set(&m, name, value).unwrap();
    }
    assert_eq!(typed, text);

    let err = |r: Result<cartox::InputsBuilder, Error>| r.unwrap_err().to_string();
    let b = || Inputs::builder(&m);
    assert!(err(b().param("no_such", 1.0)).contains("`no_such`"));
    assert!(err(b().initial("no_state", 1.0)).contains("`no_state`"));
    assert!(err(b().ld("no-ld")).contains("`no-ld`"));
    assert!(err(b().dose(-1.0)).contains("`dose` = -1 must not be negative"));
    assert!(err(b().dose(f64::INFINITY)).contains("not a finite number"));
    assert!(err(b().weight(0.0)).contains("above 0 kg"));
    assert!(err(b().bridging(1.0)).contains("[0, 1)"));
    assert!(err(b().schedule(vec![(0.0, 0.5)])).contains("sum to 0.5"));
    assert!(err(b().schedule(vec![(1.0, 0.5), (0.0, 0.5)])).contains("must increase"));
    let lo = m.parameters.iter().find(|p| p.lower.is_some()).unwrap();
    assert!(err(b().param(&lo.name, lo.lower.unwrap() - 1.0)).contains("below its lower bound"));
}

/// `simulate_many` gives the runs of one-by-one `run` calls, in input order, whatever the thread
/// count and chunk size.
#[test]
fn simulate_many_is_ordered_and_thread_independent() {
    let m = Model::default_model();
    let opts = RunOptions::for_model(&m);
    let inputs: Vec<Inputs> = (0..20)
        .map(|i| {
            Inputs::builder(&m)
                .dose(1e7 * (1.0 + i as f64))
                .unwrap()
                .build()
        })
        .collect();
    let want: Vec<_> = inputs
        .iter()
        .map(|i| run(&m, i, &opts).unwrap().metrics())
        .collect();
    let got: Vec<_> = simulate_many(&m, inputs.clone(), &opts)
        .unwrap()
        .map(|r| r.unwrap().metrics())
        .collect();
    assert_eq!(got, want);
    for (jobs, chunk) in [(1, 1), (2, 3), (3, 64)] {
        let items = inputs.iter().cloned().map(Ok::<_, ()>);
        let got: Vec<_> = simulate_many_with(&m, items, &opts, Batch { jobs, chunk }, |i, r| {
            r.run(&i).unwrap().metrics()
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
        assert_eq!(got, want, "jobs {jobs}, chunk {chunk}");
    }
}

/// The metric names are fixed: every model's runs report exactly `METRIC_NAMES`, and the sweep
/// columns are those names without running anything.
#[test]
fn metric_names_are_fixed_for_every_model() {
    for name in ["cartox", "kimmel2021", "stein2019"] {
        let m = Model::resolve(name).unwrap();
        let r = run(&m, &Inputs::default(), &RunOptions::for_model(&m)).unwrap();
        let names: Vec<&str> = r.metrics().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, METRIC_NAMES, "{name}");
        assert_eq!(sweep::metric_names(&m), METRIC_NAMES);
    }
}

/// A sweep whose command-line inputs alone cannot run (dose per kg without a weight) still runs
/// the rows that supply the missing input; the metric columns need no probe run.
#[test]
fn sweep_runs_rows_that_complete_the_base_inputs() {
    let m = Model::default_model();
    let mut base = Inputs::default();
    base.set(&m, "dose_per_kg", "1e6").unwrap();
    let header: Vec<String> = vec!["ID".into(), "weight".into()];
    let cols = Columns::resolve(&m, &header, false).unwrap();
    let spec = Spec {
        model: &m,
        base,
        opts: RunOptions::for_model(&m),
        jobs: 2,
        chunk: 4,
        shard: None,
        input_hash: None,
        keep_runs: false,
    };
    let rows = (0..3).map(|i| {
        Ok(sweep::Row {
            index: i,
            cells: vec![format!("p{i}"), format!("{}", 60 + 10 * i)],
        })
    });
    let names = sweep::metric_names(&m);
    let mut out = Vec::new();
    let report = sweep::run_rows(
        &spec,
        &cols,
        &names,
        rows,
        &mut out,
        None,
        &mut |_, _| {},
        &|_| {},
    )
    .unwrap();
    assert_eq!((report.rows, report.failed), (3, 0));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("p0,"));
}
