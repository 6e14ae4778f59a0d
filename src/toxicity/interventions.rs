//! Interventions as solver events: a [`Trigger`] that scans each integrated segment for the first
//! recognition of its grade condition (thresholds and minimum durations of the `[toxicity]`
//! section, on the dense output), and returns the start of the effect at trigger + delay, then
//! the end of the effect after its duration.
//!
//! While interventions are active, the parameters in force are the scenario's with the `set`
//! changes of each active intervention applied in firing order (each `set` expression sees the
//! parameters in force before it). When one ends, the others stay applied.

use super::grading::Tracker;
use super::Fired;
use crate::model::rules::Term;
use crate::model::{Model, Quantity};
use crate::solve::{Event, Segment, Trigger};

/// The threshold runs so far of one graded quantity, with the minimum durations of its grading
/// raised to `hold` days (0: the grading's own): one per `(syndrome, hold)` a trigger names.
#[derive(Debug, Clone)]
struct Track {
    crs: bool,
    hold: f64,
    quantity: Quantity,
    tracker: Tracker,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Start(usize),
    /// A repeat dose, given if the intervention's `repeat_while` still holds.
    Redose(usize),
    End(usize),
}

/// Fires the model's `[[interventions]]` during a solve.
pub struct InterventionTrigger<'m> {
    model: &'m Model,
    base: Vec<f64>,
    /// The graded quantities' runs, per `(syndrome, hold)` the triggers name.
    tracks: Vec<Track>,
    /// Trigger day of each intervention once it fired.
    triggered: Vec<Option<f64>>,
    /// Active interventions in firing order.
    active: Vec<usize>,
    /// Events decided but not yet returned to the solver: (day, what).
    pending: Vec<(f64, Kind)>,
    /// Parameters any intervention changes.
    touched: Vec<usize>,
    /// Interventions that fired (start events returned to the solver).
    pub fired: Vec<Fired>,
    /// A value vector kept across the scans of one run (parameters rewritten per segment).
    slots: std::cell::RefCell<Vec<f64>>,
    /// A value vector holding parameters only (see `with_param_slots`).
    param_slots: std::cell::RefCell<Vec<f64>>,
}

