//! The expression language of model files.
//!
//! Text such as `rho * stim * E - (delta_E + k_EM) * E` is parsed once, at model load, into an
//! [`Ast`], then compiled against a name table into a [`Node`] tree whose leaves are slot indices
//! into one flat `&[f64]` (time, states, parameters, assignments). Evaluating a [`Node`] does not
//! allocate, hash or look up names: it is a recursive `match` over the tree.
//!
//! `parse.rs` turns text into an [`Ast`]; `program.rs` compiles many [`Node`] trees (a model's
//! whole right-hand side) into one straight-line [`Program`], which is what the solvers run.
//!
//! Grammar, lowest precedence first:
//! `||`, `&&`, comparisons (`< <= > >= == !=`), `+ -`, `* /`, unary `- ! +`, `^` (right-assoc),
//! then numbers, names, calls `f(a, ...)` and parentheses.

use std::fmt;

/// A parse or compile error at a byte offset within the expression text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub pos: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        pos,
        message: message.into(),
    })
}

/// Binary operators (including the two-argument functions `min`, `max` and `pow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

/// One-argument functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Abs,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Floor,
    Ceil,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sec,
    Csc,
    Cot,
    Sech,
    Csch,
    Coth,
    Arcsec,
    Arccsc,
    Arccot,
    Arcsech,
    Arccsch,
    Arccoth,
    /// `n!` of a whole number n >= 0 (NaN otherwise; infinite above 170).
    Factorial,
}

/// Every one-argument function by its name in the expression language (`log` is `ln`).
pub const FUNCS: &[(&str, Func)] = &[
    ("abs", Func::Abs),
    ("exp", Func::Exp),
    ("ln", Func::Ln),
    ("log", Func::Ln),
    ("log10", Func::Log10),
    ("sqrt", Func::Sqrt),
    ("floor", Func::Floor),
    ("ceil", Func::Ceil),
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("tan", Func::Tan),
    ("asin", Func::Asin),
    ("acos", Func::Acos),
    ("atan", Func::Atan),
    ("sinh", Func::Sinh),
    ("cosh", Func::Cosh),
    ("tanh", Func::Tanh),
    ("asinh", Func::Asinh),
    ("acosh", Func::Acosh),
    ("atanh", Func::Atanh),
    ("sec", Func::Sec),
    ("csc", Func::Csc),
    ("cot", Func::Cot),
    ("sech", Func::Sech),
    ("csch", Func::Csch),
    ("coth", Func::Coth),
    ("arcsec", Func::Arcsec),
    ("arccsc", Func::Arccsc),
    ("arccot", Func::Arccot),
    ("arcsech", Func::Arcsech),
    ("arccsch", Func::Arccsch),
    ("arccoth", Func::Arccoth),
    ("factorial", Func::Factorial),
];

impl Func {
    /// The function's value. The reciprocal functions are `1 / f(x)` and their inverses
    /// `f⁻¹(1 / x)` (`arccot(x) = atan(1 / x)`, so `arccot` of a negative number is negative).
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Func::Abs => x.abs(),
            Func::Exp => x.exp(),
            Func::Ln => x.ln(),
            Func::Log10 => x.log10(),
            Func::Sqrt => x.sqrt(),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Atan => x.atan(),
            Func::Sinh => x.sinh(),
            Func::Cosh => x.cosh(),
            Func::Tanh => x.tanh(),
            Func::Asinh => x.asinh(),
            Func::Acosh => x.acosh(),
            Func::Atanh => x.atanh(),
            Func::Sec => 1.0 / x.cos(),
            Func::Csc => 1.0 / x.sin(),
            Func::Cot => 1.0 / x.tan(),
            Func::Sech => 1.0 / x.cosh(),
            Func::Csch => 1.0 / x.sinh(),
            Func::Coth => 1.0 / x.tanh(),
            Func::Arcsec => (1.0 / x).acos(),
            Func::Arccsc => (1.0 / x).asin(),
            Func::Arccot => (1.0 / x).atan(),
            Func::Arcsech => (1.0 / x).acosh(),
            Func::Arccsch => (1.0 / x).asinh(),
            Func::Arccoth => (1.0 / x).atanh(),
            Func::Factorial => factorial(x),
        }
    }

    /// The function's name in the expression language.
    pub fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// `x!` for a whole number `x >= 0` (the product, exact up to 22!, infinite above 170!); NaN for a
