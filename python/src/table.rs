//! `cartox.sweep(df)` and `cartox.population(n, seed)`: the rows of `cartox sweep` and
//! `cartox population`, computed by the same library functions, as typed columns.
//!
//! The sweep runs `cartox::sweep::run_rows` (the CLI's engine: same chunking, same per-row
//! errors, same metric cells) and reads each row's cells back into typed columns: numbers as
//! f64 (the cells are round-trip text, so the values are the CSV's exactly; an empty cell is
//! NaN), flags as true/false/missing, text as text.

use cartox::model::Model;
use cartox::regimen::Inputs;
use cartox::run::RunOptions;
use cartox::sweep::{self, population, Columns, Outcome, Row, Spec};

/// Metric columns that hold a yes/no flag (`Metric::Flag`; an empty cell when the model lacks
/// the quantity).
const FLAGS: [&str; 2] = ["b_cell_aplasia", "alarm"];
/// Metric columns that hold text (`Metric::Text`).
const TEXTS: [&str; 3] = ["response", "best_response", "interventions"];

/// One typed output column.
pub enum Column {
    /// Numbers; NaN for an empty cell.
    Number(Vec<f64>),
    /// 1 true, 0 false, -1 missing.
    Flag(Vec<i8>),
    Text(Vec<String>),
}

impl Column {
    fn for_metric(name: &str, rows: usize) -> Column {
        if FLAGS.contains(&name) {
            Column::Flag(Vec::with_capacity(rows))
        } else if TEXTS.contains(&name) {
            Column::Text(Vec::with_capacity(rows))
        } else {
            Column::Number(Vec::with_capacity(rows))
        }
    }

    fn push(&mut self, cell: &str) {
        match self {
            // The cells are `fmt_num` text (round-trip exact, `NaN` for NaN); anything else
            // would be a text metric this table does not know, and reads as NaN.
            Column::Number(v) => v.push(if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse().unwrap_or(f64::NAN)
            }),
            Column::Flag(v) => v.push(match cell {
                "true" => 1,
                "false" => 0,
                _ => -1,
            }),
            Column::Text(v) => v.push(cell.to_string()),
        }
    }
}

/// The typed result of a sweep.
pub struct Table {
    /// Position of the `ID` column in the header, if any.
    pub id: Option<usize>,
    /// Input columns carried through (`allow_extra`): (position in the header, name), in order.
    pub extras: Vec<(usize, String)>,
    /// (metric name, values), in `cartox::run::METRIC_NAMES` order.
    pub metrics: Vec<(String, Column)>,
    /// Per row: it ran.
    pub ok: Vec<bool>,
    /// Per row: why it failed (naming the row and column), empty when it ran.
    pub message: Vec<String>,
}

/// Check the header of an input table against the model (the CLI's message, without its
/// `--params FILE` prefix).
pub fn columns(model: &Model, header: &[String], allow_extra: bool) -> cartox::Result<Columns> {
    Columns::resolve(model, header, allow_extra)
}

/// Rows between two calls of the `stop` hook of [`run`].
const CHECK_EVERY: usize = 1024;

/// Run every row: `cells` column by column (the text of each cell), `index` the 0-based row
/// number of each row (names rows in messages). `stop` is asked every [`CHECK_EVERY`] rows as
/// they are read (a chunk at a time); when it says so, no more rows are read and the table holds
/// the rows finished so far.
#[allow(clippy::too_many_arguments)]
pub fn run(
    model: &Model,
    base: Inputs,
    opts: RunOptions,
    cols: &Columns,
    cells: &[Vec<String>],
    index: &[u64],
    jobs: usize,
    stop: &mut dyn FnMut() -> bool,
) -> cartox::Result<Table> {
    let names = sweep::metric_names(model);
    let spec = Spec {
        model,
        base,
        opts,
        jobs,
        chunk: sweep::CHUNK_ROWS,
        shard: None,
        input_hash: None,
        keep_runs: false,
    };
    let n = index.len();
    let mut table = Table {
        id: cols.id,
        extras: cols.extras.clone(),
        metrics: names
            .iter()
            .map(|name| (name.to_string(), Column::for_metric(name, n)))
            .collect(),
        ok: Vec::with_capacity(n),
        message: Vec::with_capacity(n),
    };
    let rows = index.iter().enumerate().map_while(|(k, &i)| {
        if k > 0 && k % CHECK_EVERY == 0 && stop() {
            return None;
        }
        Some(Ok(Row {
            index: i as usize,
            cells: cells.iter().map(|c| c[k].clone()).collect(),
        }))
    });
    let mut observe = |o: &Outcome, _: Option<sweep::Kept>| {
        for ((_, col), cell) in table.metrics.iter_mut().zip(&o.metrics) {
            col.push(cell);
        }
        table.ok.push(o.ok);
        table.message.push(o.message.clone());
    };
    sweep::run_rows(
        &spec,
        cols,
        &names,
        rows,
        &mut std::io::sink(),
        None,
        &mut observe,
        &|_| {},
    )?;
    Ok(table)
}

/// `n` virtual patients of `cartox population`: column names (after `ID`) and values, column by
/// column.
pub fn population(
    model: &Model,
    n: usize,
    seed: u64,
    weight_cv: f64,
) -> cartox::Result<(Vec<String>, Vec<Vec<f64>>)> {
    let design = population::Design::from_model(model, weight_cv)?;
    let names = design.names(model);
    let mut cols: Vec<Vec<f64>> = names.iter().map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        for (col, v) in cols.iter_mut().zip(design.patient(model, seed, i as u64)) {
            col.push(v);
        }
    }
    Ok((names, cols))
}
