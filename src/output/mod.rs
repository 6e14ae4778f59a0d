//! Outputs: time-course CSV and summary JSON, written atomically (temporary file, then rename) so
//! a failed run never leaves a half-written file; `-` writes to standard output.
//!
//! The formatting itself works in memory and is part of the simulation core (no feature needed:
//! the web explorer's downloads are these bytes); only [`write_atomic`] and the tables need the
//! `files` feature.
//!
//! Tables (sweep results, time courses, populations) can also be Parquet, by extension:
//! [`table::Table`] writes either, a chunk (row group) at a time.
//!
//! Every CSV the crate writes (time courses, sweep results, populations, shards, the validation
//! report) is formatted by [`csv_line`].

#[cfg(feature = "files")]
pub mod parquet;
mod summary_json;
#[cfg(feature = "files")]
pub mod table;

#[cfg(feature = "files")]
use crate::error::Error;
use crate::model::Model;
use crate::run::{Run, RunOptions};
use crate::trajectory::Trajectory;
use crate::Result;
#[cfg(feature = "files")]
use std::io::BufWriter;
use std::io::Write;
#[cfg(feature = "files")]
use std::path::Path;

pub use summary_json::summary_json;

/// An error of a writer closure (any error type: the binary's `anyhow`, the library's
/// [`Error`], `std::io::Error`, ...).
#[cfg(feature = "files")]
pub type WriteError = Box<dyn std::error::Error + Send + Sync>;

/// Write a file through a temporary file in the same directory, renamed into place on success.
///
/// Errors are [`Error::Io`] `cannot write PATH: REASON` (REASON: the closure's error and its
/// causes, joined by `: `), keeping the kind of the first I/O error found among them, so a closed
/// pipe stays recognisable (`BrokenPipe`). On `-` (standard output) the closure's error is passed
/// on without the `cannot write` prefix.
#[cfg(feature = "files")]
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::result::Result<(), WriteError>,
) -> Result<()> {
    let shown = path.display().to_string();
    let cannot = |e: WriteError| io_error("cannot write", &shown, &*e);
    let cannot_io = |e: std::io::Error| Error::io("cannot write", &shown, &e);
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = BufWriter::new(stdout.lock());
        write(&mut lock).map_err(|e| io_error("", "", &*e))?;
        lock.flush()?;
        return Ok(());
    }
    // A device or pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written in place: renaming a
    // temporary file over it would replace the device with a regular file.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(cannot_io)?;
        let mut w = BufWriter::new(file);
        write(&mut w).map_err(cannot)?;
        w.flush().map_err(cannot_io)?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cartox-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(cannot_io)?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        write(&mut w).map_err(cannot)?;
        w.flush().map_err(cannot_io)?;
    }
    // Temporary files are created 0600; a result file is an ordinary 0644 file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| cannot_io(e.error))?;
    Ok(())
}

/// [`Error::Io`] for `action path`, its message the error and its causes joined by `: `, its kind
/// the first I/O kind among them (a `std::io::Error`, a CSV I/O error or an [`Error::Io`]).
#[cfg(feature = "files")]
fn io_error(action: &str, path: &str, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut parts = vec![];
    let mut kind = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        parts.push(c.to_string());
        if kind.is_none() {
            kind = if let Some(io) = c.downcast_ref::<std::io::Error>() {
                Some(io.kind())
            } else if let Some(ce) = c.downcast_ref::<csv::Error>() {
                match ce.kind() {
                    csv::ErrorKind::Io(io) => Some(io.kind()),
                    _ => None,
                }
            } else if let Some(Error::Io { kind, .. }) = c.downcast_ref::<Error>() {
                *kind
            } else {
                None
            };
        }
        cur = c.source();
    }
    Error::Io {
        action: action.to_string(),
        path: path.to_string(),
        message: parts.join(": "),
        kind,
    }
}

/// Shortest text that reads back as the same f64 (Rust's `{}` is round-trip exact).
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        format!("{x}")
    }
}

/// Append one CSV field (quoted only when it must be: delimiter, quote or line break).
pub fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

