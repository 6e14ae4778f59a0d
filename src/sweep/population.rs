//! Virtual populations written as a `sweep` input: the patients of [`Design`] (drawn as
//! [`crate::variability`] describes), one row each.

use crate::error::Error;
use crate::model::Model;
use crate::output::fmt_num;
use crate::output::parquet::Column;
use crate::output::table::{Format, Kind, Plain, Table};
use crate::par::{OrderedMap, Pool};
use crate::Result;
use std::io::Write;

pub use crate::variability::{Design, WEIGHT_CV};

/// Rows per Parquet row group of a population.
pub const ROW_GROUP_ROWS: usize = 65536;

/// Write `n` patients (`ID` 1..n, then [`Design::names`]) as CSV with `jobs` threads (0: one per
/// core).
pub fn write_population(
    model: &Model,
    design: &Design,
    n: usize,
    seed: u64,
    jobs: usize,
    out: &mut dyn Write,
) -> Result<()> {
    write_population_as(model, design, n, seed, jobs, Format::Csv, out)
}

/// [`write_population`] as CSV or Parquet (`ID` an integer column, the values floats; row groups
/// of [`ROW_GROUP_ROWS`] patients).
pub fn write_population_as(
    model: &Model,
    design: &Design,
    n: usize,
    seed: u64,
    jobs: usize,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let pool = Pool::new(jobs).map_err(|message| Error::Options {
        option: "--jobs".to_string(),
        message,
    })?;
    let names = design.names(model);
    let mut columns = vec![Column::new("ID", Kind::Int)];
    columns.extend(names.iter().map(|n| Column::new(n, Kind::Float)));
    let mut table = Table::new(format, Box::new(Plain(out)), columns, None)?;
    let csv = format == Format::Csv;
    // CSV lines are formatted on the workers; Parquet takes the numbers.
    let rows = OrderedMap::new(
        (0..n).map(Ok::<usize, std::convert::Infallible>),
        pool,
        8192,
        |i: usize| {
            let values = design.patient(model, seed, i as u64);
            if csv {
                let mut line = (i + 1).to_string();
                for v in values {
                    line.push(',');
                    line.push_str(&fmt_num(v));
                }
                line.push('\n');
                (line, vec![])
            } else {
                (String::new(), values)
            }
        },
    );
    for (i, (line, values)) in rows.flatten().enumerate() {
        if csv {
            table.csv_text(&line)?;
        } else {
            table.numbers(Some(&(i + 1).to_string()), &values)?;
            if (i + 1) % ROW_GROUP_ROWS == 0 {
                table.end_chunk()?;
            }
        }
    }
    table.finish(None, &[])
}
