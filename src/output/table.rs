//! Tables written a chunk at a time as CSV or Parquet, chosen by the file's extension.
//!
//! A [`Table`] takes rows as text cells (the CSV form; [`super::parquet`] parses them into typed
//! columns). [`Table::end_chunk`] closes a chunk — for Parquet a row group — and returns where the
//! file ends after it ([`ChunkMark`]): everything before that mark is final, so a sweep can make
//! it durable ([`Durable::sync`]) and, after a crash, continue from it.

use super::parquet::{Column, ParquetTable, RowGroupMark};
use super::{csv_line, push_field};
use crate::Result;
use std::fs::File;
use std::io::{BufWriter, Write};

pub use super::parquet::{is_parquet, Kind};

/// A writer that can make what it was given durable.
pub trait Durable: Write {
    /// Flush, then (for a file) ask the operating system to put the data on disk (`fsync`).
    fn sync(&mut self) -> std::io::Result<()>;
}

impl Durable for BufWriter<File> {
    fn sync(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.get_ref().sync_data()
    }
}

/// A writer with nothing to sync beyond a flush (standard output, a pipe, a buffer).
pub struct Plain<W: Write>(pub W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Durable for Plain<W> {
    fn sync(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Where a table's file ends after a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMark {
    /// File length after the chunk.
    pub end: u64,
    /// For Parquet, the chunk's row-group metadata ([`RowGroupMark::metadata`]).
    pub row_group: Option<Vec<u8>>,
}

/// The format of a table file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// Parquet for `.parquet` / `.pq`, else CSV.
    pub fn of(path: &std::path::Path) -> Format {
        if is_parquet(path) {
            Format::Parquet
        } else {
            Format::Csv
        }
    }
}

enum Inner<'w> {
    Csv {
        out: Box<dyn Durable + 'w>,
        pos: u64,
    },
    Parquet(ParquetTable<Box<dyn Durable + 'w>>),
}

/// A CSV or Parquet table; see the module documentation.
pub struct Table<'w> {
    inner: Option<Inner<'w>>,
    width: usize,
}

impl<'w> Table<'w> {
    /// Start a table: for CSV, `preamble` (a comment line, with its line end) and the header;
    /// for Parquet, the magic bytes (the column types become the schema).
    pub fn new(
        format: Format,
        mut out: Box<dyn Durable + 'w>,
        columns: Vec<Column>,
        preamble: Option<&str>,
    ) -> Result<Table<'w>> {
        let width = columns.len();
        let inner = match format {
            Format::Csv => {
                let mut text = preamble.unwrap_or("").to_string();
                text.push_str(&csv_line(columns.iter().map(|c| c.name.as_str())));
                out.write_all(text.as_bytes())?;
                Inner::Csv {
                    out,
                    pos: text.len() as u64,
                }
            }
            Format::Parquet => Inner::Parquet(ParquetTable::new(out, columns)?),
        };
        Ok(Table {
            inner: Some(inner),
            width,
        })
    }

    /// Continue a table whose chunks up to `done` are in `out` (positioned at the last mark's
    /// end). For CSV only the last mark matters.
    pub fn resume(
        format: Format,
        out: Box<dyn Durable + 'w>,
        columns: Vec<Column>,
        done: &[ChunkMark],
    ) -> Result<Table<'w>> {
        let width = columns.len();
        let inner = match format {
            Format::Csv => Inner::Csv {
                out,
                pos: done.last().map_or(0, |m| m.end),
            },
            Format::Parquet => {
                let marks: Vec<RowGroupMark> = done
                    .iter()
                    .filter_map(|m| {
                        m.row_group.as_ref().map(|md| RowGroupMark {
                            end: m.end,
                            metadata: md.clone(),
                        })
                    })
                    .collect();
                Inner::Parquet(ParquetTable::resume(out, columns, &marks)?)
            }
        };
        Ok(Table {
            inner: Some(inner),
            width,
        })
    }

    fn inner(&mut self) -> &mut Inner<'w> {
        self.inner.as_mut().expect("table not finished")
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// One row of text cells.
    pub fn row(&mut self, cells: &[&str]) -> Result<()> {
        match self.inner() {
            Inner::Csv { out, pos } => {
                let line = csv_line(cells.iter().copied());
                out.write_all(line.as_bytes())?;
                *pos += line.len() as u64;
            }
            Inner::Parquet(t) => t.push(cells)?,
        }
        Ok(())
    }

    /// A row of numbers after an optional first text cell (an `ID`). CSV: the cell (quoted as
    /// needed), then round-trip numbers; Parquet: the values themselves.
    pub fn numbers(&mut self, first: Option<&str>, numbers: &[f64]) -> Result<()> {
        match self.inner() {
            Inner::Csv { out, pos } => {
                let mut line = String::with_capacity(16 * (numbers.len() + 1));
                if let Some(f) = first {
                    push_field(&mut line, f);
                }
                for (i, x) in numbers.iter().enumerate() {
                    if i > 0 || first.is_some() {
                        line.push(',');
                    }
                    line.push_str(&super::fmt_num(*x));
                }
                line.push('\n');
                out.write_all(line.as_bytes())?;
                *pos += line.len() as u64;
            }
            Inner::Parquet(t) => t.push_numbers(first, numbers)?,
        }
        Ok(())
    }

    /// Raw CSV text (a preformatted block of lines); only for CSV tables.
    pub fn csv_text(&mut self, text: &str) -> Result<()> {
        match self.inner() {
            Inner::Csv { out, pos } => {
                out.write_all(text.as_bytes())?;
                *pos += text.len() as u64;
                Ok(())
            }
            Inner::Parquet(_) => unreachable!("csv_text on a Parquet table"),
        }
    }

    /// True for a Parquet table.
    pub fn is_parquet(&self) -> bool {
        matches!(self.inner, Some(Inner::Parquet(_)))
    }

    /// Close the chunk: everything written so far is final. Returns where the file ends.
    pub fn end_chunk(&mut self) -> Result<ChunkMark> {
        match self.inner() {
            Inner::Csv { pos, .. } => Ok(ChunkMark {
                end: *pos,
                row_group: None,
            }),
            Inner::Parquet(t) => {
                let m = t.end_row_group()?;
                Ok(match m {
                    Some(m) => ChunkMark {
                        end: m.end,
                        row_group: Some(m.metadata),
                    },
                    None => ChunkMark {
                        end: t.position(),
                        row_group: None,
                    },
                })
            }
        }
    }

    /// Make everything written so far durable ([`Durable::sync`]).
    pub fn sync(&mut self) -> Result<()> {
        match self.inner() {
            Inner::Csv { out, .. } => out.sync()?,
            Inner::Parquet(t) => t.get_mut().sync()?,
        }
        Ok(())
    }

    /// End the table: for CSV, `trailer` (a comment line with its line end); for Parquet, the
    /// last row group and the footer with the `metadata` pairs. Flushes, then syncs.
    pub fn finish(&mut self, trailer: Option<&str>, metadata: &[(&str, String)]) -> Result<()> {
        match self.inner.take().expect("table not finished") {
            Inner::Csv { mut out, .. } => {
                if let Some(t) = trailer {
                    out.write_all(t.as_bytes())?;
                }
                out.sync()?;
            }
            Inner::Parquet(t) => {
                let mut out = t.finish(metadata)?;
                out.sync()?;
            }
        }
        Ok(())
    }
}
