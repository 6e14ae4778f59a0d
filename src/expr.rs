//! The expression language of model files.
//!
//! Text such as `rho * stim * E - (delta_E + k_EM) * E` is parsed once, at model load, into an
//! [`Ast`], then compiled against a name table into a [`Node`] tree whose leaves are slot indices
//! into one flat `&[f64]` (time, states, parameters, assignments). Evaluating a [`Node`] does not
//! allocate, hash or look up names: it is a recursive `match` over the tree.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Floor,
    Ceil,
}

impl Func {
    #[inline]
    fn apply(self, x: f64) -> f64 {
        match self {
            Func::Abs => x.abs(),
            Func::Exp => x.exp(),
            Func::Ln => x.ln(),
            Func::Log10 => x.log10(),
            Func::Sqrt => x.sqrt(),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
        }
    }
}

/// The parsed expression, names still as text (with their byte offsets for error messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Num(f64),
    Name(String, usize),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
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
            Node::BinVV(..) | Node::BinVC(..) | Node::BinCV(..) => false,
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
        BinOp::Pow => x.powf(y),
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

/// One instruction of a [`Program`]: `v[dst] = op(v[a], v[b], v[c])`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Instr {
    code: Code,
    dst: u32,
    a: u32,
    b: u32,
    c: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Code {
    Bin(BinOp),
    Neg,
    Not,
    Powi(i32),
    Call(Func),
    /// `v[a] != 0 ? v[b] : v[c]` (both branches are computed: expressions have no side effects)
    Select,
    Copy,
}

/// Straight-line code for many expressions at once (a model's whole right-hand side): every
/// intermediate result gets its own slot after the model's named slots, constants live in slots
/// too, so evaluation is one loop over instructions with no recursion, allocation or lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    code: Vec<Instr>,
    /// One past the largest slot any instruction touches.
    len: usize,
}

/// Builds [`Program`]s that share one slot space: named slots `0..base`, then scratch slots.
#[derive(Debug, Clone)]
pub struct ProgramBuilder {
    next: usize,
    /// (slot, value) of every constant.
    pub consts: Vec<(usize, f64)>,
}

impl ProgramBuilder {
    /// Scratch slots start at `base`.
    pub fn new(base: usize) -> Self {
        ProgramBuilder {
            next: base,
            consts: Vec::new(),
        }
    }

    /// Reserve one slot (e.g. for a result that code outside the program reads).
    pub fn reserve(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }

    /// Total slots needed by every program built so far.
    pub fn len(&self) -> usize {
        self.next
    }

    /// True when no slot was reserved beyond the base (never, once something was compiled).
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Append code computing `node` into `dst` to `prog`.
    pub fn emit_into(&mut self, prog: &mut Program, node: &Node, dst: usize) {
        let r = self.emit(prog, node);
        if r != dst {
            prog.push(Code::Copy, dst, r, 0, 0);
        }
    }

    fn constant(&mut self, value: f64) -> usize {
        if let Some(&(slot, _)) = self
            .consts
            .iter()
            .find(|(_, v)| v.to_bits() == value.to_bits())
        {
            return slot;
        }
        let slot = self.reserve();
        self.consts.push((slot, value));
        slot
    }

    /// Code for `node`; returns the slot that holds its value.
    fn emit(&mut self, prog: &mut Program, node: &Node) -> usize {
        match node {
            Node::Const(c) => self.constant(*c),
            Node::Var(i) => *i,
            Node::Neg(a) => self.unary(prog, Code::Neg, a),
            Node::Not(a) => self.unary(prog, Code::Not, a),
            Node::Powi(a, k) => self.unary(prog, Code::Powi(*k), a),
            Node::Call(f, a) => self.unary(prog, Code::Call(*f), a),
            Node::Bin(op, a, b) => {
                let (x, y) = (self.emit(prog, a), self.emit(prog, b));
                let d = self.reserve();
                prog.push(Code::Bin(*op), d, x, y, 0);
                d
            }
            Node::BinVV(op, i, j) => {
                let d = self.reserve();
                prog.push(Code::Bin(*op), d, *i, *j, 0);
                d
            }
            Node::BinVC(op, i, c) => {
                let y = self.constant(*c);
                let d = self.reserve();
                prog.push(Code::Bin(*op), d, *i, y, 0);
                d
            }
            Node::BinCV(op, c, j) => {
                let x = self.constant(*c);
                let d = self.reserve();
                prog.push(Code::Bin(*op), d, x, *j, 0);
                d
            }
            Node::If(c, a, b) => {
                let (x, y, z) = (self.emit(prog, c), self.emit(prog, a), self.emit(prog, b));
                let d = self.reserve();
                prog.push(Code::Select, d, x, y, z);
                d
            }
        }
    }