/// One CSV record with `\n` line end.
pub fn csv_line<'s>(fields: impl IntoIterator<Item = &'s str>) -> String {
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(&mut line, f);
    }
    line.push('\n');
    line
}

/// [`write_timecourse`] as CSV or Parquet: every column a float, except the extra columns
/// named `*_grade`, integers (NaN: null).
#[cfg(feature = "files")]
pub fn write_timecourse_as(
    format: table::Format,
    w: &mut dyn Write,
    tr: &Trajectory,
    extra: &[(&str, Vec<f64>)],
) -> Result<()> {
    use parquet::{Column, Kind};
    let mut columns = vec![Column::new("time", Kind::Float)];
    columns.extend(tr.state_names.iter().map(|n| Column::new(n, Kind::Float)));
    columns.extend(
        tr.observable_names
            .iter()
            .map(|n| Column::new(n, Kind::Float)),
    );
    columns.extend(extra.iter().map(|(n, _)| {
        Column::new(
            *n,
            if n.ends_with("_grade") {
                Kind::Int
            } else {
                Kind::Float
            },
        )
    }));
    let mut table = table::Table::new(format, Box::new(table::Plain(w)), columns, None)?;
    let mut row: Vec<f64> = Vec::with_capacity(table.width());
    for (r, t) in tr.time.iter().enumerate() {
        row.clear();
        row.push(*t);
        row.extend(tr.states.row(r).iter());
        row.extend(tr.observables.row(r).iter());
        row.extend(extra.iter().map(|(_, col)| col[r]));
        table.numbers(None, &row)?;
    }
    table.finish(None, &[])
}

/// Write a time course: `time` (days), then every state, observable and extra column.
pub fn write_timecourse(
    w: &mut dyn Write,
    tr: &Trajectory,
    extra: &[(&str, Vec<f64>)],
) -> Result<()> {
    let mut header: Vec<&str> = vec!["time"];
    header.extend(tr.state_names.iter().map(String::as_str));
    header.extend(tr.observable_names.iter().map(String::as_str));
    header.extend(extra.iter().map(|(n, _)| *n));
    w.write_all(csv_line(header).as_bytes())?;
    let mut row: Vec<String> = Vec::with_capacity(tr.state_names.len() + 8);
    for (r, t) in tr.time.iter().enumerate() {
        row.clear();
        row.push(fmt_num(*t));
        row.extend(tr.states.row(r).iter().map(|x| fmt_num(*x)));
        row.extend(tr.observables.row(r).iter().map(|x| fmt_num(*x)));
        row.extend(extra.iter().map(|(_, col)| fmt_num(col[r])));
        w.write_all(csv_line(row.iter().map(String::as_str)).as_bytes())?;
    }
    Ok(())
}

/// The modelled CRS/ICANS risk grade at each output time (`crs_grade`, `icans_grade`; NaN: not
/// graded or after the monitoring window), the extra columns of a run's time-course CSV.
pub fn grade_columns(run: &Run, tr: &Trajectory) -> Vec<(&'static str, Vec<f64>)> {
    let mut extra: Vec<(&str, Vec<f64>)> = Vec::new();
    if let Some(t) = &run.toxicity {
        for (name, r) in [("crs_grade", &t.crs), ("icans_grade", &t.icans)] {
            if let Some(r) = r {
                let col = tr
                    .time
                    .iter()
                    .map(|&d| r.grade_at(d, t.window).map_or(f64::NAN, f64::from))
                    .collect();
                extra.push((name, col));
            }
        }
    }
    extra
}

/// The bytes of `cartox simulate --out` for a run: its time course on the grid of `opts`, then
/// the modelled grade columns ([`grade_columns`]).
pub fn timecourse_csv(model: &Model, run: &Run, opts: &RunOptions) -> Result<Vec<u8>> {
    let tr = run.trajectory(model, opts);
    let mut out = Vec::new();
    write_timecourse(&mut out, &tr, &grade_columns(run, &tr))?;
    Ok(out)
}
