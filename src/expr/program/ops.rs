//! The instruction set of straight-line programs: the plain operations and their fused forms
//! (each performing the same IEEE operations in the same order as the instructions it replaces).

#[allow(unused_imports)]
use super::*;

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
        pub(super) enum Op {
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
            Factorial,
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
            pub(super) fn left(inner: Op, outer: Op) -> Option<Op> {
                match (inner, outer) {
                    $((op_of!($li), op_of!($lo)) => Some(Op::$l),)*
                    _ => None,
                }
            }

            /// `outer(c, inner(a, b))` as one operation.
            pub(super) fn right(inner: Op, outer: Op) -> Option<Op> {
                match (inner, outer) {
                    $((op_of!($ri), op_of!($ro)) => Some(Op::$r),)*
                    _ => None,
                }
            }

            /// `outer(first(a, b), second(c, d))` as one operation.
            pub(super) fn pair(first: Op, outer: Op, second: Op) -> Option<Op> {
                match (first, outer, second) {
                    $((op_of!($p1), op_of!($p2), op_of!($p3)) => Some(Op::$p),)*
                    _ => None,
                }
            }

            /// How many of `a`, `b`, `c`, `d` are slots the operation reads.
            pub(super) fn arity(self) -> usize {
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
                    | Op::Factorial
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
        pub(super) unsafe fn exec(ins: &Instr, v: &[f64]) -> f64 {
            // SAFETY: the caller guarantees every slot operand read below is in bounds.
            let get = |i: u32| unsafe { *v.get_unchecked(i as usize) };
            match ins.op {
                Op::Add => get(ins.a) + get(ins.b),
                Op::Sub => get(ins.a) - get(ins.b),
                Op::Mul => get(ins.a) * get(ins.b),
                Op::Div => get(ins.a) / get(ins.b),
                Op::Pow => crate::expr::power::pow(get(ins.a), get(ins.b)),
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
                Op::Factorial => Func::Factorial.apply(get(ins.a)),
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
    pub(super) fn bin(op: BinOp) -> Op {
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

    pub(super) fn call(f: Func) -> Op {
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
            Func::Factorial => Op::Factorial,
        }
    }

    /// One of the four arithmetic operators (those the fused forms combine).
    pub(super) fn is_arith(self) -> bool {
        matches!(self, Op::Add | Op::Sub | Op::Mul | Op::Div)
    }
}

/// One instruction of a [`Program`]: `v[dst] = op(v[a], v[b], v[c], v[d])` (operands past the
/// operation's arity are unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Instr {
    pub(super) op: Op,
    pub(super) dst: u32,
    pub(super) a: u32,
    pub(super) b: u32,
    pub(super) c: u32,
    pub(super) d: u32,
}

impl Instr {
    /// The slots the instruction reads.
    pub(super) fn reads(&self) -> impl Iterator<Item = u32> {
        [self.a, self.b, self.c, self.d]
            .into_iter()
            .take(self.op.arity())
    }
}
