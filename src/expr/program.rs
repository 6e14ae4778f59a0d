//! Straight-line programs: a model's whole right-hand side (or one observable) compiled from its
//! expression trees into one instruction list over the flat value vector — results written into
//! their slots, two-level arithmetic fused into single instructions, identical operations
//! computed once, instructions scheduled by dependency level. Every instruction performs the
//! same IEEE operations in the same order as the tree it came from, so results are bit-identical
//! to [`Node::eval`](super::Node::eval).

use super::{bool_f, truth, BinOp, Func, Node};
use std::collections::{HashMap, HashSet};

/// An operator token of the fused-operation table below as its [`Op`].
macro_rules! op_of {
    (+) => {
        Op::Add
    };
    (-) => {
        Op::Sub
    };
    (*) => {
        Op::Mul
    };
    (/) => {
        Op::Div
    };
    (min) => {
        Op::Min
    };
    (max) => {
        Op::Max
    };
}

/// An operator token of the fused-operation table applied to two values, exactly as the
/// unfused [`Op`] computes it.
macro_rules! apply_op {
    (+, $x:expr, $y:expr) => {
        $x + $y
    };
    (-, $x:expr, $y:expr) => {
        $x - $y
    };
    (*, $x:expr, $y:expr) => {
        $x * $y
    };
    (/, $x:expr, $y:expr) => {
        $x / $y
    };
    (min, $x:expr, $y:expr) => {
        $x.min($y)
    };
    (max, $x:expr, $y:expr) => {
        $x.max($y)
    };
}

