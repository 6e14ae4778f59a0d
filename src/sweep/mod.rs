//! Sweeps: many runs of one model from a table of inputs, streamed in bounded memory.
//!
//! Input follows mrgsolve's idata convention: an optional `ID` column, then one column per input
//! name accepted by [`Inputs::accepts`] (parameters, `<state>_0`, `dose`, `dose_per_kg`, `weight`,
//! `tumor_burden`, `ld`, `bridging`, `schedule`). Rows are read in chunks, each chunk is solved in
//! parallel ([`crate::many::simulate_many_with`], order preserved) and written in input order before the next chunk is read, so
//! memory does not grow with the number of rows and the bytes do not depend on the thread count.
//!
//! Output: `ID` (the input's, or the 1-based row number), carried-through extra columns, the
//! metrics of [`Run::metrics`](crate::run::Run::metrics) in their order (numbers in round-trip
//! text, `None` as an empty cell), then `status` (`ok` | `error`) and `message`. A bad cell or a
//! failed solve only fails its own row; the message names the row (1-based data row, header not
//! counted) and the column.
//!
//! Submodules: [`stream`] (the output tables, CSV or Parquet, a chunk at a time, with a
//! checkpoint after each), [`resume`] (durable chunks, the resume record and `--resume`),
//! [`shard`] (deterministic slices of an input and their merge; [`merge_parquet`] for Parquet
//! shards), [`population`] (virtual patients from the model's inter-individual variability),
//! [`scenarios`] (full grids).

pub mod merge_parquet;
pub mod population;
pub mod resume;
pub mod scenarios;
pub mod shard;
pub mod stream;

use crate::error::{Error, InputError};
use crate::many::Runner;
use crate::model::Model;
use crate::output::fmt_num;
use crate::output::table::{Format, Plain, Table};
pub use crate::output::{csv_line, push_field};
use crate::regimen::Inputs;
use crate::run::{Metric, Run, RunOptions, METRIC_NAMES};
use crate::Result;
use std::io::{Read, Write};

pub use shard::Shard;

/// Rows solved per parallel chunk (memory is bounded by a chunk's results).
pub const CHUNK_ROWS: usize = 4096;
/// Rows per chunk when time courses are written too (each row then carries its whole trajectory).
pub const CHUNK_ROWS_TIMECOURSES: usize = 256;

/// A header column that cannot be used: [`Error::Input`] named by the column (the caller adds
/// the file).
fn column_err(column: &str, message: String) -> Error {
    Error::Input(InputError {
        name: column.to_string(),
        message,
    })
}

/// How the columns of an input table are used.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Number of columns in the header.
    pub width: usize,
    /// Column index of `ID`, when present.
    pub id: Option<usize>,
    /// (column index, input name) of every input column, in header order.
    pub inputs: Vec<(usize, String)>,
    /// (column index, name) of columns carried through untouched (`--allow-extra`).
    pub extras: Vec<(usize, String)>,
}

impl Columns {
    /// Check a header against the model. Unknown names are an error (all listed) unless
    /// `allow_extra`, which carries them through.
    pub fn resolve(model: &Model, header: &[String], allow_extra: bool) -> Result<Columns> {
        let mut cols = Columns {
            width: header.len(),
            id: None,
            inputs: vec![],
            extras: vec![],
        };
        let mut unknown = vec![];
        for (i, raw) in header.iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}').to_string();
            if name.is_empty() {
                return Err(column_err(
                    raw,
                    format!("column {} has an empty name in the header", i + 1),
                ));
            }
            if header[..i]
                .iter()
                .any(|h| h.trim().trim_start_matches('\u{feff}') == name)
            {
                return Err(column_err(
                    &name,
                    format!("column `{name}` appears more than once in the header"),
                ));
            }
            if name == "ID" {
                cols.id = Some(i);
            } else if Inputs::accepts(model, &name) {
                cols.inputs.push((i, name));
            } else if allow_extra {
                cols.extras.push((i, name));
            } else {
                unknown.push(name);
            }
        }
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
            return Err(column_err(
                &unknown[0],
                format!(
                    "unknown column{} {}: not `ID`, a parameter, `<state>_0` or a regimen input of model `{}` (see `cartox describe {}`; --allow-extra carries unknown columns through)",
                    if unknown.len() > 1 { "s" } else { "" },
                    list.join(", "),
                    model.name,
                    model.name
                ),
            ));
        }
        Ok(cols)
    }
}