    fn unary(&mut self, prog: &mut Program, code: Code, a: &Node) -> usize {
        let x = self.emit(prog, a);
        let d = self.reserve();
        prog.push(code, d, x, 0, 0);
        d
    }
}

impl Program {
    fn push(&mut self, code: Code, dst: usize, a: usize, b: usize, c: usize) {
        let n = |x: usize| u32::try_from(x).expect("slot index fits u32");
        self.len = self.len.max(dst.max(a).max(b).max(c) + 1);
        self.code.push(Instr {
            code,
            dst: n(dst),
            a: n(a),
            b: n(b),
            c: n(c),
        });
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// Run the program over the value vector (which must hold the builder's `len()` slots).
    #[inline]
    pub fn run(&self, v: &mut [f64]) {
        assert!(
            v.len() >= self.len,
            "value vector shorter than the program's slots"
        );
        // SAFETY: every slot index of every instruction is < self.len <= v.len() (checked above;
        // `len` is maintained by `push`, the only way instructions are added).
        let get = |v: &[f64], i: u32| unsafe { *v.get_unchecked(i as usize) };
        for ins in &self.code {
            let x = get(v, ins.a);
            let r = match ins.code {
                Code::Bin(op) => apply(op, x, get(v, ins.b)),
                Code::Neg => -x,
                Code::Not => bool_f(!truth(x)),
                Code::Powi(k) => x.powi(k),
                Code::Call(f) => f.apply(x),
                Code::Select => {
                    if truth(x) {
                        get(v, ins.b)
                    } else {
                        get(v, ins.c)
                    }
                }
                Code::Copy => x,
            };
            // SAFETY: as above.
            unsafe { *v.get_unchecked_mut(ins.dst as usize) = r };
        }
    }
}

/// Names that cannot be used for states, parameters, assignments or observables.
pub const RESERVED: &[&str] = &[
    "t", "pi", "if", "min", "max", "abs", "exp", "ln", "log", "log10", "sqrt", "pow", "floor",
    "ceil",
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
    match name {
        "abs" => one(Func::Abs, args),
        "exp" => one(Func::Exp, args),
        "ln" | "log" => one(Func::Ln, args),
        "log10" => one(Func::Log10, args),
        "sqrt" => one(Func::Sqrt, args),
        "floor" => one(Func::Floor, args),
        "ceil" => one(Func::Ceil, args),
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
    fn programs_agree_with_trees() {
        let names = ["x", "y", "k"];
        let vals = [3.0, -2.0, 0.5];
        let texts = [
            "max(0, 1 - x / 6) * k + y^2 - 2^k",
            "if(x > 2 && !(y < 0), ln(x), exp(y) + abs(y))",
            "min(x, y, 0) + pow(x, 0.5) + sqrt(4) + floor(2.7) + log10(100)",
            "x == 3 || y != -2",
            "-x + 2.5",
            "x",
            "7",
        ];
        let mut b = ProgramBuilder::new(names.len());
        let mut prog = Program::default();
        let mut outs = Vec::new();
        let mut nodes = Vec::new();
        for t in texts {
            let node = parse(t)
                .unwrap()
                .compile(&|n| names.iter().position(|x| *x == n))
                .unwrap();
            let out = b.reserve();
            b.emit_into(&mut prog, &node, out);
            outs.push(out);
            nodes.push(node);
        }
        let mut v = vec![0.0; b.len()];
        v[..3].copy_from_slice(&vals);
        for &(slot, c) in &b.consts {
            v[slot] = c;
        }
        prog.run(&mut v);
        for (node, out) in nodes.iter().zip(outs) {
            assert_eq!(v[out].to_bits(), node.eval(&vals).to_bits(), "{node:?}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("C_e_0"));
        assert!(!is_identifier("0abc"));
        assert!(!is_identifier("flu-cy"));
    }
}
