//! Resumable sweeps: output files that grow in durable chunks, and a resume record beside them.
//!
//! A sweep writing to a regular file writes it in place (no temporary file): after every chunk
//! of rows ([`super::Spec::chunk`], in input order) the results and time-course files are synced
//! to disk (`fsync`) and one line is appended (and synced) to the **resume record**
//! `OUT.cartox-resume`: the totals so far and the length of each file after the chunk (for
//! Parquet also the chunk's row-group metadata, which the footer needs). The record starts with
//! what the output belongs to — cartox version, a hash of the parameter file's bytes, the model
//! and the options ([`Identity`]) — and ends with a `done` line once the output is complete.
//!
//! `--resume` ([`open`] with `resume`) checks the identity (naming what differs), cuts each file
//! back to the length of its last recorded chunk (dropping a partial chunk, a footer or anything
//! after it), and continues with the rows after those already written. The chunks, their
//! boundaries and therefore the final bytes are those of an uninterrupted run.

use super::stream::{results_table, timecourse_columns};
use super::{Columns, Report, Spec};
use crate::error::Error;
use crate::output::table::{ChunkMark, Durable, Format, Plain, Table};
use crate::Result;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What an output belongs to: (what, value) pairs, e.g. `("parameter file", "fnv1a64:...")`,
/// compared one by one on `--resume`.
pub type Identity = Vec<(String, String)>;

/// The resume record of an output file: `OUT.cartox-resume`.
pub fn record_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".cartox-resume");
    PathBuf::from(s)
}

const HEAD: &str = "#cartox-resume 1";

fn record_err(path: &Path, message: String) -> Error {
    Error::Data {
        file: path.display().to_string(),
        row: None,
        column: None,
        message,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One recorded chunk: the totals after it and where the files end.
#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    report: Report,
    out: ChunkMark,
    tc: Option<ChunkMark>,
}

/// A resume record, read back.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    identity: Identity,
    chunks: Vec<Chunk>,
    done: Option<Report>,
}

fn field<'a>(fields: &[&'a str], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn read_record(path: &Path) -> Result<Record> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| {
            Error::io(
                "cannot read the resume record",
                path.display().to_string(),
                &e,
            )
        })?;
    // Only whole lines count: a line cut short by a crash is ignored.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut lines = whole.lines();
    if lines.next() != Some(HEAD) {
        return Err(record_err(path, "not a cartox resume record".into()));
    }
    let mut rec = Record {
        identity: vec![],
        chunks: vec![],
        done: None,
    };
    let bad = |l: &str| {
        record_err(
            path,
            format!(
                "malformed line `{}`",
                l.chars().take(80).collect::<String>()
            ),
        )
    };
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let num = |k: &str| -> Option<u64> { field(&fields, k)?.parse().ok() };
        let report = || -> Option<Report> {
            Some(Report {
                rows: num("rows")? as usize,
                failed: num("failed")? as usize,
                input_rows: num("input_rows")? as usize,
                stopped: false,
            })
        };
        match fields[0] {
            "id" if fields.len() == 3 => rec.identity.push((fields[1].into(), fields[2].into())),
            "chunk" => {
                let mark = |end: &str, rg: &str| -> Option<Option<ChunkMark>> {
                    let Some(end) = num(end) else {
                        return Some(None);
                    };
                    let row_group = match field(&fields, rg) {
                        Some(h) => Some(unhex(h)?),
                        None => None,
                    };
                    Some(Some(ChunkMark { end, row_group }))
                };
                let out = mark("out", "out_rg").flatten().ok_or_else(|| bad(line))?;
                let tc = mark("tc", "tc_rg").ok_or_else(|| bad(line))?;
                let report = report().ok_or_else(|| bad(line))?;
                rec.chunks.push(Chunk { report, out, tc });
            }
            "done" => rec.done = Some(report().ok_or_else(|| bad(line))?),
            _ => return Err(bad(line)),
        }
    }
    Ok(rec)
}

/// The resume record being written.
pub struct Log {
    file: File,
    path: PathBuf,
}

impl Log {
    fn create(path: &Path, identity: &Identity) -> Result<Log> {
        let label = path.display().to_string();
        let mut file = File::create(path)
            .map_err(|e| Error::io("cannot write the resume record", &label, &e))?;
        let mut text = format!("{HEAD}\n");
        for (k, v) in identity {
            text.push_str(&format!("id\t{}\t{}\n", clean(k), clean(v)));
        }
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        Ok(Log {
            file,
            path: path.to_path_buf(),
        })
    }