/// Defines [`Op`] (the plain operations, then the fused forms of two or three operations: an
/// arithmetic operator applied to the result of another, or of `min`/`max`, or to the results of
/// two others; each listed with its operator tokens) and [`exec`], which evaluates one
/// instruction. A fused form performs exactly the operations of the instructions it replaces, in
/// the same order and each rounded to `f64` (Rust never contracts `a * b + c` into an FMA), so it
/// gives the same bits; it only saves the dispatch and the round trip through a scratch slot.
macro_rules! program_ops {
    (
        left: [$($l:ident = $li:tt $lo:tt),* $(,)?],
        right: [$($r:ident = $ri:tt $ro:tt),* $(,)?],
        pair: [$($p:ident = $p1:tt $p2:tt $p3:tt),* $(,)?] $(,)?
    ) => {
        /// The operation of one [`Instr`]: one flat enum, so running an instruction is a single
        /// `match` (one jump table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        enum Op {
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
            Neg,
            Not,
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
            /// `v[a].powi(b)`: `b` holds the exponent (as `i32` bits), not a slot.
            Powi,
            /// `v[a] != 0 ? v[b] : v[c]` (both branches are computed: expressions have no side
            /// effects)
            Select,
            Copy,
            $(#[doc = concat!("`(a ", stringify!($li), " b) ", stringify!($lo), " c`")] $l,)*
            $(#[doc = concat!("`c ", stringify!($ro), " (a ", stringify!($ri), " b)`")] $r,)*
            $(
                #[doc = concat!(
                    "`(a ", stringify!($p1), " b) ", stringify!($p2), " (c ", stringify!($p3), " d)`"
                )]
                $p,
            )*
        }

        impl Op {
            /// `outer(inner(a, b), c)` as one operation.
            fn left(inner: Op, outer: Op) -> Option<Op> {
                match (inner, outer) {
                    $((op_of!($li), op_of!($lo)) => Some(Op::$l),)*
                    _ => None,
                }
            }

            /// `outer(c, inner(a, b))` as one operation.
            fn right(inner: Op, outer: Op) -> Option<Op> {
                match (inner, outer) {
                    $((op_of!($ri), op_of!($ro)) => Some(Op::$r),)*
                    _ => None,
                }
            }

            /// `outer(first(a, b), second(c, d))` as one operation.
            fn pair(first: Op, outer: Op, second: Op) -> Option<Op> {
                match (first, outer, second) {
                    $((op_of!($p1), op_of!($p2), op_of!($p3)) => Some(Op::$p),)*
                    _ => None,
                }
            }

            /// How many of `a`, `b`, `c`, `d` are slots the operation reads.
            fn arity(self) -> usize {
                match self {
                    Op::Neg
                    | Op::Not
                    | Op::Abs
                    | Op::Exp
                    | Op::Ln
                    | Op::Log10
                    | Op::Sqrt
                    | Op::Floor
                    | Op::Ceil
                    | Op::Sin
                    | Op::Cos
                    | Op::Tan
                    | Op::Asin
                    | Op::Acos
                    | Op::Atan
                    | Op::Sinh
                    | Op::Cosh
                    | Op::Tanh
                    | Op::Asinh
                    | Op::Acosh
                    | Op::Atanh
                    | Op::Sec
                    | Op::Csc
                    | Op::Cot
                    | Op::Sech
                    | Op::Csch
                    | Op::Coth
                    | Op::Arcsec
                    | Op::Arccsc
                    | Op::Arccot
                    | Op::Arcsech
                    | Op::Arccsch
                    | Op::Arccoth
                    | Op::Powi
                    | Op::Copy => 1,
                    Op::Select $(| Op::$l)* $(| Op::$r)* => 3,
                    $(Op::$p)|* => 4,
                    _ => 2,
                }
            }
        }

        /// The value one instruction writes to `v[dst]`.
        ///
        /// # Safety
        /// The instruction's slot operands (`a`, `b`, `c`, `d`, as many as its operation's arity)
        /// must be `< v.len()`.
        #[inline(always)]
        unsafe fn exec(ins: &Instr, v: &[f64]) -> f64 {
            // SAFETY: the caller guarantees every slot operand read below is in bounds.
            let get = |i: u32| unsafe { *v.get_unchecked(i as usize) };
            match ins.op {
                Op::Add => get(ins.a) + get(ins.b),
                Op::Sub => get(ins.a) - get(ins.b),
                Op::Mul => get(ins.a) * get(ins.b),
                Op::Div => get(ins.a) / get(ins.b),
                Op::Pow => get(ins.a).powf(get(ins.b)),
                Op::Min => get(ins.a).min(get(ins.b)),
                Op::Max => get(ins.a).max(get(ins.b)),
                Op::Lt => bool_f(get(ins.a) < get(ins.b)),
                Op::Le => bool_f(get(ins.a) <= get(ins.b)),
                Op::Gt => bool_f(get(ins.a) > get(ins.b)),
                Op::Ge => bool_f(get(ins.a) >= get(ins.b)),
                Op::Eq => bool_f(get(ins.a) == get(ins.b)),
                Op::Ne => bool_f(get(ins.a) != get(ins.b)),
                Op::And => bool_f(truth(get(ins.a)) && truth(get(ins.b))),
                Op::Or => bool_f(truth(get(ins.a)) || truth(get(ins.b))),
                Op::Neg => -get(ins.a),
                Op::Not => bool_f(!truth(get(ins.a))),
                Op::Abs => get(ins.a).abs(),
                Op::Exp => get(ins.a).exp(),
                Op::Ln => get(ins.a).ln(),
                Op::Log10 => get(ins.a).log10(),
                Op::Sqrt => get(ins.a).sqrt(),
                Op::Floor => get(ins.a).floor(),
                Op::Ceil => get(ins.a).ceil(),
                Op::Sin => Func::Sin.apply(get(ins.a)),
                Op::Cos => Func::Cos.apply(get(ins.a)),
                Op::Tan => Func::Tan.apply(get(ins.a)),
                Op::Asin => Func::Asin.apply(get(ins.a)),
                Op::Acos => Func::Acos.apply(get(ins.a)),
                Op::Atan => Func::Atan.apply(get(ins.a)),
                Op::Sinh => Func::Sinh.apply(get(ins.a)),
                Op::Cosh => Func::Cosh.apply(get(ins.a)),
                Op::Tanh => Func::Tanh.apply(get(ins.a)),
                Op::Asinh => Func::Asinh.apply(get(ins.a)),
                Op::Acosh => Func::Acosh.apply(get(ins.a)),
                Op::Atanh => Func::Atanh.apply(get(ins.a)),
                Op::Sec => Func::Sec.apply(get(ins.a)),
                Op::Csc => Func::Csc.apply(get(ins.a)),
                Op::Cot => Func::Cot.apply(get(ins.a)),
                Op::Sech => Func::Sech.apply(get(ins.a)),
                Op::Csch => Func::Csch.apply(get(ins.a)),
                Op::Coth => Func::Coth.apply(get(ins.a)),
                Op::Arcsec => Func::Arcsec.apply(get(ins.a)),
                Op::Arccsc => Func::Arccsc.apply(get(ins.a)),
                Op::Arccot => Func::Arccot.apply(get(ins.a)),
                Op::Arcsech => Func::Arcsech.apply(get(ins.a)),
                Op::Arccsch => Func::Arccsch.apply(get(ins.a)),
                Op::Arccoth => Func::Arccoth.apply(get(ins.a)),
                Op::Powi => get(ins.a).powi(ins.b as i32),
                Op::Select => {
                    if truth(get(ins.a)) {
                        get(ins.b)
                    } else {
                        get(ins.c)
                    }
                }
                Op::Copy => get(ins.a),
                $(Op::$l => apply_op!($lo, apply_op!($li, get(ins.a), get(ins.b)), get(ins.c)),)*
                $(Op::$r => apply_op!($ro, get(ins.c), apply_op!($ri, get(ins.a), get(ins.b))),)*
                $(
                    Op::$p => apply_op!(
                        $p2,
                        apply_op!($p1, get(ins.a), get(ins.b)),
                        apply_op!($p3, get(ins.c), get(ins.d))
                    ),
                )*
            }
        }
    };
}

