//! Machine code for straight-line programs (cargo feature `jit`): each [`Program`] becomes one
//! native function `fn(v: *mut f64)` that does what [`Program::run`] does — the same IEEE
//! operations on the same slots in the same order — without the instruction dispatch.
//!
//! Code generation is Cranelift's. Operands are loaded from the value vector once per program
//! and then kept in registers; results are stored into their slots, except intermediate results
//! that only the program itself reads (those stay in registers). `+ - * /`, `sqrt`, `abs`,
//! `floor`, `ceil` and negation are single IEEE instructions (correctly rounded, as in Rust);
//! `pow`, `exp`, `ln`, `log10` and the trigonometric and hyperbolic functions call the very
//! Rust functions the interpreter calls (`expr::power::pow`, [`Func::apply`]), registered as symbols
//! of the JIT module, so they return the same bits. `min`/`max` are selects with the semantics
//! of [`f64::min`]/[`f64::max`] (a NaN operand gives the other operand); comparisons, `&&`,
//! `||`, `!` and `if` are selects over ordered (`!=`: unordered) comparisons giving 1 or 0, so a
//! NaN condition is true, as in the interpreter.
//!
//! Every operation of the instruction set is compiled; should Cranelift fail (an unsupported
//! host, say), the programs stay interpreted.

use super::ops::{Instr, Op};
use super::{Func, Program};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, UserFuncName, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A compiled program: `f(v)` runs it on the value vector `v`.
pub(super) type NativeFn = unsafe extern "C" fn(*mut f64);

/// A compiled program with time and states as arguments: `f(v, t, y, out)` writes `t` and `y`
/// into their slots of `v`, runs the program and writes its results into `out`.
pub(super) type IoFn = unsafe extern "C" fn(*mut f64, f64, *const f64, *mut f64);

/// The native code of a program, if it was compiled, and the module owning its memory (shared
/// by every program compiled together, freed when the last of them is dropped).
#[derive(Clone, Default)]
pub(super) struct Native {
    pub(super) run: Option<NativeFn>,
    pub(super) io: Option<IoFn>,
    /// Never read: holding it keeps the code alive.
    _module: Option<Arc<Code>>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.run.is_some() {
            "native"
        } else {
            "interpreted"
        })
    }
}

/// Native code is a cache of the instructions: programs are equal when their instructions are.
impl PartialEq for Native {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The JIT module holding the machine code of some programs.
pub(super) struct Code(Mutex<Option<JITModule>>);

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.0.get_mut().ok().and_then(Option::take) {
            // SAFETY: the last program holding pointers into this module is being dropped, so no
            // function of it can be called any more.
            unsafe { module.free_memory() };
        }
    }
}

/// The Rust functions compiled code calls: the same ones the interpreter calls.
extern "C" fn pow(a: f64, b: f64) -> f64 {
    crate::expr::power::pow(a, b)
}

macro_rules! unary_symbols {
    ($($op:ident),* $(,)?) => {
        /// (operation, symbol name, function) of every one-argument operation that is a call.
        const UNARY: &[(Op, &str, extern "C" fn(f64) -> f64)] = &[
            $((Op::$op, concat!("cartox_", stringify!($op)), {
                extern "C" fn f(x: f64) -> f64 {
                    Func::$op.apply(x)
                }
                f
            }),)*
        ];
    };
}

unary_symbols!(
    Exp, Ln, Log10, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Sec,
    Csc, Cot, Sech, Csch, Coth, Arcsec, Arccsc, Arccot, Arcsech, Arccsch, Arccoth, Factorial,
);

/// The shape of a fused operation: which plain operations it applies to which operands.
#[derive(Clone, Copy)]
enum Fused {
    /// `(a inner b) outer c`
    Left(Op, Op),
    /// `c outer (a inner b)`
    Right(Op, Op),
    /// `(a first b) outer (c second d)`
    Pair(Op, Op, Op),
}

/// Every fused operation by its parts, from the builder's own tables ([`Op::left`] and friends).
fn fused_table() -> HashMap<Op, Fused> {
    let inner = [Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Min, Op::Max];
    let arith = [Op::Add, Op::Sub, Op::Mul, Op::Div];
    let mut t = HashMap::new();
    for i in inner {
        for o in inner {
            if let Some(op) = Op::left(i, o) {
                t.insert(op, Fused::Left(i, o));
            }
            if let Some(op) = Op::right(i, o) {
                t.insert(op, Fused::Right(i, o));
            }
            for s in arith {
                if let Some(op) = Op::pair(i, o, s) {
                    t.insert(op, Fused::Pair(i, o, s));
                }
            }
        }
    }
    t
}

