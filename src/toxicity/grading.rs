//! Threshold runs on the continuous solution: every crossing of every threshold is located inside
//! the solver's steps by regula falsi on the dense output (to 1e-11 day), never on the output grid.
//!
//! A *run* of threshold `k` is a maximal interval where the observable is at or above `c_k`. A run
//! *qualifies* for grade `k` when it lasts at least `min_duration[k]`; a qualifying run counts at
//! grade >= k over its whole length (retroactively from its start), and is *recognised* (what a
//! real-time observer, and so a trigger, can know) at `start + min_duration[k]`.

use crate::trajectory::argmax;

/// Crossing-time tolerance, days.
const TOL: f64 = 1e-11;

/// Runs of one threshold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Level {
    pub c: f64,
    pub m: f64,
    /// Start of the current run when the observable is at or above `c`.
    pub above_since: Option<f64>,
    /// Closed runs `(start, end)` (days), qualifying or not.
    pub runs: Vec<(f64, f64)>,
    /// First time a run of this threshold qualified (start + min duration).
    pub recognised: Option<f64>,
}

impl Level {
    fn new(c: f64, m: f64) -> Self {
        Level {
            c,
            m,
            above_since: None,
            runs: Vec::new(),
            recognised: None,
        }
    }

    fn close(&mut self, s: f64, e: f64) {
        if e - s >= self.m && self.recognised.is_none() {
            self.recognised = Some(s + self.m);
        }
        self.runs.push((s, e));
        self.above_since = None;
    }

    fn at_start(&mut self, a: f64, va: f64) {
        match (va >= self.c, self.above_since) {
            (true, None) => self.above_since = Some(a),
            (false, Some(s)) => self.close(s, a),
            _ => {}
        }
    }

    fn at_end(&mut self, b: f64) {
        if let Some(s) = self.above_since {
            if s + self.m <= b && self.recognised.is_none() {
                self.recognised = Some(s + self.m);
            }
        }
    }

    /// The runs that qualify for this grade.
    pub fn qualifying(&self) -> impl Iterator<Item = &(f64, f64)> {
        self.runs.iter().filter(|(s, e)| e - s >= self.m)
    }
}

/// The four thresholds of one graded quantity, fed piece by piece in time order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tracker {
    levels: Vec<Level>,
    /// Summaries of `levels` for [`Tracker::piece`]'s settled pieces, recomputed by
    /// [`Tracker::refresh`] whenever `levels` change (only this module's methods change them):
    /// the highest threshold whose run is open (-inf: none), the lowest threshold whose run is
    /// not open (+inf: none), and the earliest time an open, not yet recognised run lasts its
    /// minimum duration (+inf: none). A NaN threshold sets `open_c` to +inf (no piece settles).
    open_c: f64,
    closed_c: f64,
    due: f64,
}

impl Tracker {
    pub fn new(thresholds: &[f64; 4], min_duration: &[f64; 4]) -> Self {
        let mut t = Tracker {
            levels: (0..4)
                .map(|k| Level::new(thresholds[k], min_duration[k]))
                .collect(),
            open_c: f64::INFINITY,
            closed_c: f64::NEG_INFINITY,
            due: f64::NEG_INFINITY,
        };
        t.refresh();
        t
    }

    /// The four thresholds' runs, lowest threshold first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Recompute `open_c`, `closed_c` and `due` from `levels`.
    fn refresh(&mut self) {
        let (mut open_c, mut closed_c, mut due) = (f64::NEG_INFINITY, f64::INFINITY, f64::INFINITY);
        for l in &self.levels {
            match l.above_since {
                Some(s) => {
                    open_c = open_c.max(l.c);
                    if l.recognised.is_none() {
                        due = due.min(s + l.m);
                    }
                }
                None => closed_c = closed_c.min(l.c),
            }
        }
        if self.levels.iter().any(|l| l.c.is_nan()) {
            open_c = f64::INFINITY;
        }
        (self.open_c, self.closed_c, self.due) = (open_c, closed_c, due);
    }