// Names: `L<inner><outer>` is `(a inner b) outer c`, `R<outer><inner>` is `c outer (a inner b)`,
// `P<first><outer><second>` is `(a first b) outer (c second d)`; `(a max b)` is `a.max(b)`.
program_ops! {
    left: [
        LAddAdd = + +, LAddSub = + -, LAddMul = + *, LAddDiv = + /,
        LSubAdd = - +, LSubSub = - -, LSubMul = - *, LSubDiv = - /,
        LMulAdd = * +, LMulSub = * -, LMulMul = * *, LMulDiv = * /,
        LDivAdd = / +, LDivSub = / -, LDivMul = / *, LDivDiv = / /,
        LMinAdd = min +, LMinSub = min -, LMinMul = min *, LMinDiv = min /,
        LMaxAdd = max +, LMaxSub = max -, LMaxMul = max *, LMaxDiv = max /,
    ],
    right: [
        RAddAdd = + +, RSubAdd = + -, RMulAdd = + *, RDivAdd = + /,
        RAddSub = - +, RSubSub = - -, RMulSub = - *, RDivSub = - /,
        RAddMul = * +, RSubMul = * -, RMulMul = * *, RDivMul = * /,
        RAddDiv = / +, RSubDiv = / -, RMulDiv = / *, RDivDiv = / /,
        RAddMin = min +, RSubMin = min -, RMulMin = min *, RDivMin = min /,
        RAddMax = max +, RSubMax = max -, RMulMax = max *, RDivMax = max /,
    ],
    pair: [
        PAddAddAdd = + + +, PAddAddSub = + + -, PAddAddMul = + + *, PAddAddDiv = + + /,
        PAddSubAdd = + - +, PAddSubSub = + - -, PAddSubMul = + - *, PAddSubDiv = + - /,
        PAddMulAdd = + * +, PAddMulSub = + * -, PAddMulMul = + * *, PAddMulDiv = + * /,
        PAddDivAdd = + / +, PAddDivSub = + / -, PAddDivMul = + / *, PAddDivDiv = + / /,
        PSubAddAdd = - + +, PSubAddSub = - + -, PSubAddMul = - + *, PSubAddDiv = - + /,
        PSubSubAdd = - - +, PSubSubSub = - - -, PSubSubMul = - - *, PSubSubDiv = - - /,
        PSubMulAdd = - * +, PSubMulSub = - * -, PSubMulMul = - * *, PSubMulDiv = - * /,
        PSubDivAdd = - / +, PSubDivSub = - / -, PSubDivMul = - / *, PSubDivDiv = - / /,
        PMulAddAdd = * + +, PMulAddSub = * + -, PMulAddMul = * + *, PMulAddDiv = * + /,
        PMulSubAdd = * - +, PMulSubSub = * - -, PMulSubMul = * - *, PMulSubDiv = * - /,
        PMulMulAdd = * * +, PMulMulSub = * * -, PMulMulMul = * * *, PMulMulDiv = * * /,
        PMulDivAdd = * / +, PMulDivSub = * / -, PMulDivMul = * / *, PMulDivDiv = * / /,
        PDivAddAdd = / + +, PDivAddSub = / + -, PDivAddMul = / + *, PDivAddDiv = / + /,
        PDivSubAdd = / - +, PDivSubSub = / - -, PDivSubMul = / - *, PDivSubDiv = / - /,
        PDivMulAdd = / * +, PDivMulSub = / * -, PDivMulMul = / * *, PDivMulDiv = / * /,
        PDivDivAdd = / / +, PDivDivSub = / / -, PDivDivMul = / / *, PDivDivDiv = / / /,
    ],
}

impl Op {
    fn bin(op: BinOp) -> Op {
        match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::Pow => Op::Pow,
            BinOp::Min => Op::Min,
            BinOp::Max => Op::Max,
            BinOp::Lt => Op::Lt,
            BinOp::Le => Op::Le,
            BinOp::Gt => Op::Gt,
            BinOp::Ge => Op::Ge,
            BinOp::Eq => Op::Eq,
            BinOp::Ne => Op::Ne,
            BinOp::And => Op::And,
            BinOp::Or => Op::Or,
        }
    }

    fn call(f: Func) -> Op {
        match f {
            Func::Abs => Op::Abs,
            Func::Exp => Op::Exp,
            Func::Ln => Op::Ln,
            Func::Log10 => Op::Log10,
            Func::Sqrt => Op::Sqrt,
            Func::Floor => Op::Floor,
            Func::Ceil => Op::Ceil,
            Func::Sin => Op::Sin,
            Func::Cos => Op::Cos,
            Func::Tan => Op::Tan,
            Func::Asin => Op::Asin,
            Func::Acos => Op::Acos,
            Func::Atan => Op::Atan,
            Func::Sinh => Op::Sinh,
            Func::Cosh => Op::Cosh,
            Func::Tanh => Op::Tanh,
            Func::Asinh => Op::Asinh,
            Func::Acosh => Op::Acosh,
            Func::Atanh => Op::Atanh,
            Func::Sec => Op::Sec,
            Func::Csc => Op::Csc,
            Func::Cot => Op::Cot,
            Func::Sech => Op::Sech,
            Func::Csch => Op::Csch,
            Func::Coth => Op::Coth,
            Func::Arcsec => Op::Arcsec,
            Func::Arccsc => Op::Arccsc,
            Func::Arccot => Op::Arccot,
            Func::Arcsech => Op::Arcsech,
            Func::Arccsch => Op::Arccsch,
            Func::Arccoth => Op::Arccoth,
        }
    }

    /// One of the four arithmetic operators (those the fused forms combine).
    fn is_arith(self) -> bool {
        matches!(self, Op::Add | Op::Sub | Op::Mul | Op::Div)
    }
}

