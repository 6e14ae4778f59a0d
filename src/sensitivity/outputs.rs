//! The outputs an analysis reads from each run, as numbers.
//!
//! - a summary metric by name (`cart_cmax`, `crs_grade`, ...; grades are numbers, flags 0 or 1);
//! - a state or observable at a day: `il6@5`;
//! - a probability over the population of a design point: `P(crs_grade>=2)`, with `>=`, `>`,
//!   `<=`, `<` or `==` and a number, on a metric or `name@day`. Without a population (one typical
//!   patient per point) it is the 0/1 indicator.
//!
//! Over a population, a metric or `name@day` is the population mean; a patient whose value is
//! missing (e.g. `crs_onset` without CRS) makes the point's value missing (the row is then not
//! used for that output and `n_rows` says so), and counts as "condition false" in `P(...)`.

use crate::model::{Model, Quantity};
use crate::run::{Metric, Run};
use crate::trajectory::Reader;
use crate::Result;

/// What is read from a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity1 {
    /// Position in [`Run::metrics`].
    Metric(usize),
    /// A state or observable at a day after infusion.
    At(Quantity, f64),
}

/// A comparison in `P(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Op {
    fn holds(self, x: f64, t: f64) -> bool {
        match self {
            Op::Ge => x >= t,
            Op::Gt => x > t,
            Op::Le => x <= t,
            Op::Lt => x < t,
            Op::Eq => x == t,
        }
    }
}

/// One output of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// As written on the command line (the `output` column).
    pub label: String,
    pub quantity: Quantity1,
    /// `P(quantity op threshold)` when set.
    pub probability: Option<(Op, f64)>,
}

fn quantity(
    model: &Model,
    metrics: &[&str],
    text: &str,
    days: f64,
    whole: &str,
) -> Result<Quantity1> {
    let t = text.trim();
    if let Some((name, day)) = t.split_once('@') {
        let name = name.trim();
        let q = if let Some(i) = model.state_index(name) {
            Quantity::State(i)
        } else if let Some(i) = model.observable_index(name) {
            Quantity::Observable(i)
        } else {
            return Err(opt_err!(
                "--outputs",
                "--outputs `{whole}`: `{name}` is not a state or observable of model `{}`",
                model.name
            ));
        };
        let d: f64 = match day.trim().parse::<f64>() {
            Ok(d) if d.is_finite() => d,
            _ => {
                return Err(opt_err!(
                    "--outputs",
                    "--outputs `{whole}`: `{}` is not a day",
                    day.trim()
                ))
            }
        };
        if !(0.0..=days).contains(&d) {
            return Err(opt_err!(
                "--outputs",
                "--outputs `{whole}`: day {d} is outside the simulated 0..{days} days"
            ));
        }
        return Ok(Quantity1::At(q, d));
    }
    match metrics.iter().position(|m| *m == t) {
        Some(_) if t == "interventions" => {
            Err(opt_err!("--outputs", "--outputs `{whole}`: `interventions` is text, not a number"))
        }
        Some(i) => Ok(Quantity1::Metric(i)),
        None => Err(opt_err!("--outputs", "--outputs `{whole}`: unknown output `{t}` (a metric: {}; or STATE@DAY, OBSERVABLE@DAY, P(METRIC>=X))",
            metrics.join(", ")
        )),
    }
}

impl OutputSpec {
    /// Parse one output; `metrics` are the names of [`Run::metrics`], `days` the simulated span.
    pub fn parse(model: &Model, metrics: &[&str], text: &str, days: f64) -> Result<OutputSpec> {
        let label = text.trim().to_string();
        if label.is_empty() {
            return Err(opt_err!("--outputs", "--outputs: empty output name"));
        }
        if let Some(inner) = label.strip_prefix("P(") {
            let Some(inner) = inner.strip_suffix(')') else {
                return Err(opt_err!(
                    "--outputs",
                    "--outputs `{label}`: expected P(NAME OP NUMBER), e.g. P(crs_grade>=2)"
                ));
            };
            let ops = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ];
            let Some((at, sym, op)) = ops
                .iter()
                .find_map(|(s, o)| inner.find(s).map(|i| (i, *s, *o)))
            else {
                return Err(opt_err!("--outputs", "--outputs `{label}`: expected P(NAME OP NUMBER) with OP one of >=, >, <=, <, =="));
            };
            let (lhs, rhs) = (&inner[..at], &inner[at + sym.len()..]);
            let q = quantity(model, metrics, lhs, days, &label)?;
            let thr: f64 = match rhs.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(opt_err!(
                        "--outputs",
                        "--outputs `{label}`: `{}` is not a number",
                        rhs.trim()
                    ))
                }
            };
            return Ok(OutputSpec {
                label,
                quantity: q,
                probability: Some((op, thr)),
            });
        }
        Ok(OutputSpec {
            quantity: quantity(model, metrics, &label, days, &label)?,
            label,
            probability: None,
        })
    }

    /// The raw value of one run (before any probability), `None` when the run has none.
    pub fn read(
        &self,
        model: &Model,
        run: &Run,
        metrics: &[(&'static str, Metric)],
    ) -> Option<f64> {
        let x = match &self.quantity {
            Quantity1::Metric(i) => match &metrics.get(*i)?.1 {
                Metric::Number(x) => *x,
                Metric::Flag(b) => Some(if *b { 1.0 } else { 0.0 }),
                Metric::Text(_) => None,
            },
            Quantity1::At(q, day) => {
                let mut r = Reader::new(model, &run.solution, &run.scenario.params, *q);
                Some(r.at(*day))
            }
        };
        x.filter(|v| v.is_finite())
    }

    /// The output of one design point from its patients' raw values: the fraction meeting the
    /// condition for `P(...)`, else the mean (missing when any patient's value is missing).
    pub fn aggregate(&self, raw: &[Option<f64>]) -> Option<f64> {
        if raw.is_empty() {
            return None;
        }
        let n = raw.len() as f64;
        match self.probability {
            Some((op, t)) => Some(
                raw.iter()
                    .filter(|x| x.is_some_and(|x| op.holds(x, t)))
                    .count() as f64
                    / n,
            ),
            None => {
                let mut s = 0.0;
                for x in raw {
                    s += (*x)?;
                }
                Some(s / n)
            }
        }
    }
}

/// Parse a comma-separated `--outputs` list (commas inside `P(...)` are not separators).
pub fn split_list(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth <= 0 {
            out.push(std::mem::take(&mut cur).trim().to_string());
        } else {
            cur.push(c);
        }
    }
    out.push(cur.trim().to_string());
    out.retain(|s| !s.is_empty());
    out
}
