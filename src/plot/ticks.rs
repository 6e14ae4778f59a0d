//! Axis ranges, tick positions and compact tick labels.

/// An axis in "axis space": linear values, or log10 of values for log axes.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// (position in axis space, label if labelled)
    pub major: Vec<(f64, Option<String>)>,
    /// Unlabelled minor tick positions (axis space).
    pub minor: Vec<f64>,
}

impl Axis {
    /// Map a data value to axis space (None if it cannot be shown, e.g. <= 0 on a log axis).
    pub fn to_axis(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        if self.log {
            if v > 0.0 {
                Some(v.log10())
            } else {
                None
            }
        } else {
            Some(v)
        }
    }
    /// Fraction 0..1 of the axis span (may be outside for out-of-range values).
    pub fn frac(&self, a: f64) -> f64 {
        (a - self.lo) / (self.hi - self.lo)
    }
}

fn nice_step(span: f64, target: f64) -> f64 {
    // smallest 1-2-5 step giving at most `target` intervals
    let raw = span / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    for f in [1.0, 2.0, 5.0, 10.0] {
        if f * mag >= raw * (1.0 - 1e-9) {
            return f * mag;
        }
    }
    10.0 * mag
}

/// Smallest number of decimals that represents `step` exactly (up to 10).
fn decimals_for(step: f64) -> usize {
    for d in 0..=10 {
        let s = step * 10f64.powi(d as i32);
        if (s - s.round()).abs() < 1e-6 * s.abs().max(1.0) {
            return d;
        }
    }
    10
}

/// Scientific label with a trimmed mantissa: 2.5e5, 1e-4.
pub(crate) fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{:.3e}", v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = trim_zeros(m);
    format!("{m}e{e}")
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Compact label for a linear tick: at most 4 significant digits, no trailing zeros.
pub(crate) fn fmt_linear(v: f64, step: f64, sci: bool) -> String {
    if v.abs() < step.abs() * 1e-9 {
        return "0".into();
    }
    if sci {
        return fmt_sci(v);
    }
    let mag = v.abs().log10().floor() as i32 + 1; // digits before the point
    let mut d = decimals_for(step) as i32;
    if mag + d > 4 {
        d = (4 - mag).max(0);
    }
    let s = trim_zeros(&format!("{:.*}", d as usize, v));
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Log tick label: 1, 1e2, 1e-1, 2e3, 5.
pub(crate) fn fmt_log(mantissa: u32, exp: i32) -> String {
    if exp == 0 {
        format!("{mantissa}")
    } else {
        format!("{mantissa}e{exp}")
    }
}

/// Linear axis over [dmin, dmax]. `loose` extends the range to whole ticks (y axes);
/// `days` prefers week multiples for time axes.
pub(crate) fn linear_axis(dmin: f64, dmax: f64, target: usize, loose: bool, days: bool) -> Axis {
    let (mut lo, mut hi) = (dmin, dmax);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= d;
        hi += d;
        if dmin >= 0.0 && lo < 0.0 {
            lo = 0.0;
        }
    }
    let target = target.max(2) as f64;
    let span = hi - lo;
    let mut step = nice_step(span, target);
    if days && (14.0..=200.0).contains(&span) {
        for w in [7.0, 14.0, 28.0] {
            if span / w <= target + 0.5 {
                step = w;
                break;
            }
        }
    }
    if loose {
        lo = (lo / step + 1e-9).floor() * step;
        hi = (hi / step - 1e-9).ceil() * step;
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let maxabs = lo.abs().max(hi.abs());
    let sci = !(1e-2..1e5).contains(&maxabs);
    let major = (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, Some(fmt_linear(v, step, sci)))
        })
        .collect();
    Axis {
        lo,
        hi,
        log: false,
        major,
        minor: vec![],
    }
}

/// Log axis covering [minpos, max] in whole decades (at most `max_decades`).
/// `target` is the number of labels that fit.
pub(crate) fn log_axis(minpos: f64, max: f64, target: usize, max_decades: i32) -> Axis {
    let mut hi = max.log10().ceil() as i32;
    let mut lo = minpos.log10().floor() as i32;
    if hi <= lo {
        hi = lo + 1;
    }
    if hi - lo > max_decades {
        lo = hi - max_decades;
    }
    // Avoid a bottom decade holding only a sliver of data: keep as is (decades are the unit).
    let span = (hi - lo) as usize;
    let target = target.max(2);
    let every = span.div_ceil(target.saturating_sub(1).max(1)).max(1);
    let mut major = vec![];
    let mut minor = vec![];
    for e in lo..=hi {
        let lab = if ((e - lo) as usize).is_multiple_of(every) {
            Some(fmt_log(1, e))
        } else {
            None
        };
        major.push((e as f64, lab));
        if e < hi {
            if span <= 2 && target > 2 * span {
                // short axis: label 2x and 5x as well
                for m in [2u32, 5] {
                    major.push((e as f64 + (m as f64).log10(), Some(fmt_log(m, e))));
                }
                for m in [3u32, 4, 6, 7, 8, 9] {
                    minor.push(e as f64 + (m as f64).log10());
                }
            } else if span <= 6 {
                for m in 2..=9 {
                    minor.push(e as f64 + (m as f64).log10());
                }
            }
        }
    }
    major.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    Axis {
        lo: lo as f64,
        hi: hi as f64,
        log: true,
        major,
        minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_labels_are_compact() {
        assert_eq!(fmt_linear(0.25, 0.05, false), "0.25");
        assert_eq!(fmt_linear(100.0, 20.0, false), "100");
        assert_eq!(fmt_linear(1.5, 0.5, false), "1.5");
        assert_eq!(fmt_linear(0.0, 0.5, false), "0");
        assert_eq!(fmt_linear(12345.678, 0.001, false), "12346");
        assert_eq!(fmt_linear(250000.0, 50000.0, true), "2.5e5");
        assert_eq!(fmt_linear(-0.1, 0.1, false), "-0.1");
        let a = linear_axis(0.0, 31.7, 5, true, false);
        let labels: Vec<_> = a.major.iter().map(|m| m.1.clone().unwrap()).collect();
        assert_eq!(labels, ["0", "10", "20", "30", "40"]);
        let a = linear_axis(0.0, 28.0, 6, false, true);
        let labels: Vec<_> = a.major.iter().map(|m| m.1.clone().unwrap()).collect();
        assert_eq!(labels, ["0", "7", "14", "21", "28"]);
        for m in linear_axis(0.0, 0.37, 6, true, false).major {
            let l = m.1.unwrap();
            assert!(!l.contains("000"), "{l}");
        }
    }

    #[test]
    fn log_labels_are_decades() {
        let a = log_axis(0.3, 250.0, 8, 12);
        let labels: Vec<_> = a.major.iter().filter_map(|m| m.1.clone()).collect();
        assert_eq!(labels, ["1e-1", "1", "1e1", "1e2", "1e3"]);
        let a = log_axis(1e-30, 1e3, 8, 10);
        assert_eq!(a.lo, -7.0);
        assert!(a.major.iter().filter(|m| m.1.is_some()).count() <= 8);
        let a = log_axis(20.0, 80.0, 8, 12);
        let labels: Vec<_> = a.major.iter().filter_map(|m| m.1.clone()).collect();
        assert_eq!(labels, ["1e1", "2e1", "5e1", "1e2"]);
    }
}