/// What every row shares.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The model every row runs.
    pub model: &'a Model,
    /// Inputs from the command line, applied before each row's own cells.
    pub base: Inputs,
    /// Span, grid, windows and solver of every run.
    pub opts: RunOptions,
    /// Worker threads (0: rayon's default, one per core).
    pub jobs: usize,
    /// Rows per parallel chunk.
    pub chunk: usize,
    /// Only rows of this slice are run; the output then starts with a `#cartox-shard` line and a
    /// `row` column (see [`shard`]).
    pub shard: Option<Shard>,
    /// Hash of the input bytes, recorded in shard outputs.
    pub input_hash: Option<u64>,
    /// Hand every row's [`Run`] (or its error) to the observer of [`run_rows`] (for a few rows
    /// only: a run keeps its whole solution).
    pub keep_runs: bool,
}

/// One input row: its 0-based index in the input and its cells.
#[derive(Debug, Clone)]
pub struct Row {
    /// 0-based position in the input (header not counted).
    pub index: usize,
    /// The row's fields, as text.
    pub cells: Vec<String>,
}

/// A formatted metric cell.
fn metric_cell(m: &Metric) -> String {
    match m {
        Metric::Number(Some(x)) => fmt_num(*x),
        Metric::Number(None) => String::new(),
        Metric::Flag(b) => b.to_string(),
        Metric::Text(t) => t.clone(),
    }
}

/// The result of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// 0-based position of the row in the input.
    pub index: usize,
    /// The row's `ID` cell, or its 1-based number.
    pub id: String,
    /// The carried-through cells, in column order.
    pub extras: Vec<String>,
    /// Metric cells in column order (all empty when the row failed).
    pub metrics: Vec<String>,
    /// The row ran.
    pub ok: bool,
    /// Why the row failed (naming the row and column), empty when it ran.
    pub message: String,
}

/// FNV-1a (64-bit) of a byte stream: the input fingerprint recorded in shard outputs.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    /// Hash everything a reader yields.
    pub fn of_reader(mut r: impl Read) -> std::io::Result<u64> {
        let mut h = Fnv1a::default();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(h.0);
            }
            h.update(&buf[..n]);
        }
    }
}

/// Totals of a finished sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows run (in a shard: the shard's rows), including those of earlier runs of a resumed
    /// sweep.
    pub rows: usize,
    /// Rows that failed (status `error`).
    pub failed: usize,
    /// Rows in the whole input (as far as it was read, when stopped).
    pub input_rows: usize,
    /// The sweep was asked to stop and did so after a whole chunk; the output holds the chunks
    /// so far, without its ending (see [`stream::run_tables`]).
    pub stopped: bool,
}

/// Names of the metric columns for `model`: those of [`Run::metrics`], which every model has
/// (a quantity the model lacks is an empty cell), so no simulation is needed.
pub fn metric_names(_model: &Model) -> Vec<&'static str> {
    METRIC_NAMES.to_vec()
}

/// A row's run, or the error that stopped it (without the row prefix), when
/// [`Spec::keep_runs`].
pub type Kept = std::result::Result<Run, String>;

/// A row's time course: CSV lines (ID, time, states, observables), or the numbers of every
/// grid point (time, states, observables), one point after another.
enum Tc {
    Csv(String),
    Values(Vec<f64>),
}

