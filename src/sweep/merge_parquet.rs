//! `merge` of Parquet shards: the same checks as the CSV merge ([`super::shard::merge`]), the
//! shard facts read from each file's footer (`cartox-shard`, `cartox-input`, `cartox-input-rows`,
//! `cartox-chunk`), and the rows re-written in input order in row groups of the sweep's chunk, so
//! the merged file is byte for byte the unsharded sweep's.

use super::Shard;
use crate::error::Error;
use crate::output::fmt_num;
use crate::output::parquet::{Column, Kind};
use crate::output::table::{Format, Plain, Table};
use crate::Result;
use parquet::basic::{LogicalType, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use std::io::Write;
use std::path::Path;

fn merge_err(message: String) -> Error {
    Error::Options {
        option: "shards".into(),
        message,
    }
}

struct Open {
    path: String,
    shard: Shard,
    input: String,
    input_rows: usize,
    chunk: usize,
    columns: Vec<Column>,
    rows: Box<dyn Iterator<Item = parquet::errors::Result<Row>>>,
}

fn open(path: &Path) -> Result<Open> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open shard", &label, &e))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| merge_err(format!("{label} is not a readable Parquet file: {e}")))?;
    let md = reader.metadata().file_metadata();
    let kv = |k: &str| -> Option<String> {
        md.key_value_metadata()?
            .iter()
            .find(|x| x.key == k)
            .and_then(|x| x.value.clone())
    };
    if kv("cartox-partial").is_some() {
        return Err(merge_err(format!(
            "shard {label} is incomplete: its sweep was stopped (continue it with --resume)"
        )));
    }
    let not_shard = || {
        merge_err(format!(
            "{label} is not a shard output (no `cartox-shard` in its footer)"
        ))
    };
    let shard =
        Shard::parse(&kv("cartox-shard").ok_or_else(not_shard)?).map_err(|_| not_shard())?;
    let input = kv("cartox-input").ok_or_else(not_shard)?;
    let input_rows = kv("cartox-input-rows")
        .and_then(|v| v.parse().ok())
        .ok_or_else(not_shard)?;
    let chunk = kv("cartox-chunk")
        .and_then(|v| v.parse().ok())
        .ok_or_else(not_shard)?;
    let columns = md
        .schema_descr()
        .columns()
        .iter()
        .map(|c| {
            let kind = match c.physical_type() {
                Physical::DOUBLE => Kind::Float,
                Physical::INT64 => Kind::Int,
                Physical::BOOLEAN => Kind::Bool,
                _ if matches!(c.logical_type_ref(), Some(LogicalType::String)) => Kind::Text,
                _ => Kind::Text,
            };
            Column::new(c.name(), kind)
        })
        .collect::<Vec<_>>();
    if columns.first().map(|c| c.name.as_str()) != Some("row") {
        return Err(merge_err(format!(
            "shard {label}: the columns do not start with `row`"
        )));
    }
    let rows = Box::new(reader.into_iter());
    Ok(Open {
        path: label,
        shard,
        input,
        input_rows,
        chunk,
        columns,
        rows,
    })
}

/// A cell's text (the CSV form the sweep wrote it from).
fn text(f: &Field) -> String {
    match f {
        Field::Null => String::new(),
        Field::Double(x) => fmt_num(*x),
        Field::Long(x) => x.to_string(),
        Field::Bool(b) => b.to_string(),
        Field::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Join the Parquet shard outputs of one input into the unsharded Parquet output.
pub fn merge(shards: &[impl AsRef<Path>], out: &mut dyn Write) -> Result<usize> {
    if shards.is_empty() {
        return Err(merge_err("no shard files given".into()));
    }
    let opened: Vec<Open> = shards
        .iter()
        .map(|p| open(p.as_ref()))
        .collect::<Result<_>>()?;
    let first = &opened[0];
    let n = first.shard.n;
    for o in &opened {
        if o.input != first.input {
            return Err(merge_err(format!(
                "{} is a shard of a different input ({}) than {} ({})",
                o.path, o.input, first.path, first.input
            )));
        }
        if o.shard.n != n {
            return Err(merge_err(format!(
                "{} is shard {}/{} but {} is shard {}/{n}: different shard counts",
                o.path, o.shard.k, o.shard.n, first.path, first.shard.k
            )));
        }
        if o.columns != first.columns || o.chunk != first.chunk {
            return Err(merge_err(format!(
                "{} has different columns than {}",
                o.path, first.path
            )));
        }
    }
    let (columns, chunk, input_rows) = (first.columns.clone(), first.chunk, first.input_rows);
    let mut slots: Vec<Option<Open>> = (0..n).map(|_| None).collect();
    for o in opened {
        let k = o.shard.k;
        if let Some(prev) = &slots[k - 1] {
            return Err(merge_err(format!(
                "shard {k}/{n} is given twice: {} and {}",
                prev.path, o.path
            )));
        }
        slots[k - 1] = Some(o);
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| slots[k - 1].is_none())
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(merge_err(format!(
            "shard{} {} missing (have {} of {n})",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ") + if missing.len() > 1 { " are" } else { " is" },
            n - missing.len()
        )));
    }
    let mut slots: Vec<Open> = slots.into_iter().map(Option::unwrap).collect();
    if let Some(o) = slots.iter().find(|o| o.input_rows != input_rows) {
        return Err(merge_err(format!(
            "shard {} says the input has {} rows, but the other shards say {input_rows}",
            o.path, o.input_rows
        )));
    }
    let mut table = Table::new(
        Format::Parquet,
        Box::new(Plain(out)),
        columns[1..].to_vec(),
        None,
    )?;
    for row in 0..input_rows {
        let s = &mut slots[row % n];
        let rec = s
            .rows
            .next()
            .transpose()
            .map_err(|e| merge_err(format!("cannot read shard {}: {e}", s.path)))?
            .ok_or_else(|| {
                merge_err(format!(
                    "shard {} ({}/{n}) ends before input row {row}",
                    s.path, s.shard.k
                ))
            })?;
        let cells: Vec<String> = rec.get_column_iter().map(|(_, f)| text(f)).collect();
        if cells.first().map(String::as_str) != Some(row.to_string().as_str()) {
            return Err(merge_err(format!(
                "shard {} ({}/{n}): expected input row {row}, found {}",
                s.path,
                s.shard.k,
                cells.first().map_or("nothing", String::as_str)
            )));
        }
        let refs: Vec<&str> = cells[1..].iter().map(String::as_str).collect();
        table.row(&refs)?;
        if (row + 1) % chunk == 0 {
            table.end_chunk()?;
        }
    }
    for s in &mut slots {
        if s.rows.next().is_some() {
            return Err(merge_err(format!(
                "shard {} ({}/{n}) has rows beyond the input's {input_rows}",
                s.path, s.shard.k
            )));
        }
    }
    table.finish(None, &[])?;
    Ok(input_rows)
}
