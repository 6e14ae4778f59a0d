//! Trajectory: the continuous solution read on an output grid (days), with every state and
//! observable, plus the readers the summary and grading layers use (any quantity at any time).

use crate::model::{CompartmentSize, Model, Quantity};
use crate::solve::{Cursor, Solution};
use ndarray::Array2;
use std::cell::RefCell;

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
    /// Days after the (first) infusion ([`crate::run::Run::trajectory`] gives it in the run's
    /// time unit).
    pub time: Vec<f64>,
    pub state_names: Vec<String>,
    pub observable_names: Vec<String>,
    /// rows = time points, columns = states
    pub states: Array2<f64>,
    /// rows = time points, columns = observables
    pub observables: Array2<f64>,
}

impl Trajectory {
    /// Sample the solution at the given days. Days in increasing order (an output grid) are
    /// read with one forward cursor over the segments and steps ([`Solution::state_from`]);
    /// the values are those of [`Solution::state_at`] and [`Model::observe`] at each day.
    pub fn sample(model: &Model, sol: &Solution, params: &[f64], days: &[f64]) -> Trajectory {
        let n = model.n_states();
        let no = model.observables.len();
        let mut states = Vec::with_capacity(days.len() * n);
        let mut observables = Vec::with_capacity(days.len() * no);
        let mut v = model.slots_with_params(params);
        let mut scratch = Vec::new();
        let (mut y, mut o) = (vec![0.0; n], vec![0.0; no]);
        let mut cursor = Cursor::default();
        // The segment whose parameters are in `v`.
        let mut loaded = None;
        let per_day = model.time_unit.per_day();
        for &d in days {
            let seg = sol.state_from(d, &mut cursor, &mut y);
            states.extend_from_slice(&y);
            if no == 0 {
                continue;
            }
            if loaded != Some(seg) {
                set_params(model, &mut v, sol.segment(seg).1);
                loaded = Some(seg);
            }
            let t = d * per_day;
            if model.has_delays() {
                model.fill_delays(&mut v, t, &|s, out| sol.past_state(s, out), &mut scratch);
            }
            model.observe(&mut v, t, &y, &mut o);
            observables.extend_from_slice(&o);
        }
        Trajectory {
            time: days.to_vec(),
            state_names: model.states.iter().map(|s| s.name.clone()).collect(),
            observable_names: model.observables.iter().map(|s| s.name.clone()).collect(),
            states: Array2::from_shape_vec((days.len(), n), states).expect("one row per day"),
            observables: Array2::from_shape_vec((days.len(), no), observables)
                .expect("one row per day"),
        }
    }

    /// Multiply (or with `divide`, divide) each listed column by its compartment's size at each
    /// time point: concentrations to amounts by `model.concentrations`, amounts to concentrations
    /// by `model.amounts`. `time` must still be in days.
    pub fn rescale(&mut self, columns: &[(String, CompartmentSize)], sol: &Solution, divide: bool) {
        for (name, size) in columns {
            let sizes: Vec<f64> = match *size {
                CompartmentSize::Parameter(p) => {
                    self.time.iter().map(|&d| sol.params_at(d)[p]).collect()
                }
                CompartmentSize::State(i) => self.states.column(i).to_vec(),
                CompartmentSize::Observable(i) => self.observables.column(i).to_vec(),
            };
            let column = match self.state_names.iter().position(|n| n == name) {
                Some(i) => self.states.column_mut(i),
                None => match self.observable_names.iter().position(|n| n == name) {
                    Some(i) => self.observables.column_mut(i),
                    None => continue,
                },
            };
            for (x, size) in column.into_iter().zip(sizes) {
                if divide {
                    *x /= size;
                } else {
                    *x *= size;
                }
            }
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
    model.set_params(v, params);
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
            quantity: model.direct(quantity),
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
                if self.model.has_delays() {
                    let sol = self.sol;
                    let past = |s: f64, out: &mut [f64]| sol.past_state(s, out);
                    self.model
                        .fill_delays(&mut self.v, t, &past, &mut Vec::new());
                }
                self.model.observe_one(&mut self.v, t, &self.y, i)
            }
        }
    }
}

