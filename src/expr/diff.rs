//! Symbolic differentiation of compiled [`Node`] trees.
//!
//! [`derivative`] applies the chain rule node by node; the caller says what the derivative of
//! each slot is (1 for the variable differentiated by, a slot holding an earlier derivative for
//! an assignment, 0 otherwise), so derivatives through assignments compose without inlining.
//! Results are lightly simplified as they are built (constants folded, `0 * x`, `1 * x`, `x + 0`,
//! `--x` removed), so a right-hand side that does not depend on a variable gives `Const(0)`.
//!
//! Conventions where the derivative is not defined: `floor`, `ceil`, comparisons and logic have
//! derivative 0; `if` differentiates the branch taken; `min(a, b)` is `a` where `a <= b` and
//! `max(a, b)` is `a` where `a >= b`; `abs` has derivative `sign(x)` with `+1` at 0.
//!
//! Recursion follows the input tree (whose height the parser bounds, see
//! [`MAX_DEPTH`](super::MAX_DEPTH)); flat chains stay flat: a sum differentiates into a sum, a
//! product into a sum of products (one per factor that depends on the variable).

use super::{BinOp, Func, Node};

/// d `node` / d x, where `d_slot(s)` is d v\[s\] / d x (as a node: a constant or a slot).
pub fn derivative(node: &Node, d_slot: &dyn Fn(usize) -> Node) -> Node {
    let d = |n: &Node| derivative(n, d_slot);
    match node {
        Node::Const(_) => zero(),
        Node::Var(s) => d_slot(*s),
        Node::Neg(a) => neg(d(a)),
        Node::Not(_) => zero(),
        Node::Powi(a, k) => {
            let da = d(a);
            if is_zero(&da) || *k == 0 {
                return zero();
            }
            // k a^(k-1) da
            let pow = match k - 1 {
                0 => one(),
                1 => (**a).clone(),
                e => Node::Powi(a.clone(), e),
            };
            mul(mul(num(*k as f64), pow), da)
        }
        Node::Call(f, a) => {
            let da = d(a);
            if is_zero(&da) {
                return zero();
            }
            match func_derivative(*f, a) {
                Some(fd) => mul(fd, da),
                None => zero(),
            }
        }
        Node::If(c, a, b) => {
            let (da, db) = (d(a), d(b));
            if is_zero(&da) && is_zero(&db) {
                return zero();
            }
            Node::If(c.clone(), Box::new(da), Box::new(db))
        }
        Node::Bin(op, a, b) => bin_derivative(*op, a, b, &d(a), &d(b)),
        Node::BinVV(op, i, j) => {
            let (a, b) = (Node::Var(*i), Node::Var(*j));
            bin_derivative(*op, &a, &b, &d_slot(*i), &d_slot(*j))
        }
        Node::BinVC(op, i, c) => {
            let (a, b) = (Node::Var(*i), Node::Const(*c));
            bin_derivative(*op, &a, &b, &d_slot(*i), &zero())
        }
        Node::BinCV(op, c, j) => {
            let (a, b) = (Node::Const(*c), Node::Var(*j));
            bin_derivative(*op, &a, &b, &zero(), &d_slot(*j))
        }
        Node::Chain(first, rest) => chain_derivative(first, rest, d_slot),
    }
}

fn zero() -> Node {
    Node::Const(0.0)
}

fn one() -> Node {
    Node::Const(1.0)
}

fn num(c: f64) -> Node {
    Node::Const(c)
}

fn is_zero(n: &Node) -> bool {
    n.as_const() == Some(0.0)
}

fn bx(n: Node) -> Box<Node> {
    Box::new(n)
}

fn bin(op: BinOp, a: Node, b: Node) -> Node {
    match (a.as_const(), b.as_const()) {
        (Some(x), Some(y)) => num(super::apply(op, x, y)),
        _ => Node::Bin(op, bx(a), bx(b)),
    }
}

fn add(a: Node, b: Node) -> Node {
    if is_zero(&a) {
        return b;
    }
    if is_zero(&b) {
        return a;
    }
    bin(BinOp::Add, a, b)
}

fn sub(a: Node, b: Node) -> Node {
    if is_zero(&b) {
        return a;
    }
    if is_zero(&a) {
        return neg(b);
    }
    bin(BinOp::Sub, a, b)
}

