//! SBML → cartox model translator.
//!
//! Reads an SBML Level 2 or Level 3 *core* model and writes the text of a cartox model file
//! (`docs/model-format.md`). The translation follows the SBML semantics of a deterministic
//! simulation:
//!
//! * A **species** symbol means its concentration (amount / compartment size) unless
//!   `hasOnlySubstanceUnits="true"`, when it means its amount. A reaction rate (the value of the
//!   kinetic law) is in amount / time, so for a species changed by reactions
//!   `d[S]/dt = Σ stoichiometry · rate / size(compartment)` (no division for amount species).
//! * A species with `boundaryCondition` or `constant` is not changed by reactions. It becomes an
//!   **assignment** if an assignment rule sets it, a **state** if a rate rule drives it, and
//!   otherwise a **parameter**. A parameter (or non-boundary species) likewise becomes an
//!   assignment / state when a rule targets it.
//! * **Compartments** become parameters (their size), named by their id.
//! * **Function definitions** are inlined; **local parameters** of a kinetic law are renamed
//!   `<reactionId>_<parameterId>`.
//! * **Initial assignments** give a state an `initial` expression; for a parameter the expression
//!   is evaluated here (it may use only constants and other parameters).
//! * **Events** whose trigger is time crossing a constant (`time >= T`, `time > T`, `time == T`
//!   or the mirrored forms, `T` an expression of parameters), without a delay (or with a zero
//!   delay), become `[[events]]` at time `T` setting states (species or rate-rule variables, in
//!   the units the translator gives them: concentration unless `hasOnlySubstanceUnits`). A trigger
//!   already true at t = 0 fires at t = 0 if `initialValue="false"` and never otherwise (L2:
//!   never). `persistent` and `useValuesFromTriggerTime` do not matter for such events.
//! * State-dependent triggers, non-zero delays, priorities (with more than one event), event
//!   assignments to parameters or compartments, algebraic rules, delay functions, fast reactions,
//!   variable compartments, conversion factors, required L3 packages and MathML outside the
//!   supported subset are *not* dropped: every one is collected and reported together in one
//!   [`SbmlError`].
//!
//! Expressions are printed fully parenthesised in the cartox expression language.

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node};

/// Words of the cartox expression language that cannot be used as names.
const RESERVED: &[&str] = crate::expr::RESERVED;

/// The cartox function of a MathML trigonometric or hyperbolic element.
fn trig_name(op: &str) -> Option<&'static str> {
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

/// Prefix that marks a problem as "the document is broken" rather than "valid SBML we cannot run".
const MALFORMED: &str = "malformed: ";

// ---------------------------------------------------------------------------------------------
// Error type
// ---------------------------------------------------------------------------------------------

/// Everything that stops a translation. `problems` lists *all* problems found, not just the first.
///
/// Problems that mean the document itself is broken (not XML, not SBML, a missing required
/// attribute, an unknown identifier) start with `"malformed: "`; all others are valid SBML
/// features that cartox cannot run. [`SbmlError::is_malformed`] tells which kind the error is.
#[derive(Debug)]
pub struct SbmlError {
    pub file: String,
    pub problems: Vec<String>,
}

impl SbmlError {
    /// True if at least one problem is a malformed-document problem.
    pub fn is_malformed(&self) -> bool {
        self.problems.iter().any(|p| p.starts_with(MALFORMED))
    }
}

impl std::fmt::Display for SbmlError {
    /// One line: `<file>: unsupported SBML: a; b; c` or `<file>: malformed SBML: a; b`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_malformed() {
            "malformed"
        } else {
            "unsupported"
        };
        let list: Vec<&str> = self
            .problems
            .iter()
            .map(|p| p.strip_prefix(MALFORMED).unwrap_or(p))
            .collect();
        write!(f, "{}: {} SBML: {}", self.file, kind, list.join("; "))
    }
}

impl std::error::Error for SbmlError {}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Translate an SBML Level 2 or 3 core model into the text of a cartox model file (TOML).
/// `source_name` is the file name used in error messages and in the generated description.
pub fn sbml_to_toml(xml: &str, source_name: &str) -> Result<String, SbmlError> {
    let fail = |problems: Vec<String>| SbmlError {
        file: source_name.to_string(),
        problems,
    };
    let doc = Document::parse(xml)
        .map_err(|e| fail(vec![format!("{MALFORMED}not well-formed XML ({e})")]))?;
    let root = doc.root_element();
    if root.tag_name().name() != "sbml" {
        return Err(fail(vec![format!(
            "{MALFORMED}the root element is <{}>, not <sbml>",
            root.tag_name().name()
        )]));
    }
    let level: u32 = root
        .attribute("level")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let version: u32 = root
        .attribute("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if level != 2 && level != 3 {
        return Err(fail(vec![format!(
            "SBML level {level} (only Levels 2 and 3 are supported)"
        )]));
    }
    let Some(model) = child(root, "model") else {
        return Err(fail(vec![format!(
            "{MALFORMED}<sbml> has no <model> element"
        )]));
    };
    let mut tr = Translator {
        source: source_name,
        level,
        version,
        problems: Vec::new(),
    };
    // L3 packages that change the meaning of the model are marked required="true".
    for a in root.attributes() {
        if a.name() == "required" && a.value() == "true" && a.namespace().is_some() {
            tr.problems.push(format!(
                "required SBML package {}",
                a.namespace().unwrap_or("")
            ));
        }
    }
    let out = tr.translate(model);
    if tr.problems.is_empty() {
        out.ok_or_else(|| fail(vec!["translation failed".into()]))
    } else {
        let mut seen = HashSet::new();
        tr.problems.retain(|p| seen.insert(p.clone()));
        Err(fail(tr.problems))
    }
}

// ---------------------------------------------------------------------------------------------
// XML helpers (SBML and MathML elements are matched by local name)
// ---------------------------------------------------------------------------------------------

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// The items of `<listOfX>` inside `n`, e.g. `list(model, "listOfSpecies", "species")`.
fn list<'a, 'i>(n: Node<'a, 'i>, list_name: &str, item: &str) -> Vec<Node<'a, 'i>> {
    child(n, list_name)
        .map(|l| {
            elements(l)
                .filter(|c| c.tag_name().name() == item)
                .collect()
        })
        .unwrap_or_default()
}

fn attr_bool(n: Node, name: &str) -> bool {
    n.attribute(name) == Some("true")
}

fn attr_f64(n: Node, name: &str) -> Option<f64> {
    n.attribute(name).and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// MathML → expression tree
// ---------------------------------------------------------------------------------------------

/// A MathML expression. Operators keep their MathML names (`plus`, `log`, `ceiling`, ...).
#[derive(Clone, Debug)]
enum Expr {
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
        "divide" | "power" | "neq" => (2, 2),
        "exp" | "ln" | "log" | "root" | "abs" | "floor" | "ceiling" | "not" => (1, 1),
        _ if trig_name(op).is_some() => (1, 1),
        _ => return None,
    })
}

