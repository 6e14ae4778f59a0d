//! Printing an [`Expr`] in the cartox expression language, and evaluating constant expressions
//! with the crate's own evaluator ([`crate::expr`]).

use std::collections::HashMap;

use super::mathml::{trig_name, Expr};

/// Prints an expression in the cartox language, fully parenthesised; `names` maps SBML ids to
/// cartox names (identifiers not in the map are printed unchanged).
pub(super) fn print(e: &Expr, names: &HashMap<String, String>) -> String {
    let p = |x: &Expr| print(x, names);
    let join = |a: &[Expr], sep: &str| a.iter().map(p).collect::<Vec<_>>().join(sep);
    let truth = |x: &Expr| format!("({} != 0)", p(x));
    match e {
        Expr::Num(v, text) if *v < 0.0 || text.starts_with('-') => format!("({text})"),
        Expr::Num(_, text) => text.clone(),
        Expr::Sym(s) => names.get(s).cloned().unwrap_or_else(|| s.clone()),
        Expr::Time => "t".into(),
        Expr::Const(c) => match *c {
            "pi" => "pi".into(),
            "exponentiale" => "exp(1)".into(),
            "true" => "1".into(),
            _ => "0".into(),
        },
        Expr::Call(f, a) => format!("{f}({})", join(a, ", ")), // never reached after inlining
        Expr::Piecewise(pieces, otherwise) => {
            pieces.iter().rev().fold(p(otherwise), |acc, (v, c)| {
                format!("if({}, {}, {acc})", p(c), p(v))
            })
        }
        Expr::Apply(op, a) => match (op.as_str(), a.len()) {
            ("plus", 0) | ("or", 0) | ("xor", 0) => "0".into(),
            ("times", 0) | ("and", 0) => "1".into(),
            ("plus", _) => format!("({})", join(a, " + ")),
            ("times", _) => format!("({})", join(a, " * ")),
            ("minus", 1) => format!("(-{})", p(&a[0])),
            ("minus", _) => format!("({} - {})", p(&a[0]), p(&a[1])),
            ("divide", _) => format!("({} / {})", p(&a[0]), p(&a[1])),
            // Integer division truncated toward zero, and its remainder (the dividend's sign).
            ("quotient", _) => trunc(&format!("({} / {})", p(&a[0]), p(&a[1]))),
            ("rem", _) => {
                let (x, y) = (p(&a[0]), p(&a[1]));
                format!("({x} - ({y} * {}))", trunc(&format!("({x} / {y})")))
            }
            ("implies", _) => format!("((!{}) || {})", truth(&a[0]), truth(&a[1])),
            ("power", _) => format!("({} ^ {})", p(&a[0]), p(&a[1])),
            ("exp" | "ln" | "abs" | "floor" | "factorial", _) => format!("{op}({})", p(&a[0])),
            ("rateOf", _) => format!("rate_of({})", p(&a[0])),
            ("delay", _) => format!("delay({}, {})", p(&a[0]), p(&a[1])),
            ("ceiling", _) => format!("ceil({})", p(&a[0])),
            (f, 1) if trig_name(f).is_some() => {
                format!("{}({})", trig_name(f).unwrap_or(f), p(&a[0]))
            }
            ("log", _) => match &a[0] {
                Expr::Num(b, _) if *b == 10.0 => format!("log10({})", p(&a[1])),
                base => format!("(ln({}) / ln({}))", p(&a[1]), p(base)),
            },
            ("root", _) => match &a[0] {
                Expr::Num(d, _) if *d == 2.0 => format!("sqrt({})", p(&a[1])),
                degree => format!("({} ^ (1 / {}))", p(&a[1]), p(degree)),
            },
            ("min" | "max", _) => a[1..]
                .iter()
                .fold(p(&a[0]), |acc, x| format!("{op}({acc}, {})", p(x))),
            ("and" | "or", 1) => truth(&a[0]),
            ("and", _) => format!("({})", join(a, " && ")),
            ("or", _) => format!("({})", join(a, " || ")),
            // xor: the truth values differ; n-ary xor folds left.
            ("xor", _) => a[1..]
                .iter()
                .fold(truth(&a[0]), |acc, x| format!("({acc} != {})", truth(x))),
            ("not", _) => format!("(!{})", p(&a[0])),
            // Relations: an n-ary chain a < b < c means (a < b) && (b < c).
            (rel, n) => {
                let sym = match rel {
                    "eq" => "==",
                    "neq" => "!=",
                    "gt" => ">",
                    "lt" => "<",
                    "geq" => ">=",
                    _ => "<=",
                };
                if n < 2 {
                    return "1".into();
                }
                let pairs: Vec<String> = a
                    .windows(2)
                    .map(|w| format!("({} {sym} {})", p(&w[0]), p(&w[1])))
                    .collect();
                if pairs.len() == 1 {
                    pairs[0].clone()
                } else {
                    format!("({})", pairs.join(" && "))
                }
            }
        },
    }
}

/// `x` truncated toward zero.
fn trunc(x: &str) -> String {
    format!("if({x} < 0, ceil({x}), floor({x}))")
}

/// Evaluates a constant expression (an initial assignment of a parameter, an event time) with
/// the crate's expression evaluator, at t = 0. `lookup` gives the value of an SBML id; the error
/// is the first identifier (or function) without a value.
pub(super) fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
    // Every symbol becomes a slot `v<i>` of one value vector (so SBML ids that are words of the
    // expression language, `pi` or `t`, are looked up like any other id); time is 0.
    let mut values: Vec<f64> = Vec::new();
    let mut missing: Option<String> = None;
    let slotted = e.map(&mut |node| match node {
        Expr::Sym(s) => {
            match lookup(s) {
                Some(v) => values.push(v),
                None => {
                    missing.get_or_insert_with(|| s.clone());
                    values.push(f64::NAN);
                }
            }
            Some(Expr::Sym(format!("v{}", values.len() - 1)))
        }
        Expr::Time => Some(super::mathml::num(0.0)),
        Expr::Call(f, _) => {
            missing.get_or_insert_with(|| f.clone());
            Some(super::mathml::num(f64::NAN))
        }
        // The derivative of a non-constant has no value here.
        Expr::Apply(op, a) if op == "rateOf" => {
            let x = match &a[..] {
                [Expr::Sym(x)] => x.as_str(),
                _ => "?",
            };
            missing.get_or_insert_with(|| format!("rateOf({x})"));
            Some(super::mathml::num(f64::NAN))
        }
        _ => None,
    });
    if let Some(m) = missing {
        return Err(m);
    }
    let text = print(&slotted, &HashMap::new());
    let ast = crate::expr::parse(&text).map_err(|e| format!("{text}: {e}"))?;
    let node = ast
        .compile(&|n| n.strip_prefix('v').and_then(|i| i.parse().ok()))
        .map_err(|e| format!("{text}: {e}"))?;
    Ok(node.eval(&values))
}
