//! MathML: the supported subset of content MathML read into an [`Expr`] tree, and the inlining
//! of function definitions.

use std::collections::HashMap;

use roxmltree::Node;

use super::xml::elements;
use crate::error::Problem;

/// A MathML expression. Operators keep their MathML names (`plus`, `log`, `ceiling`, ...).
#[derive(Clone, Debug)]
pub(super) enum Expr {
    /// A number and the text to print for it.
    Num(f64, String),
    /// An identifier (an SBML id, or an already-renamed local parameter).
    Sym(String),
    /// `csymbol time`.
    Time,
    /// `pi`, `exponentiale`, `true`, `false`.
    Const(&'static str),
    /// `<apply><op/>args</apply>`; `log` carries its base and `root` its degree as first argument.
    Apply(String, Vec<Expr>),
    /// A call of a `functionDefinition` (inlined before printing).
    Call(String, Vec<Expr>),
    /// `piecewise`: (value, condition) pieces and the `otherwise` value.
    Piecewise(Vec<(Expr, Expr)>, Box<Expr>),
}

/// Operators of the supported MathML subset and their allowed argument counts.
fn arity(op: &str) -> Option<(usize, usize)> {
    const N: usize = usize::MAX;
    Some(match op {
        "plus" | "times" | "and" | "or" | "xor" | "eq" | "gt" | "lt" | "geq" | "leq" => (0, N),
        "min" | "max" => (1, N),
        "minus" => (1, 2),
        "divide" | "power" | "neq" | "rem" | "quotient" | "implies" => (2, 2),
        "exp" | "ln" | "log" | "root" | "abs" | "floor" | "ceiling" | "not" | "factorial" => (1, 1),
        _ if trig_name(op).is_some() => (1, 1),
        _ => return None,
    })
}

/// The cartox function of a MathML trigonometric or hyperbolic element.
pub(super) fn trig_name(op: &str) -> Option<&'static str> {
    Some(match op {
        "sin" => "sin",
        "cos" => "cos",
        "tan" => "tan",
        "sec" => "sec",
        "csc" => "csc",
        "cot" => "cot",
        "sinh" => "sinh",
        "cosh" => "cosh",
        "tanh" => "tanh",
        "sech" => "sech",
        "csch" => "csch",
        "coth" => "coth",
        "arcsin" => "asin",
        "arccos" => "acos",
        "arctan" => "atan",
        "arcsec" => "arcsec",
        "arccsc" => "arccsc",
        "arccot" => "arccot",
        "arcsinh" => "asinh",
        "arccosh" => "acosh",
        "arctanh" => "atanh",
        "arcsech" => "arcsech",
        "arccsch" => "arccsch",
        "arccoth" => "arccoth",
        _ => return None,
    })
}

pub(super) fn num(v: f64) -> Expr {
    Expr::Num(v, format!("{v:?}"))
}

/// Deepest MathML element nesting read (the expression language's own limit): deeper input is
/// refused with a message instead of exhausting the stack in the recursive readers below.
pub(super) const MAX_MATHML_DEPTH: usize = crate::expr::MAX_DEPTH;

