//! The library's one error type: every public error prints as one line, and its structured
//! fields say what went wrong where (model file line/column, data row/column, input name,
//! run option, solver day).

use cartox::error::{InputError, ModelError, PlotError};
use cartox::solve::SolveFailure;
use cartox::{Error, Inputs, Model, RunOptions};

fn one_line(e: &Error) -> String {
    let s = e.to_string();
    assert!(!s.is_empty() && !s.contains('\n'), "not one line: {s:?}");
    s
}

#[test]
fn model_file_error_has_line_and_column() {
    // line 3 has a value missing after `=`
    let text = "[model]\nname = \"x\"\nbroken = \n";
    let e = Model::from_toml(text, "bad.toml").unwrap_err();
    let s = one_line(&e);
    match &e {
        Error::Model(ModelError {
            file, line, column, ..
        }) => {
            assert_eq!(file, "bad.toml");
            assert_eq!(*line, Some(3), "{s}");
            let c = column.expect("a column");
            assert!((1..=10).contains(&c), "{s}");
            assert!(s.starts_with(&format!("bad.toml:3:{c}: ")), "{s}");
        }
        other => panic!("wrong variant {other:?}"),
    }
}

#[test]
fn bad_input_names_the_input() {
    let m = Model::default_model();
    for (name, text, field) in [
        ("no_such", "1", "no_such"),
        ("dose", "-5", "dose"),
        ("dose", "abc", "dose"),
        ("ld", "no-ld", "ld"),
        ("schedule", "0:0.5", "schedule"),
        ("weight", "0", "weight"),
    ] {
        let mut inputs = Inputs::default();
        let e = inputs.set(&m, name, text).unwrap_err();
        let s = one_line(&e);
        match &e {
            Error::Input(InputError { name: n, message }) => {
                assert_eq!(n, field, "{s}");
                assert_eq!(message, &s);
            }
            other => panic!("wrong variant {other:?}"),
        }
    }
    // a state override is named as its input, `<state>_0`
    let e = Inputs::builder(&m).initial("no_state", 1.0).unwrap_err();
    assert!(
        matches!(&e, Error::Input(i) if i.name == "no_state_0"),
        "{e:?}"
    );
}

#[test]
fn zero_dt_is_an_options_error_naming_dt() {
    let m = Model::default_model();
    let opts = RunOptions {
        dt: 0.0,
        ..RunOptions::for_model(&m)
    };
    let e = cartox::run::run(&m, &Inputs::default(), &opts)
        .err()
        .expect("fails");
    let s = one_line(&e);
    assert_eq!(s, "--dt must be a positive number of days, got 0");
    assert!(
        matches!(&e, Error::Options { option, .. } if option == "--dt"),
        "{e:?}"
    );
    // the same check before a batch solves anything
    let e = cartox::simulate_many(&m, [Inputs::default()], &opts)
        .err()
        .expect("rejected");
    assert!(
        matches!(&e, Error::Options { option, .. } if option == "--dt"),
        "{e:?}"
    );
}

#[test]
fn solver_failure_names_model_and_day() {
    let m = Model::default_model();
    let mut opts = RunOptions::for_model(&m);
    opts.solver.max_steps = 5;
    let e = cartox::run::run(&m, &Inputs::default(), &opts)
        .err()
        .expect("fails");
    let s = one_line(&e);
    match &e {
        Error::Solve(se) => {
            assert_eq!(se.model, m.name);
            assert!(se.day >= 0.0 && se.day < opts.days, "{s}");
            assert!(
                s.starts_with(&format!("model `{}`: solve failed at day ", m.name)),
                "{s}"
            );
            // The step budget ran out, and the error says so as data, not only in words.
            assert!(
                matches!(se.failure, SolveFailure::MaxSteps { .. }),
                "{:?}",
                se.failure
            );
        }
        other => panic!("wrong variant {other:?}"),
    }
}

/// Each structured solve failure keeps the message it always printed.
#[test]
fn solve_failures_print_as_before() {
    let cases = [
        (
            SolveFailure::MaxSteps {
                steps: Some(500001),
                explicit: true,
            },
            "more than 500001 steps (the model may be stiff: try --method radau5)",
        ),
        (
            SolveFailure::MaxSteps {
                steps: None,
                explicit: false,
            },
            "too many steps",
        ),
        (
            SolveFailure::StepSizeUnderflow { explicit: true },
            "step size underflow (the model may be stiff: try --method radau5)",
        ),
        (
            SolveFailure::StepSizeUnderflow { explicit: false },
            "step size underflow",
        ),
        (SolveFailure::NonFinite, "a state became NaN or infinite"),
        (SolveFailure::SingularMatrix, "singular iteration matrix"),
    ];
    for (failure, text) in cases {
        let e = cartox::solve::SolveError {
            model: "m".into(),
            day: 2.5,
            failure,
        };
        assert_eq!(
            e.to_string(),
            format!("model `m`: solve failed at day 2.500000: {text}")
        );
    }
}

/// A state that blows up is reported as a non-finite state, at a day inside the span.
#[test]
fn blow_up_is_a_non_finite_state() {
    let m = Model::from_toml(
        "[model]\nname = \"blowup\"\ntime_unit = \"day\"\n[[states]]\nname = \"x\"\ninitial = 1\n[equations]\nx = \"x * x\"\n",
        "blowup.toml",
    )
    .unwrap();
    let mut opts = RunOptions::for_model(&m);
    opts.days = 5.0;
    opts.solver.method = cartox::solve::Method::Radau5;
    let e = cartox::run::run(&m, &Inputs::default(), &opts)
        .err()
        .expect("blows up");
    match e {
        Error::Solve(se) => assert!(se.day > 0.5 && se.day < 1.5, "{se}"),
        other => panic!("wrong variant {other:?}"),
    }
}

#[test]
fn data_error_prints_file_row_and_column() {
    let data = |row, column: Option<&str>| Error::Data {
        file: "in.csv".into(),
        row,
        column: column.map(str::to_string),
        message: "`dose` = -1 must not be negative".into(),
    };
    for (e, want) in [
        (
            data(Some(4), Some("dose")),
            "in.csv: row 4, column `dose`: `dose` = -1 must not be negative",
        ),
        (
            data(Some(4), None),
            "in.csv: row 4: `dose` = -1 must not be negative",
        ),
        (
            data(None, Some("dose")),
            "in.csv: column `dose`: `dose` = -1 must not be negative",
        ),
        (data(None, None), "in.csv: `dose` = -1 must not be negative"),
    ] {
        assert_eq!(one_line(&e), want);
    }
}

#[test]
fn plot_error_is_a_library_error() {
    // a figure with no panels cannot be drawn: the error names the output file
    let fig = cartox::plot::Figure::default();
    let out = std::path::Path::new("/nonexistent-dir/fig.pdf");
    let e = cartox::plot::render_series(&fig, &[], out).unwrap_err();
    let s = one_line(&e);
    assert!(
        matches!(&e, Error::Plot(PlotError::Data { file, .. }) if file == "/nonexistent-dir/fig.pdf"),
        "{s}"
    );
}
