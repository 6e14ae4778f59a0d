//! The analytic Jacobian of a model's right-hand side, d f_i / d y_j, compiled once (at model
//! load) into a straight-line [`Program`] in the model's slot space.
//!
//! Assignments are slots computed from states and parameters, so the chain rule goes through
//! them: for each assignment `a_k` (in dependency order) and each state `y_j` it depends on, the
//! derivative d a_k / d y_j gets its own slot, computed by [`derivative`] with the derivatives
//! of the slots it reads (1 for `y_j`, the slot of d a_m / d y_j for an earlier assignment,
//! 0 otherwise). Each equation is then differentiated the same way. Only the structurally
//! non-zero entries are computed; their (row, column) pairs are the sparsity pattern.

use crate::expr::{derivative, Node, Program, ProgramBuilder};

/// The compiled Jacobian: a program computing the assignments and the non-zero entries.
#[derive(Debug, Clone, Default)]
pub struct Jacobian {
    program: Program,
    /// (row i, column j) of each structurally non-zero entry, row-major order.
    sparsity: Vec<(usize, usize)>,
    /// Slot holding each entry of `sparsity`.
    slots: Vec<usize>,
}

/// The inputs of [`build`]: the model's compiled expressions and slot layout.
pub(super) struct Parts<'a> {
    pub n_states: usize,
    /// (slot, expression) of every assignment, in evaluation order.
    pub assignments: Vec<(usize, &'a Node)>,
    pub equations: &'a [Node],
}

/// State slot of state `j` (slot 0 is time).
fn state_slot(j: usize) -> usize {
    1 + j
}

/// Compile the Jacobian into `b` (which must be the builder of the model's other programs, so
/// that constants share its slots).
pub(super) fn build(parts: &Parts, b: &mut ProgramBuilder) -> Jacobian {
    let n = parts.n_states;
    let is_state = |s: usize| (1..=n).contains(&s);
    // The states each assignment depends on, directly or through earlier assignments.
    let mut assign_index = std::collections::HashMap::new();
    let mut depends: Vec<Vec<bool>> = Vec::with_capacity(parts.assignments.len());
    for (k, (slot, expr)) in parts.assignments.iter().enumerate() {
        let mut dep = vec![false; n];
        let mut read = Vec::new();
        expr.slots(&mut read);
        for s in read {
            if is_state(s) {
                dep[s - 1] = true;
            } else if let Some(&m) = assign_index.get(&s) {
                let other: &Vec<bool> = &depends[m];
                for (d, o) in dep.iter_mut().zip(other) {
                    *d |= *o;
                }
            }
        }
        depends.push(dep);
        assign_index.insert(*slot, k);
    }
    // The assignments themselves, then d a_k / d y_j for each state they depend on.
    for (slot, expr) in &parts.assignments {
        b.emit_into(expr, *slot);
    }
    // d_assign[k][j]: the slot holding d a_k / d y_j, when not identically zero.
    let mut d_assign: Vec<Vec<Option<usize>>> = vec![vec![None; n]; parts.assignments.len()];
    let d_slot = |j: usize, d_assign: &[Vec<Option<usize>>], s: usize| -> Node {
        if s == state_slot(j) {
            return Node::Const(1.0);
        }
        match assign_index.get(&s).and_then(|&k| d_assign[k][j]) {
            Some(slot) => Node::Var(slot),
            None => Node::Const(0.0),
        }
    };
    for (k, (_, expr)) in parts.assignments.iter().enumerate() {
        for j in 0..n {
            if !depends[k][j] {
                continue;
            }
            let d = derivative(expr, &|s| d_slot(j, &d_assign, s));
            if d.as_const() == Some(0.0) {
                continue;
            }
            let slot = b.reserve();
            b.emit_into(&d, slot);
            d_assign[k][j] = Some(slot);
        }
    }
    // The equations.
    let mut sparsity = Vec::new();
    let mut slots = Vec::new();
    for (i, eq) in parts.equations.iter().enumerate() {
        let mut read = Vec::new();
        eq.slots(&mut read);
        let mut dep = vec![false; n];
        for s in read {
            if is_state(s) {
                dep[s - 1] = true;
            } else if let Some(&m) = assign_index.get(&s) {
                for (d, o) in dep.iter_mut().zip(&depends[m]) {
                    *d |= *o;
                }
            }
        }
        for j in (0..n).filter(|&j| dep[j]) {
            let d = derivative(eq, &|s| d_slot(j, &d_assign, s));
            if d.as_const() == Some(0.0) {
                continue;
            }
            let slot = b.reserve();
            b.emit_into(&d, slot);
            sparsity.push((i, j));
            slots.push(slot);
        }
    }
    Jacobian {
        program: b.finish(),
        sparsity,
        slots,
    }
}

impl Jacobian {
    /// The program (to compile it to machine code, see `model::native`).
    pub(super) fn program_mut(&mut self) -> &mut Program {
        &mut self.program
    }

    /// Structurally non-zero entries (row i, column j), row-major.
    pub fn sparsity(&self) -> &[(usize, usize)] {
        &self.sparsity
    }

    /// Run the program (time, states and parameters already in `v`) and write the row-major
    /// n x n matrix into `jac` (zeros outside the sparsity pattern).
    pub fn fill(&self, v: &mut [f64], n: usize, jac: &mut [f64]) {
        assert_eq!(jac.len(), n * n, "Jacobian buffer is not n x n");
        self.program.run(v);
        jac.fill(0.0);
        for (&(i, j), &slot) in self.sparsity.iter().zip(&self.slots) {
            jac[i * n + j] = v[slot];
        }
    }

    /// Run the program (time, states and parameters already in `v`) and write the structurally
    /// non-zero entries into `vals`, in the order of [`sparsity`](Self::sparsity): the values
    /// [`fill`](Self::fill) writes at those positions, bit for bit (the same program, the same
    /// slots).
    pub fn fill_entries(&self, v: &mut [f64], vals: &mut [f64]) {
        assert_eq!(vals.len(), self.slots.len(), "one value per non-zero entry");
        self.program.run(v);
        for (o, &slot) in vals.iter_mut().zip(&self.slots) {
            *o = v[slot];
        }
    }
}