fn mul(a: Node, b: Node) -> Node {
    if is_zero(&a) || is_zero(&b) {
        return zero();
    }
    if a.as_const() == Some(1.0) {
        return b;
    }
    if b.as_const() == Some(1.0) {
        return a;
    }
    if a.as_const() == Some(-1.0) {
        return neg(b);
    }
    if b.as_const() == Some(-1.0) {
        return neg(a);
    }
    bin(BinOp::Mul, a, b)
}

fn div(a: Node, b: Node) -> Node {
    if is_zero(&a) {
        return zero();
    }
    if b.as_const() == Some(1.0) {
        return a;
    }
    bin(BinOp::Div, a, b)
}

fn neg(a: Node) -> Node {
    match a {
        Node::Const(c) => num(-c),
        Node::Neg(x) => *x,
        a => Node::Neg(bx(a)),
    }
}

fn call(f: Func, a: &Node) -> Node {
    match a.as_const() {
        Some(c) => num(f.apply(c)),
        None => Node::Call(f, bx(a.clone())),
    }
}

fn sq(a: &Node) -> Node {
    Node::Powi(bx(a.clone()), 2)
}

/// d (a op b) from a, b and their derivatives.
fn bin_derivative(op: BinOp, a: &Node, b: &Node, da: &Node, db: &Node) -> Node {
    if is_zero(da) && is_zero(db) {
        return zero();
    }
    let (da, db) = (da.clone(), db.clone());
    match op {
        BinOp::Add => add(da, db),
        BinOp::Sub => sub(da, db),
        BinOp::Mul => add(mul(da, b.clone()), mul(a.clone(), db)),
        // da / b - a db / b^2
        BinOp::Div => sub(div(da, b.clone()), div(mul(a.clone(), db), sq(b))),
        BinOp::Pow => {
            let pow = bin(BinOp::Pow, a.clone(), b.clone());
            // b a^(b-1) da + a^b ln(a) db
            let base_part = if is_zero(&da) {
                zero()
            } else {
                let pm1 = bin(BinOp::Pow, a.clone(), sub(b.clone(), one()));
                mul(mul(b.clone(), pm1), da)
            };
            let exp_part = if is_zero(&db) {
                zero()
            } else {
                mul(mul(pow, call(Func::Ln, a)), db)
            };
            add(base_part, exp_part)
        }
        BinOp::Min => select(bin(BinOp::Le, a.clone(), b.clone()), da, db),
        BinOp::Max => select(bin(BinOp::Ge, a.clone(), b.clone()), da, db),
        BinOp::Lt
        | BinOp::Le
        | BinOp::Gt
        | BinOp::Ge
        | BinOp::Eq
        | BinOp::Ne
        | BinOp::And
        | BinOp::Or => zero(),
    }
}

fn select(c: Node, a: Node, b: Node) -> Node {
    match c.as_const() {
        Some(x) if x != 0.0 => a,
        Some(_) => b,
        None => Node::If(bx(c), bx(a), bx(b)),
    }
}

/// `first op1 x1 op2 x2 ...` as a node (a flat chain for two or more operators).
fn rebuild(first: Node, mut rest: Vec<(BinOp, Node)>) -> Node {
    match rest.len() {
        0 => first,
        1 => {
            let (op, x) = rest.pop().expect("one operand");
            Node::Bin(op, bx(first), bx(x))
        }
        _ => Node::Chain(bx(first), rest),
    }
}