/// Reads quantities on one segment of a solution (model time clamped to the segment), loading
/// the segment's parameters only when the segment changes.
pub struct Probe<'a> {
    model: &'a Model,
    sol: &'a Solution,
    v: Vec<f64>,
    y: Vec<f64>,
    loaded: Option<usize>,
    /// Where the value vector goes back when the probe is dropped (a [`Samples`]' buffers,
    /// so that the probes of one run share one value vector instead of allocating their own).
    pool: Option<&'a RefCell<Vec<Vec<f64>>>>,
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.v);
        match self.pool {
            Some(pool) => pool.borrow_mut().push(v),
            None => self.model.recycle_slots(v),
        }
    }
}

impl<'a> Probe<'a> {
    pub fn new(model: &'a Model, sol: &'a Solution) -> Self {
        Probe {
            model,
            sol,
            v: model.pooled_slots(sol.segment(0).1),
            y: vec![0.0; model.n_states()],
            loaded: Some(0),
            pool: None,
        }
    }

    /// A probe whose value vector comes from (and goes back to) `pool`: the same values as
    /// [`Probe::new`] (the parameter slots are rewritten with segment 0's, which reruns the
    /// parameter-only program when they differ), without a fresh allocation per probe.
    fn pooled(model: &'a Model, sol: &'a Solution, pool: &'a RefCell<Vec<Vec<f64>>>) -> Self {
        let params = sol.segment(0).1;
        let v = match pool.borrow_mut().pop() {
            Some(mut v) => {
                set_params(model, &mut v, params);
                v
            }
            None => model.pooled_slots(params),
        };
        Probe {
            model,
            sol,
            v,
            y: vec![0.0; model.n_states()],
            loaded: Some(0),
            pool: Some(pool),
        }
    }

    /// The state at `day` read on segment `seg` (its left limit at the segment's end).
    fn state(&mut self, seg: usize, day: f64) -> &[f64] {
        let (s, _) = self.sol.segment(seg);
        let t = (day * self.sol.per_day).clamp(s.t0(), s.t1());
        s.eval(t, &mut self.y);
        &self.y
    }

    /// [`Probe::state`] written into `out`.
    fn state_into(&self, seg: usize, day: f64, out: &mut [f64]) {
        let (s, _) = self.sol.segment(seg);
        let t = (day * self.sol.per_day).clamp(s.t0(), s.t1());
        s.eval(t, out);
    }

    /// Quantity `q` with state `y` at `day` on segment `seg`.
    fn quantity(&mut self, seg: usize, day: f64, q: Quantity, y: &[f64]) -> f64 {
        match q {
            Quantity::State(i) => y[i],
            Quantity::Observable(i) => {
                if self.loaded != Some(seg) {
                    set_params(self.model, &mut self.v, self.sol.segment(seg).1);
                    self.loaded = Some(seg);
                }
                let t = day * self.model.time_unit.per_day();
                if self.model.has_delays() {
                    let sol = self.sol;
                    let past = |s: f64, out: &mut [f64]| sol.past_state(s, out);
                    self.model
                        .fill_delays(&mut self.v, t, &past, &mut Vec::new());
                }
                self.model.observe_one(&mut self.v, t, y, i)
            }
        }
    }

    /// Quantity `q` at `day`, read on segment `seg`: only the states `q` reads are
    /// interpolated ([`Segment::eval_some`](crate::solve::Segment::eval_some)).
    pub fn at(&mut self, seg: usize, day: f64, q: Quantity) -> f64 {
        let q = self.model.direct(q);
        let (s, _) = self.sol.segment(seg);
        let t = (day * self.sol.per_day).clamp(s.t0(), s.t1());
        match q {
            Quantity::State(i) => s.eval_some(t, &[i], &mut self.y),
            Quantity::Observable(i) => s.eval_some(t, self.model.observable_reads(i), &mut self.y),
        }
        let y = std::mem::take(&mut self.y);
        let x = self.quantity(seg, day, q, &y);
        self.y = y;
        x
    }
}