fn num(v: f64) -> Expr {
    Expr::Num(v, format!("{v:?}"))
}

/// Parses the single expression inside a `<math>` element. `ctx` says where it is, for messages.
fn parse_math(math: Node, ctx: &str, problems: &mut Vec<String>) -> Expr {
    match elements(math).find(|c| c.tag_name().name() != "annotation") {
        Some(e) => parse_node(e, ctx, problems),
        None => {
            problems.push(format!("{MALFORMED}empty <math> in {ctx}"));
            num(0.0)
        }
    }
}

fn parse_node(n: Node, ctx: &str, problems: &mut Vec<String>) -> Expr {
    let name = n.tag_name().name();
    let unsupported = |problems: &mut Vec<String>, what: String| {
        problems.push(format!("{what} in {ctx}"));
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
                        problems.push(format!(
                            "{MALFORMED}bad MathML <{other}> in <piecewise> in {ctx}"
                        ));
                    }
                }
            }
            match otherwise {
                Some(o) => Expr::Piecewise(pieces, Box::new(o)),
                // Without <otherwise> the value is undefined when no piece applies.
                None => unsupported(problems, "MathML <piecewise> without <otherwise>".into()),
            }
        }
        "apply" => parse_apply(n, ctx, problems),
        _ => unsupported(problems, format!("unsupported MathML element <{name}>")),
    }
}

/// `<cn>`: types integer, real (default), e-notation (`m<sep/>e`) and rational (`p<sep/>q`).
fn parse_cn(n: Node, ctx: &str, problems: &mut Vec<String>) -> Expr {
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
        problems.push(format!("MathML <cn> with a base other than 10 in {ctx}"));
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
        problems.push(format!(
            "unsupported MathML <cn type=\"{ty}\"> value '{a}' in {ctx}"
        ));
        num(0.0)
    })
}

