//! Parquet tables written a row group at a time, with typed columns and flat memory.
//!
//! Producers hand rows as the same text cells they write to CSV (round-trip numbers, `true` /
//! `false`, empty for a missing value); each column's [`Kind`] is fixed by its name beforehand
//! (never guessed from the values), and the cell is parsed into it: `Float` (DOUBLE, empty ->
//! null, `NaN` kept), `Int` (INT64, empty or `NaN` -> null), `Bool` (BOOLEAN, empty -> null) and
//! `Text` (UTF-8 string, kept as is, empty included). Every column is OPTIONAL.
//!
//! The file is laid out by this module, not by the `parquet` crate's file writer: each row group
//! is encoded on its own (by the crate's column writers, snappy pages, chunk-level statistics, no
//! page index) and appended after the previous ones, its offsets moved to where it lands; the
//! footer is written once at the end. So a table can stop after any row group, and — given the
//! metadata of the row groups already on disk ([`RowGroupMark`]) — be continued later by another
//! process, giving exactly the bytes of an uninterrupted write. The bytes depend only on the rows
//! and on where the row groups end, which the caller chooses (in input order, so they do not depend
//! on the thread count).

use crate::error::Error;
use crate::Result;
use parquet::basic::{ColumnOrder, Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataOptions, ParquetMetaDataReader,
    ParquetMetaDataWriter, ParquetStatisticsPolicy, RowGroupMetaData,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{SchemaDescriptor, Type};
use std::io::Write;
use std::sync::Arc;

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit float (DOUBLE).
    Float,
    /// 64-bit integer (INT64).
    Int,
    /// BOOLEAN.
    Bool,
    /// UTF-8 text (BYTE_ARRAY, logical type STRING).
    Text,
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

impl Column {
    pub fn new(name: impl Into<String>, kind: Kind) -> Column {
        Column {
            name: name.into(),
            kind,
        }
    }
}

/// The four magic bytes that open and close a Parquet file.
const MAGIC: &[u8; 4] = b"PAR1";

/// One column's buffered values: the non-null values and a definition level per row.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Text(Vec<ByteArray>),
}

struct Buffer {
    values: Values,
    defined: Vec<i16>,
}

/// A row group that is on disk: where it ends and its metadata (an opaque encoding, for
/// [`ParquetTable::resume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowGroupMark {
    /// File length after the row group.
    pub end: u64,
    /// The row group's metadata, encoded (a Parquet footer holding just this row group).
    pub metadata: Vec<u8>,
}

/// A Parquet table being written; see the module documentation.
pub struct ParquetTable<W: Write> {
    out: W,
    columns: Vec<Column>,
    schema: Arc<Type>,
    props: Arc<WriterProperties>,
    buffers: Vec<Buffer>,
    rows: usize,
    row_groups: Vec<RowGroupMetaData>,
    /// Bytes written so far (the file position).
    pos: u64,
    /// Format version and column orders of the footer, as the crate's file writer sets them
    /// (the column orders tell readers how the statistics sort).
    version: i32,
    column_orders: Option<Vec<ColumnOrder>>,
}

fn parquet_err(what: &str, e: parquet::errors::ParquetError) -> Error {
    Error::io(what, "", &std::io::Error::other(format!("parquet: {e}")))
}

impl<W: Write> ParquetTable<W> {
    /// Start a table: writes the leading magic bytes.
    pub fn new(mut out: W, columns: Vec<Column>) -> Result<ParquetTable<W>> {
        out.write_all(MAGIC)?;
        Self::open(out, columns, MAGIC.len() as u64, vec![])
    }

    /// Continue a table whose row groups `done` are on disk: `out` is positioned right after the
    /// last of them (at `done.last().end`, or after the magic bytes when `done` is empty).
    pub fn resume(out: W, columns: Vec<Column>, done: &[RowGroupMark]) -> Result<ParquetTable<W>> {
        let mut groups = Vec::with_capacity(done.len());
        for m in done {
            groups.push(decode_row_group(&m.metadata)?);
        }
        let pos = done.last().map_or(MAGIC.len() as u64, |m| m.end);
        let table = Self::open(out, columns, pos, vec![])?;
        // The footer is rebuilt from these: they must encode back to the very bytes recorded.
        for (m, rg) in done.iter().zip(&groups) {
            if table.footer_bytes(vec![rg.clone()], vec![])? != m.metadata {
                return Err(parquet_err(
                    "cannot read the resume record",
                    parquet::errors::ParquetError::General(
                        "a row group's metadata does not read back as written".into(),
                    ),
                ));
            }
        }
        Ok(ParquetTable {
            row_groups: groups,
            ..table
        })
    }