/// One knot interval `[a, b]` of a solution: the segment it lies on and the indices of its
/// start, middle and end among the sample points.
#[derive(Debug, Clone, Copy)]
pub struct Piece {
    pub a: f64,
    pub b: f64,
    pub seg: usize,
    pub ia: usize,
    pub im: usize,
    pub ib: usize,
}

/// A solution's states sampled once at every knot of `[0, end]` and the middle of every knot
/// interval: the points the summary and grading scans start from. Each interval lies on one
/// segment, so its start is the value after any event there and its end the value just before
/// the next event; both are read exactly from that segment's dense output.
pub struct Samples<'a> {
    pub model: &'a Model,
    pub sol: &'a Solution,
    pub end: f64,
    pub pieces: Vec<Piece>,
    /// (day, segment) of every sample point.
    points: Vec<(f64, usize)>,
    /// States at the sample points, `n_states` per point.
    states: Vec<f64>,
    /// Value vectors of dropped probes, reused by the next ([`Probe::pooled`]).
    pool: RefCell<Vec<Vec<f64>>>,
    /// [`Samples::values`] already computed, by quantity (the summary and the grading read
    /// the same quantities several times).
    cache: RefCell<Vec<(Quantity, Vec<f64>)>>,
}

impl Drop for Samples<'_> {
    fn drop(&mut self) {
        // The probes' value vectors go back to the model, for the next run's spans and probes.
        for v in self.pool.get_mut().drain(..) {
            self.model.recycle_slots(v);
        }
    }
}

