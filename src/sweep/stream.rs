//! The sweep's output tables (CSV or Parquet), written a chunk at a time in input order, with a
//! checkpoint after every chunk (where a resumable sweep makes the chunk durable, see
//! [`super::resume`]) and an optional stop between chunks.

use super::{outcome_cells, shard, Columns, Done, Kept, Outcome, Report, Row, Spec, Tc, Worker};
use crate::many::{simulate_many_with, Batch};
use crate::model::Model;
use crate::output::parquet::Column;
use crate::output::table::{ChunkMark, Durable, Format, Kind, Table};
use crate::Result;
use std::cell::Cell;

/// The column type of a metric of [`crate::run::Run::metrics`], fixed by its name: flags are
/// booleans, grades integers, `response`, `best_response` and `interventions` text, the rest
/// floats.
pub fn metric_kind(name: &str) -> Kind {
    match name {
        "b_cell_aplasia" | "alarm" => Kind::Bool,
        "crs_grade" | "icans_grade" => Kind::Int,
        "response" | "best_response" | "interventions" => Kind::Text,
        _ => Kind::Float,
    }
}

/// The results' columns: `row` (shards), `ID`, carried-through columns, metrics, `status`,
/// `message`. `ID` and carried-through columns are text (they are copied from the input).
pub fn result_columns(cols: &Columns, names: &[&str], sharded: bool) -> Vec<Column> {
    let mut c = vec![];
    if sharded {
        c.push(Column::new("row", Kind::Int));
    }
    c.push(Column::new("ID", Kind::Text));
    c.extend(cols.extras.iter().map(|(_, n)| Column::new(n, Kind::Text)));
    c.extend(names.iter().map(|n| Column::new(*n, metric_kind(n))));
    c.push(Column::new("status", Kind::Text));
    c.push(Column::new("message", Kind::Text));
    c
}

/// The long time-course table's columns: `ID` (text), `time` (days), states, observables.
pub fn timecourse_columns(model: &Model) -> Vec<Column> {
    let mut c = vec![
        Column::new("ID", Kind::Text),
        Column::new("time", Kind::Float),
    ];
    c.extend(
        model
            .states
            .iter()
            .map(|s| Column::new(&s.name, Kind::Float)),
    );
    c.extend(
        model
            .observables
            .iter()
            .map(|s| Column::new(&s.name, Kind::Float)),
    );
    c
}

/// Start the results table (a shard's CSV opens with its `#cartox-shard` line).
pub fn results_table<'w>(
    format: Format,
    out: Box<dyn Durable + 'w>,
    spec: &Spec,
    cols: &Columns,
    names: &[&str],
) -> Result<Table<'w>> {
    let preamble = spec
        .shard
        .map(|s| s.comment_line(spec.input_hash.unwrap_or(0)));
    Table::new(
        format,
        out,
        result_columns(cols, names, spec.shard.is_some()),
        preamble.as_deref(),
    )
}

/// Key-value metadata of a shard's Parquet footer (the CSV's first and last lines).
fn shard_metadata(spec: &Spec, input_rows: usize) -> Vec<(&'static str, String)> {
    match spec.shard {
        Some(s) => vec![
            ("cartox-shard", format!("{}/{}", s.k, s.n)),
            (
                "cartox-input",
                format!("fnv1a64:{:016x}", spec.input_hash.unwrap_or(0)),
            ),
            ("cartox-input-rows", input_rows.to_string()),
            ("cartox-chunk", spec.chunk.max(1).to_string()),
        ],
        None => vec![],
    }
}

/// After each chunk: the totals so far and where each table ends; returns true to stop there.
pub type Checkpoint<'c> = dyn FnMut(&Report, &ChunkMark, Option<&ChunkMark>) -> Result<bool> + 'c;