/// Everything a worker produces for one row.
struct Done {
    outcome: Outcome,
    timecourse: Option<Tc>,
    kept: Option<Kept>,
}

struct Worker<'s, 'a> {
    spec: &'s Spec<'a>,
    cols: &'s Columns,
    names: &'s [&'static str],
    /// The form of the time courses (an empty one), when they are written.
    timecourses: Option<Tc>,
}

impl Worker<'_, '_> {
    fn solve(&self, row: &Row, runner: &Runner) -> Done {
        let n = row.index + 1;
        let cell = |i: usize| row.cells.get(i).map(String::as_str).unwrap_or("");
        let id = match self.cols.id {
            Some(i) => cell(i).to_string(),
            None => n.to_string(),
        };
        let extras: Vec<String> = self
            .cols
            .extras
            .iter()
            .map(|(i, _)| cell(*i).to_string())
            .collect();
        let mut outcome = Outcome {
            index: row.index,
            id,
            extras,
            metrics: vec![String::new(); self.names.len()],
            ok: false,
            message: String::new(),
        };
        let mut timecourse = match &self.timecourses {
            None => None,
            Some(Tc::Csv(_)) => Some(Tc::Csv(String::new())),
            Some(Tc::Values(_)) => Some(Tc::Values(vec![])),
        };
        let mut kept: Option<Kept> = None;
        let result = (|| -> std::result::Result<(), String> {
            if row.cells.len() != self.cols.width {
                return Err(format!(
                    "row {n}: has {} fields, the header has {}",
                    row.cells.len(),
                    self.cols.width
                ));
            }
            let mut inputs = self.spec.base.clone();
            for (i, name) in &self.cols.inputs {
                inputs.set(self.spec.model, name, cell(*i)).map_err(|e| {
                    kept = Some(Err(e.to_string()));
                    format!("row {n}, column {name}: {e}")
                })?;
            }
            let solved =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.run(&inputs)))
                    .map_err(|p| {
                        let what = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        format!("row {n}: the solver panicked: {what}")
                    })?;
            let r = solved.map_err(|e| {
                kept = Some(Err(e.to_string()));
                format!("row {n}: {e}")
            })?;
            let metrics = r.metrics();
            if metrics.len() == self.names.len()
                && metrics.iter().zip(self.names).all(|((a, _), b)| a == b)
            {
                for (slot, (_, m)) in outcome.metrics.iter_mut().zip(&metrics) {
                    *slot = metric_cell(m);
                }
            } else {
                for (slot, name) in outcome.metrics.iter_mut().zip(self.names) {
                    if let Some((_, m)) = metrics.iter().find(|(k, _)| k == name) {
                        *slot = metric_cell(m);
                    }
                }
            }
            match &mut timecourse {
                Some(Tc::Csv(text)) => {
                    let tr = r.trajectory(self.spec.model, &self.spec.opts);
                    let mut id = String::new();
                    push_field(&mut id, &outcome.id);
                    for (k, t) in tr.time.iter().enumerate() {
                        text.push_str(&id);
                        text.push(',');
                        text.push_str(&fmt_num(*t));
                        for x in tr.states.row(k).iter().chain(tr.observables.row(k).iter()) {
                            text.push(',');
                            text.push_str(&fmt_num(*x));
                        }
                        text.push('\n');
                    }
                }
                Some(Tc::Values(v)) => {
                    let tr = r.trajectory(self.spec.model, &self.spec.opts);
                    for (k, t) in tr.time.iter().enumerate() {
                        v.push(*t);
                        v.extend(tr.states.row(k).iter().chain(tr.observables.row(k).iter()));
                    }
                }
                None => {}
            }
            if self.spec.keep_runs {
                kept = Some(Ok(r));
            }
            Ok(())
        })();
        if !self.spec.keep_runs {
            kept = None;
        } else if kept.is_none() {
            // Failed before reaching the model (field count, panic): the row's message is the error.
            if let Err(m) = &result {
                kept = Some(Err(m.clone()));
            }
        }
        match result {
            Ok(()) => outcome.ok = true,
            Err(m) => {
                outcome.metrics.iter_mut().for_each(String::clear);
                outcome.message = m;
            }
        }
        Done {
            outcome,
            timecourse,
            kept,
        }
    }
}