impl<'a> Samples<'a> {
    /// Sample `sol` over `[0, end]` days: segment by segment, one piece per solver step (the
    /// last one clipped at `end`); step-end states come from the solver itself.
    pub fn new(model: &'a Model, sol: &'a Solution, end: f64) -> Self {
        let n = model.n_states();
        let per_day = sol.per_day;
        let mut probe = Probe::new(model, sol);
        // At most two points per solver step and one per segment start.
        let cap: usize = (0..sol.n_segments())
            .map(|si| 2 * sol.segment(si).0.steps().len() + 1)
            .sum::<usize>()
            + 1;
        let mut points: Vec<(f64, usize)> = Vec::with_capacity(cap);
        // The states are written in place (`w` values so far): an `extend_from_slice` per point
        // was a call to `memcpy` each (~3 a step, ~2% of a sweep row's time, perf).
        let mut states: Vec<f64> = vec![0.0; cap * n];
        let mut w = 0;
        let mut pieces: Vec<Piece> = Vec::with_capacity(cap / 2 + 1);
        'segments: for si in 0..sol.n_segments() {
            let (seg, _) = sol.segment(si);
            let mut a = seg.t0() / per_day;
            if a >= end && !pieces.is_empty() {
                break;
            }
            points.push((a, si));
            probe.state_into(si, a, &mut states[w..w + n]);
            w += n;
            let mut ia = points.len() - 1;
            for (k, &s) in seg.steps().iter().enumerate() {
                let step_end = s / per_day;
                let b = step_end.min(end);
                if b <= a {
                    continue;
                }
                let m = 0.5 * (a + b);
                points.push((m, si));
                probe.state_into(si, m, &mut states[w..w + n]);
                w += n;
                points.push((b, si));
                if b == step_end {
                    seg.step_end(k, &mut states[w..w + n]);
                } else {
                    probe.state_into(si, b, &mut states[w..w + n]);
                }
                w += n;
                let ib = points.len() - 1;
                pieces.push(Piece {
                    a,
                    b,
                    seg: si,
                    ia,
                    im: ib - 1,
                    ib,
                });
                (a, ia) = (b, ib);
                if b >= end {
                    break 'segments;
                }
            }
        }
        states.truncate(w);
        if pieces.is_empty() {
            // A zero-length window: one point.
            let i = points.len().saturating_sub(1);
            if points.is_empty() {
                points.push((0.0, 0));
                states.extend_from_slice(probe.state(0, 0.0));
            }
            pieces.push(Piece {
                a: points[i].0,
                b: points[i].0,
                seg: points[i].1,
                ia: i,
                im: i,
                ib: i,
            });
        }
        let pool = RefCell::new(Vec::new());
        pool.borrow_mut().push(std::mem::take(&mut probe.v));
        Samples {
            model,
            sol,
            end,
            pieces,
            points,
            states,
            pool,
            cache: RefCell::new(Vec::new()),
        }
    }

    /// Quantity `q` at every sample point (index as in [`Piece`]); computed once per quantity.
    pub fn values(&self, q: Quantity) -> Vec<f64> {
        if let Some((_, vals)) = self.cache.borrow().iter().find(|(c, _)| *c == q) {
            return vals.clone();
        }
        let n = self.model.n_states();
        let q_read = self.model.direct(q);
        if let Quantity::State(j) = q_read {
            // A state (or an observable that is one): read off the sampled states.
            let vals: Vec<f64> = self.states.chunks_exact(n).map(|y| y[j]).collect();
            self.cache.borrow_mut().push((q, vals.clone()));
            return vals;
        }
        let mut probe = self.probe();
        let vals: Vec<f64> = match q_read {
            // Without delays: what `Probe::quantity` does at each point, with the time unit,
            // the delay test and the observable's index looked up once.
            Quantity::Observable(i) if !self.model.has_delays() => {
                let per_day = self.model.time_unit.per_day();
                let observer = self.model.observer(i);
                let mut vals = Vec::with_capacity(self.points.len());
                for (&(day, seg), y) in self.points.iter().zip(self.states.chunks_exact(n)) {
                    if probe.loaded != Some(seg) {
                        set_params(self.model, &mut probe.v, self.sol.segment(seg).1);
                        probe.loaded = Some(seg);
                    }
                    vals.push(observer.at(&mut probe.v, day * per_day, y));
                }
                vals
            }
            _ => self
                .points
                .iter()
                .enumerate()
                .map(|(i, &(day, seg))| {
                    probe.quantity(seg, day, q, &self.states[i * n..(i + 1) * n])
                })
                .collect(),
        };
        self.cache.borrow_mut().push((q, vals.clone()));
        vals
    }

    /// [`Samples::values`] of several quantities, computed ahead: the observables among them
    /// that are not yet cached (models without `delay()`) in one pass over the sample points,
    /// each point's time and states written once into one value vector (with the parameters of
    /// the point's segment), then each observable's program
    /// ([`Observer::at_written`](crate::model::Observer::at_written): the value of
    /// [`Observer::at`](crate::model::Observer::at), as [`Samples::values`] computes it); their
    /// values are cached for [`Samples::values`]. States, observables that are states, models
    /// with delays and a single observable are left to [`Samples::values`].
    pub fn prefetch(&self, qs: &[Quantity]) {
        if self.model.has_delays() {
            return;
        }
        let mut todo = Vec::with_capacity(qs.len());
        {
            let cache = self.cache.borrow();
            for &q in qs {
                if let Quantity::Observable(i) = self.model.direct(q) {
                    let known = cache.iter().any(|(c, _)| *c == q)
                        || todo.iter().any(|(c, _): &(Quantity, _)| *c == q);
                    if !known {
                        todo.push((q, self.model.observer(i)));
                    }
                }
            }
        }
        if todo.len() < 2 {
            return;
        }
        let n = self.model.n_states();
        let per_day = self.model.time_unit.per_day();
        let mut probe = self.probe();
        let mut vals: Vec<Vec<f64>> = todo
            .iter()
            .map(|_| Vec::with_capacity(self.points.len()))
            .collect();
        for (&(day, seg), y) in self.points.iter().zip(self.states.chunks_exact(n)) {
            if probe.loaded != Some(seg) {
                set_params(self.model, &mut probe.v, self.sol.segment(seg).1);
                probe.loaded = Some(seg);
            }
            // Time and every state written once (each program reads its states from there),
            // then each observable's program.
            probe.v[0] = day * per_day;
            crate::solve::copy_short(&mut probe.v[1..=n], y);
            for ((_, observer), out) in todo.iter().zip(vals.iter_mut()) {
                out.push(observer.at_written(&mut probe.v));
            }
        }
        self.cache
            .borrow_mut()
            .extend(todo.into_iter().map(|(q, _)| q).zip(vals));
    }

    /// A reader for refinements between sample points.
    pub fn probe(&self) -> Probe<'_> {
        Probe::pooled(self.model, self.sol, &self.pool)
    }

    /// Quantity `q` at `day` read as [`Reader::at`] reads it (the solution's state at `day`,
    /// the parameters in force then), with a pooled value vector.
    pub fn read_at(&self, q: Quantity, day: f64) -> f64 {
        let mut probe = self.probe();
        self.sol.state_at(day, &mut probe.y);
        match self.model.direct(q) {
            Quantity::State(i) => probe.y[i],
            Quantity::Observable(i) => {
                let model = self.model;
                let t = day * model.time_unit.per_day();
                set_params(model, &mut probe.v, self.sol.params_at(day));
                if model.has_delays() {
                    let sol = self.sol;
                    let past = |s: f64, out: &mut [f64]| sol.past_state(s, out);
                    model.fill_delays(&mut probe.v, t, &past, &mut Vec::new());
                }
                model.observe_one(&mut probe.v, t, &probe.y, i)
            }
        }
    }
}