    /// Process `[a, b]` (days), on which `f` is continuous, from its values at `a` (just after
    /// any jump there), at the middle and at `b`.
    ///
    /// An interior maximum (or minimum) of the three samples is refined by Brent's method
    /// and added as a sample when a threshold lies just above it (below it), within four times
    /// the rise from the lower end: so an excursion above (or a dip below) a threshold that
    /// starts and ends inside one solver step is still seen. Crossings between consecutive
    /// samples are then located to `TOL` on the dense output.
    ///
    /// Most pieces change nothing: the middle lies between the ends (no extremum to refine),
    /// no sample is NaN, and every level stays on the side it was on (below it with no run
    /// open, or at or above it with its run open). Those are settled here, inline, with the
    /// comparisons [`Tracker::piece_full`] makes for them (the same `at_end` updates); any other
    /// piece goes to [`Tracker::piece_full`].
    #[inline]
    pub fn piece(
        &mut self,
        a: f64,
        b: f64,
        fa: f64,
        fm: f64,
        fb: f64,
        f: &mut dyn FnMut(f64) -> f64,
    ) {
        // `lo`/`hi`: the ends in order; with `fm` between them (false for NaN, and a NaN end
        // fails `fm >= lo` or `hi < closed_c`) `piece_full` refines no extremum and the three
        // samples' lowest and highest values are `lo` and `hi`.
        let (lo, hi) = if fa <= fb { (fa, fb) } else { (fb, fa) };
        if b > a && fm >= lo && fm <= hi && lo >= self.open_c && hi < self.closed_c {
            // Every open level stays open (lo >= its c), every other stays closed (hi < its c):
            // `piece_full` would only run `at_end(b)` on the open ones, which changes a level
            // only when b reaches its run's start + minimum duration.
            if b >= self.due {
                for lev in self.levels.iter_mut() {
                    lev.at_end(b);
                }
                self.refresh();
            }
            return;
        }
        self.piece_full(a, b, fa, fm, fb, f);
    }

    /// [`Tracker::piece`] for any piece.
    #[inline(never)]
    pub(crate) fn piece_full(
        &mut self,
        a: f64,
        b: f64,
        fa: f64,
        fm: f64,
        fb: f64,
        f: &mut dyn FnMut(f64) -> f64,
    ) {
        if b < a {
            return;
        }
        // Samples in time order (at most four: the ends, the middle and a refined extremum).
        let mut buf = [(a, fa), (0.5 * (a + b), fm), (b, fb), (0.0, 0.0)];
        let mut n = if b > a { 3 } else { 1 };
        if b > a {
            let (lo, hi) = (fa.min(fb), fa.max(fb));
            let mut extra = None;
            if fm > hi {
                let reach = fm + 4.0 * (fm - lo);
                if self.levels.iter().any(|l| l.c > fm && l.c <= reach) {
                    let t = argmax(a, b, f);
                    extra = Some((t, f(t)));
                }
            } else if fm < lo {
                let reach = fm - 4.0 * (hi - fm);
                if self.levels.iter().any(|l| l.c <= fm && l.c > reach) {
                    let t = argmax(a, b, &mut |t| -f(t));
                    extra = Some((t, f(t)));
                }
            }
            if let Some(e) = extra.filter(|e| e.0 > a && e.0 < b && e.0 != buf[1].0) {
                buf[3] = e;
                // Move it before the middle or before the end.
                let at = if e.0 < buf[1].0 { 1 } else { 2 };
                buf[at..4].rotate_right(1);
                n = 4;
            }
        }
        let pts = &buf[..n];
        // A level the samples stay on one side of, and were on at `a`, needs no crossing search:
        // below it and no run open (NaN counts as below, as in the comparisons below), or
        // at or above it with its run open.
        let (mut lo, mut hi, mut nan) = (f64::INFINITY, f64::NEG_INFINITY, false);
        for p in pts {
            (lo, hi, nan) = (lo.min(p.1), hi.max(p.1), nan || p.1.is_nan());
        }
        for lev in self.levels.iter_mut() {
            match lev.above_since {
                None if hi < lev.c => continue,
                Some(_) if !nan && lo >= lev.c => {
                    lev.at_end(b);
                    continue;
                }
                _ => {}
            }
            lev.at_start(a, pts[0].1);
            for w in pts.windows(2) {
                let (p0, p1) = (w[0].1 >= lev.c, w[1].1 >= lev.c);
                if p0 == p1 {
                    continue;
                }
                let t = crossing(w[0], w[1], lev.c, f);
                if p1 {
                    lev.above_since = Some(t);
                } else if let Some(s) = lev.above_since {
                    lev.close(s, t);
                }
            }
            lev.at_end(b);
        }
        self.refresh();
    }