/// The output cells of one row (`index`, the `row` cell, first in a shard).
fn outcome_cells<'o>(o: &'o Outcome, index: Option<&'o str>) -> Vec<&'o str> {
    let mut fields: Vec<&str> = Vec::with_capacity(o.metrics.len() + o.extras.len() + 4);
    fields.extend(index);
    fields.push(&o.id);
    fields.extend(o.extras.iter().map(String::as_str));
    fields.extend(o.metrics.iter().map(String::as_str));
    fields.push(if o.ok { "ok" } else { "error" });
    fields.push(&o.message);
    fields
}

/// Header line of the results.
pub fn results_header(cols: &Columns, names: &[&str], sharded: bool) -> String {
    let mut fields: Vec<&str> = vec![];
    if sharded {
        fields.push("row");
    }
    fields.push("ID");
    fields.extend(cols.extras.iter().map(|(_, n)| n.as_str()));
    fields.extend(names.iter().copied());
    fields.push("status");
    fields.push("message");
    csv_line(fields)
}

/// Run every row (of the shard, if any) and write results in input order, as CSV.
///
/// `rows` yields the input's rows in order (reading errors stop the sweep); `out` receives the
/// results, `timecourses` the long-format time courses; `observe` sees every outcome in order
/// (with the row's run when [`Spec::keep_runs`]) and `progress` the number of rows finished
/// after each chunk. Rows are solved through [`crate::many::simulate_many_with`]. For Parquet,
/// resumable output and stopping between chunks, see [`stream::run_tables`].
#[allow(clippy::too_many_arguments)]
pub fn run_rows(
    spec: &Spec,
    cols: &Columns,
    names: &[&'static str],
    rows: impl Iterator<Item = Result<Row>>,
    out: &mut dyn Write,
    timecourses: Option<&mut dyn Write>,
    observe: &mut dyn FnMut(&Outcome, Option<Kept>),
    progress: &dyn Fn(u64),
) -> Result<Report> {
    let mut results = stream::results_table(Format::Csv, Box::new(Plain(out)), spec, cols, names)?;
    let mut tc = match timecourses {
        Some(w) => Some(Table::new(
            Format::Csv,
            Box::new(Plain(w)),
            stream::timecourse_columns(spec.model),
            None,
        )?),
        None => None,
    };
    stream::run_tables(
        spec,
        cols,
        names,
        rows,
        &mut results,
        tc.as_mut(),
        Report::default(),
        observe,
        progress,
        &mut |_, _, _| Ok(false),
    )
}

/// Rows of a CSV input (header already consumed), numbered from 0.
pub fn csv_rows<R: Read>(reader: csv::Reader<R>) -> impl Iterator<Item = Result<Row>> {
    reader.into_records().enumerate().map(|(index, rec)| {
        let rec =
            rec.map_err(|e| Error::csv(&format!("cannot read input row {}", index + 1), "", &e))?;
        Ok(Row {
            index,
            cells: rec.iter().map(String::from).collect(),
        })
    })
}

/// A CSV reader configured for sweep inputs (rows may have a wrong field count: reported per row).
pub fn csv_reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(r)
}

/// The header of a sweep input.
pub fn read_header<R: Read>(reader: &mut csv::Reader<R>) -> Result<Vec<String>> {
    let h = reader
        .headers()
        .map_err(|e| Error::csv("cannot read the header", "", &e))?;
    if h.is_empty() {
        // The caller names the file.
        return Err(Error::Data {
            file: String::new(),
            row: None,
            column: None,
            message: "the input is empty (no header)".to_string(),
        });
    }
    Ok(h.iter().map(String::from).collect())
}