impl Samples<'_> {
    /// Maximum of quantity `q` over `[0, end]`: the best sample point (`vals` from
    /// [`Samples::values`]), refined by Brent's method inside the pieces that touch it.
    /// Returns (day, value).
    pub fn peak(&self, q: Quantity, vals: &[f64]) -> (f64, f64) {
        let (mut best, near) = self.best_sample(vals);
        let mut probe = self.probe();
        for p in &self.pieces[near.0..=near.1] {
            if p.b <= p.a {
                continue;
            }
            let day = argmax(p.a, p.b, &mut |t| probe.at(p.seg, t, q));
            let x = probe.at(p.seg, day, q);
            if x > best.1 {
                best = (day, x);
            }
        }
        best
    }
}

impl Samples<'_> {
    /// The best sample point of [`Samples::peak`]: the first, visiting each piece's start, middle
    /// and end in turn, whose value is above all before it, as (day, value), and the pieces that
    /// touch it (first, last); ((0, -inf), (0, 0)) when no value is above -inf. The values are
    /// compared first and the day and pieces worked out for the winner alone.
    fn best_sample(&self, vals: &[f64]) -> ((f64, f64), (usize, usize)) {
        let mut top = f64::NEG_INFINITY;
        // (piece, 0 start / 1 middle / 2 end) of the best so far.
        let mut at: Option<(usize, u8)> = None;
        for (i, p) in self.pieces.iter().enumerate() {
            let (va, vm, vb) = (vals[p.ia], vals[p.im], vals[p.ib]);
            if va > top {
                (top, at) = (va, Some((i, 0)));
            }
            if vm > top {
                (top, at) = (vm, Some((i, 1)));
            }
            if vb > top {
                (top, at) = (vb, Some((i, 2)));
            }
        }
        match at {
            None => ((0.0, f64::NEG_INFINITY), (0, 0)),
            Some((i, role)) => {
                let p = &self.pieces[i];
                match role {
                    0 => ((p.a, top), (i.saturating_sub(1), i)),
                    1 => ((0.5 * (p.a + p.b), top), (i, i)),
                    _ => ((p.b, top), (i, (i + 1).min(self.pieces.len() - 1))),
                }
            }
        }
    }
}