/// True when some element under `n` is nested more than [`MAX_MATHML_DEPTH`] levels below it
/// (an explicit-stack walk: no recursion, whatever the input).
pub(super) fn too_deep(n: Node) -> bool {
    let mut stack = vec![(n, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_MATHML_DEPTH {
            return true;
        }
        stack.extend(elements(node).map(|c| (c, depth + 1)));
    }
    false
}

/// The problem reported for MathML nested too deep.
pub(super) fn too_deep_problem(ctx: &str) -> Problem {
    Problem::unsupported(format!(
        "MathML nested more than {MAX_MATHML_DEPTH} levels deep in {ctx}"
    ))
}

/// Parses the single expression inside a `<math>` element. `ctx` says where it is, for messages.
pub(super) fn parse_math(math: Node, ctx: &str, problems: &mut Vec<Problem>) -> Expr {
    if too_deep(math) {
        problems.push(too_deep_problem(ctx));
        return num(0.0);
    }
    match elements(math).find(|c| c.tag_name().name() != "annotation") {
        Some(e) => parse_node(e, ctx, problems),
        None => {
            problems.push(Problem::malformed(format!("empty <math> in {ctx}")));
            num(0.0)
        }
    }
}

pub(super) fn parse_node(n: Node, ctx: &str, problems: &mut Vec<Problem>) -> Expr {
    let name = n.tag_name().name();
    let unsupported = |problems: &mut Vec<Problem>, what: String| {
        problems.push(Problem::unsupported(format!("{what} in {ctx}")));
        num(0.0)
    };
    match name {
        "cn" => parse_cn(n, ctx, problems),
        "ci" => Expr::Sym(n.text().unwrap_or("").trim().to_string()),
        "csymbol" => {
            let url = n.attribute("definitionURL").unwrap_or("");
            if url.ends_with("/time") {
                Expr::Time
            } else if url.ends_with("/avogadro") {
                num(6.02214179e23) // the value fixed by SBML L3V1
            } else {
                let sym = url.rsplit('/').next().unwrap_or(url).to_string();
                unsupported(problems, format!("MathML <csymbol> {sym}"))
            }
        }
        "pi" => Expr::Const("pi"),
        "exponentiale" => Expr::Const("exponentiale"),
        "true" => Expr::Const("true"),
        "false" => Expr::Const("false"),
        "semantics" => match elements(n).next() {
            Some(e) => parse_node(e, ctx, problems),
            None => unsupported(problems, "empty MathML <semantics>".into()),
        },
        "piecewise" => {
            let mut pieces = Vec::new();
            let mut otherwise = None;
            for c in elements(n) {
                let parts: Vec<Node> = elements(c).collect();
                match (c.tag_name().name(), parts.len()) {
                    ("piece", 2) => pieces.push((
                        parse_node(parts[0], ctx, problems),
                        parse_node(parts[1], ctx, problems),
                    )),
                    ("otherwise", 1) => otherwise = Some(parse_node(parts[0], ctx, problems)),
                    (other, _) => {
                        problems.push(Problem::malformed(format!(
                            "bad MathML <{other}> in <piecewise> in {ctx}"
                        )));
                    }
                }
            }
            match otherwise {
                Some(o) => Expr::Piecewise(pieces, Box::new(o)),
                // Without <otherwise> the value is undefined when no piece applies: NaN.
                None => Expr::Piecewise(
                    pieces,
                    Box::new(Expr::Apply("divide".into(), vec![num(0.0), num(0.0)])),
                ),
            }
        }
        "apply" => parse_apply(n, ctx, problems),
        _ => unsupported(problems, format!("unsupported MathML element <{name}>")),
    }
}

/// `<cn>`: types integer, real (default), e-notation (`m<sep/>e`) and rational (`p<sep/>q`).
fn parse_cn(n: Node, ctx: &str, problems: &mut Vec<Problem>) -> Expr {
    // Text before and after <sep/>.
    let (mut a, mut b, mut after_sep) = (String::new(), String::new(), false);
    for c in n.children() {
        if c.is_element() && c.tag_name().name() == "sep" {
            after_sep = true;
        } else if let Some(t) = c.text() {
            if after_sep {
                b.push_str(t)
            } else {
                a.push_str(t)
            }
        }
    }
    let (a, b) = (a.trim(), b.trim());
    let ty = n.attribute("type").unwrap_or("real");
    if n.attribute("base").is_some_and(|base| base.trim() != "10") {
        problems.push(Problem::unsupported(format!(
            "MathML <cn> with a base other than 10 in {ctx}"
        )));
        return num(0.0);
    }
    let number = |text: &str| -> Option<Expr> {
        let v: f64 = text.parse().ok()?;
        v.is_finite()
            .then(|| Expr::Num(v, cartox_number_text(text, v)))
    };
    let parsed = match ty {
        "integer" | "real" | "double" => number(a),
        "e-notation" => number(&format!("{a}e{b}")),
        "rational" => match (number(a), number(b)) {
            (Some(p), Some(q)) => Some(Expr::Apply("divide".into(), vec![p, q])),
            _ => None,
        },
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        problems.push(Problem::unsupported(format!(
            "unsupported MathML <cn type=\"{ty}\"> value '{a}' in {ctx}"
        )));
        num(0.0)
    })
}