/// Derivative of a flat left-associated chain (all its operators share one precedence level).
fn chain_derivative(first: &Node, rest: &[(BinOp, Node)], d_slot: &dyn Fn(usize) -> Node) -> Node {
    let d = |n: &Node| derivative(n, d_slot);
    let op = rest[0].0;
    match op {
        // A sum: the sum of the derivatives, still flat.
        BinOp::Add | BinOp::Sub => {
            let mut terms: Vec<(BinOp, Node)> = Vec::new();
            let d0 = d(first);
            let mut head = (!is_zero(&d0)).then_some(d0);
            for (op, x) in rest {
                let dx = d(x);
                if is_zero(&dx) {
                    continue;
                }
                match head {
                    None => head = Some(if *op == BinOp::Sub { neg(dx) } else { dx }),
                    Some(_) => terms.push((*op, dx)),
                }
            }
            match head {
                None => zero(),
                // Constant terms (a sum of linear terms) fold, left to right.
                Some(Node::Const(c)) if terms.iter().all(|(_, x)| x.as_const().is_some()) => {
                    num(terms.iter().fold(c, |acc, (op, x)| {
                        super::apply(*op, acc, x.as_const().unwrap_or(0.0))
                    }))
                }
                Some(h) => rebuild(h, terms),
            }
        }
        // A product: one term per factor that depends on the variable, that factor replaced by
        // its derivative (`... * x ...` -> `... * dx ...`, `... / x ...` -> `... * (-dx / x^2)`).
        BinOp::Mul | BinOp::Div => {
            let mut sum: Vec<Node> = Vec::new();
            let d0 = d(first);
            if !is_zero(&d0) {
                sum.push(rebuild(d0, rest.to_vec()));
            }
            for (k, (op, x)) in rest.iter().enumerate() {
                let dx = d(x);
                if is_zero(&dx) {
                    continue;
                }
                let factor = match op {
                    BinOp::Div => neg(div(dx, sq(x))),
                    _ => dx,
                };
                let mut r = rest.to_vec();
                r[k] = (BinOp::Mul, factor);
                sum.push(rebuild(first.clone(), r));
            }
            let mut it = sum.into_iter();
            match it.next() {
                None => zero(),
                Some(h) => rebuild(h, it.map(|t| (BinOp::Add, t)).collect()),
            }
        }
        // min/max: the derivative of the running extreme, operator by operator.
        BinOp::Min | BinOp::Max => {
            let mut value = first.clone();
            let mut dv = d(first);
            for (op, x) in rest {
                dv = bin_derivative(*op, &value, x, &dv, &d(x));
                value = Node::Bin(*op, bx(value), bx(x.clone()));
            }
            dv
        }
        _ => zero(),
    }
}