/// Compile `programs` into one JIT module; on success each gets its native code (and
/// [`Program::run`] runs it), on failure they stay interpreted and the reason is returned.
pub(super) fn compile(programs: &mut [&mut Program]) -> Result<(), String> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| e.to_string());
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    // The code generator's own consistency checks cost a tenth of the compile time.
    set(&mut flags, "enable_verifier", "false")?;
    let isa = cranelift_native::builder()
        .map_err(|e| format!("no native code generator for this host: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    jb.symbol("cartox_Pow", pow as *const u8);
    for &(_, name, f) in UNARY {
        jb.symbol(name, f as *const u8);
    }
    let mut module = JITModule::new(jb);
    let frontend = module.target_config();
    let ptr = frontend.pointer_type();

    // The imported Rust functions.
    let mut sig1 = module.make_signature();
    sig1.params.push(AbiParam::new(types::F64));
    sig1.returns.push(AbiParam::new(types::F64));
    let mut sig2 = sig1.clone();
    sig2.params.push(AbiParam::new(types::F64));
    let err = |e: cranelift_module::ModuleError| e.to_string();
    let pow_id = module
        .declare_function("cartox_Pow", Linkage::Import, &sig2)
        .map_err(err)?;
    let mut unary_ids = HashMap::new();
    for &(op, name, _) in UNARY {
        let id = module
            .declare_function(name, Linkage::Import, &sig1)
            .map_err(err)?;
        unary_ids.insert(op, id);
    }

    let fused = fused_table();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    let mut io_sig = sig.clone();
    io_sig.params.extend([
        AbiParam::new(types::F64),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
    ]);
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    // (plain, with time and states as arguments) of each program
    let mut ids: Vec<(FuncId, Option<FuncId>)> = Vec::with_capacity(programs.len());
    for (k, p) in programs.iter().enumerate() {
        let mut pair = (None, None);
        for io in [None, p.io.as_ref()] {
            if io.is_none() && pair.0.is_some() {
                break;
            }
            let s = if io.is_some() { &io_sig } else { &sig };
            let name = format!("program{k}{}", if io.is_some() { "_io" } else { "" });
            let id = module
                .declare_function(&name, Linkage::Local, s)
                .map_err(err)?;
            ctx.func.signature = s.clone();
            ctx.func.name = UserFuncName::user(0, id.as_u32());
            {
                let mut fb = FunctionBuilder::new(&mut ctx.func, &mut fctx);
                let block = fb.create_block();
                fb.append_block_params_for_function_params(block);
                fb.switch_to_block(block);
                let args = fb.block_params(block).to_vec();
                let pow_ref = module.declare_func_in_func(pow_id, fb.func);
                let unary_refs: HashMap<Op, _> = unary_ids
                    .iter()
                    .map(|(&op, &id)| (op, module.declare_func_in_func(id, fb.func)))
                    .collect();
                let mut e = Emitter {
                    fb,
                    v: args[0],
                    values: HashMap::new(),
                    temps: p.temps.iter().copied().collect(),
                    written: p.code.iter().map(|i| i.dst).collect(),
                    states: None,
                    fused: &fused,
                };
                if let Some((n, _)) = io {
                    // Time and states into their slots; the code reads them from the arguments.
                    e.store(0, args[1]);
                    e.values.insert(0, args[1]);
                    for j in 0..*n {
                        let x = e.fb.ins().load(types::F64, INPUT, args[2], offset(j));
                        e.store(slot_u32(1 + j), x);
                    }
                    e.states = Some((*n, args[2]));
                }
                let outputs: HashSet<u32> = io
                    .map(|(_, outs)| outs.iter().copied().collect())
                    .unwrap_or_default();
                for ins in &p.code {
                    let r = e.instr(ins, &|op| {
                        if op == Op::Pow {
                            pow_ref
                        } else {
                            unary_refs[&op]
                        }
                    });
                    e.values.insert(ins.dst, r);
                    // Results go to their slots; with time and states as arguments, the
                    // program's outputs go to the output array instead.
                    if !e.temps.contains(&ins.dst) && !outputs.contains(&ins.dst) {
                        e.store(ins.dst, r);
                    }
                }
                if let Some((_, outs)) = io {
                    for (k, &s) in outs.iter().enumerate() {
                        let x = e.slot(s);
                        e.fb.ins()
                            .store(MemFlagsData::trusted(), x, args[3], offset(k));
                    }
                }
                e.fb.ins().return_(&[]);
                e.fb.seal_all_blocks();
                e.fb.finalize(frontend);
            }
            module
                .define_function(id, &mut ctx)
                .map_err(|e| format!("{e:?}"))?;
            module.clear_context(&mut ctx);
            if io.is_some() {
                pair.1 = Some(id);
            } else {
                pair.0 = Some(id);
            }
        }
        ids.push((pair.0.expect("compiled"), pair.1));
    }
    module.finalize_definitions().map_err(err)?;
    let address = |id: FuncId| module.get_finalized_function(id);
    let fns: Vec<(NativeFn, Option<IoFn>)> = ids
        .iter()
        .map(|&(plain, io)| {
            // SAFETY: the functions were defined with the signatures `fn(*mut f64)` and
            // `fn(*mut f64, f64, *const f64, *mut f64)` (pointer type and C calling convention
            // of the host) and finalized.
            unsafe {
                (
                    std::mem::transmute::<*const u8, NativeFn>(address(plain)),
                    io.map(|id| std::mem::transmute::<*const u8, IoFn>(address(id))),
                )
            }
        })
        .collect();
    let code = Arc::new(Code(Mutex::new(Some(module))));
    for (p, (run, io)) in programs.iter_mut().zip(fns) {
        p.native = Native {
            run: Some(run),
            io,
            _module: Some(code.clone()),
        };
    }
    Ok(())
}

/// A load of a program's input (a slot it never writes, or a state argument): nothing writes
/// that memory while the code runs, so the load is pure for the code generator, which places it
/// at its use (not across the calls to Rust functions, which clobber every floating-point
/// register) or folds it into the instruction using it, and merges duplicates.
const INPUT: MemFlagsData = MemFlagsData::trusted().with_readonly().with_can_move();

/// Byte offset of element `i` of an `f64` array.
fn offset(i: usize) -> i32 {
    i32::try_from(i * std::mem::size_of::<f64>()).expect("slot offset beyond 2 GiB")
}

fn slot_u32(i: usize) -> u32 {
    u32::try_from(i).expect("slot index beyond u32")
}

/// Emits one program's instructions.
struct Emitter<'a, 'b> {
    fb: FunctionBuilder<'b>,
    /// The value vector (function argument).
    v: Value,
    /// The value each slot the program writes holds so far (computed, or loaded before it is
    /// written).
    values: HashMap<u32, Value>,
    /// Intermediate-result slots: computed in registers, never stored.
    temps: HashSet<u32>,
    /// Slots the program writes (the others are its inputs).
    written: HashSet<u32>,
    /// With time and states as arguments: the number of states and the pointer to them.
    states: Option<(usize, Value)>,
    fused: &'a HashMap<Op, Fused>,
}

impl Emitter<'_, '_> {
    fn slot(&mut self, s: u32) -> Value {
        if let Some(&x) = self.values.get(&s) {
            return x;
        }
        if !self.written.contains(&s) {
            // An input: a load the code generator places next to its use (see [`INPUT`]).
            let (base, at) = match self.states {
                Some((n, y)) if (1..=n).contains(&(s as usize)) => (y, s as usize - 1),
                _ => (self.v, s as usize),
            };
            return self.fb.ins().load(types::F64, INPUT, base, offset(at));
        }
        let x = self.fb.ins().load(
            types::F64,
            MemFlagsData::trusted(),
            self.v,
            offset(s as usize),
        );
        self.values.insert(s, x);
        x
    }

    fn store(&mut self, s: u32, x: Value) {
        self.fb
            .ins()
            .store(MemFlagsData::trusted(), x, self.v, offset(s as usize));
    }

    /// Call a Rust function.
    fn call(&mut self, f: cranelift_codegen::ir::FuncRef, args: &[Value]) -> Value {
        let call = self.fb.ins().call(f, args);
        self.fb.inst_results(call)[0]
    }

    fn f64(&mut self, x: f64) -> Value {
        self.fb.ins().f64const(x)
    }

    /// 1 when `c` holds, else 0.
    fn bool_f(&mut self, c: Value) -> Value {
        let (one, zero) = (self.f64(1.0), self.f64(0.0));
        self.fb.ins().select(c, one, zero)
    }

    /// `x != 0` (true for NaN), as the interpreter's truth.
    fn truth(&mut self, x: Value) -> Value {
        let zero = self.f64(0.0);
        self.fb.ins().fcmp(FloatCC::NotEqual, x, zero)
    }

    /// One of `+ - * / min max` on two values.
    fn arith(&mut self, op: Op, x: Value, y: Value) -> Value {
        let b = self.fb.ins();
        match op {
            Op::Add => b.fadd(x, y),
            Op::Sub => b.fsub(x, y),
            Op::Mul => b.fmul(x, y),
            Op::Div => b.fdiv(x, y),
            // f64::min: a NaN `x` gives `y`; else `y < x ? y : x` (a NaN `y` gives `x`).
            Op::Min | Op::Max => {
                let cc = if op == Op::Min {
                    FloatCC::LessThan
                } else {
                    FloatCC::GreaterThan
                };
                let pick = self.fb.ins().fcmp(cc, y, x);
                let r = self.fb.ins().select(pick, y, x);
                let nan = self.fb.ins().fcmp(FloatCC::Unordered, x, x);
                self.fb.ins().select(nan, y, r)
            }
            _ => unreachable!("{op:?} is not arithmetic"),
        }
    }

    fn instr(
        &mut self,
        ins: &Instr,
        callee: &dyn Fn(Op) -> cranelift_codegen::ir::FuncRef,
    ) -> Value {
        let a = self.slot(ins.a);
        let cmp = |cc| Some(cc);
        let cc = match ins.op {
            Op::Lt => cmp(FloatCC::LessThan),
            Op::Le => cmp(FloatCC::LessThanOrEqual),
            Op::Gt => cmp(FloatCC::GreaterThan),
            Op::Ge => cmp(FloatCC::GreaterThanOrEqual),
            Op::Eq => cmp(FloatCC::Equal),
            Op::Ne => cmp(FloatCC::NotEqual),
            _ => None,
        };
        if let Some(cc) = cc {
            let b = self.slot(ins.b);
            let c = self.fb.ins().fcmp(cc, a, b);
            return self.bool_f(c);
        }
        match ins.op {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Min | Op::Max => {
                let b = self.slot(ins.b);
                self.arith(ins.op, a, b)
            }
            Op::Pow => {
                let b = self.slot(ins.b);
                self.call(callee(Op::Pow), &[a, b])
            }
            Op::And | Op::Or => {
                let b = self.slot(ins.b);
                let (x, y) = (self.truth(a), self.truth(b));
                let c = if ins.op == Op::And {
                    self.fb.ins().band(x, y)
                } else {
                    self.fb.ins().bor(x, y)
                };
                self.bool_f(c)
            }
            Op::Not => {
                let zero = self.f64(0.0);
                let c = self.fb.ins().fcmp(FloatCC::Equal, a, zero);
                self.bool_f(c)
            }
            Op::Neg => self.fb.ins().fneg(a),
            Op::Abs => self.fb.ins().fabs(a),
            Op::Sqrt => self.fb.ins().sqrt(a),
            Op::Floor => self.fb.ins().floor(a),
            Op::Ceil => self.fb.ins().ceil(a),
            Op::Copy => a,
            Op::Select => {
                let (b, c) = (self.slot(ins.b), self.slot(ins.c));
                let t = self.truth(a);
                self.fb.ins().select(t, b, c)
            }
            op if UNARY.iter().any(|u| u.0 == op) => self.call(callee(op), &[a]),
            op => {
                let shape = *self
                    .fused
                    .get(&op)
                    .unwrap_or_else(|| unreachable!("{op:?} has no code generator"));
                let b = self.slot(ins.b);
                let c = self.slot(ins.c);
                match shape {
                    Fused::Left(inner, outer) => {
                        let x = self.arith(inner, a, b);
                        self.arith(outer, x, c)
                    }
                    Fused::Right(inner, outer) => {
                        let x = self.arith(inner, a, b);
                        self.arith(outer, c, x)
                    }
                    Fused::Pair(first, outer, second) => {
                        let d = self.slot(ins.d);
                        let x = self.arith(first, a, b);
                        let y = self.arith(second, c, d);
                        self.arith(outer, x, y)
                    }
                }
            }
        }
    }
}
