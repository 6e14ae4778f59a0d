//! Threshold runs on the continuous solution: every crossing of every threshold is located inside
//! the solver's steps by bisection on the dense output (to ~1e-11 day), never on the output grid.
//!
//! A *run* of threshold `k` is a maximal interval where the observable is at or above `c_k`. A run
//! *qualifies* for grade `k` when it lasts at least `min_duration[k]`; a qualifying run counts at
//! grade >= k over its whole length (retroactively from its start), and is *recognised* (what a
//! real-time observer, and so a trigger, can know) at `start + min_duration[k]`.

/// Sub-intervals per solver step scanned for sign changes (a dense-output step is a polynomial of
/// degree 4 or 5, so a short excursion above a threshold inside one step is still seen).
const SUBDIVISIONS: usize = 2;
/// Bisection tolerance, days.
const TOL: f64 = 1e-11;

/// Runs of one threshold.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    pub levels: Vec<Level>,
}

impl Tracker {
    pub fn new(thresholds: &[f64; 4], min_duration: &[f64; 4]) -> Self {
        Tracker {
            levels: (0..4)
                .map(|k| Level::new(thresholds[k], min_duration[k]))
                .collect(),
        }
    }

    /// Process `[a, b]` (days), on which `f` is continuous; `f(a)` is the value just after any
    /// jump at `a`.
    ///
    /// The piece is sampled at `SUBDIVISIONS + 1` points; an interior maximum or minimum of the
    /// samples is refined by golden-section search and added as a sample, so an excursion above
    /// (or a dip below) a threshold that starts and ends inside one solver step is still seen.
    /// Crossings between consecutive samples are then located by bisection.
    pub fn piece(&mut self, a: f64, b: f64, f: &mut dyn FnMut(f64) -> f64) {
        if b < a {
            return;
        }
        let n = if b > a { SUBDIVISIONS } else { 0 };
        let mut pts: Vec<(f64, f64)> = (0..=n)
            .map(|j| {
                let t = if j == n {
                    b
                } else {
                    a + (b - a) * j as f64 / n as f64
                };
                (t, f(t))
            })
            .collect();
        if n > 0 {
            let argmax = (0..pts.len()).max_by(|&i, &j| pts[i].1.total_cmp(&pts[j].1));
            let argmin = (0..pts.len()).min_by(|&i, &j| pts[i].1.total_cmp(&pts[j].1));
            let mut extra = Vec::new();
            for (j, sign) in [(argmax, 1.0), (argmin, -1.0)] {
                let Some(j) = j else { continue };
                if j == 0 || j == pts.len() - 1 {
                    continue;
                }
                let (lo, hi) = (pts[j - 1].0, pts[j + 1].0);
                let t = golden(lo, hi, &mut |t| sign * f(t));
                extra.push((t, f(t)));
            }
            pts.extend(extra);
            pts.sort_by(|x, y| x.0.total_cmp(&y.0));
            pts.dedup_by(|x, y| x.0 == y.0);
        }
        for lev in self.levels.iter_mut() {
            lev.at_start(a, pts[0].1);
            for w in pts.windows(2) {
                let (p0, p1) = (w[0].1 >= lev.c, w[1].1 >= lev.c);
                if p0 == p1 {
                    continue;
                }
                let (mut lo, mut hi) = (w[0].0, w[1].0);
                for _ in 0..200 {
                    if hi - lo <= TOL {
                        break;
                    }
                    let mid = 0.5 * (lo + hi);
                    if (f(mid) >= lev.c) == p0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                if p1 {
                    lev.above_since = Some(hi);
                } else if let Some(s) = lev.above_since {
                    lev.close(s, hi);
                }
            }
            lev.at_end(b);
        }
    }

    /// Close the runs still open at the window's end.
    pub fn finish(&mut self, end: f64) {
        for lev in self.levels.iter_mut() {
            if let Some(s) = lev.above_since {
                lev.close(s, end);
            }
        }
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

/// Argmax of `g` on `[lo, hi]` by golden-section search (to ~1e-10 day).
fn golden(mut lo: f64, mut hi: f64, g: &mut dyn FnMut(f64) -> f64) -> f64 {
    let r = 0.5 * (5f64.sqrt() - 1.0);
    let mut c = hi - r * (hi - lo);
    let mut d = lo + r * (hi - lo);
    let (mut gc, mut gd) = (g(c), g(d));
    for _ in 0..60 {
        if hi - lo <= 1e-10 {
            break;
        }
        if gc > gd {
            hi = d;
            d = c;
            gd = gc;
            c = hi - r * (hi - lo);
            gc = g(c);
        } else {
            lo = c;
            c = d;
            gc = gd;
            d = lo + r * (hi - lo);
            gd = g(d);
        }
    }
    0.5 * (lo + hi)
}
