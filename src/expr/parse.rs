//! The parser: expression text to [`Ast`](super::Ast), with byte offsets in every error.

use super::{err, Ast, BinOp, ExprError, Func, FUNCS};

/// Names that cannot be used for states, parameters, assignments or observables.
pub const RESERVED: &[&str] = &[
    "t", "pi", "if", "min", "max", "abs", "exp", "ln", "log", "log10", "sqrt", "pow", "floor",
    "ceil", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
    "atanh", "sec", "csc", "cot", "sech", "csch", "coth", "arcsec", "arccsc", "arccot", "arcsech",
    "arccsch", "arccoth",
];

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

/// Parse an expression. Errors carry the byte offset of the offending token.
pub fn parse(src: &str) -> Result<Ast, ExprError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0 };
    if matches!(p.peek(), Tok::End) {
        return err(0, "empty expression");
    }
    let ast = p.or()?;
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

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
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

    fn binary_level(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Parser) -> Result<Ast, ExprError>,
    ) -> Result<Ast, ExprError> {
        let mut lhs = next(self)?;
        while let Some(op) = self.eat_op(ops) {
            let rhs = next(self)?;
            let op = match op {
                "||" => BinOp::Or,
                "&&" => BinOp::And,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                _ => BinOp::Div,
            };
            lhs = Ast::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        self.binary_level(&["||"], Parser::and)
    }
    fn and(&mut self) -> Result<Ast, ExprError> {
        self.binary_level(&["&&"], Parser::cmp)
    }
    fn cmp(&mut self) -> Result<Ast, ExprError> {
        self.binary_level(&["<", "<=", ">", ">=", "==", "!="], Parser::add)
    }
    fn add(&mut self) -> Result<Ast, ExprError> {
        self.binary_level(&["+", "-"], Parser::mul)
    }
    fn mul(&mut self) -> Result<Ast, ExprError> {
        self.binary_level(&["*", "/"], Parser::unary)
    }
    fn unary(&mut self) -> Result<Ast, ExprError> {
        match self.eat_op(&["-", "!", "+"]) {
            Some("-") => Ok(Ast::Neg(Box::new(self.unary()?))),
            Some("!") => Ok(Ast::Not(Box::new(self.unary()?))),
            Some(_) => self.unary(),
            None => self.power(),
        }
    }
    fn power(&mut self) -> Result<Ast, ExprError> {
        let base = self.primary()?;
        if self.eat_op(&["^"]).is_some() {
            let exp = self.unary()?;
            return Ok(Ast::Bin(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }
    fn primary(&mut self) -> Result<Ast, ExprError> {
        let (tok, at) = self.next();
        match tok {
            Tok::Num(v) => Ok(Ast::Num(v)),
            Tok::LParen => {
                let inner = self.or()?;
                match self.next() {
                    (Tok::RParen, _) => Ok(inner),
                    (t, p) => err(p, format!("expected `)` but found {}", describe(&t))),
                }
            }
            Tok::Ident(name) => {
                if matches!(self.peek(), Tok::LParen) {
                    self.next();
                    let args = self.args()?;
                    call(&name, args, at)
                } else if name == "pi" {
                    Ok(Ast::Num(std::f64::consts::PI))
                } else {
                    Ok(Ast::Name(name, at))
                }
            }
            t => err(at, format!("expected a value but found {}", describe(&t))),
        }
    }
    fn args(&mut self) -> Result<Vec<Ast>, ExprError> {
        let mut args = Vec::new();
        if matches!(self.peek(), Tok::RParen) {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.or()?);
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
            let mut it = args.into_iter();
            let first = it.next().unwrap();
            Ok(it.fold(first, |acc, x| Ast::Bin(op, Box::new(acc), Box::new(x))))
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
