//! The parser: expression text to [`Ast`](super::Ast), with byte offsets in every error.

use super::{err, Ast, BinOp, ExprError, Func, FUNCS};

/// Names that cannot be used for states, parameters, assignments or observables.
pub const RESERVED: &[&str] = &[
    "t",
    "pi",
    "if",
    "min",
    "max",
    "abs",
    "exp",
    "ln",
    "log",
    "log10",
    "sqrt",
    "pow",
    "floor",
    "ceil",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "sec",
    "csc",
    "cot",
    "sech",
    "csch",
    "coth",
    "arcsec",
    "arccsc",
    "arccot",
    "arcsech",
    "arccsch",
    "arccoth",
    "factorial",
];

/// `rate_of(x)`: the current time derivative of `x` (its right-hand side for a state, 0 for a
/// parameter). The parser reads it as one derived name, [`rate_of_name`], which the model
/// compiler defines (see `model::compile::rate_of`).
pub const RATE_OF: &str = "rate_of";

/// `delay(x, tau)`: the value of the expression `x` at `t - tau` (SBML's `delay` csymbol). The
/// parser reads it as one derived name, `delay(<the arguments as written>)`, which the model
/// compiler defines (see `model::compile::delays`); [`delay_arguments`] splits it again.
pub const DELAY: &str = "delay";

/// The two arguments' text of a name the parser made of `delay(x, tau)`.
pub fn delay_arguments(name: &str) -> Option<(&str, &str)> {
    let inner = name
        .strip_prefix(DELAY)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let mut depth = 0i32;
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return Some((inner[..i].trim(), inner[i + 1..].trim())),
            _ => {}
        }
    }
    None
}

/// The name `rate_of(x)` stands for in a parsed expression.
pub fn rate_of_name(x: &str) -> String {
    format!("{RATE_OF}({x})")
}

/// The `x` of a name made by [`rate_of_name`].
pub fn rate_of_target(name: &str) -> Option<&str> {
    name.strip_prefix(RATE_OF)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// True for a valid identifier: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text = &src[start..i];
            match text.parse::<f64>() {
                Ok(v) => toks.push((Tok::Num(v), start)),
                Err(_) => return err(start, format!("malformed number `{text}`")),
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            toks.push((Tok::Ident(src[start..i].to_string()), start));
            continue;
        }
        let two = if i + 1 < bytes.len() {
            &src[i..i + 2]
        } else {
            ""
        };
        let op2: Option<&'static str> = match two {
            "<=" => Some("<="),
            ">=" => Some(">="),
            "==" => Some("=="),
            "!=" => Some("!="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(op) = op2 {
            toks.push((Tok::Op(op), start));
            i += 2;
            continue;
        }
        let tok = match c {
            b'+' => Tok::Op("+"),
            b'-' => Tok::Op("-"),
            b'*' => Tok::Op("*"),
            b'/' => Tok::Op("/"),
            b'^' => Tok::Op("^"),
            b'<' => Tok::Op("<"),
            b'>' => Tok::Op(">"),
            b'!' => Tok::Op("!"),
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(start, format!("unexpected character `{ch}`"));
            }
        };
        toks.push((tok, start));
        i += 1;
    }
    toks.push((Tok::End, src.len()));
    Ok(toks)
}

/// How deeply an expression may nest. Both the parser's recursion (parentheses, function
/// arguments, unary `-`/`!`, `^` exponents and operands of a tighter operator each count one
/// level) and the height of the resulting tree are limited to this; deeper input is an error
/// rather than a stack overflow (every pass over an expression tree recurses once per level).
/// Long flat chains (`a + b + c + ...`, `min(a, b, c, ...)`) do not nest: they are held flat.
pub const MAX_DEPTH: usize = 500;