    /// Close the runs still open at the window's end.
    pub fn finish(&mut self, end: f64) {
        for lev in self.levels.iter_mut() {
            if let Some(s) = lev.above_since {
                lev.close(s, end);
            }
        }
        self.refresh();
    }

    /// First time grade >= `grade` was recognised (any threshold k >= grade).
    pub fn recognised_at_least(&self, grade: u8) -> Option<f64> {
        self.levels[(grade as usize - 1)..]
            .iter()
            .filter_map(|l| l.recognised)
            .reduce(f64::min)
    }

    /// Highest qualifying grade covering `day` (0 when none).
    pub fn grade_at(&self, day: f64) -> u8 {
        (0..4)
            .rev()
            .find(|&k| {
                self.levels[k]
                    .qualifying()
                    .any(|&(s, e)| s <= day && day <= e)
            })
            .map_or(0, |k| k as u8 + 1)
    }

    /// Highest qualifying grade over all runs.
    pub fn max_grade(&self) -> u8 {
        (0..4)
            .rev()
            .find(|&k| self.levels[k].qualifying().next().is_some())
            .map_or(0, |k| k as u8 + 1)
    }

    /// Start of the first qualifying run of grade >= `grade`.
    pub fn first_start(&self, grade: u8) -> Option<f64> {
        self.levels[(grade as usize - 1)..]
            .iter()
            .flat_map(|l| l.qualifying().map(|r| r.0))
            .reduce(f64::min)
    }

    /// Total time at grade >= `grade` (measure of the union of qualifying runs).
    pub fn time_at_least(&self, grade: u8) -> f64 {
        let mut iv: Vec<(f64, f64)> = self.levels[(grade as usize - 1)..]
            .iter()
            .flat_map(|l| l.qualifying().copied())
            .collect();
        iv.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut total = 0.0;
        let mut cur: Option<(f64, f64)> = None;
        for (s, e) in iv {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            total += ce - cs;
        }
        total
    }
}