    fn append(path: &Path) -> Result<Log> {
        let file = OpenOptions::new().append(true).open(path).map_err(|e| {
            Error::io(
                "cannot write the resume record",
                path.display().to_string(),
                &e,
            )
        })?;
        Ok(Log {
            file,
            path: path.to_path_buf(),
        })
    }

    fn line(&mut self, text: String) -> Result<()> {
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| {
                Error::io(
                    "cannot write the resume record",
                    self.path.display().to_string(),
                    &e,
                )
            })
    }

    /// Record a chunk (its files already synced).
    pub fn chunk(&mut self, r: &Report, out: &ChunkMark, tc: Option<&ChunkMark>) -> Result<()> {
        let mut text = format!(
            "chunk\trows={}\tfailed={}\tinput_rows={}\tout={}",
            r.rows, r.failed, r.input_rows, out.end
        );
        if let Some(rg) = &out.row_group {
            text.push_str(&format!("\tout_rg={}", hex(rg)));
        }
        if let Some(tc) = tc {
            text.push_str(&format!("\ttc={}", tc.end));
            if let Some(rg) = &tc.row_group {
                text.push_str(&format!("\ttc_rg={}", hex(rg)));
            }
        }
        text.push('\n');
        self.line(text)
    }

    /// Record that the output is complete.
    pub fn done(&mut self, r: &Report) -> Result<()> {
        self.line(format!(
            "done\trows={}\tfailed={}\tinput_rows={}\n",
            r.rows, r.failed, r.input_rows
        ))
    }
}

/// One line, no tabs.
fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// The tables to run a sweep into, and what is already in them.
pub struct Opened<'w> {
    pub results: Table<'w>,
    pub timecourses: Option<Table<'w>>,
    /// Rows already written (a resumed sweep), else zeros.
    pub prior: Report,
    /// The resume record (outputs that are regular files).
    pub log: Option<Log>,
}

/// What [`open`] found.
pub enum Plan<'w> {
    /// Run (or continue) the sweep into these tables.
    Run(Box<Opened<'w>>),
    /// `--resume` of an output that is already complete: nothing to do; its totals.
    Complete(Report),
}

/// Where a table goes: standard output, a device or pipe (written through, not resumable), or a
/// regular file.
enum Target {
    Stream(Box<dyn Durable>),
    File(PathBuf),
}

fn target(path: &Path) -> Result<Target> {
    if path.as_os_str() == "-" {
        return Ok(Target::Stream(Box::new(Plain(BufWriter::new(
            std::io::stdout(),
        )))));
    }
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io("cannot write", path.display().to_string(), &e))?;
        return Ok(Target::Stream(Box::new(Plain(BufWriter::new(f)))));
    }
    Ok(Target::File(path.to_path_buf()))
}

fn create(path: &Path) -> Result<Box<dyn Durable>> {
    let f = File::create(path)
        .map_err(|e| Error::io("cannot write", path.display().to_string(), &e))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
}

/// Open `path` cut back to `end` bytes, positioned there.
fn reopen(path: &Path, end: u64) -> Result<Box<dyn Durable>> {
    let label = path.display().to_string();
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("cannot resume", &label, &e))?;
    let len = f
        .metadata()
        .map_err(|e| Error::io("cannot resume", &label, &e))?
        .len();
    if len < end {
        return Err(record_err(
            path,
            format!("is {len} bytes long, shorter than its resume record says ({end}): it was changed after the sweep wrote it; run without --resume to start over"),
        ));
    }
    f.set_len(end)
        .map_err(|e| Error::io("cannot resume", &label, &e))?;
    let mut f = f;
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(end))
        .map_err(|e| Error::io("cannot resume", &label, &e))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
}