/// Parse an expression. Errors carry the byte offset of the offending token.
pub fn parse(src: &str) -> Result<Ast, ExprError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        src,
    };
    if matches!(p.peek(), Tok::End) {
        return err(0, "empty expression");
    }
    let (ast, _) = p.expr(1)?;
    match p.peek() {
        Tok::End => Ok(ast),
        Tok::RParen => err(p.offset(), "unmatched `)`"),
        t => err(p.offset(), format!("unexpected {}", describe(t))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number `{v}`"),
        Tok::Ident(n) => format!("name `{n}`"),
        Tok::Op(o) => format!("operator `{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::End => "end of expression".into(),
    }
}

/// A binary operator token: the operator and its precedence (1 = `||` binds loosest).
fn binary(tok: &Tok) -> Option<(BinOp, u8)> {
    let Tok::Op(o) = tok else {
        return None;
    };
    Some(match *o {
        "||" => (BinOp::Or, 1),
        "&&" => (BinOp::And, 2),
        "<" => (BinOp::Lt, 3),
        "<=" => (BinOp::Le, 3),
        ">" => (BinOp::Gt, 3),
        ">=" => (BinOp::Ge, 3),
        "==" => (BinOp::Eq, 3),
        "!=" => (BinOp::Ne, 3),
        "+" => (BinOp::Add, 4),
        "-" => (BinOp::Sub, 4),
        "*" => (BinOp::Mul, 5),
        "/" => (BinOp::Div, 5),
        _ => return None,
    })
}

/// `first op1 x1 op2 x2 ...` (left-associated) as an [`Ast`]: one operator is a `Bin`, more a
/// flat `Chain`.
fn chain(first: Ast, mut rest: Vec<(BinOp, Ast)>) -> Ast {
    match rest.len() {
        0 => first,
        1 => {
            let (op, x) = rest.pop().expect("one operand");
            Ast::Bin(op, Box::new(first), Box::new(x))
        }
        _ => Ast::Chain(Box::new(first), rest),
    }
}

/// The depth error at byte `pos`.
fn too_deep<T>(pos: usize) -> Result<T, ExprError> {
    err(
        pos,
        format!("expression nested more than {MAX_DEPTH} levels deep"),
    )
}

/// The height of a node over children of the given heights, or the depth error at `pos`.
fn height(children: usize, pos: usize) -> Result<usize, ExprError> {
    if children >= MAX_DEPTH {
        return too_deep(pos);
    }
    Ok(children + 1)
}

/// A parsed sub-expression and the height of its tree (a leaf is 1).
type Parsed = (Ast, usize);

struct Parser<'s> {
    /// The text parsed (`delay(x, tau)` keeps its arguments' text).
    src: &'s str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Current recursion depth (see [`MAX_DEPTH`]).
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }
    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        if let Tok::Op(o) = self.peek() {
            if let Some(found) = ops.iter().find(|x| *x == o) {
                self.next();
                return Some(found);
            }
        }
        None
    }

    /// One level deeper, or an error at the current token past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return too_deep(self.offset());
        }
        Ok(())
    }

    /// Operands joined by binary operators of precedence `min` and above (precedence climbing):
    /// operators of one level are collected into one flat chain, in a loop, so a sum of many
    /// terms costs no recursion; only the operand of a tighter operator recurses.
    fn expr(&mut self, min: u8) -> Result<Parsed, ExprError> {
        self.enter()?;
        let (mut first, mut first_h) = self.unary()?;
        let mut level = 0;
        let mut rest: Vec<(BinOp, Ast)> = Vec::new();
        let mut rest_h = 0;
        let mut at = 0;
        while let Some((op, prec)) = binary(self.peek()) {
            if prec < min {
                break;
            }
            at = self.offset();
            self.next();
            let (x, h) = self.expr(prec + 1)?;
            // A looser operator than the chain so far: the chain becomes its first operand.
            if prec != level && !rest.is_empty() {
                first_h = height(first_h.max(rest_h), at)?;
                first = chain(first, std::mem::take(&mut rest));
                rest_h = 0;
            }
            level = prec;
            rest.push((op, x));
            rest_h = rest_h.max(h);
        }
        if !rest.is_empty() {
            first_h = height(first_h.max(rest_h), at)?;
        }
        self.depth -= 1;
        Ok((chain(first, rest), first_h))
    }

    /// Prefix operators (read in a loop; each `-` or `!` is one level), then a power.
    fn unary(&mut self) -> Result<Parsed, ExprError> {
        let mut prefix = Vec::new();
        loop {
            let at = self.offset();
            match self.eat_op(&["-", "!", "+"]) {
                Some("+") => {}
                Some(op) => {
                    self.enter()?;
                    prefix.push((op, at));
                }
                None => break,
            }
        }
        let (mut ast, mut h) = self.power()?;
        self.depth -= prefix.len();
        for (op, at) in prefix.into_iter().rev() {
            h = height(h, at)?;
            ast = match op {
                "-" => Ast::Neg(Box::new(ast)),
                _ => Ast::Not(Box::new(ast)),
            };
        }
        Ok((ast, h))
    }

    fn power(&mut self) -> Result<Parsed, ExprError> {
        let (base, base_h) = self.primary()?;
        let at = self.offset();
        if self.eat_op(&["^"]).is_some() {
            self.enter()?;
            let (exp, exp_h) = self.unary()?;
            self.depth -= 1;
            let h = height(base_h.max(exp_h), at)?;
            return Ok((Ast::Bin(BinOp::Pow, Box::new(base), Box::new(exp)), h));
        }
        Ok((base, base_h))
    }

    fn primary(&mut self) -> Result<Parsed, ExprError> {
        let (tok, at) = self.next();
        match tok {
            Tok::Num(v) => Ok((Ast::Num(v), 1)),
            Tok::LParen => {
                let inner = self.expr(1)?;
                match self.next() {
                    (Tok::RParen, _) => Ok(inner),
                    (t, p) => err(p, format!("expected `)` but found {}", describe(&t))),
                }
            }
            Tok::Ident(name) => {
                if name == RATE_OF && matches!(self.peek(), Tok::LParen) {
                    self.next();
                    return self.rate_of(at);
                }
                if name == DELAY && matches!(self.peek(), Tok::LParen) {
                    self.next();
                    let from = self.offset();
                    let args = self.args()?;
                    if args.len() != 2 {
                        return err(
                            at,
                            format!("`delay` takes 2 arguments, {} given", args.len()),
                        );
                    }
                    let to = self.toks[self.pos.saturating_sub(1)].1;
                    let inner = self.src[from..to].trim();
                    return Ok((Ast::Name(format!("{DELAY}({inner})"), at), 1));
                }
                if matches!(self.peek(), Tok::LParen) {
                    self.next();
                    let args = self.args()?;
                    let h = height(args.iter().map(|a| a.1).max().unwrap_or(0), at)?;
                    let args = args.into_iter().map(|a| a.0).collect();
                    Ok((call(&name, args, at)?, h))
                } else if name == "pi" {
                    Ok((Ast::Num(std::f64::consts::PI), 1))
                } else {
                    Ok((Ast::Name(name, at), 1))
                }
            }
            t => err(at, format!("expected a value but found {}", describe(&t))),
        }
    }

    /// `rate_of(x)` after its `(`: one name, read as the derived name [`rate_of_name`]`(x)`.
    fn rate_of(&mut self, at: usize) -> Result<Parsed, ExprError> {
        match (self.next(), self.next()) {
            ((Tok::Ident(x), _), (Tok::RParen, _)) if x != "t" && x != "pi" => {
                Ok((Ast::Name(rate_of_name(&x), at), 1))
            }
            _ => err(
                at,
                "`rate_of` takes one name (a state or a parameter), e.g. `rate_of(x)`",
            ),
        }
    }

    fn args(&mut self) -> Result<Vec<Parsed>, ExprError> {
        let mut args = Vec::new();
        if matches!(self.peek(), Tok::RParen) {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(1)?);
            match self.next() {
                (Tok::Comma, _) => continue,
                (Tok::RParen, _) => return Ok(args),
                (t, p) => return err(p, format!("expected `,` or `)` but found {}", describe(&t))),
            }
        }
    }
}

