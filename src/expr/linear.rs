//! Solving `f = 0` for one slot `x` when `f` is linear in it: `f = c * x + r` with neither `c`
//! nor `r` reading `x` gives `x = -r / c` (how an algebraic rule is eliminated).
//!
//! Linear means built from `x` by `+`, `-`, negation, multiplication by and division by
//! sub-expressions free of `x`; anything else that reads `x` (a power, a function, a condition,
//! a product of two factors that both read it) is not linear and gives `None`, even where the
//! expression happens to be linear in value (`floor(x)` is not, `x * x / x` is refused).
//! The pieces are built as written, without reassociation, so that the solution of
//! `S1 + S2 - T` for `S2` evaluates `-((S1) - T)`, the same bits as `T - S1`.

use super::{BinOp, Node};

/// The value of slot `x` that makes `f` zero, when `f` is linear in `x`: `-r / c`. `None` when
/// `f` is not linear in `x` or its coefficient is structurally zero (it does not read `x`).
pub fn solve_linear(f: &Node, x: usize) -> Option<Node> {
    let Lin { c, r } = split(f, x)?;
    let c = c?;
    if c.as_const() == Some(0.0) {
        return None;
    }
    let minus_r = r.map_or(Node::Const(0.0), neg);
    Some(match c.as_const() {
        Some(1.0) => minus_r,
        Some(-1.0) => neg(minus_r),
        _ => bin(BinOp::Div, minus_r, c),
    })
}

/// The coefficient `c` of slot `x` in `f = c * x + r`, when `f` is linear in `x` and reads it.
pub fn linear_coefficient(f: &Node, x: usize) -> Option<Node> {
    split(f, x)?.c
}

/// `c * x + r`; `None` stands for zero.
struct Lin {
    c: Option<Node>,
    r: Option<Node>,
}

fn reads(n: &Node, x: usize) -> bool {
    let mut s = Vec::new();
    n.slots(&mut s);
    s.contains(&x)
}

fn split(f: &Node, x: usize) -> Option<Lin> {
    if !reads(f, x) {
        return Some(Lin {
            c: None,
            r: Some(f.clone()),
        });
    }
    match f {
        Node::Var(_) => Some(Lin {
            c: Some(Node::Const(1.0)),
            r: None,
        }),
        Node::Neg(a) => {
            let l = split(a, x)?;
            Some(Lin {
                c: l.c.map(neg),
                r: l.r.map(neg),
            })
        }
        Node::Bin(op, a, b) => combine(*op, split(a, x)?, a, b, x),
        Node::BinVV(op, i, j) => {
            let a = Node::Var(*i);
            combine(*op, split(&a, x)?, &a, &Node::Var(*j), x)
        }
        Node::BinVC(op, i, c) => {
            let a = Node::Var(*i);
            combine(*op, split(&a, x)?, &a, &Node::Const(*c), x)
        }
        Node::BinCV(op, c, j) => {
            let a = Node::Const(*c);
            combine(*op, split(&a, x)?, &a, &Node::Var(*j), x)
        }
        Node::Chain(first, rest) => {
            // Left to right, as evaluated; `acc` is the expression so far (for a factor free
            // of `x`).
            let mut lin = split(first, x)?;
            let mut acc = (**first).clone();
            for (op, t) in rest {
                lin = combine(*op, lin, &acc, t, x)?;
                acc = Node::Bin(*op, Box::new(acc), Box::new(t.clone()));
            }
            Some(lin)
        }
        _ => None,
    }
}

/// `a op b` where `la` is the split of `a` (the node `a` itself is used as a factor when it is
/// free of `x`).
fn combine(op: BinOp, la: Lin, a: &Node, b: &Node, x: usize) -> Option<Lin> {
    match op {
        BinOp::Add | BinOp::Sub => {
            let lb = split(b, x)?;
            let join = |p: Option<Node>, q: Option<Node>| match (p, q) {
                (p, None) => p,
                (None, Some(q)) if op == BinOp::Sub => Some(neg(q)),
                (None, q) => q,
                (Some(p), Some(q)) => Some(bin(op, p, q)),
            };
            Some(Lin {
                c: join(la.c, lb.c),
                r: join(la.r, lb.r),
            })
        }
        BinOp::Mul if la.c.is_none() => {
            let lb = split(b, x)?;
            Some(Lin {
                c: lb.c.map(|c| times(a.clone(), c)),
                r: lb.r.map(|r| bin(BinOp::Mul, a.clone(), r)),
            })
        }
        BinOp::Mul | BinOp::Div if !reads(b, x) => Some(Lin {
            c: la.c.map(|c| match op {
                BinOp::Mul => times(c, b.clone()),
                _ => bin(BinOp::Div, c, b.clone()),
            }),
            r: la.r.map(|r| bin(op, r, b.clone())),
        }),
        _ => None,
    }
}

/// `p * q`, leaving out a factor 1 (exact).
fn times(p: Node, q: Node) -> Node {
    match (p.as_const(), q.as_const()) {
        (Some(1.0), _) => q,
        (_, Some(1.0)) => p,
        _ => bin(BinOp::Mul, p, q),
    }
}

fn bin(op: BinOp, p: Node, q: Node) -> Node {
    Node::Bin(op, Box::new(p), Box::new(q)).fold()
}

/// `-p`, with `--p` and `-constant` simplified (exact).
fn neg(p: Node) -> Node {
    match p {
        Node::Neg(a) => *a,
        Node::Const(v) => Node::Const(-v),
        p => Node::Neg(Box::new(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::solve_linear;
    use crate::expr::parse;

    /// Slots: x = 0, a = 1, b = 2.
    fn solve(text: &str) -> Option<f64> {
        let resolve = |n: &str| ["x", "a", "b"].iter().position(|m| *m == n);
        let node = parse(text).unwrap().compile(&resolve).unwrap();
        let sol = solve_linear(&node, 0)?;
        let mut sl = Vec::new();
        sol.slots(&mut sl);
        assert!(!sl.contains(&0), "{text}: the solution reads x");
        let (a, b) = (3.0, 5.0);
        let x = sol.eval(&[0.0, a, b]);
        // The rule holds at the solution.
        let f = node.eval(&[x, a, b]);
        assert!(f.abs() <= 1e-12 * (1.0 + x.abs()), "{text}: f({x}) = {f}");
        Some(x)
    }

    #[test]
    fn linear_rules_are_solved_and_others_refused() {
        assert_eq!(solve("a + x - b"), Some(2.0));
        assert_eq!(solve("-1 * b + a + x"), Some(2.0));
        assert_eq!(solve("(b + 1) * x - a"), Some(0.5));
        assert_eq!(solve("x / b - a"), Some(15.0));
        assert_eq!(solve("a - x"), Some(3.0));
        assert_eq!(solve("2 * (x - a) + b * (x + a) - 1"), Some(-8.0 / 7.0));
        assert_eq!(solve("a - b - x - 1"), Some(-3.0));
        for bad in [
            "x * x - a",
            "exp(x) - a",
            "a / x - 1",
            "floor(x) - a",
            "a - b",
            "0 * x",
        ] {
            assert_eq!(solve(bad), None, "{bad}");
        }
    }
}