/// Open the output tables of a sweep: `out` (results) and `timecourses`, CSV or Parquet by
/// extension. A regular-file `out` gets a resume record with `identity`; with `resume`, an
/// existing output of the same identity is continued (or reported complete).
///
/// Errors: `--resume` of an output written for another identity ([`Error::Options`] naming what
/// differs), without a readable resume record, or to standard output.
#[allow(clippy::too_many_arguments)]
pub fn open(
    out: &Path,
    timecourses: Option<&Path>,
    identity: &Identity,
    resume: bool,
    spec: &Spec,
    cols: &Columns,
    names: &[&str],
) -> Result<Plan<'static>> {
    let resume_err = |message: String| Error::Options {
        option: "--resume".into(),
        message,
    };
    let out_target = target(out)?;
    let tc_target = timecourses.map(target).transpose()?;
    let tc_columns = || timecourse_columns(spec.model);
    let out_format = Format::of(out);
    let tc_format = timecourses.map(Format::of);
    let (Target::File(out_path), None | Some(Target::File(_))) = (&out_target, &tc_target) else {
        if resume {
            return Err(resume_err(
                "--resume needs --out FILE (and --timecourses FILE): a stream cannot be continued"
                    .into(),
            ));
        }
        let results = match out_target {
            Target::Stream(w) => results_table(out_format, w, spec, cols, names)?,
            Target::File(p) => results_table(out_format, create(&p)?, spec, cols, names)?,
        };
        let tc = match tc_target {
            Some(Target::Stream(w)) => Some(Table::new(tc_format.unwrap(), w, tc_columns(), None)?),
            Some(Target::File(p)) => Some(Table::new(
                tc_format.unwrap(),
                create(&p)?,
                tc_columns(),
                None,
            )?),
            None => None,
        };
        return Ok(Plan::Run(Box::new(Opened {
            results,
            timecourses: tc,
            prior: Report::default(),
            log: None,
        })));
    };
    let tc_path = match &tc_target {
        Some(Target::File(p)) => Some(p.clone()),
        _ => None,
    };
    let rec_path = record_path(out_path);
    let shown = out_path.display();
    if resume && out_path.exists() {
        if !rec_path.exists() {
            return Err(resume_err(format!(
                "{shown} has no resume record ({}): it was not written by a resumable sweep; run without --resume to start over",
                rec_path.display()
            )));
        }
        let rec = read_record(&rec_path)?;
        for (what, value) in identity {
            let was = rec
                .identity
                .iter()
                .find(|(k, _)| k == what)
                .map(|(_, v)| v.as_str());
            if was != Some(&clean(value)) {
                return Err(resume_err(format!(
                    "{shown} was written for a different {what} ({}; now {}); run without --resume to start over",
                    was.unwrap_or("not recorded"),
                    clean(value)
                )));
            }
        }
        if let Some(r) = rec.done {
            return Ok(Plan::Complete(r));
        }
        if let Some(last) = rec.chunks.last() {
            let has_tc = last.tc.is_some();
            if has_tc != tc_path.is_some() {
                return Err(resume_err(format!(
                    "{shown} was written {} --timecourses; run without --resume to start over",
                    if has_tc { "with" } else { "without" }
                )));
            }
            let outs: Vec<ChunkMark> = rec.chunks.iter().map(|c| c.out.clone()).collect();
            let results = Table::resume(
                out_format,
                reopen(out_path, last.out.end)?,
                spec_columns(spec, cols, names),
                &outs,
            )?;
            let tc = match (&tc_path, &last.tc) {
                (Some(p), Some(m)) => {
                    let marks: Vec<ChunkMark> =
                        rec.chunks.iter().filter_map(|c| c.tc.clone()).collect();
                    Some(Table::resume(
                        tc_format.unwrap(),
                        reopen(p, m.end)?,
                        tc_columns(),
                        &marks,
                    )?)
                }
                _ => None,
            };
            return Ok(Plan::Run(Box::new(Opened {
                results,
                timecourses: tc,
                prior: Report {
                    input_rows: 0,
                    ..last.report
                },
                log: Some(Log::append(&rec_path)?),
            })));
        }
        // No chunk was recorded: start over, under the same record.
    }
    let results = results_table(out_format, create(out_path)?, spec, cols, names)?;
    let tc = match &tc_path {
        Some(p) => Some(Table::new(
            tc_format.unwrap(),
            create(p)?,
            tc_columns(),
            None,
        )?),
        None => None,
    };
    Ok(Plan::Run(Box::new(Opened {
        results,
        timecourses: tc,
        prior: Report::default(),
        log: Some(Log::create(&rec_path, identity)?),
    })))
}

fn spec_columns(
    spec: &Spec,
    cols: &Columns,
    names: &[&str],
) -> Vec<crate::output::parquet::Column> {
    super::stream::result_columns(cols, names, spec.shard.is_some())
}