fn call(name: &str, mut args: Vec<Ast>, at: usize) -> Result<Ast, ExprError> {
    let one = |f: Func, mut args: Vec<Ast>| -> Result<Ast, ExprError> {
        if args.len() != 1 {
            return err(
                at,
                format!("`{name}` takes 1 argument, {} given", args.len()),
            );
        }
        Ok(Ast::Call(f, Box::new(args.remove(0))))
    };
    if let Some(&(_, f)) = FUNCS.iter().find(|(n, _)| *n == name) {
        return one(f, args);
    }
    match name {
        "pow" => {
            if args.len() != 2 {
                return err(at, format!("`pow` takes 2 arguments, {} given", args.len()));
            }
            let b = args.pop().unwrap();
            let a = args.pop().unwrap();
            Ok(Ast::Bin(BinOp::Pow, Box::new(a), Box::new(b)))
        }
        "min" | "max" => {
            if args.len() < 2 {
                return err(
                    at,
                    format!("`{name}` takes 2 or more arguments, {} given", args.len()),
                );
            }
            let op = if name == "min" {
                BinOp::Min
            } else {
                BinOp::Max
            };
            // Left-associated, as a flat chain: min(a, b, c) = min(min(a, b), c).
            let mut it = args.into_iter();
            let first = it.next().expect("2 or more arguments");
            Ok(chain(first, it.map(|x| (op, x)).collect()))
        }
        "if" => {
            if args.len() != 3 {
                return err(at, format!("`if` takes 3 arguments, {} given", args.len()));
            }
            let b = args.pop().unwrap();
            let a = args.pop().unwrap();
            let c = args.pop().unwrap();
            Ok(Ast::If(Box::new(c), Box::new(a), Box::new(b)))
        }
        _ => err(at, format!("unknown function `{name}`")),
    }
}