/// negative or fractional `x`.
fn factorial(x: f64) -> f64 {
    if !(x >= 0.0 && x.fract() == 0.0) {
        return f64::NAN;
    }
    if x > 170.0 {
        return f64::INFINITY;
    }
    (2..=x as u32).fold(1.0, |acc, k| acc * k as f64)
}

/// The parsed expression, names still as text (with their byte offsets for error messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Num(f64),
    Name(String, usize),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    /// `a op1 b op2 c ...` evaluated left to right, `((a op1 b) op2 c) ...`, with two or more
    /// operators: held flat, so that a sum of thousands of terms is not a deep tree.
    Chain(Box<Ast>, Vec<(BinOp, Ast)>),
    Call(Func, Box<Ast>),
    If(Box<Ast>, Box<Ast>, Box<Ast>),
}

impl Ast {
    /// Every name the expression refers to, with its byte offset, in order of appearance.
    pub fn names(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<(&'a str, usize)>) {
        match self {
            Ast::Num(_) => {}
            Ast::Name(n, p) => out.push((n.as_str(), *p)),
            Ast::Neg(a) | Ast::Not(a) | Ast::Call(_, a) => a.collect_names(out),
            Ast::Bin(_, a, b) => {
                a.collect_names(out);
                b.collect_names(out);
            }
            Ast::Chain(first, rest) => {
                first.collect_names(out);
                for (_, x) in rest {
                    x.collect_names(out);
                }
            }
            Ast::If(c, a, b) => {
                c.collect_names(out);
                a.collect_names(out);
                b.collect_names(out);
            }
        }
    }

    /// Compile against a resolver mapping a name to its slot. Unknown names are errors.
    pub fn compile(&self, resolve: &dyn Fn(&str) -> Option<usize>) -> Result<Node, ExprError> {
        let node = match self {
            Ast::Num(v) => Node::Const(*v),
            Ast::Name(n, p) => match resolve(n) {
                Some(slot) => Node::Var(slot),
                None => return err(*p, format!("unknown name `{n}`")),
            },
            Ast::Neg(a) => Node::Neg(Box::new(a.compile(resolve)?)),
            Ast::Not(a) => Node::Not(Box::new(a.compile(resolve)?)),
            Ast::Call(f, a) => Node::Call(*f, Box::new(a.compile(resolve)?)),
            Ast::Bin(BinOp::Pow, a, b) => {
                let base = a.compile(resolve)?;
                match b.compile(resolve)? {
                    Node::Const(e) if e.fract() == 0.0 && e.abs() <= 16.0 => {
                        Node::Powi(Box::new(base), e as i32)
                    }
                    exp => Node::Bin(BinOp::Pow, Box::new(base), Box::new(exp)),
                }
            }
            Ast::Bin(op, a, b) => Node::Bin(
                *op,
                Box::new(a.compile(resolve)?),
                Box::new(b.compile(resolve)?),
            ),
            Ast::If(c, a, b) => Node::If(
                Box::new(c.compile(resolve)?),
                Box::new(a.compile(resolve)?),
                Box::new(b.compile(resolve)?),
            ),
            // The first operation, and the next ones while the result so far is a constant, fold
            // exactly as the left-associated binary tree would; the rest stays a flat chain.
            Ast::Chain(first, rest) => {
                let mut acc = first.compile(resolve)?;
                let mut tail = Vec::new();
                for (k, (op, x)) in rest.iter().enumerate() {
                    let x = x.compile(resolve)?;
                    if k == 0 || (tail.is_empty() && acc.as_const().is_some()) {
                        acc = Node::Bin(*op, Box::new(acc), Box::new(x)).fold();
                    } else {
                        tail.push((*op, x));
                    }
                }
                return Ok(match tail.len() {
                    0 => acc,
                    1 => {
                        let (op, x) = tail.pop().expect("one operand");
                        Node::Bin(op, Box::new(acc), Box::new(x)).fold()
                    }
                    _ => Node::Chain(Box::new(acc), tail),
                });
            }
        };
        Ok(node.fold())
    }
}

/// A compiled expression: leaves are constants or slots of the value vector.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Const(f64),
    Var(usize),
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    Powi(Box<Node>, i32),
    Call(Func, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    /// `((a op1 b) op2 c) ...`, left to right, held flat (see [`Ast::Chain`]).
    Chain(Box<Node>, Vec<(BinOp, Node)>),
    /// `slot op slot` (a fused form of the most common leaves: `k * E`, `N + C`).
    BinVV(BinOp, usize, usize),
    /// `slot op constant`
    BinVC(BinOp, usize, f64),
    /// `constant op slot`
    BinCV(BinOp, f64, usize),
}

#[inline]
fn truth(x: f64) -> bool {
    x != 0.0
}

#[inline]
fn bool_f(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl Node {
    /// Evaluate against the value vector (time, states, parameters, assignments by slot).
    #[inline]
    pub fn eval(&self, v: &[f64]) -> f64 {
        match self {
            Node::Const(c) => *c,
            Node::Var(i) => v[*i],
            Node::Neg(a) => -a.eval(v),
            Node::Not(a) => bool_f(!truth(a.eval(v))),
            Node::Powi(a, n) => a.eval(v).powi(*n),
            Node::Call(f, a) => f.apply(a.eval(v)),
            Node::If(c, a, b) => {
                if truth(c.eval(v)) {
                    a.eval(v)
                } else {
                    b.eval(v)
                }
            }
            Node::Bin(op, a, b) => match op {
                BinOp::And => bool_f(truth(a.eval(v)) && truth(b.eval(v))),
                BinOp::Or => bool_f(truth(a.eval(v)) || truth(b.eval(v))),
                _ => apply(*op, a.eval(v), b.eval(v)),
            },
            Node::Chain(first, rest) => {
                let mut acc = first.eval(v);
                for (op, x) in rest {
                    acc = apply(*op, acc, x.eval(v));
                }
                acc
            }
            Node::BinVV(op, i, j) => apply(*op, v[*i], v[*j]),
            Node::BinVC(op, i, c) => apply(*op, v[*i], *c),
            Node::BinCV(op, c, j) => apply(*op, *c, v[*j]),
        }
    }

    /// Fold constant sub-trees (a compile-time convenience; `2^n` with a parameter `n` stays),
    /// and fuse binary operations on two leaves into one node.
    fn fold(self) -> Node {
        let constant = |n: &Node| matches!(n, Node::Const(_));
        let all_const = match &self {
            Node::Const(_) | Node::Var(_) => false,
            Node::BinVV(..) | Node::BinVC(..) | Node::BinCV(..) | Node::Chain(..) => false,
            Node::Neg(a) | Node::Not(a) | Node::Powi(a, _) | Node::Call(_, a) => constant(a),
            Node::Bin(_, a, b) => constant(a) && constant(b),
            Node::If(c, a, b) => constant(c) && constant(a) && constant(b),
        };
        if all_const {
            return Node::Const(self.eval(&[]));
        }
        match self {
            Node::Bin(op, a, b) if !matches!(op, BinOp::And | BinOp::Or) => match (*a, *b) {
                (Node::Var(i), Node::Var(j)) => Node::BinVV(op, i, j),
                (Node::Var(i), Node::Const(c)) => Node::BinVC(op, i, c),
                (Node::Const(c), Node::Var(j)) => Node::BinCV(op, c, j),
                (a, b) => Node::Bin(op, Box::new(a), Box::new(b)),
            },
            other => other,
        }
    }

    /// Every slot the expression reads.
    pub fn slots(&self, out: &mut Vec<usize>) {
        match self {
            Node::Const(_) => {}
            Node::Var(i) | Node::BinVC(_, i, _) | Node::BinCV(_, _, i) => out.push(*i),
            Node::BinVV(_, i, j) => out.extend([*i, *j]),
            Node::Neg(a) | Node::Not(a) | Node::Powi(a, _) | Node::Call(_, a) => a.slots(out),
            Node::Bin(_, a, b) => {
                a.slots(out);
                b.slots(out);
            }
            Node::Chain(first, rest) => {
                first.slots(out);
                for (_, x) in rest {
                    x.slots(out);
                }
            }
            Node::If(c, a, b) => {
                c.slots(out);
                a.slots(out);
                b.slots(out);
            }
        }
    }

    /// True when the expression is a plain number.
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Node::Const(c) => Some(*c),
            _ => None,
        }
    }
}

