//! Sensitivity analysis: which inputs drive an output.
//!
//! Three methods, each on the same evaluation engine ([`evaluate::evaluate`]: the crate's ordered parallel map, [`crate::par`], order
//! preserved, every failed evaluation counted):
//!
//! - **local** ([`local`]): normalised sensitivities `d ln y / d ln p` at the typical patient, by
//!   central differences in `ln p` at two step sizes (`h`, `h/2`) combined by Richardson
//!   extrapolation; the difference between the two estimates is the error estimate (the CI
//!   columns are `value -+ |D(h/2) - D(h)|`). Also of whole time courses.
//! - **morris** ([`design::morris`], [`estimators::morris`]): elementary effects on `r` random
//!   one-at-a-time trajectories over a `p`-level grid of the unit cube (Morris 1991, step
//!   `p / (2 (p - 1))`), `mu`, `mu*` (Campolongo 2007) and `sigma`, per unit of the scaled range.
//! - **sobol** ([`design::saltelli`], [`estimators::sobol`]): Saltelli's scheme (matrices A, B and
//!   A with column i from B), first-order `S1` (Saltelli 2010), total `ST` (Jansen 1999), optional
//!   second-order `S2` (Saltelli 2002), the same estimators and row order as SALib's
//!   `sobol.analyze`; percentile bootstrap confidence intervals over the base rows.
//!
//! Designs are drawn in the unit cube; [`Factor::value`] maps a coordinate to an input value
//! (uniform or log-uniform). Every base row draws from its own ChaCha8 stream, so designs and
//! indices are the same bytes on any thread count.

/// An [`Error::Options`] for the flag `$option`, message formatted like `format!`.
macro_rules! opt_err {
    ($option:expr, $($fmt:tt)*) => {
        crate::error::Error::Options {
            option: $option.to_string(),
            message: format!($($fmt)*),
        }
    };
}

pub mod analysis;
pub mod design;
pub mod estimators;
pub mod evaluate;
pub mod local;
pub mod outputs;

use crate::model::Model;
use crate::output::fmt_num;
use crate::regimen::Inputs;
use crate::Result;

pub use evaluate::{evaluate, Evaluation, Population};
pub use outputs::OutputSpec;

/// How a factor's unit coordinate maps to its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Uniform,
    LogUniform,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Uniform => "uniform",
            Scale::LogUniform => "log-uniform",
        }
    }
}

/// Where a factor's range came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeSource {
    /// `--ranges` on the command line.
    Given,
    /// The parameter's `lower` and `upper` in the model file.
    Bounds,
    /// `value / (1 + f) .. value * (1 + f)`, log-uniform (open bounds, or `--around f`).
    Around(f64),
}

/// One varied input.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// Input name as [`Inputs::set`] accepts it (a parameter, `<state>_0`, `dose`, ...).
    pub name: String,
    pub lo: f64,
    pub hi: f64,
    pub scale: Scale,
    pub source: RangeSource,
}

impl Factor {
    /// The input value at unit coordinate `u` in [0, 1].
    pub fn value(&self, u: f64) -> f64 {
        match self.scale {
            Scale::Uniform => self.lo + u * (self.hi - self.lo),
            Scale::LogUniform => (self.lo.ln() + u * (self.hi.ln() - self.lo.ln())).exp(),
        }
    }

    /// One line describing the range, e.g. `k_act: 0.2667 .. 0.6 log-uniform (value / 1.5 .. value * 1.5)`.
    pub fn describe(&self) -> String {
        let src = match self.source {
            RangeSource::Given => "from --ranges".to_string(),
            RangeSource::Bounds => "the model's lower..upper".to_string(),
            RangeSource::Around(f) => format!("value / {0} .. value * {0}", fmt_num(1.0 + f)),
        };
        format!(
            "{}: {} .. {} {} ({src})",
            self.name,
            fmt_num(self.lo),
            fmt_num(self.hi),
            self.scale.as_str()
        )
    }
}

/// Default relative spread for parameters whose bounds are open: value x/÷ 1.5, log-uniform.
pub const DEFAULT_AROUND: f64 = 0.5;

/// A `--ranges` entry: `name=lo:hi` (uniform) or `name=log:lo:hi` (log-uniform).
pub fn parse_range(entry: &str) -> Result<(String, f64, f64, Scale)> {
    let (name, spec) = entry.split_once('=').ok_or_else(|| {
        opt_err!(
            "--ranges",
            "--ranges `{entry}`: expected NAME=LO:HI or NAME=log:LO:HI"
        )
    })?;
    let name = name.trim();
    let (scale, rest) = match spec.trim().strip_prefix("log:") {
        Some(r) => (Scale::LogUniform, r),
        None => (Scale::Uniform, spec.trim()),
    };
    let (lo, hi) = rest.split_once(':').ok_or_else(|| {
        opt_err!(
            "--ranges",
            "--ranges `{entry}`: expected NAME=LO:HI or NAME=log:LO:HI"
        )
    })?;
    let num = |t: &str| -> Result<f64> {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                opt_err!(
                    "--ranges",
                    "--ranges `{entry}`: `{}` is not a finite number",
                    t.trim()
                )
            })
    };
    let (lo, hi) = (num(lo)?, num(hi)?);
    if lo >= hi {
        return Err(opt_err!(
            "--ranges",
            "--ranges `{entry}`: the lower end {lo} must be below the upper end {hi}"
        ));
    }
    if scale == Scale::LogUniform && lo <= 0.0 {
        return Err(opt_err!(
            "--ranges",
            "--ranges `{entry}`: a log range needs a lower end above 0"
        ));
    }
    Ok((name.to_string(), lo, hi, scale))
}