impl<'m> InterventionTrigger<'m> {
    /// `params`: the scenario's parameters (in force from day 0).
    pub fn new(model: &'m Model, params: &[f64]) -> Self {
        let mut tracks: Vec<Track> = Vec::new();
        if let Some(tox) = model.toxicity.as_ref() {
            let holds = model.interventions.iter().flat_map(|iv| iv.trigger.iter());
            let base = [(true, 0.0), (false, 0.0)];
            for (crs, hold) in base.into_iter().chain(holds.map(|t| (t.crs, t.hold))) {
                let g = if crs { &tox.crs } else { &tox.icans };
                let Some(g) = g.as_ref() else { continue };
                if tracks.iter().any(|t| t.crs == crs && t.hold == hold) {
                    continue;
                }
                tracks.push(Track {
                    crs,
                    hold,
                    quantity: g.quantity,
                    tracker: Tracker::new(&g.thresholds, &g.min_duration.map(|m| m.max(hold))),
                });
            }
        }
        let mut touched: Vec<usize> = model
            .interventions
            .iter()
            .flat_map(|iv| iv.set.iter().map(|s| s.0))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        InterventionTrigger {
            model,
            base: params.to_vec(),
            tracks,
            triggered: vec![None; model.interventions.len()],
            active: Vec::new(),
            pending: Vec::new(),
            touched,
            fired: Vec::new(),
            slots: std::cell::RefCell::new(Vec::new()),
            param_slots: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Feed `[t0, upto]` (days) of a segment to copies of the trackers: both graded quantities
    /// from one state read at each step's middle and end.
    fn scan(&self, params: &[f64], seg: &dyn Segment, upto: f64) -> Vec<Track> {
        let model = self.model;
        let per_day = model.time_unit.per_day();
        let mut y = vec![0.0; model.n_states()];
        let mut out = self.tracks.clone();
        // An observable that is a state alone is read as that state (`Model::direct`).
        let quantity = |crs: bool| {
            out.iter()
                .find(|t| t.crs == crs)
                .map(|t| model.direct(t.quantity))
        };
        let quantities = [quantity(true), quantity(false)];
        let observed = quantities
            .iter()
            .any(|q| matches!(q, Some(Quantity::Observable(_))));
        // The states the two quantities read: the refinements between samples interpolate
        // only these (`Segment::eval_some`).
        let mut which: Vec<usize> = Vec::new();
        for q in quantities.iter().flatten() {
            match *q {
                Quantity::State(i) => which.push(i),
                Quantity::Observable(i) => which.extend_from_slice(model.observable_reads(i)),
            }
        }
        let mut v = if observed {
            self.slots_for(params)
        } else {
            Vec::new()
        };
        // Both quantities at `day`, from the state at the end of step `k` when given.
        let mut at = |day: f64, k: Option<usize>| -> [f64; 2] {
            let t = (day * per_day).clamp(seg.t0(), seg.t1());
            match k {
                Some(k) => seg.step_end(k, &mut y),
                None => seg.eval_some(t, &which, &mut y),
            }
            quantities.map(|q| match q {
                Some(Quantity::State(i)) => y[i],
                Some(Quantity::Observable(i)) => model.observe_one(&mut v, t, &y, i),
                None => f64::NAN,
            })
        };
        let feed = |out: &mut Vec<Track>,
                    read: &mut dyn FnMut(f64) -> [f64; 2],
                    (a, b): (f64, f64),
                    [fa, fm, fb]: [[f64; 2]; 3]| {
            for tr in out.iter_mut() {
                let k = usize::from(!tr.crs);
                tr.tracker
                    .piece(a, b, fa[k], fm[k], fb[k], &mut |t| read(t)[k]);
            }
        };
        let mut prev = seg.t0() / per_day;
        let mut f_prev = at(prev, None);
        if seg.steps().is_empty() || upto <= prev {
            feed(&mut out, &mut |d| at(d, None), (prev, prev), [f_prev; 3]);
        }
        for (k, &s) in seg.steps().iter().enumerate() {
            let end = (s / per_day).min(upto);
            if end > prev {
                let f_mid = at(0.5 * (prev + end), None);
                let f_end = at(end, (end == s / per_day).then_some(k));
                feed(
                    &mut out,
                    &mut |d| at(d, None),
                    (prev, end),
                    [f_prev, f_mid, f_end],
                );
                (prev, f_prev) = (end, f_end);
            }
            if end >= upto {
                break;
            }
        }
        if observed {
            *self.slots.borrow_mut() = v;
        }
        out
    }

    /// The run's value vector holding `params` (and what depends on them alone); the same
    /// values as `Model::slots_with_params`, without allocating it again for every scan.
    fn slots_for(&self, params: &[f64]) -> Vec<f64> {
        let mut v = std::mem::take(&mut *self.slots.borrow_mut());
        if v.is_empty() {
            v = self.model.slots_with_params(params);
        } else {
            self.model.set_params(&mut v, params);
        }
        v
    }

    /// Whether any term holds on the graded quantities' values at `day` (current levels, no
    /// minimum duration, no `for` / `before` qualifier): the repeat-dose rule.
    fn holds_now(&self, params: &[f64], seg: &dyn Segment, day: f64, terms: &[Term]) -> bool {
        let model = self.model;
        let Some(tox) = model.toxicity.as_ref() else {
            return false;
        };
        let t = (day * model.time_unit.per_day()).clamp(seg.t0(), seg.t1());
        let mut y = vec![0.0; model.n_states()];
        seg.eval(t, &mut y);
        let mut v = self.slots_for(params);
        let holds = terms.iter().filter(|t| t.applies(&self.base)).any(|term| {
            let g = if term.crs { &tox.crs } else { &tox.icans };
            let Some(g) = g.as_ref() else { return false };
            let x = match model.direct(g.quantity) {
                Quantity::State(i) => y[i],
                Quantity::Observable(i) => model.observe_one(&mut v, t, &y, i),
            };
            x >= g.thresholds[term.grade as usize - 1]
        });
        *self.slots.borrow_mut() = v;
        holds
    }

    /// The parameters in force with the active interventions.
    fn params_in_force(&self) -> Vec<f64> {
        let mut p = self.base.clone();
        for &i in &self.active {
            let new: Vec<(usize, f64)> = self.with_param_slots(&p, |v| {
                self.model.interventions[i]
                    .set
                    .iter()
                    .map(|(idx, node, _)| (*idx, node.eval(v)))
                    .collect()
            });
            for (idx, x) in new {
                p[idx] = x;
            }
        }
        p
    }

    /// `f` on a value vector equal to `Model::slots_with_params(params)` (parameters and what
    /// depends on them alone; time, states and assignments 0): one vector per run, only ever
    /// written by `Model::set_params`, so it stays equal to a fresh one.
    fn with_param_slots<R>(&self, params: &[f64], f: impl FnOnce(&[f64]) -> R) -> R {
        let mut v = self.param_slots.borrow_mut();
        if v.is_empty() {
            *v = self.model.slots_with_params(params);
        } else {
            self.model.set_params(&mut v, params);
        }
        f(&v)
    }
}

impl InterventionTrigger<'_> {
    /// The threshold levels (graded quantity, level) that can still trigger an intervention:
    /// grade >= g of a term is recognised on level g or any higher one of the term's track.
    fn open_levels(&self) -> impl Iterator<Item = (Quantity, &super::grading::Level)> {
        self.model
            .interventions
            .iter()
            .zip(&self.triggered)
            .filter(|(_, t)| t.is_none())
            .flat_map(|(iv, _)| iv.trigger.iter())
            .filter(|term| term.applies(&self.base))
            .filter_map(|term| {
                let tr = track_of(&self.tracks, term)?;
                Some((
                    tr.quantity,
                    &tr.tracker.levels()[(term.grade as usize - 1)..],
                ))
            })
            .flat_map(|(q, levels)| levels.iter().map(move |l| (q, l)))
            .filter(|(_, l)| l.recognised.is_none())
    }
}

/// The track a term is recognised on.
fn track_of<'t>(tracks: &'t [Track], term: &Term) -> Option<&'t Track> {
    tracks
        .iter()
        .find(|t| t.crs == term.crs && t.hold == term.hold)
}

