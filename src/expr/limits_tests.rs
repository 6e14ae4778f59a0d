//! No expression text crashes the process: long flat chains compile and run without recursion,
//! nesting beyond [`MAX_DEPTH`] is an error with a position, and the deepest accepted trees are
//! parsed, compiled, evaluated, cloned and dropped on a thread with a small stack.

use super::*;
use proptest::prelude::*;

/// Everything a model does with an expression: parse, compile, evaluate the tree, compile into
/// a program and run it, clone, compare and drop. Returns the tree's and the program's values.
fn full_cycle(src: &str, names: &[&str], vals: &[f64]) -> Result<(f64, f64), ExprError> {
    let ast = parse(src)?;
    let _ = ast.names();
    let node = ast.compile(&|n| names.iter().position(|x| *x == n))?;
    let copy = node.clone();
    assert!(copy == node);
    let tree = node.eval(vals);
    let mut b = ProgramBuilder::new(names.len());
    let out = b.reserve();
    b.emit_into(&node, out);
    let prog = b.finish();
    let mut v = vec![0.0; b.len()];
    v[..vals.len()].copy_from_slice(vals);
    for &(slot, c) in &b.consts {
        v[slot] = c;
    }
    prog.run(&mut v);
    drop((ast, node, copy));
    Ok((tree, v[out]))
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Run `f` on a thread with a 1 MiB stack (half of Rust's default for spawned threads) in
/// release builds; 8 MiB (the main thread's) in debug builds, whose frames are several times
/// larger (1 MiB overflows there at depth 500).
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let size = if cfg!(debug_assertions) {
        8 << 20
    } else {
        1 << 20
    };
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// `n` copies of `open`, the core, then `n` copies of `close`.
fn nest(open: &str, core: &str, close: &str, n: usize) -> String {
    format!("{}{core}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn long_chains_of_every_operator_evaluate_left_to_right() {
    let n = 20_000;
    let xs: Vec<f64> = (0..n).map(|i| 1.0 + (i % 17) as f64 * 0.37).collect();
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for (sym, op) in [
        ("+", BinOp::Add),
        ("-", BinOp::Sub),
        ("*", BinOp::Mul),
        ("/", BinOp::Div),
        ("<", BinOp::Lt),
        ("==", BinOp::Eq),
        ("&&", BinOp::And),
        ("||", BinOp::Or),
    ] {
        let src = names.join(&format!(" {sym} "));
        let want = xs[1..].iter().fold(xs[0], |acc, &x| apply(op, acc, x));
        let (tree, prog) = full_cycle(&src, &refs, &xs).unwrap();
        assert!(same(tree, want), "{sym}: {tree} vs {want}");
        assert!(same(prog, want), "{sym}: program {prog} vs {want}");
    }
    for (f, op) in [("min", BinOp::Min), ("max", BinOp::Max)] {
        let src = format!("{f}({})", names.join(", "));
        let want = xs[1..].iter().fold(xs[0], |acc, &x| apply(op, acc, x));
        assert_eq!(full_cycle(&src, &refs, &xs).unwrap(), (want, want), "{f}");
    }
    // Constants: a leading constant prefix folds, the rest keeps its order.
    let src = format!("1 + 2 + x0{}", " + 0.1".repeat(n));
    let want = (0..n).fold(3.0 + xs[0], |acc, _| acc + 0.1);
    assert_eq!(full_cycle(&src, &refs, &xs).unwrap(), (want, want));
}

#[test]
fn chains_are_flat_and_fold_like_binary_trees() {
    let node = |src: &str| {
        parse(src)
            .unwrap()
            .compile(&|n| ["x", "y"].iter().position(|m| *m == n))
            .unwrap()
    };
    // Short chains compile to what the left-associated binary tree folded to.
    assert_eq!(node("1 + 2 + x"), Node::BinCV(BinOp::Add, 3.0, 0));
    assert_eq!(
        node("x + y + 2"),
        Node::Bin(
            BinOp::Add,
            Box::new(Node::BinVV(BinOp::Add, 0, 1)),
            Box::new(Node::Const(2.0))
        )
    );
    // A long one is one flat node.
    match node(&format!("x{}", " * y".repeat(1000))) {
        Node::Chain(first, rest) => {
            assert_eq!(*first, Node::BinVV(BinOp::Mul, 0, 1));
            assert_eq!(rest.len(), 999);
        }
        other => panic!("not a chain: {other:?}"),
    }
}

#[test]
fn nesting_beyond_the_limit_is_an_error_with_its_position() {
    // (opening, core, closing, levels per repetition): `x + (` is two levels, the operand of
    // `+` and the parenthesised expression.
    let cases = [
        ("(", "x", ")", 1),
        ("-", "x", "", 1),
        ("!", "x", "", 1),
        ("sin(", "x", ")", 1),
        ("max(1, ", "x", ")", 1),
        ("x + (", "x", ")", 2),
        ("-(", "x", ")", 2),
        ("2 ^ ", "x", "", 1),
        ("if(x, 1, ", "x", ")", 1),
    ];
    for (open, core, close, levels) in cases {
        // Accepted up to MAX_DEPTH levels in all (the outermost expression is one level).
        let limit = MAX_DEPTH / levels;
        let ok = nest(open, core, close, limit - 2);
        let (tree, prog) = small_stack(move || full_cycle(&ok, &["x"], &[0.5]).unwrap());
        assert!(same(tree, prog), "{open}: {tree} vs {prog}");
        for n in [limit + 1, 10_000, 100_000] {
            let deep = nest(open, core, close, n);
            let e = small_stack(move || parse(&deep).unwrap_err());
            assert_eq!(
                e.message,
                format!("expression nested more than {MAX_DEPTH} levels deep"),
                "{open}"
            );
            // The error points into the run of openings, at the limit.
            let unit = open.len();
            assert!(
                e.pos >= (limit - 2) * unit && e.pos <= (limit + 1) * unit,
                "{open} x {n}: at {}",
                e.pos
            );
        }
    }
}

#[test]
fn the_deepest_accepted_trees_fit_a_small_stack() {
    small_stack(deepest_accepted_trees);
}

fn deepest_accepted_trees() {
    // Every parenthesis level adds one tree level per precedence level (five):
    // ((x * 2 + 1 < 3 && x || x) * 2 + 1 < 3 && x || x) ... The tree is limited to MAX_DEPTH
    // levels, whatever makes them.
    let core = " * 2 + 1 < 3 && x || x)";
    let n = (MAX_DEPTH - 1) / 5;
    let src = nest("(", "x", core, n);
    let (tree, prog) = small_stack(move || full_cycle(&src, &["x"], &[0.5]).unwrap());
    assert_eq!((tree, prog), (1.0, 1.0));
    let e = parse(&nest("(", "x", core, n + 1)).unwrap_err();
    assert!(e.message.contains("nested more than"), "{}", e.message);
    // Unary chains alternate signs: an even number of minus signs is the identity.
    let src = format!("{}x", "-".repeat(MAX_DEPTH - 2));
    assert_eq!(full_cycle(&src, &["x"], &[0.5]).unwrap(), (0.5, 0.5));
    let src = format!("{}x", "-".repeat(MAX_DEPTH - 3));
    assert_eq!(full_cycle(&src, &["x"], &[0.5]).unwrap(), (-0.5, -0.5));
    let src = format!("{}x", "!".repeat(MAX_DEPTH - 3));
    assert_eq!(full_cycle(&src, &["x"], &[0.5]).unwrap(), (0.0, 0.0));
    // Unary plus is no level at all.
    let src = format!("{}x", "+".repeat(100_000));
    assert_eq!(full_cycle(&src, &["x"], &[0.5]).unwrap(), (0.5, 0.5));
}

/// Expression shapes: (opening, closing) around a core, repeated, and the levels each adds
/// (bracketed, so that each wraps the whole core; bare unary chains are tested above).
fn shape() -> impl Strategy<Value = (&'static str, &'static str, usize)> {
    prop_oneof![
        Just(("(", ")", 1)),
        Just(("-(", ")", 2)),
        Just(("!(", ")", 2)),
        Just(("x + (", ")", 2)),
        Just(("(x * ", ") - x", 2)),
        Just(("2 ^ (", ")", 2)),
        Just(("cos(", ")", 1)),
        Just(("min(x, ", ")", 1)),
        Just(("if(x < 1, ", ", x)", 1)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any mix of nesting shapes and flat chains either works (program and tree agree) or is the
    /// depth error, exactly around the limit; nothing overflows a 1 MiB stack.
    #[test]
    fn random_nesting_and_chains_never_crash(
        layers in prop::collection::vec((shape(), 1usize..300), 1..6),
        width in 1usize..2000,
        op in prop::sample::select(vec![" + ", " - ", " * ", " / ", " && ", " < "]),
    ) {
        let mut src = vec!["x"; width].join(op);
        let mut depth = 0;
        for ((open, close, levels), n) in &layers {
            src = nest(open, &src, close, *n);
            depth += levels * n;
        }
        let result = small_stack(move || full_cycle(&src, &["x"], &[0.75]));
        match result {
            Ok((tree, prog)) => {
                prop_assert!(depth <= MAX_DEPTH, "accepted at depth {depth}");
                prop_assert!(same(tree, prog), "{tree} vs {prog}");
            }
            Err(e) => {
                prop_assert!(depth + 3 > MAX_DEPTH, "error at depth {depth}: {}", e.message);
                prop_assert!(e.message.contains("nested more than"), "{}", e.message);
            }
        }
    }
}