/// Argmax of `g` on `[lo, hi]`: Brent's method (golden-section steps with parabolic
/// interpolation; superlinear on the smooth dense output), to ~1e-9 day relative to the time.
pub(crate) fn argmax(lo: f64, hi: f64, g: &mut dyn FnMut(f64) -> f64) -> f64 {
    const CGOLD: f64 = 0.381_966_011_250_105_1;
    let mut f = |x: f64| -g(x);
    let (mut a, mut b) = (lo, hi);
    let mut x = a + CGOLD * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..100 {
        let xm = 0.5 * (a + b);
        let tol1 = 1e-9 * x.abs().max(1.0);
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden_step = true;
        if e.abs() > tol1 {
            // Parabola through (x, fx), (w, fw), (v, fv).
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            let e_prev = e;
            e = d;
            if p.abs() < (0.5 * q * e_prev).abs() && p > q * (a - x) && p < q * (b - x) {
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden_step = false;
            }
        }
        if golden_step {
            e = if x >= xm { a - x } else { b - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u);
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    x
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{argmax, Samples};
    use crate::model::{Model, Quantity};

    /// The default model's typical patient over 60 days (a 28-day window): several segments
    /// (doses, interventions).
    pub(crate) fn sixty_day_run() -> (Model, crate::run::Run) {
        let model = Model::resolve("cartox").unwrap();
        let inputs = crate::regimen::Inputs::builder(&model).build();
        let opts = crate::run::RunOptions {
            days: 60.0,
            window: 28.0,
            ..crate::run::RunOptions::for_model(&model)
        };
        let run = crate::run::run(&model, &inputs, &opts).expect("runs");
        (model, run)
    }

    /// [`Samples::values`] of an observable (its loop without delays) gives, bit for bit, what
    /// [`Probe::quantity`](super::Probe) gives at each sample point, for every observable of the
    /// default model over a 60-day run (several segments: doses, interventions), on windows of
    /// 28 and 60 days.
    #[test]
    fn observable_values_equal_the_probe_at_every_point() {
        let (model, run) = sixty_day_run();
        assert!(run.solution.n_segments() > 2, "a run with events");
        let mut compared = 0;
        for end in [28.0, 60.0] {
            let samples = Samples::new(&model, &run.solution, end);
            for i in 0..model.observables.len() {
                let q = Quantity::Observable(i);
                if !matches!(model.direct(q), Quantity::Observable(_)) {
                    continue;
                }
                let vals = samples.values(q);
                let mut probe = samples.probe();
                let n = model.n_states();
                for (k, &(day, seg)) in samples.points.iter().enumerate() {
                    let y = &samples.states[k * n..(k + 1) * n];
                    let want = probe.quantity(seg, day, q, y);
                    assert_eq!(
                        vals[k].to_bits(),
                        want.to_bits(),
                        "observable {i}, day {day}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "only {compared} values compared");
    }

    /// The states [`Samples::new`] writes in place at every sample point equal those of the
    /// way it collected them before (reference below: the probe's whole-state read, or the
    /// solver's step-end state, appended point by point), bit for bit.
    #[test]
    fn sampled_states_equal_appended_reads() {
        let (model, run) = sixty_day_run();
        let sol = &run.solution;
        let n = model.n_states();
        for end in [0.0, 1.5, 28.0, 60.0, 100.0] {
            let samples = Samples::new(&model, sol, end);
            let mut probe = super::Probe::new(&model, sol);
            let mut want: Vec<f64> = Vec::new();
            let mut y = vec![0.0; n];
            let (mut points, mut pieces) = (0, 0);
            'segments: for si in 0..sol.n_segments() {
                let (seg, _) = sol.segment(si);
                let mut a = seg.t0() / sol.per_day;
                if a >= end && pieces > 0 {
                    break;
                }
                want.extend_from_slice(probe.state(si, a));
                points += 1;
                for (k, &s) in seg.steps().iter().enumerate() {
                    let step_end = s / sol.per_day;
                    let b = step_end.min(end);
                    if b <= a {
                        continue;
                    }
                    want.extend_from_slice(probe.state(si, 0.5 * (a + b)));
                    if b == step_end {
                        seg.step_end(k, &mut y);
                        want.extend_from_slice(&y);
                    } else {
                        want.extend_from_slice(probe.state(si, b));
                    }
                    points += 2;
                    pieces += 1;
                    a = b;
                    if b >= end {
                        break 'segments;
                    }
                }
            }
            assert_eq!(samples.points.len(), points, "end {end}");
            assert_eq!(samples.states.len(), want.len(), "end {end}");
            for (k, (g, w)) in samples.states.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "end {end}, point {}, state {}",
                    k / n,
                    k % n
                );
            }
            assert!(end < 1.0 || points > 20, "end {end}: {points} points");
        }
    }

    /// [`Samples::best_sample`] (values compared first, the day and pieces worked out for the
    /// winner) equals the loop `peak` ran before (reference below) bit for bit: every state and
    /// observable of the default model over a 60-day run with events, windows of 28 and 60
    /// days, the values as sampled and altered (ties, NaN, -inf, all NaN).
    #[test]
    fn best_sample_equals_the_visiting_loop() {
        fn reference(s: &Samples, vals: &[f64]) -> ((f64, f64), (usize, usize)) {
            let mut best = (0.0, f64::NEG_INFINITY);
            let mut near: (usize, usize) = (0, 0);
            for (i, p) in s.pieces.iter().enumerate() {
                for (idx, day, lo, hi) in [
                    (p.ia, p.a, i.saturating_sub(1), i),
                    (p.im, 0.5 * (p.a + p.b), i, i),
                    (p.ib, p.b, i, (i + 1).min(s.pieces.len() - 1)),
                ] {
                    if vals[idx] > best.1 {
                        best = (day, vals[idx]);
                        near = (lo, hi);
                    }
                }
            }
            (best, near)
        }
        let (model, run) = sixty_day_run();
        let mut compared = 0;
        for end in [28.0, 60.0] {
            let samples = Samples::new(&model, &run.solution, end);
            let quantities = (0..model.n_states())
                .map(Quantity::State)
                .chain((0..model.observables.len()).map(Quantity::Observable));
            for q in quantities {
                let vals = samples.values(q);
                let m = vals.len();
                let mut variants = vec![vals.clone()];
                // Ties at the top: a flat course, and the maximum repeated later.
                variants.push(vec![1.0; m]);
                let mut tie = vals.clone();
                let top = tie.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                tie[m - 1] = top;
                tie[m / 2] = top;
                variants.push(tie);
                let mut holes = vals.clone();
                for k in (0..m).step_by(3) {
                    holes[k] = if k % 2 == 0 {
                        f64::NAN
                    } else {
                        f64::NEG_INFINITY
                    };
                }
                variants.push(holes);
                variants.push(vec![f64::NAN; m]);
                variants.push(vals.iter().map(|v| -v).collect());
                for v in &variants {
                    let (want, got) = (reference(&samples, v), samples.best_sample(v));
                    assert_eq!(
                        (want.0 .0.to_bits(), want.0 .1.to_bits(), want.1),
                        (got.0 .0.to_bits(), got.0 .1.to_bits(), got.1),
                        "{q:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 300, "{compared}");
    }

    /// [`Samples::prefetch`] (several observables in one pass over the sample points, one value
    /// vector shared by them) caches, bit for bit, what [`Samples::values`] computes for each
    /// alone on fresh samples: every observable of the default model over a 60-day run with
    /// events, windows of 28 and 60 days, in several orders and subsets (states and repeats
    /// among them, some already cached).
    #[test]
    fn prefetched_values_equal_values_one_at_a_time() {
        let (model, run) = sixty_day_run();
        assert!(run.solution.n_segments() > 2, "a run with events");
        let m = model.observables.len();
        let all: Vec<Quantity> = (0..m).map(Quantity::Observable).collect();
        let reversed: Vec<Quantity> = all.iter().rev().copied().collect();
        let mixed: Vec<Quantity> = (0..m)
            .map(|i| Quantity::Observable((i * 7 + 3) % m))
            .chain([Quantity::State(0), Quantity::Observable(1)])
            .chain((0..model.n_states()).step_by(4).map(Quantity::State))
            .collect();
        let mut compared = 0;
        for end in [28.0, 60.0] {
            let alone = Samples::new(&model, &run.solution, end);
            for order in [&all, &reversed, &mixed] {
                for pre_cached in [None, Some(order[order.len() / 2])] {
                    let samples = Samples::new(&model, &run.solution, end);
                    if let Some(q) = pre_cached {
                        samples.values(q);
                    }
                    samples.prefetch(order);
                    // Every observable of the list is cached by the one pass.
                    for q in order.iter() {
                        if matches!(model.direct(*q), Quantity::Observable(_)) {
                            assert!(samples.cache.borrow().iter().any(|(c, _)| c == q));
                        }
                    }
                    for &q in order.iter() {
                        let (got, want) = (samples.values(q), alone.values(q));
                        assert_eq!(got.len(), want.len());
                        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                            assert_eq!(g.to_bits(), w.to_bits(), "{q:?} at point {k}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} values compared");
    }

    /// [`Probe::at`](super::Probe::at) interpolates only the states a quantity reads
    /// (`Segment::eval_some`); every state and observable of the default model, at 40 times on
    /// every segment of a 60-day run (ends included), equals, bit for bit, the quantity from the
    /// whole interpolated state (`Segment::eval`) on a fresh value vector.
    #[test]
    fn probe_reads_equal_whole_state_reads() {
        let (model, run) = sixty_day_run();
        let sol = &run.solution;
        assert!(sol.n_segments() > 2, "a run with events");
        let samples = Samples::new(&model, sol, 60.0);
        let mut probe = samples.probe();
        let n = model.n_states();
        let quantities: Vec<Quantity> = (0..n)
            .map(Quantity::State)
            .chain((0..model.observables.len()).map(Quantity::Observable))
            .collect();
        let mut compared = 0;
        for si in 0..sol.n_segments() {
            let (seg, params) = sol.segment(si);
            let (t0, t1) = (seg.t0(), seg.t1());
            for k in 0..=40 {
                let t = t0 + (t1 - t0) * k as f64 / 40.0;
                let day = t / sol.per_day;
                let mut y = vec![0.0; n];
                seg.eval((day * sol.per_day).clamp(t0, t1), &mut y);
                for &q in &quantities {
                    let want = match model.direct(q) {
                        Quantity::State(i) => y[i],
                        Quantity::Observable(i) => {
                            let mut v = model.slots_with_params(params);
                            model.observe_one(&mut v, day * model.time_unit.per_day(), &y, i)
                        }
                    };
                    let got = probe.at(si, day, q);
                    assert_eq!(got.to_bits(), want.to_bits(), "{q:?} at day {day}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 5000, "only {compared} values compared");
    }

    #[test]
    fn argmax_finds_an_interior_peak_in_few_evaluations() {
        // Peak of t exp(-t/2) at t = 2; of a quartic with its maximum at 0.7.
        let mut n = 0;
        let t = argmax(0.0, 5.0, &mut |t| {
            n += 1;
            t * (-t / 2.0).exp()
        });
        assert!((t - 2.0).abs() < 1e-7, "{t}");
        assert!(n < 30, "{n} evaluations");
        let t = argmax(0.5, 1.0, &mut |t| {
            -(t - 0.7f64).powi(4) - (t - 0.7) * (t - 0.7)
        });
        assert!((t - 0.7).abs() < 1e-7, "{t}");
        // Monotone: the end of the interval.
        let t = argmax(1.0, 2.0, &mut |t| t);
        assert!((t - 2.0).abs() < 1e-8, "{t}");
    }
}
