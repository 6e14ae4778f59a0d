//! Observables: reading a model's output quantities (observables, and states read directly) at
//! a time point, one at a time ([`Model::observe_one`], [`Observer`]) or all at once
//! ([`Model::observe`]), and adding parameters or assignments as output columns
//! ([`Model::observe_more`]).

use super::{Derived, Model, Quantity};
use crate::expr::{Node, Program};

impl Model {
    /// Index of the observable `name`.
    pub fn observable_index(&self, name: &str) -> Option<usize> {
        self.observables.iter().position(|s| s.name == name)
    }

    /// Also report these parameters (compartment sizes, constant species, species references)
    /// and assignments as output columns, after the model's own observables; a name that is
    /// already a column (a state or observable) is left as it is. Errors name the first name
    /// that is none of these.
    pub fn observe_more<S: AsRef<str>>(&mut self, names: &[S]) -> Result<(), String> {
        let before = self.observables.len();
        for name in names.iter().map(AsRef::as_ref) {
            if self.state_index(name).is_some() || self.observable_index(name).is_some() {
                continue;
            }
            let (slot, unit, description) = if let Some(i) = self.parameter_index(name) {
                let p = &self.parameters[i];
                (self.param_slot(i), p.unit.clone(), p.description.clone())
            } else if let Some(k) = self.assignments.iter().position(|a| a.name == name) {
                let a = &self.assignments[k];
                (
                    self.assignment_slots[k],
                    a.unit.clone(),
                    a.description.clone(),
                )
            } else {
                self.observables.truncate(before);
                return Err(format!(
                    "`{name}` is not a state, parameter, assignment or observable of model `{}`",
                    self.name
                ));
            };
            self.observables.push(Derived {
                name: name.to_string(),
                unit,
                description,
                expr: Node::Var(slot),
                text: name.to_string(),
            });
        }
        if self.observables.len() > before {
            self.build_programs();
        }
        Ok(())
    }

    /// `q` read straight from the state vector when it is an observable whose expression is a
    /// state alone (the default model's `crs_drive = S`): [`observe_one`](Self::observe_one)
    /// returns that state's value for it, so readers skip the value vector altogether.
    #[inline]
    pub fn direct(&self, q: Quantity) -> Quantity {
        match q {
            Quantity::Observable(i) => match self.observables[i].expr {
                Node::Var(slot) if (1..=self.n_states()).contains(&slot) => {
                    Quantity::State(slot - 1)
                }
                _ => q,
            },
            Quantity::State(_) => q,
        }
    }

    /// The states observable `i`'s program reads (indices into the state vector): all that
    /// [`observe_one`](Self::observe_one) reads of its `y`.
    pub fn observable_reads(&self, i: usize) -> &[usize] {
        &self.obs_reads[i]
    }

    /// Observable `i` prepared for reads at many points ([`Observer::at`]: the value of
    /// [`observe_one`](Self::observe_one), bit for bit, with the lookups done once).
    pub fn observer(&self, i: usize) -> Observer<'_> {
        let state = match self.observables[i].expr {
            Node::Var(slot) if (1..=self.n_states()).contains(&slot) => Some(slot - 1),
            _ => None,
        };
        Observer {
            state,
            reads: &self.obs_reads[i],
            program: &self.obs_programs[i],
            slot: self.obs_slots[i],
        }
    }

    /// One observable at one time point (`v` prepared as for `rhs`); only the assignments it
    /// depends on are evaluated.
    #[inline]
    pub fn observe_one(&self, v: &mut [f64], t: f64, y: &[f64], i: usize) -> f64 {
        // An observable that is a state (the default model's `crs_drive = S`) is read directly;
        // else time and the states the program reads are written (the others are not read:
        // every program writes the time and the states it reads before running).
        self.observer(i).at(v, t, y)
    }

    /// Observables at one time point (`v` prepared as for `rhs`): in machine code, one call
    /// computing all of them (the values of [`observe_one`](Self::observe_one)).
    pub fn observe(&self, v: &mut [f64], t: f64, y: &[f64], out: &mut [f64]) {
        if !out.is_empty() && self.obs_all.run_native_io(v, t, y, out) {
            return;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.observe_one(v, t, y, i);
        }
    }
}

/// One observable of a model, its lookups done ([`Model::observer`]).
pub struct Observer<'m> {
    /// The state the observable is, when it is one (read directly).
    state: Option<usize>,
    /// The states its program reads.
    reads: &'m [usize],
    program: &'m Program,
    /// Where the program leaves the value.
    slot: usize,
}

impl Observer<'_> {
    /// The observable at `t` with states `y` (`v` prepared as for `Model::rhs`): what
    /// [`Model::observe_one`] does, in the same order.
    #[inline]
    pub fn at(&self, v: &mut [f64], t: f64, y: &[f64]) -> f64 {
        if let Some(j) = self.state {
            return y[j];
        }
        v[0] = t;
        for &j in self.reads {
            v[1 + j] = y[j];
        }
        self.program.run(v);
        v[self.slot]
    }

    /// [`Observer::at`] when `v` already holds the time (slot 0) and every state (slots
    /// `1..=n`), e.g. for several observables at one point: runs the program (an observable that
    /// is a state is read from its slot). The value of [`Observer::at`] with that time and
    /// those states, bit for bit (the program reads only the time, the parameters, the states
    /// and the slots it writes itself first).
    #[inline]
    pub fn at_written(&self, v: &mut [f64]) -> f64 {
        if let Some(j) = self.state {
            return v[1 + j];
        }
        self.program.run(v);
        v[self.slot]
    }
}
