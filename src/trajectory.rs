//! Trajectory: the continuous solution read on an output grid (days), with every state and
//! observable, plus the readers the summary and grading layers use (any quantity at any time).

use crate::model::{Model, Quantity};
use crate::solve::Solution;
use ndarray::Array2;

/// Output times `0, dt, 2 dt, ...` ending exactly at `days` (the last step may be shorter).
pub fn output_grid(days: f64, dt: f64) -> Vec<f64> {
    let n = (days / dt - 1e-9).ceil().max(0.0) as usize;
    let mut grid: Vec<f64> = (0..n).map(|i| i as f64 * dt).collect();
    grid.push(days);
    grid
}

/// A time course on an output grid: one row per time point.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Days after the (first) infusion.
    pub time: Vec<f64>,
    pub state_names: Vec<String>,
    pub observable_names: Vec<String>,
    /// rows = time points, columns = states
    pub states: Array2<f64>,
    /// rows = time points, columns = observables
    pub observables: Array2<f64>,
}

impl Trajectory {
    /// Sample the solution at the given days.
    pub fn sample(model: &Model, sol: &Solution, params: &[f64], days: &[f64]) -> Trajectory {
        let n = model.n_states();
        let no = model.observables.len();
        let mut states = Array2::zeros((days.len(), n));
        let mut observables = Array2::zeros((days.len(), no));
        let mut v = model.slots_with_params(params);
        let mut y = vec![0.0; n];
        let mut o = vec![0.0; no];
        for (r, &d) in days.iter().enumerate() {
            sol.state_at(d, &mut y);
            set_params(model, &mut v, sol.params_at(d));
            model.observe(&mut v, d * model.time_unit.per_day(), &y, &mut o);
            states.row_mut(r).assign(&ndarray::ArrayView1::from(&y[..]));
            observables
                .row_mut(r)
                .assign(&ndarray::ArrayView1::from(&o[..]));
        }
        Trajectory {
            time: days.to_vec(),
            state_names: model.states.iter().map(|s| s.name.clone()).collect(),
            observable_names: model.observables.iter().map(|s| s.name.clone()).collect(),
            states,
            observables,
        }
    }

    /// Column by name (state or observable).
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        if let Some(i) = self.state_names.iter().position(|n| n == name) {
            return Some(self.states.column(i).to_vec());
        }
        let i = self.observable_names.iter().position(|n| n == name)?;
        Some(self.observables.column(i).to_vec())
    }
}

/// Write parameter values into their slots (interventions change them between segments).
#[inline]
fn set_params(model: &Model, v: &mut [f64], params: &[f64]) {
    let start = model.param_slot(0);
    let slots = &mut v[start..start + params.len()];
    if slots != params {
        slots.copy_from_slice(params);
    }
}

/// Reads one quantity (a state or an observable) of a solution at any time.
pub struct Reader<'a> {
    model: &'a Model,
    sol: &'a Solution,
    quantity: Quantity,
    v: Vec<f64>,
    y: Vec<f64>,
}

impl<'a> Reader<'a> {
    pub fn new(model: &'a Model, sol: &'a Solution, params: &[f64], quantity: Quantity) -> Self {
        Reader {
            model,
            sol,
            quantity,
            v: model.slots_with_params(params),
            y: vec![0.0; model.n_states()],
        }
    }

    /// Value at `day`.
    pub fn at(&mut self, day: f64) -> f64 {
        self.sol.state_at(day, &mut self.y);
        match self.quantity {
            Quantity::State(i) => self.y[i],
            Quantity::Observable(i) => {
                let t = day * self.model.time_unit.per_day();
                set_params(self.model, &mut self.v, self.sol.params_at(day));
                self.model.observe_one(&mut self.v, t, &self.y, i)
            }
        }
    }

    /// Value just before `day` (left limit), for quantities that jump at events.
    pub fn before(&mut self, day: f64) -> f64 {
        self.at(day - 1e-9 * day.abs().max(1.0))
    }
}

/// Breakpoints for reading a solution over `[0, end]`: the solver's step ends, event boundaries,
/// and `end`, sorted and unique. Between two consecutive points the solution is one polynomial.
pub fn knots(sol: &Solution, end: f64) -> Vec<f64> {
    let mut k: Vec<f64> = sol.step_days().into_iter().filter(|&d| d < end).collect();
    k.push(end);
    k.sort_by(f64::total_cmp);
    k.dedup();
    k
}
