//! Machine code (feature `jit`) against the interpreter: the same straight-line programs give the
//! same values, for every operation of the expression language, every bundled model and every
//! reference SBML file (right-hand side, Jacobian, observables, parameter-only code at random
//! states and parameters), whole simulations, and the `CARTOX_JIT=0` switch of the binary.
#![cfg(feature = "jit")]

use assert_cmd::Command;
use cartox::expr::{compile_native, parse, Program, ProgramBuilder, FUNCS};
use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::run::RunOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// `a` and `b` agree to 1e-14 relative (the bits, for zeros, infinities and subnormals), or are
/// both NaN.
fn close(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
        || (a.is_nan() && b.is_nan())
        || (a - b).abs() <= 1e-14 * a.abs().max(b.abs())
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn reference_dir(sub: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/reference", "../../shared/reference"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.is_dir())
        .expect("../shared/reference")
        .join(sub)
}

/// Every model file the tests compare: the bundled models, then the reference SBML files.
fn all_models() -> Vec<(String, Model)> {
    let mut out: Vec<(String, Model)> = Model::bundled_names()
        .map(|n| (n.to_string(), Model::resolve(n).unwrap()))
        .collect();
    let mut files: Vec<PathBuf> = ["biomodels", "sbml-more"]
        .iter()
        .flat_map(|d| std::fs::read_dir(reference_dir(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{files:?}");
    for f in files {
        let p = f.to_str().unwrap().to_string();
        out.push((p.clone(), Model::resolve(&p).unwrap()));
    }
    out
}

/// The model twice: compiled to machine code and interpreted.
fn both(m: &Model) -> (Model, Model) {
    let mut native = m.clone();
    native.set_native(true).unwrap();
    let mut interp = m.clone();
    interp.set_native(false).unwrap();
    assert!(native.is_native() && !interp.is_native());
    (native, interp)
}

/// Models are compiled to machine code by default in this build (no `CARTOX_JIT=0` in the
/// test environment), and the right-hand side, the Jacobian, the observables and the
/// parameter-only code of each give the interpreter's values to 1e-14 relative (in fact the
/// same bits) at random parameters (each scaled by e^U(-1,1)) and random states (zeros,
/// negatives, initial and large values).
#[test]
fn every_model_gives_the_interpreters_values() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (mut values, mut identical) = (0usize, 0usize);
    let models = all_models();
    for (name, m) in &models {
        if std::env::var_os("CARTOX_JIT").is_none() {
            assert!(m.is_native(), "{name}: not compiled by default");
        }
        let (native, interp) = both(m);
        let sc = Scenario::prepare(m, &Inputs::default()).unwrap();
        let y0 = cartox::solve::initial_state(m, &sc);
        let n = y0.len();
        let mut vn = native.slots_with_params(&sc.params);
        let mut vi = interp.slots_with_params(&sc.params);
        let mut check = |what: &str, a: &[f64], b: &[f64]| {
            for (k, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(close(*x, *y), "{name}: {what}[{k}] native {x:e} vs {y:e}");
                values += 1;
                identical += same_bits(*x, *y) as usize;
            }
        };
        check("slots", &vn, &vi);
        for round in 0..200 {
            if round % 20 == 0 {
                let p: Vec<f64> = sc
                    .params
                    .iter()
                    .map(|p| p * rng.random_range(-1.0f64..1.0).exp())
                    .collect();
                native.set_params(&mut vn, &p);
                interp.set_params(&mut vi, &p);
                // What the parameter-only code computes (in fresh vectors: those in use also
                // hold intermediate results the interpreter stores and machine code keeps in
                // registers).
                check(
                    "parameter slots",
                    &native.slots_with_params(&p),
                    &interp.slots_with_params(&p),
                );
            }
            let y: Vec<f64> = y0
                .iter()
                .map(|&y0| match rng.random_range(0..6) {
                    0 => 0.0,
                    1 => y0,
                    2 => -rng.random_range(0.0..1e3),
                    _ => (y0.abs() + 1.0) * rng.random_range(0.0..4.0),
                })
                .collect();
            let t = rng.random_range(0.0..60.0);
            let (mut dn, mut di) = (vec![0.0; n], vec![0.0; n]);
            native.rhs(&mut vn, t, &y, &mut dn);
            interp.rhs(&mut vi, t, &y, &mut di);
            check("dy/dt", &dn, &di);
            let (mut jn, mut ji) = (vec![0.0; n * n], vec![0.0; n * n]);
            native.jacobian(&mut vn, t, &y, &mut jn);
            interp.jacobian(&mut vi, t, &y, &mut ji);
            check("jacobian", &jn, &ji);
            let no = m.observables.len();
            let (mut on, mut oi) = (vec![0.0; no], vec![0.0; no]);
            native.observe(&mut vn, t, &y, &mut on);
            interp.observe(&mut vi, t, &y, &mut oi);
            check("observable", &on, &oi);
        }
    }
    assert!(models.len() >= 30, "{} models", models.len());
    assert!(values > 100_000, "{values} values compared");
    // Same Rust functions, same IEEE operations in the same order: the same bits.
    assert_eq!(identical, values, "{identical} of {values} bit-identical");
}

/// A whole simulation (adaptive steps, events, dosing, toxicity grading) with machine code
/// equals the interpreted one within 1e-12 relative, at 57 times and in every summary metric.
#[test]
fn whole_simulations_equal_the_interpreted_ones() {
    for (name, m) in all_models() {
        let (native, interp) = both(&m);
        let opts = RunOptions::for_model(&m);
        let a = cartox::run(&native, &Inputs::default(), &opts).unwrap();
        let b = cartox::run(&interp, &Inputs::default(), &opts).unwrap();
        assert_eq!(
            a.solution.stats.accepted_steps, b.solution.stats.accepted_steps,
            "{name}"
        );
        let n = m.n_states();
        let (mut ya, mut yb) = (vec![0.0; n], vec![0.0; n]);
        for k in 0..=56 {
            let day = opts.days * k as f64 / 56.0;
            a.solution.state_at(day, &mut ya);
            b.solution.state_at(day, &mut yb);
            for (i, (x, y)) in ya.iter().zip(&yb).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-12 * x.abs().max(y.abs()) || (x.is_nan() && y.is_nan()),
                    "{name}: state {i} on day {day}: {x:e} vs {y:e}"
                );
            }
        }
        for ((k, x), (_, y)) in a.metrics().iter().zip(b.metrics()) {
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{name}: {k}");
        }
    }
}

/// Every operation of the expression language — each operator, each function of [`FUNCS`],
/// `if`, `!`, unary minus, integer and real powers, and the fused forms the builder makes of
/// two or three arithmetic operations and of `min`/`max` — gives the interpreter's bits in
/// machine code (and the expression tree's), at special values (signed zeros, infinities,
/// NaN, subnormals, huge and tiny numbers, domain edges) and random ones.
#[test]
fn every_operation_gives_the_interpreters_bits() {
    let names = ["x", "y", "z", "w"];
    let mut texts: Vec<String> = Vec::new();
    for (f, _) in FUNCS {
        texts.push(format!("{f}(x)"));
        texts.push(format!("{f}(y / 3)"));
    }
    for op in [
        "+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||",
    ] {
        texts.push(format!("x {op} y"));
        texts.push(format!("z {op} w"));
    }
    for f in ["min", "max"] {
        texts.push(format!("{f}(x, y)"));
        texts.push(format!("{f}(x, y, z)"));
        texts.push(format!("{f}(x, y) * z"));
        texts.push(format!("w - {f}(z, y)"));
    }
    for o1 in ["+", "-", "*", "/"] {
        for o2 in ["+", "-", "*", "/"] {
            texts.push(format!("(x {o1} y) {o2} z"));
            texts.push(format!("z {o2} (x {o1} y)"));
            for o3 in ["+", "-", "*", "/"] {
                texts.push(format!("(x {o1} y) {o2} (z {o3} w)"));
            }
        }
    }
    texts.extend(
        [
            "-x",
            "!x",
            "!(x < y)",
            "if(x, y, z)",
            "if(x > y && z != 0, ln(z), exp(w))",
            "if(x <= y || !w, y, -z)",
            "x^2",
            "x^3 - y^-2",
            "x^7",
            "x^-5",
            "x^0",
            "x^0.5",
            "pow(y, z)",
            "x",
            "7.25",
            "2^x",
            "(x + y) * (x + y) - sqrt(abs(z)) / floor(w) + ceil(y)",
        ]
        .map(String::from),
    );
    let mut b = ProgramBuilder::new(names.len());
    let mut outs = Vec::new();
    let mut nodes = Vec::new();
    for t in &texts {
        let node = parse(t)
            .unwrap()
            .compile(&|n| names.iter().position(|x| *x == n))
            .unwrap_or_else(|e| panic!("{t}: {e:?}"));
        let out = b.reserve();
        b.emit_into(&node, out);
        outs.push(out);
        nodes.push(node);
    }
    let interp: Program = b.finish();
    let mut native = interp.clone();
    compile_native(&mut [&mut native]).unwrap();
    assert!(native.is_native() && !interp.is_native());
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        3.0,
        1e-300,
        -1e300,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        std::f64::consts::PI,
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for k in 0..20_000 {
        let vals: [f64; 4] = std::array::from_fn(|_| {
            if k % 2 == 0 {
                specials[rng.random_range(0..specials.len())]
            } else {
                rng.random_range(-4.0..4.0)
            }
        });
        let mut vi = vec![0.0; b.len()];
        vi[..4].copy_from_slice(&vals);
        for &(slot, c) in &b.consts {
            vi[slot] = c;
        }
        let mut vn = vi.clone();
        interp.run(&mut vi);
        native.run(&mut vn);
        for ((t, node), &o) in texts.iter().zip(&nodes).zip(&outs) {
            let want = node.eval(&vals);
            assert!(same_bits(vi[o], want), "{t} at {vals:?}: interpreter");
            assert!(
                same_bits(vn[o], vi[o]),
                "{t} at {vals:?}: native {:e} vs interpreted {:e}",
                vn[o],
                vi[o]
            );
        }
    }
}

/// The binary with `CARTOX_JIT=0` (interpreted) writes the same bytes as with machine code.
#[test]
fn the_cli_switch_changes_nothing_in_the_output() {
    let run = |jit: &str| {
        let out = Command::cargo_bin("cartox")
            .unwrap()
            .env("CARTOX_JIT", jit)
            .args(["simulate", "--days", "28"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    let (a, b) = (run("1"), run("0"));
    assert!(a.len() > 1000);
    assert_eq!(a, b);
}