#[inline]
fn apply(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Pow => power::pow(x, y),
        BinOp::Min => x.min(y),
        BinOp::Max => x.max(y),
        BinOp::Lt => bool_f(x < y),
        BinOp::Le => bool_f(x <= y),
        BinOp::Gt => bool_f(x > y),
        BinOp::Ge => bool_f(x >= y),
        BinOp::Eq => bool_f(x == y),
        BinOp::Ne => bool_f(x != y),
        BinOp::And => bool_f(truth(x) && truth(y)),
        BinOp::Or => bool_f(truth(x) || truth(y)),
    }
}

mod diff;
mod linear;
mod parse;
mod power;
mod program;

pub use diff::derivative;
pub use linear::{linear_coefficient, solve_linear};

pub use parse::{
    delay_arguments, is_identifier, parse, rate_of_name, rate_of_target, DELAY, MAX_DEPTH, RATE_OF,
    RESERVED,
};
pub use program::{compile_native, Program, ProgramBuilder};

#[cfg(test)]
mod limits_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(src: &str, vars: &[(&str, f64)]) -> f64 {
        let ast = parse(src).unwrap();
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        let vals: Vec<f64> = vars.iter().map(|(_, v)| *v).collect();
        let node = ast
            .compile(&|n| names.iter().position(|x| *x == n))
            .unwrap();
        node.eval(&vals)
    }

    #[test]
    fn arithmetic_and_precedence() {
        assert_eq!(ev("1 + 2 * 3", &[]), 7.0);
        assert_eq!(ev("(1 + 2) * 3", &[]), 9.0);
        assert_eq!(ev("2 ^ 3 ^ 2", &[]), 512.0);
        assert_eq!(ev("-2 ^ 2", &[]), -4.0);
        assert_eq!(ev("2 ^ -1", &[]), 0.5);
        assert_eq!(ev("10 - 4 - 3", &[]), 3.0);
        assert_eq!(ev("8 / 4 / 2", &[]), 1.0);
        assert_eq!(ev("1e-9 * 1E+9", &[]), 1.0);
        assert_eq!(ev(".5 + 2.", &[]), 2.5);
    }

    #[test]
    fn names_functions_logic() {
        let v = [("x", 3.0), ("y", -2.0)];
        assert_eq!(ev("max(0, 1 - x / 6)", &v), 0.5);
        assert_eq!(ev("min(x, y, 0)", &v), -2.0);
        assert_eq!(ev("abs(y) + sqrt(4) + pow(x, 2)", &v), 13.0);
        assert!((ev("ln(exp(x)) + log(1) + log10(100)", &v) - 5.0).abs() < 1e-15);
        assert_eq!(ev("floor(2.7) + ceil(2.1)", &v), 5.0);
        assert_eq!(ev("if(x > 2 && y < 0, 1, 2)", &v), 1.0);
        assert_eq!(ev("if(x > 2 && !(y < 0), 1, 2)", &v), 2.0);
        assert_eq!(ev("x == 3 || 0", &v), 1.0);
        assert_eq!(ev("x != 3", &v), 0.0);
        assert_eq!(ev("x <= 3 && x >= 3", &v), 1.0);
        assert!((ev("pi", &v) - std::f64::consts::PI).abs() < 1e-15);
        assert_eq!(ev("x^2 + x^0.5^2", &v), 9.0 + 3f64.powf(0.25));
    }

    #[test]
    fn trigonometric_and_hyperbolic_functions_equal_std() {
        type F = fn(f64) -> f64;
        let cases: [(&str, F); 24] = [
            ("sin", f64::sin),
            ("cos", f64::cos),
            ("tan", f64::tan),
            ("asin", f64::asin),
            ("acos", f64::acos),
            ("atan", f64::atan),
            ("sinh", f64::sinh),
            ("cosh", f64::cosh),
            ("tanh", f64::tanh),
            ("asinh", f64::asinh),
            ("acosh", f64::acosh),
            ("atanh", f64::atanh),
            ("sec", |x| 1.0 / x.cos()),
            ("csc", |x| 1.0 / x.sin()),
            ("cot", |x| 1.0 / x.tan()),
            ("sech", |x| 1.0 / x.cosh()),
            ("csch", |x| 1.0 / x.sinh()),
            ("coth", |x| 1.0 / x.tanh()),
            ("arcsec", |x| (1.0 / x).acos()),
            ("arccsc", |x| (1.0 / x).asin()),
            ("arccot", |x| (1.0 / x).atan()),
            ("arcsech", |x| (1.0 / x).acosh()),
            ("arccsch", |x| (1.0 / x).asinh()),
            ("arccoth", |x| (1.0 / x).atanh()),
        ];
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for (name, f) in cases {
            for x in [
                -2.5,
                -0.7,
                -0.0,
                0.0,
                0.3,
                0.9,
                1.0,
                1.7,
                40.0,
                f64::INFINITY,
            ] {
                let got = ev(&format!("{name}(x)"), &[("x", x)]);
                assert!(same(got, f(x)), "{name}({x}) = {got}, std {}", f(x));
                // Constant arguments fold to the same value.
                if x.is_finite() {
                    let folded = parse(&format!("{name}({x:?})"))
                        .unwrap()
                        .compile(&|_| None)
                        .unwrap();
                    assert!(
                        matches!(folded, Node::Const(c) if same(c, f(x))),
                        "{name}({x:?})"
                    );
                }
            }
            assert!(RESERVED.contains(&name), "{name} not reserved");
        }
        // A few exact identities as a check on the reference closures themselves.
        let v = [("x", 0.5)];
        assert!((ev("sin(x)^2 + cos(x)^2", &v) - 1.0).abs() < 1e-15);
        assert!((ev("cosh(x)^2 - sinh(x)^2", &v) - 1.0).abs() < 1e-15);
        assert!((ev("sec(pi / 3)", &v) - 2.0).abs() < 1e-15);
        assert!((ev("arccot(1) - pi / 4", &v)).abs() < 1e-15);
        assert!((ev("atanh(tanh(x)) - x", &v)).abs() < 1e-15);
        assert_eq!(
            parse("sin(1, 2)").unwrap_err().message,
            "`sin` takes 1 argument, 2 given"
        );
    }

    #[test]
    fn factorial_rate_of_and_delay() {
        assert_eq!(ev("factorial(0) + factorial(1) + factorial(5)", &[]), 122.0);
        assert_eq!(
            ev("factorial(x)", &[("x", 20.0)]),
            2_432_902_008_176_640_000.0
        );
        assert!(ev("factorial(x)", &[("x", 2.5)]).is_nan());
        assert!(ev("factorial(-1)", &[]).is_nan());
        assert_eq!(ev("factorial(171)", &[]), f64::INFINITY);
        // rate_of(x) and delay(x, tau) are derived names the model compiler defines.
        let ast = parse("k * rate_of(x) + delay(if(x > 1, x, 2 * y), tau + 1)").unwrap();
        let names: Vec<&str> = ast.names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["k", "rate_of(x)", "delay(if(x > 1, x, 2 * y), tau + 1)"]
        );
        assert_eq!(rate_of_target(names[1]), Some("x"));
        assert_eq!(
            delay_arguments(names[2]),
            Some(("if(x > 1, x, 2 * y)", "tau + 1"))
        );
        assert!(parse("rate_of(2 * x)")
            .unwrap_err()
            .message
            .contains("one name"));
        assert!(parse("delay(x)")
            .unwrap_err()
            .message
            .contains("2 arguments"));
    }

    #[test]
    fn constants_fold() {
        let ast = parse("2 * 3 + ln(1)").unwrap();
        assert_eq!(ast.compile(&|_| None).unwrap(), Node::Const(6.0));
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse("1 + * 2").unwrap_err();
        assert_eq!(e.pos, 4);
        let e = parse("(1 + 2").unwrap_err();
        assert!(e.message.contains("expected `)`"), "{}", e.message);
        let e = parse("1 + 2)").unwrap_err();
        assert_eq!((e.pos, e.message.as_str()), (5, "unmatched `)`"));
        let e = parse("foo(1)").unwrap_err();
        assert_eq!(e.message, "unknown function `foo`");
        let e = parse("a $ b").unwrap_err();
        assert_eq!(e.pos, 2);
        assert!(parse("").is_err());
        assert!(parse("if(1, 2)")
            .unwrap_err()
            .message
            .contains("3 arguments"));
        let unknown = parse("k * zz")
            .unwrap()
            .compile(&|n| (n == "k").then_some(0));
        assert_eq!(unknown.unwrap_err().pos, 4);
    }

    #[test]
    fn names_are_listed() {
        let ast = parse("a + f_2 * if(b, a, 3)").unwrap();
        let names: Vec<&str> = ast.names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["a", "f_2", "b", "a"]);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("C_e_0"));
        assert!(!is_identifier("0abc"));
        assert!(!is_identifier("flu-cy"));
    }
}