/// f'(a), or None when it is 0 everywhere it is defined (`floor`, `ceil`).
fn func_derivative(f: Func, a: &Node) -> Option<Node> {
    let c = |f: Func| call(f, a);
    // 1 / sqrt(g)
    let rsqrt = |g: Node| div(one(), call(Func::Sqrt, &g));
    let a2 = || sq(a);
    Some(match f {
        Func::Abs => select(bin(BinOp::Ge, a.clone(), zero()), one(), num(-1.0)),
        Func::Exp => c(Func::Exp),
        Func::Ln => div(one(), a.clone()),
        Func::Log10 => div(one(), mul(a.clone(), num(std::f64::consts::LN_10))),
        Func::Sqrt => div(one(), mul(num(2.0), c(Func::Sqrt))),
        Func::Floor | Func::Ceil | Func::Factorial => return None,
        Func::Sin => c(Func::Cos),
        Func::Cos => neg(c(Func::Sin)),
        Func::Tan => sq(&c(Func::Sec)),
        Func::Asin => rsqrt(sub(one(), a2())),
        Func::Acos => neg(rsqrt(sub(one(), a2()))),
        Func::Atan => div(one(), add(one(), a2())),
        Func::Sinh => c(Func::Cosh),
        Func::Cosh => c(Func::Sinh),
        Func::Tanh => sq(&c(Func::Sech)),
        Func::Asinh => rsqrt(add(a2(), one())),
        Func::Acosh => rsqrt(sub(a2(), one())),
        Func::Atanh => div(one(), sub(one(), a2())),
        Func::Sec => mul(c(Func::Sec), c(Func::Tan)),
        Func::Csc => neg(mul(c(Func::Csc), c(Func::Cot))),
        Func::Cot => neg(sq(&c(Func::Csc))),
        Func::Sech => neg(mul(c(Func::Sech), c(Func::Tanh))),
        Func::Csch => neg(mul(c(Func::Csch), c(Func::Coth))),
        Func::Coth => neg(sq(&c(Func::Csch))),
        // arcsec(a) = acos(1/a): 1 / (a^2 sqrt(1 - 1/a^2))
        Func::Arcsec => div(
            one(),
            mul(a2(), call(Func::Sqrt, &sub(one(), div(one(), a2())))),
        ),
        Func::Arccsc => neg(div(
            one(),
            mul(a2(), call(Func::Sqrt, &sub(one(), div(one(), a2())))),
        )),
        // arccot(a) = atan(1/a): -1 / (1 + a^2)
        Func::Arccot => neg(div(one(), add(one(), a2()))),
        // arcsech(a) = acosh(1/a): -1 / (a^2 sqrt(1/a^2 - 1))
        Func::Arcsech => neg(div(
            one(),
            mul(a2(), call(Func::Sqrt, &sub(div(one(), a2()), one()))),
        )),
        Func::Arccsch => neg(div(
            one(),
            mul(a2(), call(Func::Sqrt, &add(div(one(), a2()), one()))),
        )),
        // arccoth(a) = atanh(1/a): 1 / (1 - a^2)
        Func::Arccoth => div(one(), sub(one(), a2())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{parse, FUNCS};

    /// d/dx of `src` over slots [x, y] at (x, y), analytic and by central differences.
    fn check(src: &str, x: f64, y: f64) -> (f64, f64) {
        let node = parse(src)
            .unwrap()
            .compile(&|n| ["x", "y"].iter().position(|m| *m == n))
            .unwrap();
        let dn = derivative(&node, &|s| if s == 0 { one() } else { zero() });
        let h = 1e-6 * x.abs().max(1e-3);
        let fd = (node.eval(&[x + h, y]) - node.eval(&[x - h, y])) / (2.0 * h);
        (dn.eval(&[x, y]), fd)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn every_function_and_operator_matches_central_differences() {
        // Domains: acosh, arcsec, arccsc and arccoth need |arg| > 1; arcsech needs (0, 1);
        // factorial a whole number (its derivative is 0 where it is defined).
        let special = [
            "acosh",
            "arcsec",
            "arccsc",
            "arccoth",
            "arcsech",
            "factorial",
        ];
        let mut cases: Vec<String> = FUNCS
            .iter()
            .filter(|(name, _)| !special.contains(name))
            .map(|(name, _)| format!("{name}(0.3 * x + 0.1)"))
            .collect();
        for (name, arg) in [
            ("acosh", "x + 1.5"),
            ("arcsec", "x + 1.5"),
            ("arccsc", "x + 1.5"),
            ("arccoth", "x + 1.5"),
            ("arcsech", "0.3 * x"),
            ("factorial", "floor(x) + 2"),
        ] {
            cases.push(format!("{name}({arg})"));
        }
        cases.extend(
            [
                "x * y + x / y - y / x",
                "x ^ 2.5 + 2 ^ x + x ^ y + x ^ 3 + x ^ -2",
                "pow(x, y) * exp(-x) / sqrt(x)",
                "min(x, y) + max(x, 2 * y) + min(x, y, 0.1 * x, 3)",
                "if(x < y, x ^ 2, -x) + (x > 1) + !(x) + (x && y)",
                "abs(x - 3) + floor(x) + ceil(x * 2) + log10(x)",
                "x * y * x / y / x * 3 * x",
                "1 - x + y - 2 * x - x * x + x / 2 - ln(x)",
                "-(-(x)) * --y",
            ]
            .map(String::from),
        );
        for src in &cases {
            for (x, y) in [(0.7, 1.3), (1.9, 0.4), (2.6, 2.2)] {
                let (a, fd) = check(src, x, y);
                assert!(
                    a.is_finite() && close(a, fd),
                    "d/dx {src} at x={x}, y={y}: {a} vs {fd}"
                );
            }
        }
    }

    #[test]
    fn simplification_leaves_zeros_and_flat_sums() {
        let node = |src: &str| {
            parse(src)
                .unwrap()
                .compile(&|n| ["x", "y"].iter().position(|m| *m == n))
                .unwrap()
        };
        let dx = |n: &Node| derivative(n, &|s| if s == 0 { one() } else { zero() });
        for src in ["y * 3 + exp(y)", "floor(x) + (x > y)", "2 * 3"] {
            assert_eq!(dx(&node(src)), zero(), "{src}");
        }
        assert_eq!(dx(&node("x")), one());
        assert_eq!(dx(&node("3 * x")), num(3.0));
        // A 5000-term sum differentiates into a flat sum of the terms that depend on x (linear
        // terms fold into one constant).
        let terms = |t: &str| {
            (0..5000)
                .map(|i| {
                    if i % 2 == 0 {
                        t.replace('i', &i.to_string())
                    } else {
                        "y".into()
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let want = (0..5000).step_by(2).map(|i| i as f64).sum::<f64>();
        assert_eq!(dx(&node(&terms("i * x"))), num(want));
        match dx(&node(&terms("i * x * y"))) {
            Node::Chain(_, rest) => assert_eq!(rest.len(), 2498),
            other => panic!("{other:?}"),
        }
    }
}