    fn open(
        out: W,
        columns: Vec<Column>,
        pos: u64,
        row_groups: Vec<RowGroupMetaData>,
    ) -> Result<ParquetTable<W>> {
        let fields = columns
            .iter()
            .map(|c| {
                let (physical, logical) = match c.kind {
                    Kind::Float => (Physical::DOUBLE, None),
                    Kind::Int => (Physical::INT64, None),
                    Kind::Bool => (Physical::BOOLEAN, None),
                    Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                };
                Type::primitive_type_builder(&c.name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| parquet_err("cannot make the Parquet schema", e))?;
        let schema = Arc::new(
            Type::group_type_builder("schema")
                .with_fields(fields)
                .build()
                .map_err(|e| parquet_err("cannot make the Parquet schema", e))?,
        );
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_offset_index_disabled(true)
                .set_max_row_group_row_count(None)
                .build(),
        );
        // The crate's footer fields for this schema: those of an empty file.
        let template = SerializedFileWriter::new(Vec::new(), schema.clone(), props.clone())
            .and_then(|w| w.close())
            .map_err(|e| parquet_err("cannot make the Parquet schema", e))?;
        let version = template.file_metadata().version();
        let column_orders = template.file_metadata().column_orders().cloned();
        let buffers = columns
            .iter()
            .map(|c| Buffer {
                values: match c.kind {
                    Kind::Float => Values::Float(vec![]),
                    Kind::Int => Values::Int(vec![]),
                    Kind::Bool => Values::Bool(vec![]),
                    Kind::Text => Values::Text(vec![]),
                },
                defined: vec![],
            })
            .collect();
        Ok(ParquetTable {
            out,
            columns,
            schema,
            props,
            buffers,
            rows: 0,
            row_groups,
            pos,
            version,
            column_orders,
        })
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Rows buffered for the next row group.
    pub fn buffered(&self) -> usize {
        self.rows
    }

    /// Parse one text cell into column `k`.
    fn push_cell(&mut self, k: usize, cell: &str) -> Result<()> {
        let (b, c) = (&mut self.buffers[k], &self.columns[k]);
        let bad = || Error::Data {
            file: String::new(),
            row: None,
            column: Some(c.name.clone()),
            message: format!("column `{}`: `{cell}` is not a {:?} value", c.name, c.kind),
        };
        let defined = match &mut b.values {
            Values::Float(v) => {
                if cell.is_empty() {
                    false
                } else {
                    v.push(cell.parse::<f64>().map_err(|_| bad())?);
                    true
                }
            }
            Values::Int(v) => {
                if cell.is_empty() || cell == "NaN" {
                    false
                } else {
                    v.push(cell.parse::<i64>().map_err(|_| bad())?);
                    true
                }
            }
            Values::Bool(v) => match cell {
                "" => false,
                "true" => {
                    v.push(true);
                    true
                }
                "false" => {
                    v.push(false);
                    true
                }
                _ => return Err(bad()),
            },
            Values::Text(v) => {
                v.push(ByteArray::from(cell.as_bytes().to_vec()));
                true
            }
        };
        b.defined.push(i16::from(defined));
        Ok(())
    }

    /// Append a row of text cells (one per column, CSV form).
    pub fn push(&mut self, cells: &[&str]) -> Result<()> {
        if cells.len() != self.columns.len() {
            return Err(Error::Data {
                file: String::new(),
                row: None,
                column: None,
                message: format!(
                    "a row has {} cells, the table {} columns",
                    cells.len(),
                    self.columns.len()
                ),
            });
        }
        for (k, cell) in cells.iter().enumerate() {
            self.push_cell(k, cell)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Append a row of numbers, after an optional first cell given as text: the values go
    /// straight into the columns (an `Int` column takes an integral value, and null for NaN; a
    /// `Text` column the number's round-trip text).
    pub fn push_numbers(&mut self, first: Option<&str>, numbers: &[f64]) -> Result<()> {
        let skip = usize::from(first.is_some());
        if numbers.len() + skip != self.columns.len() {
            return Err(Error::Data {
                file: String::new(),
                row: None,
                column: None,
                message: format!(
                    "a row has {} cells, the table {} columns",
                    numbers.len() + skip,
                    self.columns.len()
                ),
            });
        }
        if let Some(f) = first {
            self.push_cell(0, f)?;
        }
        for (k, &x) in numbers.iter().enumerate() {
            let b = &mut self.buffers[k + skip];
            let defined = match &mut b.values {
                Values::Float(v) => {
                    v.push(x);
                    true
                }
                Values::Int(v) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
                    v.push(x as i64);
                    true
                }
                Values::Int(_) if x.is_nan() => false,
                _ => {
                    let text = super::fmt_num(x);
                    self.push_cell(k + skip, &text)?;
                    continue;
                }
            };
            b.defined.push(i16::from(defined));
        }
        self.rows += 1;
        Ok(())
    }

    /// Write the buffered rows as one row group (nothing when none are buffered). Returns its
    /// [`RowGroupMark`].
    pub fn end_row_group(&mut self) -> Result<Option<RowGroupMark>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let cannot = |e| parquet_err("cannot encode a Parquet row group", e);
        let mut buf: Vec<u8> = Vec::new();
        let mut w = SerializedFileWriter::new(&mut buf, self.schema.clone(), self.props.clone())
            .map_err(cannot)?;
        {
            let mut rg = w.next_row_group().map_err(cannot)?;
            for b in &mut self.buffers {
                let mut col = rg
                    .next_column()
                    .map_err(cannot)?
                    .expect("one column writer per schema column");
                let def = Some(&b.defined[..]);
                match &mut b.values {
                    Values::Float(v) => col.typed::<DoubleType>().write_batch(v, def, None),
                    Values::Int(v) => col.typed::<Int64Type>().write_batch(v, def, None),
                    Values::Bool(v) => col.typed::<BoolType>().write_batch(v, def, None),
                    Values::Text(v) => col.typed::<ByteArrayType>().write_batch(v, def, None),
                }
                .map_err(cannot)?;
                col.close().map_err(cannot)?;
                match &mut b.values {
                    Values::Float(v) => v.clear(),
                    Values::Int(v) => v.clear(),
                    Values::Bool(v) => v.clear(),
                    Values::Text(v) => v.clear(),
                }
                b.defined.clear();
            }
            rg.close().map_err(cannot)?;
        }
        let md = w.close().map_err(cannot)?;
        // buf: magic, column chunks, footer (metadata, its length, magic).
        let n = buf.len();
        let meta_len = u32::from_le_bytes(buf[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
        let chunks = &buf[MAGIC.len()..n - 8 - meta_len];
        let shift = self.pos as i64 - MAGIC.len() as i64;
        let rg = md.row_groups()[0].clone();
        let columns = rg
            .columns()
            .iter()
            .map(|c| {
                let dict = c.dictionary_page_offset().map(|o| o + shift);
                c.clone()
                    .into_builder()
                    .set_data_page_offset(c.data_page_offset() + shift)
                    .set_dictionary_page_offset(dict)
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(cannot)?;
        let mut builder = rg
            .into_builder()
            .set_column_metadata(columns)
            .set_ordinal(self.row_groups.len() as i32);
        if let Some(off) = md.row_groups()[0].file_offset() {
            builder = builder.set_file_offset(off + shift);
        }
        let rg = builder.build().map_err(cannot)?;
        self.out.write_all(chunks)?;
        self.pos += chunks.len() as u64;
        self.rows = 0;
        // The footer is built from the metadata as it reads back from the record (decoding
        // drops a few writer-side flags), so a resumed table's footer is the same bytes.
        let rg = decode_row_group(&self.footer_bytes(vec![rg], vec![])?)?;
        let mark = RowGroupMark {
            end: self.pos,
            metadata: self.footer_bytes(vec![rg.clone()], vec![])?,
        };
        self.row_groups.push(rg);
        Ok(Some(mark))
    }

    fn footer_bytes(
        &self,
        row_groups: Vec<RowGroupMetaData>,
        kv: Vec<KeyValue>,
    ) -> Result<Vec<u8>> {
        let rows = row_groups.iter().map(|r| r.num_rows()).sum();
        let schema = Arc::new(SchemaDescriptor::new(self.schema.clone()));
        let fmd = FileMetaData::new(
            self.version,
            rows,
            Some(self.props.created_by().to_string()),
            if kv.is_empty() { None } else { Some(kv) },
            schema,
            self.column_orders.clone(),
        );
        let md = ParquetMetaData::new(fmd, row_groups);
        let mut out = vec![];
        ParquetMetaDataWriter::new(&mut out, &md)
            .finish()
            .map_err(|e| parquet_err("cannot encode the Parquet footer", e))?;
        // The reader of [`Self::resume`] wants the metadata alone.
        let n = out.len();
        out.truncate(n - 8);
        Ok(out)
    }

    /// Write any buffered rows as a last row group, then the footer with `metadata` (key, value)
    /// pairs; returns the writer.
    pub fn finish(mut self, metadata: &[(&str, String)]) -> Result<W> {
        self.end_row_group()?;
        let kv = metadata
            .iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), v.clone()))
            .collect();
        let meta = self.footer_bytes(self.row_groups.clone(), kv)?;
        self.out.write_all(&meta)?;
        self.out.write_all(&(meta.len() as u32).to_le_bytes())?;
        self.out.write_all(MAGIC)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// The writer (to flush or sync it between row groups).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

/// The row group of a footer written by [`ParquetTable::footer_bytes`] (every field decoded as
/// written: encoding statistics as a list, not a mask).
fn decode_row_group(metadata: &[u8]) -> Result<RowGroupMetaData> {
    let options = ParquetMetaDataOptions::new()
        .with_encoding_stats_as_mask(false)
        .with_encoding_stats_policy(ParquetStatisticsPolicy::KeepAll)
        .with_column_stats_policy(ParquetStatisticsPolicy::KeepAll);
    let md = ParquetMetaDataReader::decode_metadata_with_options(metadata, Some(&options))
        .map_err(|e| parquet_err("cannot read a row group's metadata", e))?;
    md.row_groups().first().cloned().ok_or_else(|| {
        parquet_err(
            "cannot read a row group's metadata",
            parquet::errors::ParquetError::General("no row group".into()),
        )
    })
}

/// True when `path` names a Parquet file (`.parquet` or `.pq`, any case).
pub fn is_parquet(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}
