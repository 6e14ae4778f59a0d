//! Straight-line programs: a model's whole right-hand side (or one observable) compiled from its
//! expression trees into one instruction list over the flat value vector — results written into
//! their slots, two-level arithmetic fused into single instructions, identical operations
//! computed once, instructions scheduled by dependency level. Every instruction performs the
//! same IEEE operations in the same order as the tree it came from, so results are bit-identical
//! to [`Node::eval`](super::Node::eval).
//!
//! `ops.rs` is the instruction set (plain and fused operations), `passes.rs` the fusing and
//! scheduling passes; this file builds and runs programs.

#[cfg(feature = "jit")]
mod jit;
mod ops;
mod passes;

use super::{bool_f, truth, BinOp, Func, Node};
use ops::*;
use passes::*;
use std::collections::{HashMap, HashSet};

/// Straight-line code for many expressions at once (a model's whole right-hand side): every
/// intermediate result gets its own slot after the model's named slots, constants live in slots
/// too, so evaluation is one loop over instructions with no recursion, allocation or lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    code: Vec<Instr>,
    /// One past the largest slot any instruction reads or writes.
    len: usize,
    /// Intermediate-result slots the program writes and only it reads (native code keeps them
    /// in registers instead of storing them).
    temps: Vec<u32>,
    /// For a program called with time and states as arguments ([`set_io`](Self::set_io)):
    /// the number of states and the slots of the results.
    io: Option<(usize, Vec<u32>)>,
    /// The program compiled to machine code (feature `jit`), run instead of the instructions.
    #[cfg(feature = "jit")]
    native: jit::Native,
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
    /// Slots that hold the same value for every run of the programs as long as the parameters
    /// stay (parameters, constants, and results computed from them alone): see
    /// [`invariant`](Self::invariant).
    invariant: HashSet<u32>,
    /// Whether operations on invariant slots alone are hoisted.
    hoisting: bool,
    /// The hoisted instructions of every program built so far, in dependency order.
    hoisted: Vec<Instr>,
    /// Common subexpressions among the hoisted instructions (kept across programs).
    seen_hoisted: HashMap<(Op, [u32; 4]), u32>,
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

    /// Declare `slots` (a model's parameters) fixed between calls of [`Program::run`]:
    /// from now on, an operation that reads only such slots and constants is not emitted into
    /// the program being built but into the hoisted program ([`hoisted`](Self::hoisted)), run
    /// once whenever the parameters are set (per solver segment), and its result slot counts as
    /// invariant in turn. The hoisted instructions are the same IEEE operations on the same
    /// values, so results do not change.
    pub fn invariant(&mut self, slots: impl IntoIterator<Item = usize>) {
        self.hoisting = true;
        self.invariant.extend(slots.into_iter().map(slot_u32));
        self.invariant
            .extend(self.consts.iter().map(|&(s, _)| slot_u32(s)));
    }

    /// The instructions hoisted out of every program built so far, as one program (to be run
    /// after the parameters and constants are written, before any other program).
    pub fn hoisted(&self) -> Program {
        let code = self.hoisted.clone();
        Program::new(code, Vec::new())
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
        let temps = code
            .iter()
            .map(|i| i.dst)
            .filter(|d| self.temp.contains(d))
            .collect();
        Program::new(code, temps)
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
        if self.hoisting {
            self.invariant.insert(slot_u32(slot));
        }
        slot
    }

    /// Append `op` over the slots `args` (then `imm` in the unused operand fields) writing into `dst`, or into a fresh scratch slot when `dst` is `None`, unless the
    /// program already computed the same operation on the same slots: then that slot. Returns
    /// the slot that holds the result.
    fn push(&mut self, op: Op, dst: Option<usize>, args: &[usize], imm: u32) -> usize {
        debug_assert_eq!(args.len(), op.arity());
        let mut operands = [imm; 4];
        for (o, &x) in operands.iter_mut().zip(args) {
            *o = slot_u32(x);
        }
        let key = (op, operands);
        if self.hoisting
            && operands[..args.len()]
                .iter()
                .all(|s| self.invariant.contains(s))
        {
            return self.push_hoisted(op, dst, operands, key);
        }
        if let Some(d) = dst {
            // Rewritten by the program: no longer invariant, nor anything hoisted reusable.
            if self.invariant.remove(&slot_u32(d)) {
                self.seen_hoisted.clear();
            }
        }
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

    /// [`push`](Self::push) for an operation on invariant slots alone: into the hoisted
    /// program (reusing an identical hoisted result when `dst` is `None`).
    fn push_hoisted(
        &mut self,
        op: Op,
        dst: Option<usize>,
        operands: [u32; 4],
        key: (Op, [u32; 4]),
    ) -> usize {
        let d = match dst {
            Some(d) => slot_u32(d),
            None => {
                if let Some(&s) = self.seen_hoisted.get(&key) {
                    return s as usize;
                }
                slot_u32(self.reserve())
            }
        };
        if op != Op::Copy && dst.is_none() {
            self.seen_hoisted.insert(key, d);
        }
        self.invariant.insert(d);
        let [a, b, c, e] = operands;
        self.hoisted.push(Instr {
            op,
            dst: d,
            a,
            b,
            c,
            d: e,
        });
        d as usize
    }

    /// `x.powi(k)` as the multiplications that compute it: the square-and-multiply of
    /// compiler-rt's `__powidf2` (what `f64::powi` calls, and what LLVM expands a constant
    /// exponent into), in its order, so the bits are the same: the result starts at 1 (and
    /// `1 * a` is `a` exactly), a negative exponent takes `1 / r` at the end. Exponents up to 16
    /// (all that [`Node::Powi`] holds) need at most 7 multiplications; `x^2` is one.
    fn powi(&mut self, x: usize, k: i32, dst: Option<usize>) -> usize {
        let mut b = k.unsigned_abs();
        let mut a = x;
        let mut r: Option<usize> = None;
        loop {
            if b & 1 == 1 {
                // The last factor of a positive power goes into `dst`.
                let last = b == 1 && k > 0;
                r = Some(match r {
                    None if last && dst.is_some() && Some(a) != dst => {
                        self.push(Op::Copy, dst, &[a], 0)
                    }
                    None => a,
                    Some(r) => self.push(Op::Mul, if last { dst } else { None }, &[r, a], 0),
                });
            }
            b /= 2;
            if b == 0 {
                break;
            }
            // The last square of a positive power of two is the result.
            let result = b == 1 && r.is_none() && k > 0;
            a = self.push(Op::Mul, if result { dst } else { None }, &[a, a], 0);
        }
        match (r, k < 0) {
            (None, _) => {
                let one = self.constant(1.0);
                match dst {
                    Some(_) => self.push(Op::Copy, dst, &[one], 0),
                    None => one,
                }
            }
            (Some(r), true) => {
                let one = self.constant(1.0);
                self.push(Op::Div, dst, &[one, r], 0)
            }
            (Some(r), false) => r,
        }
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
                self.powi(x, *k, dst)
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

/// One past the largest slot any instruction of `code` reads or writes.
fn program_len(code: &[Instr]) -> usize {
    code.iter()
        .flat_map(|ins| ins.reads().chain([ins.dst]))
        .map(|s| s as usize + 1)
        .max()
        .unwrap_or(0)
}

/// Compile `programs` (those of one model, say) to machine code, together: from then on
/// [`Program::run`] runs the native code, which gives the values of the instructions (see the
/// `jit` module). On an error (no code generator for this host) the programs stay interpreted
/// and the error says why. Without the `jit` feature this does nothing and says so.
pub fn compile_native(programs: &mut [&mut Program]) -> Result<(), String> {
    #[cfg(feature = "jit")]
    {
        jit::compile(programs)
    }
    #[cfg(not(feature = "jit"))]
    {
        let _ = programs;
        Err("cartox was built without the `jit` feature".to_string())
    }
}

impl Program {
    fn new(code: Vec<Instr>, temps: Vec<u32>) -> Program {
        let len = program_len(&code);
        Program {
            code,
            len,
            temps,
            ..Program::default()
        }
    }

    /// Whether [`run`](Self::run) runs machine code ([`compile_native`]) rather than
    /// interpreting the instructions.
    pub fn is_native(&self) -> bool {
        #[cfg(feature = "jit")]
        {
            self.native.run.is_some()
        }
        #[cfg(not(feature = "jit"))]
        {
            false
        }
    }

    /// Declare that the program is also called as [`run_native_io`](Self::run_native_io): with
    /// time (slot 0) and `n_states` states (slots `1..=n_states`) as arguments, its results
    /// (`outs`) written to an output array. Takes effect at the next [`compile_native`].
    pub fn set_io(&mut self, n_states: usize, outs: &[usize]) {
        self.io = Some((n_states, outs.iter().map(|&s| slot_u32(s)).collect()));
    }

    /// Write `t` and `y` into their slots of `v`, run the program and write its results
    /// ([`set_io`](Self::set_io)) into `out` (not into their slots), all in machine code (the
    /// states and results stay in registers on the way): true when done, false when the program has no such native
    /// code or the lengths are not those declared (then nothing was done and the caller
    /// interprets it).
    #[inline]
    pub fn run_native_io(&self, v: &mut [f64], t: f64, y: &[f64], out: &mut [f64]) -> bool {
        #[cfg(feature = "jit")]
        if let (Some(f), Some((n, outs))) = (self.native.io, &self.io) {
            if v.len() < self.len.max(n + 1) || y.len() != *n || out.len() != outs.len() {
                return false;
            }
            // SAFETY: the code reads `n` states from `y`, writes `outs.len()` values to `out`,
            // and reads and writes slots < max(len, n + 1) <= v.len() (checked above).
            unsafe { f(v.as_mut_ptr(), t, y.as_ptr(), out.as_mut_ptr()) };
            return true;
        }
        let _ = (v, t, y, out);
        false
    }

    /// Drop the machine code: [`run`](Self::run) interprets the instructions again.
    pub fn interpret(&mut self) {
        #[cfg(feature = "jit")]
        {
            self.native = jit::Native::default();
        }
    }

    /// The slots in `range` that the program reads (each once, in increasing order).
    pub fn reads_in(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        let mut slots: Vec<usize> = self
            .code
            .iter()
            .flat_map(|ins| ins.reads())
            .map(|s| s as usize)
            .filter(|s| range.contains(s))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
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
        #[cfg(feature = "jit")]
        if let Some(f) = self.native.run {
            // SAFETY: the native code reads and writes the same slots as the instructions, all
            // < self.len <= v.len() (checked above).
            unsafe { f(v.as_mut_ptr()) };
            return;
        }
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
        program_hoisting(names, &[], exprs)
    }

    /// [`program`] with the inputs `invariant` (positions in `names`) declared invariant: the
    /// builder's [`hoisted`](ProgramBuilder::hoisted) program must run first.
    fn program_hoisting(
        names: &[&str],
        invariant: &[usize],
        exprs: &[(&str, &str)],
    ) -> (Program, ProgramBuilder, Vec<usize>) {
        let mut b = ProgramBuilder::new(names.len());
        if !invariant.is_empty() {
            b.invariant(invariant.iter().copied());
        }
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

    /// A value vector holding `inputs` and the builder's constants, and what the hoisted
    /// program computes from them.
    fn slots(b: &ProgramBuilder, inputs: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0; b.len()];
        v[..inputs.len()].copy_from_slice(inputs);
        for &(slot, c) in &b.consts {
            v[slot] = c;
        }
        b.hoisted().run(&mut v);
        v
    }

    #[test]
    fn integer_powers_are_multiplications_with_the_bits_of_powi() {
        let (p, _, outs) = program(&["x"], &[("o", "x^2")]);
        assert_eq!((p.len(), p.code[0].op), (1, Op::Mul), "{p:?}");
        assert_eq!(p.code[0].dst as usize, outs[0]);
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            -3.7,
            1e-160,
            1e160,
            5e-324,
            f64::INFINITY,
            f64::NAN,
        ];
        for k in -16i32..=16 {
            let text = format!("x^{k}");
            let (p, b, outs) = program(&["x"], &[("o", &text)]);
            let muls = p.code.iter().filter(|i| i.op == Op::Mul).count();
            assert!(muls <= 7, "{text}: {muls} multiplications");
            let mut xs = specials.to_vec();
            xs.extend(
                (0..200)
                    .map(|i| (i as f64 * 0.37 - 30.0).exp2() * if i % 2 == 0 { 1.0 } else { -1.3 }),
            );
            for x in xs {
                let mut v = slots(&b, &[x]);
                p.run(&mut v);
                assert!(
                    same(v[outs[0]], x.powi(k)),
                    "{text} at {x:e}: {} vs {}",
                    v[outs[0]],
                    x.powi(k)
                );
            }
        }
    }

    #[test]
    fn parameter_only_work_is_hoisted_and_gives_the_same_bits() {
        // `k` invariant (a parameter): `2^k`, `k * k` and `c` move to the hoisted program, run
        // once; the per-call program keeps what reads `x`.
        let (p, b, outs) = program_hoisting(
            &["x", "k"],
            &[1],
            &[
                ("c", "ln(k) + 1"),
                ("o1", "2^k * x + c"),
                ("o2", "k^2 * x - 2^k"),
                ("o3", "k * 3"),
            ],
        );
        let h = b.hoisted();
        assert!(
            p.code.iter().all(|i| i.op != Op::Pow && i.op != Op::Ln),
            "{p:?}"
        );
        assert_eq!(
            h.code.iter().filter(|i| i.op == Op::Pow).count(),
            1,
            "{h:?}"
        );
        assert_eq!(p.len(), 2, "{p:?}");
        for (x, k) in [(3.0, 0.5), (-2.0, 7.25), (0.0, 1e-300), (1e300, 3.0)] {
            let mut v = slots(&b, &[x, k]);
            p.run(&mut v);
            let c = k.ln() + 1.0;
            assert!(same(v[outs[0]], c));
            assert!(same(v[outs[1]], 2f64.powf(k) * x + c));
            assert!(same(v[outs[2]], k.powi(2) * x - 2f64.powf(k)));
            assert!(same(v[outs[3]], k * 3.0));
        }
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
            // Half the programs with `k` and `t` invariant (hoisting), half without.
            let invariant: &[usize] = if rng() % 2 == 0 { &[2, 3] } else { &[] };
            let (p, b, outs) = program_hoisting(&inputs, invariant, &pairs);
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