/// One instruction of a [`Program`]: `v[dst] = op(v[a], v[b], v[c], v[d])` (operands past the
/// operation's arity are unused, or an immediate for `Powi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Instr {
    op: Op,
    dst: u32,
    a: u32,
    b: u32,
    c: u32,
    d: u32,
}

impl Instr {
    /// The slots the instruction reads.
    fn reads(&self) -> impl Iterator<Item = u32> {
        [self.a, self.b, self.c, self.d]
            .into_iter()
            .take(self.op.arity())
    }
}

/// Straight-line code for many expressions at once (a model's whole right-hand side): every
/// intermediate result gets its own slot after the model's named slots, constants live in slots
/// too, so evaluation is one loop over instructions with no recursion, allocation or lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    code: Vec<Instr>,
    /// One past the largest slot any instruction reads or writes.
    len: usize,
}

/// Builds [`Program`]s that share one slot space: named slots `0..base`, then slots reserved for
/// results read outside the programs, constants and intermediate results. Code is appended with
/// [`emit_into`](Self::emit_into) and becomes a program with [`finish`](Self::finish).
///
/// Models write every slot at most once per program, before reading it (assignments in
/// dependency order into their own slots, each equation or observable into a fresh reserved
/// slot). Should a slot be written again, the builder stops reusing results computed before the
/// rewrite, and fusing and reordering keep every read of the old value before it.
#[derive(Debug, Clone, Default)]
pub struct ProgramBuilder {
    next: usize,
    /// (slot, value) of every constant.
    pub consts: Vec<(usize, f64)>,
    /// Code of the program being built.
    code: Vec<Instr>,
    /// Common subexpressions of the program being built: (operation, operands) -> slot holding
    /// the result.
    seen: HashMap<(Op, [u32; 4]), u32>,
    /// Slots read or written by the program being built.
    touched: HashSet<u32>,
    /// Intermediate-result slots (read only by the program that writes them).
    temp: HashSet<u32>,
}