/// Where `f` crosses `c` between two samples on opposite sides of it: a time within `TOL` days
/// after the crossing, on the side of the second sample. Regula falsi with the Illinois
/// modification (superlinear on the smooth dense output), keeping the bracket.
fn crossing(lo: (f64, f64), hi: (f64, f64), c: f64, f: &mut dyn FnMut(f64) -> f64) -> f64 {
    let ((mut a, ga), (mut b, gb)) = (lo, hi);
    let (mut ga, mut gb) = (ga - c, gb - c);
    let first = ga >= 0.0;
    let mut kept = 0i8;
    for _ in 0..200 {
        let w = b - a;
        if w <= TOL {
            break;
        }
        // Probe at least TOL/4 inside the bracket so it always shrinks to TOL.
        let guard = 0.25 * TOL;
        let mut x = a - ga * w / (gb - ga);
        if !x.is_finite() {
            x = 0.5 * (a + b);
        }
        let x = x.clamp(a + guard, b - guard);
        let gx = f(x) - c;
        if (gx >= 0.0) == first {
            a = x;
            ga = gx;
            if kept == -1 {
                gb *= 0.5;
            }
            kept = -1;
        } else {
            b = x;
            gb = gx;
            if kept == 1 {
                ga *= 0.5;
            }
            kept = 1;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::{crossing, TOL};

    #[test]
    fn crossing_is_within_tol_after_the_root_in_few_evaluations() {
        // exp(t) = 2 at ln 2 (up-crossing); 3 - t^3 = 1 at 2^(1/3) (down-crossing).
        let mut n = 0;
        let mut f = |t: f64| {
            n += 1;
            t.exp()
        };
        let (a, b) = (0.0, 1.0);
        let t = crossing((a, f(a)), (b, f(b)), 2.0, &mut f);
        let root = 2f64.ln();
        assert!(t >= root && t - root <= TOL, "{t} vs {root}");
        assert!(n < 20, "{n} evaluations");
        let mut g = |t: f64| 3.0 - t * t * t;
        let t = crossing((0.0, 3.0), (2.0, -5.0), 1.0, &mut g);
        let root = 2f64.cbrt();
        assert!(t >= root && t - root <= TOL, "{t} vs {root}");
        assert!(g(t) < 1.0);
    }

    /// `piece` (settled pieces inline) leaves a tracker exactly as `piece_full` (every piece
    /// the long way) does, bit for bit, after every piece of many pseudo-random courses: rising,
    /// falling, oscillating within and across the thresholds, flat at a threshold, with NaN
    /// samples, zero-length pieces and minimum durations.
    #[test]
    fn settled_pieces_match_the_full_path() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut pieces = 0usize;
        let mut settled = 0usize;
        for course in 0..3000 {
            let thresholds = [1.0, 2.0 + rnd(), 3.0 + rnd(), 3.5 + rnd()];
            let min_duration = if course % 3 == 0 {
                [0.0; 4]
            } else {
                [rnd(), rnd(), 0.5 * rnd(), 0.0]
            };
            let (amp, freq, phase, base) = (4.0 * rnd(), 0.2 + 3.0 * rnd(), 6.0 * rnd(), rnd());
            let kind = course % 5;
            let g = move |t: f64| -> f64 {
                match kind {
                    0 => base + amp * (freq * t + phase).sin().abs(),
                    1 => base + amp * t / 10.0,
                    2 => amp * (1.0 - t / 10.0),
                    3 => 2.0 + 0.5 * (freq * t).sin(),
                    _ => {
                        if (t * 7.0).fract() < 0.1 {
                            f64::NAN
                        } else {
                            base + amp * (freq * t).cos()
                        }
                    }
                }
            };
            let mut fast = super::Tracker::new(&thresholds, &min_duration);
            let mut full = fast.clone();
            let mut a = 0.0;
            for k in 0..60 {
                let h = if k % 17 == 5 { 0.0 } else { 0.05 + 0.4 * rnd() };
                let b = a + h;
                let (fa, fm, fb) = (g(a), g(0.5 * (a + b)), g(b));
                let before = format!("{fast:?}");
                fast.piece(a, b, fa, fm, fb, &mut |t| g(t));
                full.piece_full(a, b, fa, fm, fb, &mut |t| g(t));
                assert_eq!(
                    format!("{fast:?}"),
                    format!("{full:?}"),
                    "course {course} piece {k}"
                );
                pieces += 1;
                if before == format!("{fast:?}") {
                    settled += 1;
                }
                a = b;
            }
            fast.finish(a);
            full.finish(a);
            assert_eq!(format!("{fast:?}"), format!("{full:?}"));
        }
        // Both kinds of piece occur.
        assert!(
            settled > pieces / 4 && settled < pieces,
            "{settled} of {pieces}"
        );
    }

    /// Trackers compare by their whole grade timeline: the same thresholds fed different courses
    /// (same maximum grade, different run times) are not equal; the same course is.
    #[test]
    fn trackers_compare_by_timeline() {
        let feed = |top_until: f64| {
            let mut t = super::Tracker::new(&[1.0, 2.0, 3.0, 4.0], &[0.0; 4]);
            // 0 -> 2.5 on [0, 1], flat at 2.5 until `top_until`, then back to 0 over one day.
            t.piece(0.0, 1.0, 0.0, 1.25, 2.5, &mut |x| 2.5 * x);
            t.piece(1.0, top_until, 2.5, 2.5, 2.5, &mut |_| 2.5);
            let e = top_until + 1.0;
            t.piece(top_until, e, 2.5, 1.25, 0.0, &mut |x| 2.5 * (e - x));
            t.finish(e + 1.0);
            t
        };
        let (a, b) = (feed(3.0), feed(5.0));
        assert_eq!(a.max_grade(), b.max_grade());
        assert_ne!(a, b);
        assert_eq!(a, feed(3.0));
    }
}
