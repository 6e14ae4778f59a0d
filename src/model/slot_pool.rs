//! Value vectors kept for reuse: a solver span or a probe otherwise allocates and zero-fills a
//! vector as long as all the model's programs (~3% of a default-model sweep row's instructions,
//! the zeroing of fresh pages).

use super::Model;
use std::sync::Mutex;

/// Value vectors of one model ([`Model::pooled_slots`]). A clone of the model starts with an
/// empty pool, so a vector only ever goes back to the model that made it.
#[derive(Default)]
pub(super) struct SlotPool(Mutex<Vec<Vec<f64>>>);

impl Clone for SlotPool {
    fn clone(&self) -> Self {
        SlotPool::default()
    }
}

impl std::fmt::Debug for SlotPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotPool")
    }
}

/// Vectors kept: a few per thread solving at once are enough.
const KEEP: usize = 16;

impl Model {
    /// What [`slots_with_params`](Self::slots_with_params) returns, in a vector handed back by
    /// [`recycle_slots`](Self::recycle_slots) when there is one: the constants and parameters
    /// are written again and the parameter-only program rerun, so every slot a program reads
    /// before writing holds what a fresh vector holds (time, states and delays are written
    /// before every call, as in a fresh vector; every other slot is written by the program that
    /// reads it, before reading it).
    pub fn pooled_slots(&self, params: &[f64]) -> Vec<f64> {
        let reused = self.slot_pool.0.lock().ok().and_then(|mut p| p.pop());
        match reused {
            Some(mut v) if v.len() == self.slot_len.max(self.n_slots()) => {
                let start = self.param_slot(0);
                v[start..start + params.len()].copy_from_slice(params);
                for &(slot, c) in &self.consts {
                    v[slot] = c;
                }
                self.param_program.run(&mut v);
                v
            }
            _ => self.slots_with_params(params),
        }
    }

    /// Hand back a value vector made by [`slots_with_params`](Self::slots_with_params) or
    /// [`pooled_slots`](Self::pooled_slots) of this model.
    /// (Any other vector, e.g. an emptied one, is dropped.)
    pub fn recycle_slots(&self, v: Vec<f64>) {
        if v.len() != self.slot_len.max(self.n_slots()) {
            return;
        }
        if let Ok(mut p) = self.slot_pool.0.lock() {
            if p.len() < KEEP {
                p.push(v);
            }
        }
    }
}