/// The factors of an analysis, in `names` order. A range from `ranges` wins; otherwise a parameter
/// gets `--around` when given, else its model bounds when both are declared (log-uniform when
/// `lower > 0` and `upper / lower >= 100`, else uniform), else `value x/÷ (1 + DEFAULT_AROUND)`
/// log-uniform (clipped to a one-sided bound). Inputs that are not parameters need a range.
pub fn resolve_factors(
    model: &Model,
    names: &[String],
    ranges: &[(String, f64, f64, Scale)],
    around: Option<f64>,
) -> Result<Vec<Factor>> {
    if names.is_empty() {
        return Err(opt_err!("--params", "--params: no parameters given"));
    }
    if let Some(f) = around {
        if !(f.is_finite() && f > 0.0) {
            return Err(opt_err!(
                "--around",
                "--around must be a number above 0, got {f}"
            ));
        }
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(opt_err!("--params", "--params: `{n}` is listed twice"));
        }
    }
    for (n, ..) in ranges {
        if !names.contains(n) {
            return Err(opt_err!("--ranges", "--ranges: `{n}` is not in --params"));
        }
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if !Inputs::accepts(model, name) || ["ld", "schedule"].contains(&name.as_str()) {
            return Err(opt_err!("--params", "--params: unknown name `{name}`: not a parameter, `<state>_0` or numeric regimen input of model `{}` (see `cartox describe {}`)",
                model.name,
                model.name
            ));
        }
        let f = if let Some((_, lo, hi, scale)) = ranges.iter().find(|r| &r.0 == name) {
            Factor {
                name: name.clone(),
                lo: *lo,
                hi: *hi,
                scale: *scale,
                source: RangeSource::Given,
            }
        } else {
            let Some(i) = model.parameter_index(name) else {
                return Err(opt_err!("--params", "--params: `{name}` is not a model parameter: give its range with --ranges {name}=LO:HI"));
            };
            let p = &model.parameters[i];
            match (around, p.lower, p.upper) {
                (None, Some(lo), Some(hi)) if lo < hi => Factor {
                    name: name.clone(),
                    lo,
                    hi,
                    scale: if lo > 0.0 && hi / lo >= 100.0 {
                        Scale::LogUniform
                    } else {
                        Scale::Uniform
                    },
                    source: RangeSource::Bounds,
                },
                _ => {
                    let f = around.unwrap_or(DEFAULT_AROUND);
                    if p.value.is_nan() || p.value <= 0.0 {
                        return Err(opt_err!("--params", "--params: `{name}` = {} cannot be varied by a factor around its value: give its range with --ranges {name}=LO:HI", p.value));
                    }
                    let mut lo = p.value / (1.0 + f);
                    let mut hi = p.value * (1.0 + f);
                    if let Some(l) = p.lower.filter(|l| *l > 0.0) {
                        lo = lo.max(l);
                    }
                    if let Some(u) = p.upper {
                        hi = hi.min(u);
                    }
                    Factor {
                        name: name.clone(),
                        lo,
                        hi,
                        scale: Scale::LogUniform,
                        source: RangeSource::Around(f),
                    }
                }
            }
        };
        // the ends must be acceptable inputs (bounds, signs)
        for v in [f.lo, f.hi] {
            let mut probe = Inputs::default();
            probe
                .set(model, name, &fmt_num(v))
                .map_err(|e| opt_err!("--ranges", "--ranges {name}: {e}"))?;
        }
        out.push(f);
    }
    Ok(out)
}

/// Which index a row of the results holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Local,
    MuStar,
    Mu,
    Sigma,
    S1,
    ST,
    S2,
}

impl Index {
    pub fn as_str(self) -> &'static str {
        match self {
            Index::Local => "local",
            Index::MuStar => "mu_star",
            Index::Mu => "mu",
            Index::Sigma => "sigma",
            Index::S1 => "S1",
            Index::ST => "ST",
            Index::S2 => "S2",
        }
    }
}

/// One row of the tidy results: `output, parameter, index, value, ci_low, ci_high, n_rows`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub output: String,
    /// The parameter; for `S2` both, as `a:b`.
    pub parameter: String,
    pub index: Index,
    /// `None` when it cannot be computed (e.g. a local sensitivity of an output that is 0).
    pub value: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Model evaluations the value rests on.
    pub n_rows: usize,
}

/// Header of the results CSV.
pub const HEADER: &str = "output,parameter,index,value,ci_low,ci_high,n_rows\n";

/// The results as CSV text (header included).
pub fn to_csv(rows: &[IndexRow]) -> String {
    let mut s = String::from(HEADER);
    let cell = |x: Option<f64>| x.map(fmt_num).unwrap_or_default();
    for r in rows {
        s.push_str(&quote(&r.output));
        s.push(',');
        s.push_str(&quote(&r.parameter));
        s.push_str(&format!(
            ",{},{},{},{},{}\n",
            r.index.as_str(),
            cell(r.value),
            cell(r.ci_low),
            cell(r.ci_high),
            r.n_rows
        ));
    }
    s
}

/// A CSV field, quoted only when it must be.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