/// Keeps a number's text as written when the cartox language accepts it, else reprints it.
pub(super) fn cartox_number_text(text: &str, v: f64) -> String {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    // A sign is kept (the printer parenthesises negative numbers); a '+' is dropped.
    if let Some(rest) = text.strip_prefix('-') {
        return format!("-{}", cartox_number_text(rest, -v));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((i, f)) => digits(i) && digits(f),
        None => digits(mantissa),
    };
    let exponent_ok = exponent
        .map(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
        .unwrap_or(true);
    if mantissa_ok && exponent_ok {
        text.to_string()
    } else {
        format!("{v:?}")
    }
}

fn parse_apply(n: Node, ctx: &str, problems: &mut Vec<Problem>) -> Expr {
    let mut kids = elements(n);
    let Some(op) = kids.next() else {
        problems.push(Problem::malformed(format!("empty MathML <apply> in {ctx}")));
        return num(0.0);
    };
    let opname = op.tag_name().name();
    // Qualifiers (<logbase>, <degree>) are separated from the arguments.
    let mut qualifier = None;
    let mut args = Vec::new();
    for k in kids {
        match k.tag_name().name() {
            "logbase" | "degree" => {
                qualifier = elements(k).next().map(|q| parse_node(q, ctx, problems))
            }
            _ => args.push(parse_node(k, ctx, problems)),
        }
    }
    match opname {
        // A user function: <apply><ci>f</ci> args </apply>.
        "ci" => return Expr::Call(op.text().unwrap_or("").trim().to_string(), args),
        "csymbol" => {
            let url = op.attribute("definitionURL").unwrap_or("");
            let sym = url.rsplit('/').next().unwrap_or(url);
            match (sym, &args[..]) {
                // The derivative of a symbol: `rate_of(x)` (`print.rs`).
                ("rateOf", [Expr::Sym(_)]) => return Expr::Apply("rateOf".into(), args),
                // The value of an expression `tau` ago: `delay(x, tau)` (`print.rs`).
                ("delay", [_, _]) => return Expr::Apply("delay".into(), args),
                ("rateOf", _) => problems.push(Problem::unsupported(format!(
                    "MathML <csymbol> rateOf of something other than an identifier in {ctx}"
                ))),
                _ => problems.push(Problem::unsupported(format!(
                    "MathML <csymbol> {sym} (e.g. delay) in {ctx}"
                ))),
            }
            return num(0.0);
        }
        _ => {}
    }
    let Some((lo, hi)) = arity(opname) else {
        problems.push(Problem::unsupported(format!(
            "unsupported MathML element <{opname}> in {ctx}"
        )));
        return num(0.0);
    };
    if args.len() < lo || args.len() > hi {
        problems.push(Problem::malformed(format!(
            "MathML <{opname}> with {} arguments in {ctx}",
            args.len()
        )));
        return num(0.0);
    }
    match opname {
        "log" => args.insert(0, qualifier.unwrap_or_else(|| num(10.0))),
        "root" => args.insert(0, qualifier.unwrap_or_else(|| num(2.0))),
        _ => {}
    }
    Expr::Apply(opname.to_string(), args)
}

// ---------------------------------------------------------------------------------------------
// Expression tree operations
// ---------------------------------------------------------------------------------------------

impl Expr {
    /// Rebuilds the tree bottom-up, letting `f` replace any node.
    pub(super) fn map(&self, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
        if let Some(e) = f(self) {
            return e;
        }
        match self {
            Expr::Apply(op, a) => Expr::Apply(op.clone(), a.iter().map(|x| x.map(f)).collect()),
            Expr::Call(fun, a) => Expr::Call(fun.clone(), a.iter().map(|x| x.map(f)).collect()),
            Expr::Piecewise(p, o) => Expr::Piecewise(
                p.iter().map(|(v, c)| (v.map(f), c.map(f))).collect(),
                Box::new(o.map(f)),
            ),
            leaf => leaf.clone(),
        }
    }

    /// Every identifier used.
    pub(super) fn symbols(&self, out: &mut Vec<String>) {
        match self {
            Expr::Sym(s) => out.push(s.clone()),
            Expr::Apply(_, a) | Expr::Call(_, a) => a.iter().for_each(|x| x.symbols(out)),
            Expr::Piecewise(p, o) => {
                p.iter().for_each(|(v, c)| {
                    v.symbols(out);
                    c.symbols(out)
                });
                o.symbols(out)
            }
            _ => {}
        }
    }

    pub(super) fn uses_time(&self) -> bool {
        let mut found = false;
        self.map(&mut |e| {
            found |= matches!(e, Expr::Time);
            None
        });
        found
    }
}

/// A `functionDefinition`: `lambda(bvars..., body)`.
pub(super) struct Function {
    pub(super) params: Vec<String>,
    pub(super) body: Expr,
}

/// Replaces each call of a function definition by its body, with the arguments substituted
/// for the bound variables (all at once, so an argument is never substituted again).
pub(super) fn inline(
    e: &Expr,
    funcs: &HashMap<String, Function>,
    depth: usize,
    ctx: &str,
    problems: &mut Vec<Problem>,
) -> Expr {
    e.map(&mut |node| {
        let Expr::Call(name, args) = node else {
            return None;
        };
        let args: Vec<Expr> = args
            .iter()
            .map(|a| inline(a, funcs, depth, ctx, problems))
            .collect();
        let Some(f) = funcs.get(name) else {
            problems.push(Problem::malformed(format!(
                "call of unknown function '{name}' in {ctx}"
            )));
            return Some(num(0.0));
        };
        if f.params.len() != args.len() || depth > 64 {
            problems.push(Problem::malformed(format!(
                "bad call of function '{name}' in {ctx}"
            )));
            return Some(num(0.0));
        }
        let bound: HashMap<&str, &Expr> = f
            .params
            .iter()
            .map(String::as_str)
            .zip(args.iter())
            .collect();
        let body = f.body.map(&mut |b| match b {
            Expr::Sym(s) => bound.get(s.as_str()).map(|a| (*a).clone()),
            _ => None,
        });
        Some(inline(&body, funcs, depth + 1, ctx, problems))
    })
}