impl ProgramBuilder {
    /// Slots from `base` on are reserved as needed.
    pub fn new(base: usize) -> Self {
        ProgramBuilder {
            next: base,
            ..ProgramBuilder::default()
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

    /// Append code computing `node` into `dst` to the program being built. `dst` must be a slot
    /// that `node` does not read (a fresh slot, or the slot of an assignment that does not refer
    /// to itself).
    pub fn emit_into(&mut self, node: &Node, dst: usize) {
        let d = slot_u32(dst);
        if self.touched.contains(&d) {
            // `dst` was read or written before: results computed so far may not be reused.
            self.seen.clear();
        }
        match node {
            // A bare name is copied, a bare number copied from its constant slot.
            Node::Var(i) => {
                self.push(Op::Copy, Some(dst), &[*i], 0);
            }
            Node::Const(c) => {
                let x = self.constant(*c);
                self.push(Op::Copy, Some(dst), &[x], 0);
            }
            // Otherwise the top instruction writes straight into `dst`.
            _ => {
                self.emit(node, Some(dst));
            }
        }
    }

    /// The program built since the last `finish`, optimized: operations fused into the
    /// instruction that reads their result ([`fuse`]) and instructions reordered ([`schedule`]).
    /// The builder then starts an empty program in the same slot space.
    pub fn finish(&mut self) -> Program {
        let code = schedule(fuse(std::mem::take(&mut self.code), &self.temp));
        self.seen.clear();
        self.touched.clear();
        let len = code
            .iter()
            .flat_map(|ins| ins.reads().chain([ins.dst]))
            .map(|s| s as usize + 1)
            .max()
            .unwrap_or(0);
        Program { code, len }
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

    /// Append `op` over the slots `args` (then `imm` in the next operand field: the exponent of
    /// `Powi`) writing into `dst`, or into a fresh scratch slot when `dst` is `None`, unless the
    /// program already computed the same operation on the same slots: then that slot. Returns
    /// the slot that holds the result.
    fn push(&mut self, op: Op, dst: Option<usize>, args: &[usize], imm: u32) -> usize {
        debug_assert_eq!(args.len(), op.arity());
        let mut operands = [imm; 4];
        for (o, &x) in operands.iter_mut().zip(args) {
            *o = slot_u32(x);
        }
        let key = (op, operands);
        let d = match dst {
            Some(d) => slot_u32(d),
            None => {
                if let Some(&s) = self.seen.get(&key) {
                    return s as usize;
                }
                let d = slot_u32(self.reserve());
                self.temp.insert(d);
                d
            }
        };
        // Same operation on the same (never rewritten) slots: the same bits, reusable.
        if op != Op::Copy {
            self.seen.entry(key).or_insert(d);
        }
        self.touched.extend(operands[..args.len()].iter().copied());
        self.touched.insert(d);
        let [a, b, c, e] = operands;
        self.code.push(Instr {
            op,
            dst: d,
            a,
            b,
            c,
            d: e,
        });
        d as usize
    }

    /// Code for `node`; returns the slot that holds its value (`dst` when given and `node` is
    /// not a bare name or number).
    fn emit(&mut self, node: &Node, dst: Option<usize>) -> usize {
        match node {
            Node::Const(c) => self.constant(*c),
            Node::Var(i) => *i,
            Node::Neg(a) => {
                let x = self.emit(a, None);
                self.push(Op::Neg, dst, &[x], 0)
            }
            Node::Not(a) => {
                let x = self.emit(a, None);
                self.push(Op::Not, dst, &[x], 0)
            }
            Node::Powi(a, k) => {
                let x = self.emit(a, None);
                self.push(Op::Powi, dst, &[x], *k as u32)
            }
            Node::Call(f, a) => {
                let x = self.emit(a, None);
                self.push(Op::call(*f), dst, &[x], 0)
            }
            Node::Bin(op, a, b) => {
                let x = self.emit(a, None);
                let y = self.emit(b, None);
                self.push(Op::bin(*op), dst, &[x, y], 0)
            }
            // The instructions of the left-associated binary tree, in the same order.
            Node::Chain(first, rest) => {
                let mut acc = self.emit(first, None);
                for (k, (op, x)) in rest.iter().enumerate() {
                    let y = self.emit(x, None);
                    let d = if k + 1 == rest.len() { dst } else { None };
                    acc = self.push(Op::bin(*op), d, &[acc, y], 0);
                }
                acc
            }
            Node::BinVV(op, i, j) => self.push(Op::bin(*op), dst, &[*i, *j], 0),
            Node::BinVC(op, i, c) => {
                let y = self.constant(*c);
                self.push(Op::bin(*op), dst, &[*i, y], 0)
            }
            Node::BinCV(op, c, j) => {
                let x = self.constant(*c);
                self.push(Op::bin(*op), dst, &[x, *j], 0)
            }
            Node::If(c, a, b) => {
                let x = self.emit(c, None);
                let y = self.emit(a, None);
                let z = self.emit(b, None);
                self.push(Op::Select, dst, &[x, y, z], 0)
            }
        }
    }
}

fn slot_u32(x: usize) -> u32 {
    u32::try_from(x).expect("slot index fits u32")
}

/// Fuse instructions into the one instruction that reads their result: an arithmetic
/// instruction `j` whose operand is an intermediate result read only by `j` and computed by a
/// plain `+ - * / min max` instruction `i` takes over `i`'s operation (`Op::left`, `Op::right`,
/// `Op::pair`) and `i` is dropped. Moving `i`'s operation down to `j` reads the same values as
/// long as no instruction in between writes `i`'s operands, which is checked.
fn fuse(code: Vec<Instr>, temp: &HashSet<u32>) -> Vec<Instr> {
    let mut uses: HashMap<u32, usize> = HashMap::new();
    for ins in &code {
        for s in ins.reads() {
            *uses.entry(s).or_default() += 1;
        }
    }
    // Position of the instruction that writes each intermediate slot, and of the latest write
    // of every slot so far.
    let mut def: HashMap<u32, usize> = HashMap::new();
    let mut last_write: HashMap<u32, usize> = HashMap::new();
    let mut out: Vec<Option<Instr>> = Vec::with_capacity(code.len());
    for (j, &ins) in code.iter().enumerate() {
        let mut ins = ins;
        if ins.op.is_arith() {
            // The instruction computing `slot` for `ins` alone, if it can move down to `ins`.
            let movable = |slot: u32, out: &[Option<Instr>]| -> Option<(usize, Instr)> {
                if !temp.contains(&slot) || uses.get(&slot) != Some(&1) {
                    return None;
                }
                let i = *def.get(&slot)?;
                let inner = out[i]?;
                let unchanged = inner
                    .reads()
                    .all(|s| last_write.get(&s).is_none_or(|&w| w < i));
                unchanged.then_some((i, inner))
            };
            let x = movable(ins.a, &out);
            let y = movable(ins.b, &out);
            // Both operands if there is a fused form for that, else one (only plain operations
            // have fused forms).
            let pair = x.zip(y).and_then(|((i, p), (k, q))| {
                let op = Op::pair(p.op, ins.op, q.op)?;
                Some((vec![i, k], [p.a, p.b, q.a, q.b], op))
            });
            let left = || {
                let (i, p) = x?;
                Some((vec![i], [p.a, p.b, ins.b, 0], Op::left(p.op, ins.op)?))
            };
            let right = || {
                let (k, q) = y?;
                Some((vec![k], [q.a, q.b, ins.a, 0], Op::right(q.op, ins.op)?))
            };
            if let Some((moved, [a, b, c, d], op)) = pair.or_else(left).or_else(right) {
                for i in moved {
                    out[i] = None;
                }
                ins = Instr {
                    op,
                    dst: ins.dst,
                    a,
                    b,
                    c,
                    d,
                };
            }
        }
        if temp.contains(&ins.dst) {
            def.insert(ins.dst, j);
        }
        last_write.insert(ins.dst, j);
        out.push(Some(ins));
    }
    out.into_iter().flatten().collect()
}

impl Op {
    /// Rough latency in CPU cycles (for scheduling; the exact figure does not matter).
    fn latency(self) -> u32 {
        match self {
            Op::Div => 14,
            Op::Sqrt => 18,
            Op::Pow | Op::Powi | Op::Exp | Op::Ln | Op::Log10 => 40,
            Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Asin
            | Op::Acos
            | Op::Atan
            | Op::Sinh
            | Op::Cosh
            | Op::Tanh
            | Op::Asinh
            | Op::Acosh
            | Op::Atanh
            | Op::Sec
            | Op::Csc
            | Op::Cot
            | Op::Sech
            | Op::Csch
            | Op::Coth
            | Op::Arcsec
            | Op::Arccsc
            | Op::Arccot
            | Op::Arcsech
            | Op::Arccsch
            | Op::Arccoth => 40,
            op if op.arity() >= 3 && op != Op::Select => 10,
            _ => 4,
        }
    }
}

/// Reorder the instructions level by level: first all that depend on nothing computed by the
/// program, then all that depend only on those, and so on (within a level, the start of the
/// longest chain of dependent work first). An instruction then rarely reads a slot that the
/// instruction just before it wrote, so the CPU overlaps them instead of waiting for each store
/// in turn (measured: 17% less time per right-hand side when a call's input depends on the
/// previous call's output, as in an ODE solver). Only the order of independent instructions
/// changes: every instruction still reads the values it read before (its dependencies through
/// each slot, read-after-write, write-after-read and write-after-write, come first), so the
/// results are the same.
fn schedule(code: Vec<Instr>) -> Vec<Instr> {
    let n = code.len();
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    // Latest writer of each slot, and the readers of its value since then.
    let mut writer: HashMap<u32, usize> = HashMap::new();
    let mut readers: HashMap<u32, Vec<usize>> = HashMap::new();
    for (j, ins) in code.iter().enumerate() {
        let mut preds: Vec<usize> = ins
            .reads()
            .filter_map(|s| writer.get(&s).copied())
            .collect();
        preds.extend(writer.get(&ins.dst));
        preds.extend(readers.get(&ins.dst).into_iter().flatten());
        preds.sort_unstable();
        preds.dedup();
        for i in preds.into_iter().filter(|&i| i != j) {
            succs[i].push(j);
        }
        for s in ins.reads() {
            readers.entry(s).or_default().push(j);
        }
        writer.insert(ins.dst, j);
        readers.remove(&ins.dst);
    }
    // Level: longest path from an instruction without dependencies (edges go forward).
    let mut level = vec![0usize; n];
    for j in 0..n {
        for &k in &succs[j] {
            level[k] = level[k].max(level[j] + 1);
        }
    }
    // Height: the longest latency chain from an instruction to the end of the program.
    let mut height = vec![0u32; n];
    for j in (0..n).rev() {
        let below = succs[j].iter().map(|&k| height[k]).max().unwrap_or(0);
        height[j] = code[j].op.latency() + below;
    }
    // Every dependency is on a lower level, so this order keeps them all.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&j| (level[j], std::cmp::Reverse(height[j]), j));
    order.into_iter().map(|j| code[j]).collect()
}

impl Program {
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
        for ins in &self.code {
            // SAFETY: the slots every instruction reads and writes are < self.len <= v.len()
            // (checked above; `len` is computed over all of them by `ProgramBuilder::finish`,
            // the only way to build a non-empty program).
            unsafe {
                let r = exec(ins, v);
                *v.get_unchecked_mut(ins.dst as usize) = r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

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
        let mut outs = Vec::new();
        let mut nodes = Vec::new();
        for t in texts {
            let node = parse(t)
                .unwrap()
                .compile(&|n| names.iter().position(|x| *x == n))
                .unwrap();
            let out = b.reserve();
            b.emit_into(&node, out);
            outs.push(out);
            nodes.push(node);
        }
        let prog = b.finish();
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

    /// Compile `(slot name, text)` pairs in order into one program: names are the inputs
    /// `names` (slots `0..names.len()`) and the earlier pairs' slots. Returns the program, the
    /// builder and the output slots.
    fn program(names: &[&str], exprs: &[(&str, &str)]) -> (Program, ProgramBuilder, Vec<usize>) {
        let mut b = ProgramBuilder::new(names.len());
        let mut table: Vec<(String, usize)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let mut outs = Vec::new();
        for (name, text) in exprs {
            let node = tree(text, &table);
            let slot = match table.iter().find(|(n, _)| n == name) {
                Some(&(_, slot)) => slot,
                None => b.reserve(),
            };
            b.emit_into(&node, slot);
            table.push((name.to_string(), slot));
            outs.push(slot);
        }
        (b.finish(), b, outs)
    }

    fn tree(text: &str, table: &[(String, usize)]) -> Node {
        parse(text)
            .unwrap()
            .compile(&|n| table.iter().rev().find(|(m, _)| m == n).map(|e| e.1))
            .unwrap()
    }

    /// A value vector holding `inputs` and the builder's constants.
    fn slots(b: &ProgramBuilder, inputs: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0; b.len()];
        v[..inputs.len()].copy_from_slice(inputs);
        for &(slot, c) in &b.consts {
            v[slot] = c;
        }
        v
    }

    /// Bit-identical, except that any NaN equals any NaN (Rust does not specify which NaN an
    /// operation returns: x86 returns the first operand's NaN, and LLVM may swap the operands
    /// of `+` and `*`, in the tree evaluator as in the program).
    fn same(x: f64, y: f64) -> bool {
        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
    }

    #[test]
    fn top_level_writes_straight_into_its_slot() {
        let (p, b, outs) = program(&["x", "y"], &[("o", "x * y + 1")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p.code[0].dst as usize, outs[0]);
        // A bare name or number still needs one copy.
        for text in ["x", "7"] {
            let (p, b, outs) = program(&["x"], &[("o", text)]);
            assert_eq!((p.len(), p.code[0].op), (1, Op::Copy), "{text}: {p:?}");
            let mut v = slots(&b, &[2.5]);
            p.run(&mut v);
            assert_eq!(v[outs[0]], if text == "x" { 2.5 } else { 7.0 });
        }
        let mut v = slots(&b, &[3.0, 4.0]);
        p.run(&mut v);
        assert_eq!(v[outs[0]], 13.0);
    }

    #[test]
    fn common_subexpressions_are_computed_once() {
        // `k * x` three times (once in an assignment that is read later) and `x - y` twice.
        let (p, b, outs) = program(
            &["x", "y", "k"],
            &[
                ("a", "exp(k * x) + ln(x - y)"),
                ("o1", "exp(k * x) * a"),
                ("o2", "sqrt(x - y) / exp(k * x)"),
            ],
        );
        let calls = |op: Op| p.code.iter().filter(|i| i.op == op).count();
        assert_eq!((calls(Op::Exp), calls(Op::Ln), calls(Op::Sqrt)), (1, 1, 1));
        let vals = [3.0, -2.0, 0.5];
        let mut v = slots(&b, &vals);
        p.run(&mut v);
        let a = (0.5f64 * 3.0).exp() + (3.0f64 - -2.0).ln();
        assert_eq!(v[outs[0]].to_bits(), a.to_bits());
        assert_eq!(v[outs[1]].to_bits(), ((0.5f64 * 3.0).exp() * a).to_bits());
        let o2 = (3.0f64 - -2.0).sqrt() / (0.5f64 * 3.0).exp();
        assert_eq!(v[outs[2]].to_bits(), o2.to_bits());
    }

    #[test]
    fn every_fused_form_computes_its_operations_in_order() {
        let ops = ["+", "-", "*", "/"];
        let names = ["x", "y", "z", "w"];
        let inputs = [
            [0.1, 0.7, 3.0, -1e-3],
            [1e308, 1e308, -0.0, 0.0],
            [f64::INFINITY, 2.0, f64::NAN, 0.3],
            [5e-324, -3.0, 1.0 / 3.0, 7.0],
            [f64::NAN, -0.0, 0.0, f64::NEG_INFINITY],
        ];
        for o1 in ops {
            for o2 in ops {
                let mut texts = vec![
                    format!("(x {o1} y) {o2} z"),
                    format!("z {o2} (x {o1} y)"),
                    format!("min(x, y) {o2} z"),
                    format!("z {o1} max(x, y)"),
                ];
                texts.extend(ops.map(|o3| format!("(x {o1} y) {o2} (z {o3} w)")));
                for text in texts {
                    let (p, b, outs) = program(&names, &[("o", &text)]);
                    assert_eq!(p.len(), 1, "{text} not fused: {p:?}");
                    let node = parse(&text)
                        .unwrap()
                        .compile(&|n| names.iter().position(|m| *m == n))
                        .unwrap();
                    for vals in inputs {
                        let mut v = slots(&b, &vals);
                        p.run(&mut v);
                        assert!(same(v[outs[0]], node.eval(&vals)), "{text} at {vals:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_rewritten_slot_is_not_reused() {
        // Not how models use programs (they write every slot once), but still correct: `s`
        // holds `x * y`, is read, then rewritten; `x * y` must be recomputed afterwards.
        let (p, b, outs) = program(
            &["x", "y", "k"],
            &[
                ("s", "x * y"),
                ("o1", "s * k"),
                ("s", "x + k"),
                ("o2", "x * y + s"),
            ],
        );
        let mut v = slots(&b, &[3.0, 5.0, 2.0]);
        p.run(&mut v);
        assert_eq!([v[outs[1]], v[outs[3]]], [30.0, 20.0], "{p:?}");
    }

    /// A random expression over `names` (depth-limited), in source form.
    fn random_text(rng: &mut impl FnMut() -> u64, names: &[String], depth: u32) -> String {
        let pick = |rng: &mut dyn FnMut() -> u64, n: usize| (rng() % n as u64) as usize;
        if depth == 0 || rng().is_multiple_of(4) {
            return match rng() % 5 {
                0 => ["0", "1", "2", "0.5", "1e-3", "3"][pick(rng, 6)].to_string(),
                _ => names[pick(rng, names.len())].clone(),
            };
        }
        let mut sub = || random_text(rng, names, depth - 1);
        let (a, b) = (sub(), sub());
        match rng() % 12 {
            0..=5 => {
                let ops = [
                    "+", "-", "*", "/", "+", "*", "^", "<", ">=", "==", "&&", "||",
                ];
                format!("({a} {} {b})", ops[pick(rng, ops.len())])
            }
            6 => format!("-({a})"),
            7 => format!("!({a})"),
            8 => {
                let f = [
                    "abs", "exp", "ln", "log10", "sqrt", "floor", "ceil", "sin", "acos", "tanh",
                    "arccoth", "sec", "acosh",
                ];
                format!("{}({a})", f[pick(rng, f.len())])
            }
            9 => format!("{}({a}, {b})", ["min", "max", "pow"][pick(rng, 3)]),
            10 => format!("({a}) ^ {}", pick(rng, 5)),
            _ => {
                let c = random_text(rng, names, depth - 1);
                format!("if({c}, {a}, {b})")
            }
        }
    }

    #[test]
    fn random_programs_agree_with_trees_bit_for_bit() {
        use rand::{RngCore, SeedableRng};
        let mut gen = rand_chacha::ChaCha8Rng::seed_from_u64(0x2545_f491_4f6c_dd1d);
        let mut rng = move || gen.next_u64();
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            3.0,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let inputs = ["x", "y", "k", "t"];
        for _ in 0..300 {
            // Assignments that refer to the inputs and to each other, then outputs; repeated
            // subexpressions are likely (few names, shallow trees).
            let mut names: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
            let mut exprs = Vec::new();
            for i in 0..6 {
                let text = random_text(&mut rng, &names, 4);
                let name = format!("e{i}");
                exprs.push((name.clone(), text));
                names.push(name);
            }
            let pairs: Vec<(&str, &str)> = exprs
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            let (p, b, outs) = program(&inputs, &pairs);
            let mut table: Vec<(String, usize)> = inputs
                .iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), i))
                .collect();
            let trees: Vec<Node> = exprs
                .iter()
                .zip(&outs)
                .map(|((name, text), &slot)| {
                    let node = tree(text, &table);
                    table.push((name.clone(), slot));
                    node
                })
                .collect();
            for _ in 0..20 {
                let vals: Vec<f64> = (0..inputs.len())
                    .map(|_| match rng() % 3 {
                        0 => specials[(rng() % specials.len() as u64) as usize],
                        _ => (rng() >> 11) as f64 / (1u64 << 50) as f64 - 4.0,
                    })
                    .collect();
                let mut v = slots(&b, &vals);
                p.run(&mut v);
                // The trees, evaluated one after the other into the same slots.
                let mut w = slots(&b, &vals);
                for (node, &slot) in trees.iter().zip(&outs) {
                    w[slot] = node.eval(&w);
                }
                for ((name, text), &slot) in exprs.iter().zip(&outs) {
                    assert!(
                        same(v[slot], w[slot]),
                        "{name} = {text} at {vals:?}: program {} tree {}",
                        v[slot],
                        w[slot]
                    );
                }
            }
        }
    }
}
