//! A model's straight-line programs as machine code (cargo feature `jit`, on in the default
//! build): the right-hand side, the Jacobian, the parameter-only code and every observable are
//! compiled together when the model is built, and run instead of being interpreted. The values
//! are those of the interpreter (see `src/expr/program/jit.rs`). `CARTOX_JIT=0` in the
//! environment keeps every model interpreted; [`Model::set_native`] switches one model.

use super::Model;

/// Whether models are compiled to machine code when built: the `jit` feature is on and the
/// environment does not say `CARTOX_JIT=0`.
pub fn jit_default() -> bool {
    cfg!(feature = "jit") && std::env::var_os("CARTOX_JIT").is_none_or(|v| v != "0")
}

impl Model {
    /// Compile the model's programs to machine code (`on`), or drop that code and interpret
    /// them (`!on`). An error (built without the `jit` feature, no code generator for this
    /// host) leaves the programs interpreted and says why.
    pub fn set_native(&mut self, on: bool) -> Result<(), String> {
        let mut programs: Vec<&mut crate::expr::Program> = vec![
            &mut self.param_program,
            &mut self.rhs_program,
            self.jac.program_mut(),
        ];
        programs.extend(self.obs_programs.iter_mut());
        programs.push(&mut self.obs_all);
        if on {
            crate::expr::compile_native(&mut programs)
        } else {
            programs.into_iter().for_each(|p| p.interpret());
            Ok(())
        }
    }

    /// Whether the model's right-hand side runs as machine code ([`set_native`](Self::set_native)).
    pub fn is_native(&self) -> bool {
        self.rhs_program.is_native()
    }

    /// After the programs are built: machine code when [`jit_default`] says so. A failure leaves
    /// the model interpreted (the same values, only slower).
    pub(super) fn compile_native_by_default(&mut self) {
        if jit_default() {
            let _ = self.set_native(true);
        }
    }
}