/// When a term is first recognised on `tracks` (`None`: not yet, only after its `before` day, or
/// never for this patient: its `if` gate is off).
fn recognised(tracks: &[Track], term: &Term, params: &[f64]) -> Option<f64> {
    if !term.applies(params) {
        return None;
    }
    track_of(tracks, term)?
        .tracker
        .recognised_at_least(term.grade)
        .filter(|&t| term.before.is_none_or(|d| t <= d))
}

impl Trigger for InterventionTrigger<'_> {
    fn armed(&self) -> bool {
        self.triggered.iter().any(Option::is_none) || !self.pending.is_empty()
    }

    /// Levels not yet reached: their up-crossing may start a run that triggers.
    fn watch(&self) -> Vec<(Quantity, f64)> {
        let mut w: Vec<(Quantity, f64)> = self
            .open_levels()
            .filter(|(_, l)| l.above_since.is_none())
            .map(|(q, l)| (q, l.c))
            .collect();
        w.dedup();
        w
    }

    /// The first pending event, or the time a run in progress lasts its minimum duration.
    fn next_due(&self) -> Option<f64> {
        self.open_levels()
            .filter_map(|(_, l)| l.above_since.map(|s| s + l.m))
            .chain(self.pending.iter().map(|p| p.0))
            .reduce(f64::min)
    }

    fn check(&mut self, model: &Model, params: &[f64], seg: &dyn Segment) -> Option<(f64, Event)> {
        let per_day = model.time_unit.per_day();
        let (a, b) = (seg.t0() / per_day, seg.t1() / per_day);
        // Scanning is only needed while some intervention has not been triggered yet.
        let full = if self.triggered.iter().any(Option::is_none) {
            self.scan(params, seg, b)
        } else {
            self.tracks.clone()
        };
        // Newly recognised trigger conditions: (event day, trigger day, intervention).
        let mut new: Vec<(f64, f64, usize)> = Vec::new();
        for (i, iv) in model.interventions.iter().enumerate() {
            if self.triggered[i].is_some() {
                continue;
            }
            let tc = iv
                .trigger
                .iter()
                .filter_map(|term| recognised(&full, term, &self.base))
                .reduce(f64::min);
            if let Some(tc) = tc {
                new.push((tc + iv.delay, tc, i));
            }
        }
        let first = new
            .iter()
            .map(|n| n.0)
            .chain(self.pending.iter().map(|p| p.0))
            .reduce(f64::min);
        let Some(cut) = first else {
            self.tracks = full;
            return None;
        };
        let cut = cut.max(a);
        if cut > b {
            // Nothing happens inside this segment: keep the new starts pending (they apply in a
            // later segment, with the parameters in force then) and let integration go on.
            self.tracks = full;
            for &(day, tc, i) in &new {
                self.triggered[i] = Some(tc);
                self.pending.push((day, Kind::Start(i)));
            }
            return None;
        }
        self.tracks = if cut < b {
            self.scan(params, seg, cut)
        } else {
            full
        };
        // Triggers recognised after the cut lie on the part of the segment that is discarded.
        for &(day, tc, i) in new.iter().filter(|n| n.1 <= cut) {
            self.triggered[i] = Some(tc);
            self.pending.push((day.max(a), Kind::Start(i)));
        }
        // Apply every pending event at the cut, in order.
        self.pending.sort_by(|x, y| x.0.total_cmp(&y.0));
        let n_now = self.pending.iter().take_while(|p| p.0 <= cut).count();
        let now: Vec<(f64, Kind)> = self.pending.drain(..n_now).collect();
        let mut add = Vec::new();
        for (_, kind) in now {
            match kind {
                Kind::Start(i) => {
                    let iv = &model.interventions[i];
                    let p = self.params_in_force();
                    self.with_param_slots(&p, |v| {
                        for (s, node, _) in &iv.add {
                            add.push((*s, node.eval(v)));
                        }
                    });
                    self.active.push(i);
                    let end_day = iv.duration.map(|d| cut + d);
                    if let Some(e) = end_day {
                        self.pending.push((e, Kind::End(i)));
                    }
                    self.fired.push(Fired {
                        name: iv.name.clone(),
                        trigger_day: self.triggered[i].unwrap_or(cut),
                        start_day: cut,
                        end_day,
                        doses: 1,
                        last_dose_day: cut,
                        kind: iv.kind,
                        repeat_every: iv.repeat_every,
                    });
                    if let (Some(every), true) = (iv.repeat_every, iv.max_doses > 1) {
                        self.pending.push((cut + every, Kind::Redose(i)));
                    }
                }
                Kind::Redose(i) => {
                    let iv = &model.interventions[i];
                    if !self.holds_now(params, seg, cut, &iv.repeat_while) {
                        continue;
                    }
                    let p = self.params_in_force();
                    self.with_param_slots(&p, |v| {
                        for (s, node, _) in &iv.add {
                            add.push((*s, node.eval(v)));
                        }
                    });
                    let Some(rec) = self.fired.iter_mut().find(|f| f.name == iv.name) else {
                        continue;
                    };
                    rec.doses += 1;
                    rec.last_dose_day = cut;
                    if let Some(d) = iv.duration {
                        // A repeat dose prolongs a `set` effect: it now ends `duration` after it.
                        self.pending
                            .retain(|p| !matches!(p.1, Kind::End(j) if j == i));
                        self.pending.push((cut + d, Kind::End(i)));
                        rec.end_day = Some(cut + d);
                        if !self.active.contains(&i) {
                            self.active.push(i);
                        }
                    }
                    if rec.doses < iv.max_doses {
                        if let Some(every) = iv.repeat_every {
                            self.pending.push((cut + every, Kind::Redose(i)));
                        }
                    }
                }
                Kind::End(i) => self.active.retain(|&x| x != i),
            }
        }
        let p = self.params_in_force();
        let set_params = self.touched.iter().map(|&i| (i, p[i])).collect();
        let tc = if cut <= a { seg.t0() } else { cut * per_day };
        Some((
            tc,
            Event {
                day: cut,
                add,
                set_params,
                assign: vec![],
            },
        ))
    }
}