/// [`super::run_rows`] into tables: run every row (of the shard, if any) after the first
/// `prior.rows` (already in the tables: a resumed sweep) and write the results in input order.
///
/// After every `spec.chunk` rows both tables close a chunk and `checkpoint` sees the totals (which
/// include `prior`); when it returns true the sweep stops there ([`Report::stopped`]) and the
/// tables are left without their ending (trailer or footer). Otherwise the tables are finished.
#[allow(clippy::too_many_arguments)]
pub fn run_tables<'w>(
    spec: &Spec,
    cols: &Columns,
    names: &[&'static str],
    rows: impl Iterator<Item = Result<Row>>,
    results: &mut Table<'w>,
    mut timecourses: Option<&mut Table<'w>>,
    prior: Report,
    observe: &mut dyn FnMut(&Outcome, Option<Kept>),
    progress: &dyn Fn(u64),
    checkpoint: &mut Checkpoint,
) -> Result<Report> {
    let sharded = spec.shard.is_some();
    let worker = Worker {
        spec,
        cols,
        names,
        timecourses: match &timecourses {
            None => None,
            Some(t) if t.is_parquet() => Some(Tc::Values(vec![])),
            Some(_) => Some(Tc::Csv(String::new())),
        },
    };
    let chunk = spec.chunk.max(1);
    let batch = Batch {
        jobs: spec.jobs,
        chunk,
    };
    let input_rows = Cell::new(0usize);
    let shard = spec.shard;
    let skip = prior.rows;
    let mut selected = 0usize;
    let kept_rows = rows
        .filter(|r| match r {
            Ok(r) => {
                input_rows.set(input_rows.get().max(r.index + 1));
                shard.is_none_or(|s| s.contains(r.index))
            }
            Err(_) => true,
        })
        .filter(move |r| {
            if r.is_err() {
                return true;
            }
            selected += 1;
            selected > skip
        });
    let done = simulate_many_with(spec.model, kept_rows, &spec.opts, batch, |row, runner| {
        worker.solve(&row, runner)
    })?;
    let mut report = Report {
        stopped: false,
        ..prior
    };
    for d in done {
        let Done {
            outcome,
            timecourse,
            kept,
        } = d?;
        report.rows += 1;
        if !outcome.ok {
            report.failed += 1;
        }
        let index = outcome.index.to_string();
        results.row(&outcome_cells(&outcome, sharded.then_some(index.as_str())))?;
        if let Some(tc) = timecourses.as_deref_mut() {
            match timecourse {
                Some(Tc::Csv(text)) => tc.csv_text(&text)?,
                Some(Tc::Values(v)) => {
                    let width = tc.width() - 1;
                    for r in v.chunks(width.max(1)) {
                        tc.numbers(Some(&outcome.id), r)?;
                    }
                }
                None => {}
            }
        }
        observe(&outcome, kept);
        if report.rows.is_multiple_of(chunk) {
            progress(report.rows as u64);
            let m = results.end_chunk()?;
            results.sync()?;
            let t = match timecourses.as_deref_mut() {
                Some(tc) => {
                    let t = tc.end_chunk()?;
                    tc.sync()?;
                    Some(t)
                }
                None => None,
            };
            report.input_rows = input_rows.get();
            if checkpoint(&report, &m, t.as_ref())? {
                report.stopped = true;
                // A stopped Parquet table gets a footer, so the rows so far can be read; a
                // resumed sweep cuts it off again (it lies after the last chunk).
                for t in std::iter::once(results).chain(timecourses) {
                    if t.is_parquet() {
                        t.finish(None, &[("cartox-partial", "true".to_string())])?;
                    }
                }
                return Ok(report);
            }
        }
    }
    if !report.rows.is_multiple_of(chunk) {
        progress(report.rows as u64);
    }
    report.input_rows = input_rows.get();
    let trailer = match (sharded, results.is_parquet()) {
        (true, false) => Some(shard::trailer_line(report.input_rows)),
        _ => None,
    };
    results.finish(trailer.as_deref(), &shard_metadata(spec, report.input_rows))?;
    if let Some(tc) = timecourses {
        tc.finish(None, &[])?;
    }
    Ok(report)
}