/// Keeps a number's text as written when the cartox language accepts it, else reprints it.
fn cartox_number_text(text: &str, v: f64) -> String {
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

fn parse_apply(n: Node, ctx: &str, problems: &mut Vec<String>) -> Expr {
    let mut kids = elements(n);
    let Some(op) = kids.next() else {
        problems.push(format!("{MALFORMED}empty MathML <apply> in {ctx}"));
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
            problems.push(format!("MathML <csymbol> {sym} (e.g. delay) in {ctx}"));
            return num(0.0);
        }
        _ => {}
    }
    let Some((lo, hi)) = arity(opname) else {
        problems.push(format!("unsupported MathML element <{opname}> in {ctx}"));
        return num(0.0);
    };
    if args.len() < lo || args.len() > hi {
        problems.push(format!(
            "{MALFORMED}MathML <{opname}> with {} arguments in {ctx}",
            args.len()
        ));
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
    fn map(&self, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
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
    fn symbols(&self, out: &mut Vec<String>) {
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

    fn uses_time(&self) -> bool {
        let mut found = false;
        self.map(&mut |e| {
            found |= matches!(e, Expr::Time);
            None
        });
        found
    }
}

/// A `functionDefinition`: `lambda(bvars..., body)`.
struct Function {
    params: Vec<String>,
    body: Expr,
}

/// Replaces each call of a function definition by its body, with the arguments substituted
/// for the bound variables (all at once, so an argument is never substituted again).
fn inline(
    e: &Expr,
    funcs: &HashMap<String, Function>,
    depth: usize,
    ctx: &str,
    problems: &mut Vec<String>,
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
            problems.push(format!(
                "{MALFORMED}call of unknown function '{name}' in {ctx}"
            ));
            return Some(num(0.0));
        };
        if f.params.len() != args.len() || depth > 64 {
            problems.push(format!("{MALFORMED}bad call of function '{name}' in {ctx}"));
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

/// Prints an expression in the cartox language, fully parenthesised; `names` maps SBML ids to
/// cartox names (identifiers not in the map are printed unchanged).
fn print(e: &Expr, names: &HashMap<String, String>) -> String {
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
            ("power", _) => format!("({} ^ {})", p(&a[0]), p(&a[1])),
            ("exp" | "ln" | "abs" | "floor", _) => format!("{op}({})", p(&a[0])),
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

/// Evaluates an expression (used for initial assignments of parameters). `t` is 0.
fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
    let ev = |x: &Expr| eval(x, lookup);
    let b = |v: bool| if v { 1.0 } else { 0.0 };
    Ok(match e {
        Expr::Num(v, _) => *v,
        Expr::Sym(s) => lookup(s).ok_or_else(|| s.clone())?,
        Expr::Time => 0.0,
        Expr::Const(c) => match *c {
            "pi" => std::f64::consts::PI,
            "exponentiale" => std::f64::consts::E,
            "true" => 1.0,
            _ => 0.0,
        },
        Expr::Call(f, _) => return Err(f.clone()),
        Expr::Piecewise(pieces, otherwise) => {
            for (v, c) in pieces {
                if ev(c)? != 0.0 {
                    return ev(v);
                }
            }
            ev(otherwise)?
        }
        Expr::Apply(op, a) => {
            let x: Vec<f64> = a.iter().map(ev).collect::<Result<_, _>>()?;
            let rel = |f: fn(f64, f64) -> bool| b(x.windows(2).all(|w| f(w[0], w[1])));
            match op.as_str() {
                "plus" => x.iter().sum(),
                "times" => x.iter().product(),
                "minus" if x.len() == 1 => -x[0],
                "minus" => x[0] - x[1],
                "divide" => x[0] / x[1],
                "power" => x[0].powf(x[1]),
                "exp" => x[0].exp(),
                "ln" => x[0].ln(),
                "log" => x[1].ln() / x[0].ln(),
                "root" => x[1].powf(1.0 / x[0]),
                "abs" => x[0].abs(),
                "floor" => x[0].floor(),
                "ceiling" => x[0].ceil(),
                f if trig_name(f).is_some() => crate::expr::FUNCS
                    .iter()
                    .find(|(n, _)| Some(*n) == trig_name(f))
                    .map_or(f64::NAN, |(_, func)| func.apply(x[0])),
                "min" => x.iter().cloned().fold(f64::INFINITY, f64::min),
                "max" => x.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                "and" => b(x.iter().all(|v| *v != 0.0)),
                "or" => b(x.iter().any(|v| *v != 0.0)),
                "xor" => b(x.iter().filter(|v| **v != 0.0).count() % 2 == 1),
                "not" => b(x[0] == 0.0),
                "eq" => rel(|p, q| p == q),
                "neq" => b(x[0] != x[1]),
                "gt" => rel(|p, q| p > q),
                "lt" => rel(|p, q| p < q),
                "geq" => rel(|p, q| p >= q),
                _ => rel(|p, q| p <= q),
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------

/// One `<unit kind exponent scale multiplier>`.
struct Unit {
    kind: String,
    exponent: f64,
    scale: i32,
    multiplier: f64,
}

struct UnitDef {
    name: Option<String>,
    units: Vec<Unit>,
}

/// Human-readable text for a unit reference (a unitDefinition id or a base unit).
fn unit_text(id: &str, defs: &HashMap<String, UnitDef>) -> String {
    let Some(def) = defs.get(id) else {
        // Base units, and the L2 built-ins when they are not redefined.
        return match id {
            "substance" => "mole".into(),
            "volume" => "litre".into(),
            other => other.into(),
        };
    };
    // COPASI names its definitions readably ("1/d", "#/ul"); generic names are spelled out.
    if let Some(n) = &def.name {
        if n != id && !["substance", "volume", "time", "area", "length"].contains(&n.as_str()) {
            return n.clone();
        }
    }
    let parts: Vec<String> = def
        .units
        .iter()
        .map(|u| {
            let kind = match u.kind.as_str() {
                "litre" | "liter" => "L",
                "second" => "s",
                "mole" => "mol",
                "gram" => "g",
                "metre" | "meter" => "m",
                k => k,
            };
            let prefix = match u.scale {
                0 => Some(""),
                3 => Some("k"),
                -1 => Some("d"),
                -2 => Some("c"),
                -3 => Some("m"),
                -6 => Some("u"),
                -9 => Some("n"),
                -12 => Some("p"),
                -15 => Some("f"),
                _ => None,
            };
            let base = match prefix {
                Some(pre) if u.multiplier == 1.0 => format!("{pre}{kind}"),
                _ => format!("({:?} {kind})", u.multiplier * 10f64.powi(u.scale)),
            };
            if u.exponent == 1.0 {
                base
            } else {
                format!("{base}^{}", u.exponent)
            }
        })
        .collect();
    parts.join("*")
}

// ---------------------------------------------------------------------------------------------
// The translator
// ---------------------------------------------------------------------------------------------

struct Translator<'s> {
    source: &'s str,
    level: u32,
    version: u32,
    problems: Vec<String>,
}

/// What an SBML symbol becomes in the cartox model.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    Parameter,
    State,
    Assignment,
}

/// An SBML `<event>` as parsed, before translation.
struct SbmlEvent {
    id: Option<String>,
    name: Option<String>,
    /// `'id'` or `#n`, for messages.
    label: String,
    trigger: Expr,
    /// The trigger's `initialValue` (L2: true).
    initial_value: bool,
    delay: Option<Expr>,
    priority: bool,
    assignments: Vec<(String, Expr)>,
}

struct SpeciesInfo<'a, 'i> {
    node: Node<'a, 'i>,
    id: String,
    compartment: String,
    only_substance: bool,
}

impl<'s> Translator<'s> {
    fn malformed(&mut self, msg: String) {
        self.problems.push(format!("{MALFORMED}{msg}"));
    }

    /// Translates `<model>`; returns the TOML text (meaningful only if no problems were found).
    fn translate(&mut self, model: Node) -> Option<String> {
        let level = self.level;
        let mut notes: Vec<String> = Vec::new();

        // --- Unit definitions and the time unit ---------------------------------------------
        let mut unit_defs = HashMap::new();
        for ud in list(model, "listOfUnitDefinitions", "unitDefinition") {
            let units = list(ud, "listOfUnits", "unit")
                .into_iter()
                .map(|u| Unit {
                    kind: u.attribute("kind").unwrap_or("").to_string(),
                    exponent: attr_f64(u, "exponent").unwrap_or(1.0),
                    scale: attr_f64(u, "scale").unwrap_or(0.0) as i32,
                    multiplier: attr_f64(u, "multiplier").unwrap_or(1.0),
                })
                .collect();
            let name = ud.attribute("name").map(str::to_string);
            unit_defs.insert(
                ud.attribute("id").unwrap_or("").to_string(),
                UnitDef { name, units },
            );
        }
        let time_unit = self.time_unit(model, &unit_defs, &mut notes);

        // --- Function definitions ----------------------------------------------------------
        let mut funcs = HashMap::new();
        for fd in list(model, "listOfFunctionDefinitions", "functionDefinition") {
            let id = fd.attribute("id").unwrap_or("").to_string();
            let ctx = format!("function definition '{id}'");
            let Some(lambda) = child(fd, "math").and_then(|m| {
                child(m, "lambda")
                    .or_else(|| child(m, "semantics").and_then(|s| child(s, "lambda")))
            }) else {
                self.malformed(format!("{ctx} has no <lambda>"));
                continue;
            };
            let mut params = Vec::new();
            let mut body = None;
            for c in elements(lambda) {
                if c.tag_name().name() == "bvar" {
                    params.push(
                        child(c, "ci")
                            .and_then(|ci| ci.text())
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    );
                } else {
                    body = Some(parse_node(c, &ctx, &mut self.problems));
                }
            }
            match body {
                Some(body) => drop(funcs.insert(id, Function { params, body })),
                None => self.malformed(format!("{ctx} has no body")),
            }
        }
        // Every other piece of math is parsed, then its function calls are inlined.
        let math_of = |tr: &mut Self, n: Node, ctx: &str| -> Option<Expr> {
            let Some(m) = child(n, "math") else {
                tr.malformed(format!("{ctx} has no <math>"));
                return None;
            };
            let e = parse_math(m, ctx, &mut tr.problems);
            Some(inline(&e, &funcs, 0, ctx, &mut tr.problems))
        };

        // --- Rules and initial assignments -------------------------------------------------
        let mut assignment_rules: Vec<(String, Expr)> = Vec::new();
        let mut rate_rules: HashMap<String, Expr> = HashMap::new();
        if let Some(rules) = child(model, "listOfRules") {
            for (i, r) in elements(rules).enumerate() {
                let var = r.attribute("variable").unwrap_or("").to_string();
                match r.tag_name().name() {
                    "assignmentRule" => {
                        let ctx = format!("the assignment rule for '{var}'");
                        if let Some(e) = math_of(self, r, &ctx) {
                            assignment_rules.push((var, e));
                        }
                    }
                    "rateRule" => {
                        let ctx = format!("the rate rule for '{var}'");
                        if let Some(e) = math_of(self, r, &ctx) {
                            rate_rules.insert(var, e);
                        }
                    }
                    "algebraicRule" => self.problems.push(format!(
                        "algebraic rule (rule #{}): algebraic rules are not supported",
                        i + 1
                    )),
                    // L1-style or unknown rule elements.
                    other => self
                        .problems
                        .push(format!("unsupported rule element <{other}>")),
                }
            }
        }
        let assigned: HashSet<String> = assignment_rules.iter().map(|(v, _)| v.clone()).collect();
        let mut initial_assignments: HashMap<String, Expr> = HashMap::new();
        for ia in list(model, "listOfInitialAssignments", "initialAssignment") {
            let sym = ia.attribute("symbol").unwrap_or("").to_string();
            let ctx = format!("the initial assignment for '{sym}'");
            if let Some(e) = math_of(self, ia, &ctx) {
                initial_assignments.insert(sym, e);
            }
        }

        // --- Events, constraints, conversion factors ---------------------------------------
        // Parsed here, translated once the role of every symbol is known (see `events_out`).
        let mut sbml_events: Vec<SbmlEvent> = Vec::new();
        for (i, ev) in list(model, "listOfEvents", "event").into_iter().enumerate() {
            let label = ev
                .attribute("id")
                .map(|s| format!("'{s}'"))
                .unwrap_or(format!("#{}", i + 1));
            let ctx = format!("the trigger of event {label}");
            let trigger = match child(ev, "trigger") {
                Some(tn) => math_of(self, tn, &ctx).map(|e| (e, tn)),
                None => {
                    self.malformed(format!("event {label} has no <trigger>"));
                    None
                }
            };
            let delay = child(ev, "delay")
                .and_then(|d| math_of(self, d, &format!("the delay of event {label}")));
            let mut assignments = Vec::new();
            for ea in list(ev, "listOfEventAssignments", "eventAssignment") {
                let var = ea.attribute("variable").unwrap_or("").to_string();
                let ctx = format!("the assignment to '{var}' of event {label}");
                if let Some(e) = math_of(self, ea, &ctx) {
                    assignments.push((var, e));
                }
            }
            let Some((trigger, tn)) = trigger else {
                continue;
            };
            sbml_events.push(SbmlEvent {
                id: ev.attribute("id").map(str::to_string),
                name: ev.attribute("name").map(str::to_string),
                label,
                trigger,
                // L2 triggers behave as initialValue="true" (no firing at t0).
                initial_value: tn.attribute("initialValue") != Some("false"),
                delay,
                priority: child(ev, "priority").is_some(),
                assignments,
            });
        }
        if !list(model, "listOfConstraints", "constraint").is_empty() {
            notes.push(
                "The SBML constraints were not translated (they do not change the dynamics)."
                    .into(),
            );
        }
        if model.attribute("conversionFactor").is_some() {
            self.problems.push("model conversionFactor".into());
        }

        // --- Identifiers -------------------------------------------------------------------
        // SBML ids are kept; a reserved word of the expression language gets a trailing '_'.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut taken: HashSet<String> = HashSet::new();
        let mut renames: Vec<String> = Vec::new();
        let global_ids: Vec<String> = [
            "listOfCompartments/compartment",
            "listOfSpecies/species",
            "listOfParameters/parameter",
            "listOfReactions/reaction",
        ]
        .iter()
        .flat_map(|p| {
            let (l, i) = p.split_once('/').unwrap();
            list(model, l, i)
        })
        .map(|n| n.attribute("id").unwrap_or("").to_string())
        .collect();
        if global_ids.iter().any(String::is_empty) {
            self.malformed("a compartment, species, parameter or reaction without an id".into());
        }
        taken.extend(global_ids.iter().cloned());
        for id in &global_ids {
            let mut name = id.clone();
            if RESERVED.contains(&id.as_str()) {
                while taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                    name.push('_');
                }
                taken.insert(name.clone());
                renames.push(format!("{id} -> {name}"));
            }
            names.insert(id.clone(), name);
        }

        // --- Compartments, species, parameters: decide each symbol's role ------------------
        let mut roles: HashMap<String, Role> = HashMap::new();
        let role_of = |id: &str| {
            if assigned.contains(id) {
                Role::Assignment
            } else if rate_rules.contains_key(id) {
                Role::State
            } else {
                Role::Parameter
            }
        };
        let compartments = list(model, "listOfCompartments", "compartment");
        let mut comp_size: HashMap<String, Option<f64>> = HashMap::new();
        for c in &compartments {
            let id = c.attribute("id").unwrap_or("").to_string();
            if role_of(&id) != Role::Parameter {
                self.problems.push(format!(
                    "compartment '{id}' with a rule (variable compartment size)"
                ));
            }
            // L2 default size is 1 when unset (and spatialDimensions 0 has no size).
            let size = attr_f64(*c, "size")
                .or(attr_f64(*c, "volume"))
                .or(if level == 2 { Some(1.0) } else { None });
            comp_size.insert(id.clone(), size);
            roles.insert(id, Role::Parameter);
        }
        let mut species: Vec<SpeciesInfo> = Vec::new();
        for s in list(model, "listOfSpecies", "species") {
            let id = s.attribute("id").unwrap_or("").to_string();
            let compartment = s.attribute("compartment").unwrap_or("").to_string();
            if !comp_size.contains_key(&compartment) {
                self.malformed(format!(
                    "species '{id}' is in unknown compartment '{compartment}'"
                ));
            }
            if s.attribute("conversionFactor").is_some() {
                self.problems
                    .push(format!("conversionFactor of species '{id}'"));
            }
            let fixed = attr_bool(s, "boundaryCondition") || attr_bool(s, "constant");
            let role = role_of(&id);
            // Not boundary, not constant, no rule: a state changed by reactions.
            let reactive = role == Role::Parameter && !fixed;
            roles.insert(id.clone(), if reactive { Role::State } else { role });
            species.push(SpeciesInfo {
                node: s,
                id,
                compartment,
                only_substance: attr_bool(s, "hasOnlySubstanceUnits"),
            });
        }
        let parameters = list(model, "listOfParameters", "parameter");
        for p in &parameters {
            let id = p.attribute("id").unwrap_or("").to_string();
            roles.insert(id.clone(), role_of(&id));
        }
        for (var, _) in &assignment_rules {
            if !roles.contains_key(var) {
                self.malformed(format!("assignment rule for unknown symbol '{var}'"));
            }
        }
        for var in rate_rules.keys() {
            if !roles.contains_key(var) {
                self.malformed(format!("rate rule for unknown symbol '{var}'"));
            }
        }

        // --- Numeric values of everything that becomes a parameter -------------------------
        // Base values from attributes, then initial assignments evaluated to a fixed point.
        let mut base: HashMap<String, f64> = HashMap::new();
        for (id, size) in &comp_size {
            if let Some(v) = size {
                base.insert(id.clone(), *v);
            }
        }
        for p in &parameters {
            if let Some(v) = attr_f64(*p, "value") {
                base.insert(p.attribute("id").unwrap_or("").to_string(), v);
            }
        }
        for s in &species {
            let size = comp_size.get(&s.compartment).copied().flatten();
            if let Some(v) = species_value(s.node, s.only_substance, size) {
                base.insert(s.id.clone(), v);
            }
        }
        let mut values: HashMap<String, f64> = base
            .iter()
            .filter(|(id, _)| !initial_assignments.contains_key(*id))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let pending: Vec<&String> = initial_assignments
            .keys()
            .filter(|id| roles.get(*id) == Some(&Role::Parameter))
            .collect();
        // Initial assignments are evaluated at t0, where a parameter, a compartment and a state
        // have their declared values (COPASI's "Initial for X" parameters refer to states).
        // Assignment-rule variables are not evaluated here.
        let known_at_t0 = |s: &str| matches!(roles.get(s), Some(Role::Parameter | Role::State));
        loop {
            let mut progress = false;
            for id in &pending {
                if values.contains_key(*id) {
                    continue;
                }
                let r = eval(&initial_assignments[*id], &|s| {
                    values.get(s).copied().filter(|_| known_at_t0(s))
                });
                if let Ok(v) = r {
                    values.insert((*id).clone(), v);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        let mut evaluated_notes = Vec::new();
        for id in &pending {
            let e = &initial_assignments[*id];
            if let Some(v) = values.get(*id) {
                evaluated_notes.push(format!("{} = {} (= {v:?})", names[*id], print(e, &names)));
            } else {
                let bad = match eval(e, &|s| values.get(s).copied().filter(|_| known_at_t0(s))) {
                    Err(s) => s,
                    Ok(_) => String::new(),
                };
                self.problems.push(format!(
                    "initial assignment of parameter '{id}' depends on '{bad}', which has no constant value at t0"
                ));
            }
        }

        // --- Reactions ---------------------------------------------------------------------
        let mut terms: HashMap<String, Vec<String>> = HashMap::new();
        let mut local_params: Vec<(String, f64, String, String)> = Vec::new(); // name, value, unit, description
        let param_unit = |n: Node| {
            n.attribute("units")
                .map(|u| unit_text(u, &unit_defs))
                .unwrap_or_default()
        };
        for r in list(model, "listOfReactions", "reaction") {
            let rid = r.attribute("id").unwrap_or("").to_string();
            if attr_bool(r, "fast") {
                self.problems.push(format!("fast reaction '{rid}'"));
            }
            let Some(law) = child(r, "kineticLaw") else {
                self.problems
                    .push(format!("reaction '{rid}' has no kinetic law"));
                continue;
            };
            // Local parameters (L2 listOfParameters, L3 listOfLocalParameters) → <rid>_<pid>.
            let mut local: HashMap<String, String> = HashMap::new();
            let locals = list(law, "listOfParameters", "parameter")
                .into_iter()
                .chain(list(law, "listOfLocalParameters", "localParameter"));
            for p in locals {
                let pid = p.attribute("id").unwrap_or("");
                let mut name = format!("{rid}_{pid}");
                while taken.contains(&name) || RESERVED.contains(&name.as_str()) {
                    name.push('_');
                }
                taken.insert(name.clone());
                names.insert(name.clone(), name.clone());
                roles.insert(name.clone(), Role::Parameter);
                local.insert(pid.to_string(), name.clone());
                let Some(v) = attr_f64(p, "value") else {
                    self.malformed(format!(
                        "local parameter '{pid}' of reaction '{rid}' has no value"
                    ));
                    continue;
                };
                let what = p.attribute("name").unwrap_or(pid);
                local_params.push((
                    name,
                    v,
                    param_unit(p),
                    format!("{what} (local to reaction {rid})"),
                ));
            }
            let ctx = format!("the kinetic law of reaction '{rid}'");
            let Some(rate) = math_of(self, law, &ctx) else {
                continue;
            };
            let rate = rate.map(&mut |e| match e {
                Expr::Sym(s) => local.get(s).map(|n| Expr::Sym(n.clone())),
                _ => None,
            });
            check_symbols(&mut self.problems, &rate, &roles, &ctx);
            let rate = print(&rate, &names);
            for (list_name, sign) in [("listOfReactants", "-"), ("listOfProducts", "+")] {
                for sr in list(r, list_name, "speciesReference") {
                    let sp = sr.attribute("species").unwrap_or("").to_string();
                    if !species.iter().any(|s| s.id == sp) {
                        self.malformed(format!(
                            "reaction '{rid}' refers to unknown species '{sp}'"
                        ));
                        continue;
                    }
                    let stoich = if let Some(sm) = child(sr, "stoichiometryMath") {
                        let ctx = format!("the stoichiometryMath of '{sp}' in reaction '{rid}'");
                        let Some(e) = math_of(self, sm, &ctx) else {
                            continue;
                        };
                        print(&e, &names)
                    } else {
                        if let Some(srid) = sr.attribute("id") {
                            if initial_assignments.contains_key(srid)
                                || assigned.contains(srid)
                                || rate_rules.contains_key(srid)
                            {
                                self.problems.push(format!(
                                    "variable stoichiometry '{srid}' in reaction '{rid}'"
                                ));
                            }
                        }
                        let s = sr.attribute("stoichiometry").unwrap_or("1").trim();
                        match s.parse::<f64>() {
                            Ok(v) if v.is_finite() => cartox_number_text(s, v),
                            _ => {
                                self.malformed(format!(
                                    "bad stoichiometry '{s}' in reaction '{rid}'"
                                ));
                                continue;
                            }
                        }
                    };
                    let term = if stoich.parse::<f64>() == Ok(1.0) {
                        rate.clone()
                    } else {
                        format!("({stoich} * {rate})")
                    };
                    terms.entry(sp).or_default().push(format!("{sign}{term}"));
                }
            }
        }

        // --- Every identifier used in rules and initial assignments must be defined ---------
        for (v, e) in &assignment_rules {
            check_symbols(
                &mut self.problems,
                e,
                &roles,
                &format!("the assignment rule for '{v}'"),
            );
        }
        for (v, e) in &rate_rules {
            check_symbols(
                &mut self.problems,
                e,
                &roles,
                &format!("the rate rule for '{v}'"),
            );
        }
        for (v, e) in &initial_assignments {
            check_symbols(
                &mut self.problems,
                e,
                &roles,
                &format!("the initial assignment for '{v}'"),
            );
        }

        // --- Build the output tables ---------------------------------------------------------
        let source = format!("{} (SBML)", self.source);
        let mut params_out = Vec::new();
        let mut states_out = Vec::new();
        let mut assigns_out = Vec::new();
        let mut equations = toml::Table::new();
        let name_attr = |n: Node, id: &str| n.attribute("name").unwrap_or(id).to_string();
        let param_names: HashSet<String> = roles
            .iter()
            .filter(|(_, r)| **r == Role::Parameter)
            .map(|(id, _)| id.clone())
            .collect();
        let mut param = |name: &str, value: f64, unit: String, description: String| {
            let mut t = toml::Table::new();
            t.insert("name".into(), name.into());
            t.insert("value".into(), value.into());
            t.insert("unit".into(), unit.into());
            t.insert("description".into(), description.into());
            t.insert("source".into(), source.clone().into());
            params_out.push(toml::Value::Table(t));
        };
        let default_volume = if level == 2 {
            "volume".to_string()
        } else {
            model.attribute("volumeUnits").unwrap_or("").to_string()
        };
        let default_substance = if level == 2 {
            "substance".to_string()
        } else {
            model.attribute("substanceUnits").unwrap_or("").to_string()
        };
        let mut comp_unit: HashMap<String, String> = HashMap::new();
        for c in &compartments {
            let id = c.attribute("id").unwrap_or("");
            let unit = c
                .attribute("units")
                .map(str::to_string)
                .unwrap_or(default_volume.clone());
            let unit = if unit.is_empty() {
                unit
            } else {
                unit_text(&unit, &unit_defs)
            };
            comp_unit.insert(id.to_string(), unit.clone());
            match values.get(id) {
                Some(v) => param(
                    &names[id],
                    *v,
                    unit,
                    format!("size of compartment {}", name_attr(*c, id)),
                ),
                None => self.malformed(format!("compartment '{id}' has no size")),
            }
        }
        for p in &parameters {
            let id = p.attribute("id").unwrap_or("");
            if roles[id] != Role::Parameter {
                continue;
            }
            // A parameter with an initial assignment keeps the evaluated number; the description
            // records the expression (it is not re-evaluated if another parameter is changed).
            let description = match initial_assignments.get(id) {
                Some(e) => format!(
                    "{}; initial assignment {} evaluated at translation",
                    name_attr(*p, id),
                    print(e, &names)
                ),
                None => name_attr(*p, id),
            };
            match values.get(id) {
                Some(v) => param(&names[id], *v, param_unit(*p), description),
                None if initial_assignments.contains_key(id) => {} // reported above
                None => self.malformed(format!("parameter '{id}' has no value")),
            }
        }
        let species_unit = |s: &SpeciesInfo| {
            let sub = s
                .node
                .attribute("substanceUnits")
                .map(str::to_string)
                .unwrap_or(default_substance.clone());
            let sub = if sub.is_empty() {
                return String::new();
            } else {
                unit_text(&sub, &unit_defs)
            };
            if s.only_substance {
                sub
            } else {
                match comp_unit.get(&s.compartment) {
                    Some(v) if !v.is_empty() => format!("{sub}/{v}"),
                    _ => String::new(),
                }
            }
        };
        for s in species.iter().filter(|s| roles[&s.id] == Role::Parameter) {
            match values.get(&s.id) {
                Some(v) => param(
                    &names[&s.id],
                    *v,
                    species_unit(s),
                    format!("constant species {}", name_attr(s.node, &s.id)),
                ),
                None if initial_assignments.contains_key(&s.id) => {}
                None => self.malformed(format!("species '{}' has no initial value", s.id)),
            }
        }
        for (name, v, unit, description) in &local_params {
            param(name, *v, unit.clone(), description.clone());
        }

        // States: initial value (number or expression of parameters) and right-hand side.
        let mut state = |tr: &mut Self,
                         id: &str,
                         unit: String,
                         description: String,
                         initial: Option<toml::Value>,
                         rhs: String| {
            let mut t = toml::Table::new();
            t.insert("name".into(), names[id].clone().into());
            t.insert("unit".into(), unit.into());
            t.insert("description".into(), description.into());
            let initial = match initial_assignments.get(id) {
                Some(e) => {
                    let mut syms = Vec::new();
                    e.symbols(&mut syms);
                    if let Some(bad) = syms.iter().find(|s| !param_names.contains(*s)) {
                        tr.problems.push(format!(
                            "initial assignment of '{id}' uses '{bad}', which is not a parameter"
                        ));
                    }
                    if e.uses_time() {
                        tr.problems
                            .push(format!("initial assignment of '{id}' uses time"));
                    }
                    Some(toml::Value::from(print(e, &names)))
                }
                None => initial,
            };
            match initial {
                Some(v) => drop(t.insert("initial".into(), v)),
                None => tr.malformed(format!("'{id}' has no initial value")),
            }
            states_out.push(toml::Value::Table(t));
            equations.insert(names[id].clone(), rhs.into());
        };
        for s in species.iter().filter(|s| roles[&s.id] == Role::State) {
            let rhs = if let Some(e) = rate_rules.get(&s.id) {
                print(e, &names)
            } else {
                let ts = terms.remove(&s.id).unwrap_or_default();
                let compartment = names.get(&s.compartment).map(String::as_str).unwrap_or("1");
                species_rhs(&ts, (!s.only_substance).then_some(compartment))
            };
            let initial =
                species_initial(s, comp_size.get(&s.compartment).copied().flatten(), &names);
            state(
                self,
                &s.id,
                species_unit(s),
                name_attr(s.node, &s.id),
                initial,
                rhs,
            );
        }
        for p in parameters
            .iter()
            .filter(|p| roles[p.attribute("id").unwrap_or("")] == Role::State)
        {
            let id = p.attribute("id").unwrap_or("");
            let initial = attr_f64(*p, "value").map(toml::Value::from);
            state(
                self,
                id,
                param_unit(*p),
                name_attr(*p, id),
                initial,
                print(&rate_rules[id], &names),
            );
        }
        for (var, e) in &assignment_rules {
            let Some(id) = names.get(var) else { continue };
            let mut t = toml::Table::new();
            t.insert("name".into(), id.clone().into());
            t.insert("expr".into(), print(e, &names).into());
            if let Some(s) = species.iter().find(|s| &s.id == var) {
                t.insert("unit".into(), species_unit(s).into());
                t.insert("description".into(), name_attr(s.node, var).into());
            } else if let Some(p) = parameters.iter().find(|p| p.attribute("id") == Some(var)) {
                t.insert("unit".into(), param_unit(*p).into());
                t.insert("description".into(), name_attr(*p, var).into());
            }
            assigns_out.push(toml::Value::Table(t));
        }

        // Discontinuities in time: conditions comparing t with an expression of parameters.
        let mut breakpoints: Vec<String> = Vec::new();
        for e in assignment_rules
            .iter()
            .map(|(_, e)| e)
            .chain(rate_rules.values())
        {
            e.map(&mut |node| {
                if let Expr::Apply(op, a) = node {
                    if matches!(op.as_str(), "lt" | "gt" | "leq" | "geq" | "eq") && a.len() == 2 {
                        let other = match (&a[0], &a[1]) {
                            (Expr::Time, o) | (o, Expr::Time) => Some(o),
                            _ => None,
                        };
                        if let Some(o) = other {
                            let mut syms = Vec::new();
                            o.symbols(&mut syms);
                            if !o.uses_time() && syms.iter().all(|s| param_names.contains(s)) {
                                let bp = print(o, &names);
                                if !breakpoints.contains(&bp) {
                                    breakpoints.push(bp);
                                }
                            }
                        }
                    }
                }
                None
            });
        }

        // Events: only triggers that are a pure function of time crossing a constant.
        let mut events_out = Vec::new();
        let n_events = sbml_events.len();
        for ev in &sbml_events {
            let label = &ev.label;
            let before = self.problems.len();
            let const_expr = |e: &Expr| {
                let mut syms = Vec::new();
                e.symbols(&mut syms);
                !e.uses_time() && syms.iter().all(|s| param_names.contains(s))
            };
            let value_of = |e: &Expr| eval(e, &|s| values.get(s).copied());
            // time >= T, time > T, time == T (and the mirrored forms), T constant.
            let crossing = match &ev.trigger {
                Expr::Apply(op, a) if a.len() == 2 => match (op.as_str(), &a[0], &a[1]) {
                    ("geq" | "gt" | "eq", Expr::Time, o) if const_expr(o) => Some((op.as_str(), o)),
                    ("leq", o, Expr::Time) if const_expr(o) => Some(("geq", o)),
                    ("lt", o, Expr::Time) if const_expr(o) => Some(("gt", o)),
                    ("eq", o, Expr::Time) if const_expr(o) => Some(("eq", o)),
                    _ => None,
                },
                _ => None,
            };
            let Some((op, at)) = crossing else {
                self.problems.push(format!(
                    "event {label}: trigger {} is not time crossing a constant (state-dependent \
                     triggers are not supported)",
                    print(&ev.trigger, &names)
                ));
                continue;
            };
            if let Some(d) = &ev.delay {
                if !(const_expr(d) && value_of(d) == Ok(0.0)) {
                    self.problems.push(format!(
                        "event {label}: <delay> {} (only a zero delay is supported)",
                        print(d, &names)
                    ));
                }
            }
            if ev.priority && n_events > 1 {
                self.problems.push(format!(
                    "event {label}: <priority> (the order of simultaneous events is not translated)"
                ));
            }
            let mut set = toml::Table::new();
            for (var, e) in &ev.assignments {
                let ctx = format!("the assignment to '{var}' of event {label}");
                match roles.get(var) {
                    None => self.malformed(format!("{ctx}: unknown symbol '{var}'")),
                    Some(Role::State) => {
                        check_symbols(&mut self.problems, e, &roles, &ctx);
                        set.insert(names[var].clone(), print(e, &names).into());
                    }
                    Some(r) => {
                        let what = if comp_size.contains_key(var) {
                            "a compartment"
                        } else if *r == Role::Assignment {
                            "set by an assignment rule"
                        } else {
                            "a parameter in the translated model"
                        };
                        self.problems.push(format!(
                            "event {label}: assignment to '{var}' ({what}; events may only set \
                             species or rate-rule variables)"
                        ));
                    }
                }
            }
            if self.problems.len() > before {
                continue;
            }
            let t_value = match value_of(at) {
                Ok(v) if v.is_finite() => v,
                _ => {
                    self.problems.push(format!(
                        "event {label}: trigger time {} has no finite value",
                        print(at, &names)
                    ));
                    continue;
                }
            };
            let true_at_t0 = match op {
                "geq" => t_value <= 0.0,
                "gt" => t_value < 0.0,
                _ => t_value == 0.0,
            };
            if op == "eq" && t_value < 0.0 {
                notes.push(format!(
                    "Event {label} was not translated: its trigger time is before t = 0, so it \
                     never fires."
                ));
                continue;
            }
            let time = if true_at_t0 && ev.initial_value {
                notes.push(format!(
                    "Event {label} was not translated: its trigger is already true at t = 0 and \
                     initialValue is true, so it never fires."
                ));
                continue;
            } else if true_at_t0 || t_value <= 0.0 {
                "0".to_string()
            } else {
                print(at, &names)
            };
            if set.is_empty() {
                continue;
            }
            let mut t = toml::Table::new();
            if let Some(id) = &ev.id {
                t.insert("name".into(), id.clone().into());
            }
            t.insert("time".into(), time.into());
            t.insert("set".into(), toml::Value::Table(set));
            let trig = print(&ev.trigger, &names);
            let mut description = format!("SBML event, trigger {trig}");
            if let Some(n) = ev.name.as_ref().filter(|n| Some(*n) != ev.id.as_ref()) {
                description = format!("{n}: {description}");
            }
            t.insert("description".into(), description.into());
            events_out.push(toml::Value::Table(t));
        }
        if !self.problems.is_empty() {
            return None;
        }

        // --- [model] and [[references]] ------------------------------------------------------
        let model_id = model.attribute("id").unwrap_or("sbml_model");
        let title = model.attribute("name").unwrap_or(model_id).to_string();
        let mut description = format!(
            "Translated from the SBML file {} (SBML Level {} Version {}, model id {model_id}) by the \
             cartox SBML translator. Species are concentrations (amount / compartment size) unless \
             hasOnlySubstanceUnits is set; compartment sizes are parameters named by the compartment id.",
            self.source, self.level, self.version
        );
        for n in &notes {
            description.push(' ');
            description.push_str(n);
        }
        if !renames.is_empty() {
            description.push_str(&format!(
                " Renamed (reserved words of the expression language): {}.",
                renames.join(", ")
            ));
        }
        if !evaluated_notes.is_empty() {
            description.push_str(&format!(
                " Initial assignments of parameters evaluated once: {}.",
                evaluated_notes.join("; ")
            ));
        }
        let mut m = toml::Table::new();
        let sanitized: String = model_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        m.insert("name".into(), sanitized.clone().into());
        m.insert("title".into(), title.clone().into());
        m.insert("description".into(), description.into());
        m.insert("time_unit".into(), time_unit.into());
        if !breakpoints.is_empty() {
            m.insert("breakpoints".into(), breakpoints.into());
        }
        let mut reference = toml::Table::new();
        let (biomodels, doi, pubmed) = annotation_ids(model);
        reference.insert("key".into(), biomodels.clone().unwrap_or(sanitized).into());
        reference.insert("citation".into(), title.into());
        if let Some(d) = doi {
            reference.insert("doi".into(), d.into());
        }
        if let Some(b) = biomodels {
            reference.insert("biomodels".into(), b.into());
        }
        if let Some(p) = pubmed {
            reference.insert(
                "url".into(),
                format!("https://identifiers.org/pubmed:{p}").into(),
            );
        }

        let mut doc = toml::Table::new();
        doc.insert("model".into(), toml::Value::Table(m));
        doc.insert(
            "references".into(),
            toml::Value::Array(vec![toml::Value::Table(reference)]),
        );
        doc.insert("parameters".into(), toml::Value::Array(params_out));
        doc.insert("states".into(), toml::Value::Array(states_out));
        if !assigns_out.is_empty() {
            doc.insert("assignments".into(), toml::Value::Array(assigns_out));
        }
        doc.insert("equations".into(), toml::Value::Table(equations));
        if !events_out.is_empty() {
            doc.insert("events".into(), toml::Value::Array(events_out));
        }
        match toml::to_string(&doc) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problems.push(format!("cannot write TOML: {e}"));
                None
            }
        }
    }

    /// The model's time unit: "hour" or "day"; anything else is reported as unsupported.
    fn time_unit(
        &mut self,
        model: Node,
        defs: &HashMap<String, UnitDef>,
        notes: &mut Vec<String>,
    ) -> String {
        // L3: <model timeUnits="...">; L2: the redefinable built-in unit "time".
        let reference = if self.level == 3 {
            model.attribute("timeUnits")
        } else {
            Some("time")
        };
        let Some(unit_id) = reference else {
            notes.push("The SBML model declares no time unit; day was assumed.".into());
            return "day".into();
        };
        let seconds = match defs.get(unit_id) {
            Some(def) => match def.units.as_slice() {
                [u] if u.kind == "second" && u.exponent == 1.0 => {
                    Some(u.multiplier * 10f64.powi(u.scale))
                }
                _ => None,
            },
            None if unit_id == "second" => Some(1.0),
            None if self.level == 2 => {
                notes.push("The SBML model declares no time unit; day was assumed.".into());
                return "day".into();
            }
            None => None,
        };
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y;
        match seconds {
            Some(s) if close(s, 3600.0) => "hour".into(),
            Some(s) if close(s, 86400.0) => "day".into(),
            Some(s) => {
                self.problems.push(format!(
                    "time unit '{unit_id}' ({s} s): cartox models use hour (3600 s) or day (86400 s)"
                ));
                "day".into()
            }
            None => {
                self.problems.push(format!(
                    "time unit '{unit_id}' is not a multiple of the second: cartox models use hour or day"
                ));
                "day".into()
            }
        }
    }
}

/// A species' initial value in its own units (concentration unless only-substance), as a number.
fn species_value(s: Node, only_substance: bool, size: Option<f64>) -> Option<f64> {
    match (
        attr_f64(s, "initialConcentration"),
        attr_f64(s, "initialAmount"),
    ) {
        (Some(c), _) if only_substance => Some(c * size?),
        (Some(c), _) => Some(c),
        (None, Some(a)) if only_substance => Some(a),
        (None, Some(a)) => Some(a / size?),
        _ => None,
    }
}

/// A state species' `initial`: a number, or `amount / compartment` (`conc * compartment`) when
/// the compartment size is not 1, so that the value follows a changed compartment parameter.
fn species_initial(
    s: &SpeciesInfo,
    size: Option<f64>,
    names: &HashMap<String, String>,
) -> Option<toml::Value> {
    let comp = names.get(&s.compartment)?;
    let conc = attr_f64(s.node, "initialConcentration");
    let amount = attr_f64(s.node, "initialAmount");
    let text = |a: &str| s.node.attribute(a).unwrap_or("").trim().to_string();
    if size == Some(1.0)
        || (conc.is_some() && !s.only_substance)
        || (conc.is_none() && s.only_substance)
    {
        return species_value(s.node, s.only_substance, size).map(toml::Value::from);
    }
    match (conc, amount) {
        (Some(_), _) => Some(format!("{} * {comp}", text("initialConcentration")).into()),
        (None, Some(_)) => Some(format!("{} / {comp}", text("initialAmount")).into()),
        _ => None,
    }
}

/// `d[S]/dt` from the signed reaction terms: `(±r1 ± r2 ...) / compartment`.
fn species_rhs(terms: &[String], compartment: Option<&str>) -> String {
    if terms.is_empty() {
        return "0".into();
    }
    let mut sum = String::new();
    for (i, t) in terms.iter().enumerate() {
        let (sign, body) = t.split_at(1);
        match (i, sign) {
            (0, "-") => sum.push_str(&format!("-{body}")),
            (0, _) => sum.push_str(body),
            (_, s) => sum.push_str(&format!(" {s} {body}")),
        }
    }
    match compartment {
        Some(c) => format!("({sum}) / {c}"),
        None => sum,
    }
}

/// Reports identifiers that are not a compartment, species, parameter or local parameter.
fn check_symbols(problems: &mut Vec<String>, e: &Expr, roles: &HashMap<String, Role>, ctx: &str) {
    let mut syms = Vec::new();
    e.symbols(&mut syms);
    for s in syms {
        if !roles.contains_key(&s) {
            problems.push(format!(
                "{MALFORMED}'{s}' in {ctx} is not a compartment, species or parameter \
                 (reaction ids as symbols are not supported)"
            ));
        }
    }
}

/// BioModels id, DOI and PubMed id from the model's RDF annotation.
fn annotation_ids(model: Node) -> (Option<String>, Option<String>, Option<String>) {
    let (mut biomodels, mut doi, mut pubmed) = (None, None, None);
    let Some(annotation) = child(model, "annotation") else {
        return (None, None, None);
    };
    for n in annotation.descendants().filter(|n| n.is_element()) {
        let Some(res) = n
            .attributes()
            .find(|a| a.name() == "resource")
            .map(|a| a.value())
        else {
            continue;
        };
        // identifiers.org/biomodels.db/BIOMD… or urn:miriam:biomodels.db:BIOMD…
        if let Some(i) = res.find("biomodels.db") {
            let id = res
                .get(i + "biomodels.db".len() + 1..)
                .unwrap_or("")
                .to_string();
            // Prefer the curated BIOMD id over a MODEL id.
            if !id.is_empty()
                && !biomodels
                    .as_deref()
                    .is_some_and(|b: &str| b.starts_with("BIOMD"))
            {
                biomodels = Some(id);
            }
        }
        let described = n
            .ancestors()
            .any(|a| a.tag_name().name() == "isDescribedBy");
        if described {
            for marker in [
                "identifiers.org/doi/",
                "doi.org/",
                "urn:miriam:doi:",
                "identifiers.org/doi:",
            ] {
                if let Some(i) = res.find(marker) {
                    doi.get_or_insert(res[i + marker.len()..].to_string());
                }
            }
            for marker in [
                "identifiers.org/pubmed/",
                "identifiers.org/pubmed:",
                "urn:miriam:pubmed:",
            ] {
                if let Some(i) = res.find(marker) {
                    pubmed.get_or_insert(res[i + marker.len()..].to_string());
                }
            }
        }
    }
    (biomodels, doi, pubmed)
}
