//! Shards: the K-th of N deterministic slices of a sweep input (rows whose 0-based index `i` has
//! `i % N == K - 1`), for batch-scheduler array jobs, and their merge back into input order.
//!
//! A shard output is the sweep output with three additions, so [`merge`] can check it:
//! a first line `#cartox-shard K/N input=fnv1a64:<hex>` (the FNV-1a hash of the input file's bytes),
//! a first column `row` (the 0-based input index) and a last line `#cartox-end input_rows=<count>`
//! (which also shows the shard was written to the end). Merging all N shards of one input gives
//! exactly the bytes of the unsharded run.
//!
//! Errors: a bad `--shard` is [`Error::Options`]; a shard file that cannot be opened or read is
//! [`Error::Io`]; a shard set that does not fit together is [`Error::Options`] for the merge's
//! shard list (`shards`), its message naming the files.

use super::csv_line;
use crate::error::Error;
use crate::Result;
use std::io::{Read, Write};
use std::path::Path;

/// An [`Error::Options`] for `option`, message formatted like `format!`.
macro_rules! opt_err {
    ($option:expr, $($fmt:tt)*) => {
        Error::Options {
            option: $option.to_string(),
            message: format!($($fmt)*),
        }
    };
}

/// The shard list of a merge does not fit together (message formatted like `format!`).
macro_rules! merge_err {
    ($($fmt:tt)*) => { opt_err!("shards", $($fmt)*) };
}

/// The K-th (1-based) of N slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard> {
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| opt_err!("--shard", "--shard `{text}`: expected K/N, e.g. 2/10"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| opt_err!("--shard", "--shard `{text}`: K is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| opt_err!("--shard", "--shard `{text}`: N is not a whole number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(opt_err!("--shard", "--shard `{text}`: need 1 <= K <= N"));
        }
        Ok(Shard { k, n })
    }

    /// True when the row with this 0-based index belongs to the shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }

    /// The shard's first line.
    pub fn comment_line(&self, input_hash: u64) -> String {
        format!(
            "#cartox-shard {}/{} input=fnv1a64:{input_hash:016x}\n",
            self.k, self.n
        )
    }
}

/// The shard's last line.
pub fn trailer_line(input_rows: usize) -> String {
    format!("#cartox-end input_rows={input_rows}\n")
}

fn parse_first(text: &str) -> Option<(Shard, String)> {
    let rest = text.strip_prefix("#cartox-shard ")?;
    let (kn, input) = rest.split_once(' ')?;
    let input = input.strip_prefix("input=")?.to_string();
    Some((Shard::parse(kn).ok()?, input))
}

fn parse_trailer(text: &str) -> Option<usize> {
    text.strip_prefix("#cartox-end input_rows=")?.parse().ok()
}

struct Open {
    path: String,
    shard: Shard,
    records: csv::StringRecordsIntoIter<Box<dyn Read>>,
    header: csv::StringRecord,
}

fn open(path: &Path) -> Result<Open> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open shard", &label, &e))?;
    let reader: Box<dyn Read> = Box::new(std::io::BufReader::with_capacity(1 << 16, file));
    let rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut it = rdr.into_records();
    let first = it
        .next()
        .transpose()
        .map_err(|e| Error::csv("cannot read shard", &label, &e))?
        .ok_or_else(|| merge_err!("{label} is empty, not a shard output"))?;
    let (shard, input) = first
        .get(0)
        .filter(|_| first.len() == 1)
        .and_then(parse_first)
        .ok_or_else(|| {
            merge_err!("{label} is not a shard output (its first line is not `#cartox-shard K/N input=...`)")
        })?;
    let header = it
        .next()
        .transpose()
        .map_err(|e| Error::csv("cannot read shard", &label, &e))?
        .ok_or_else(|| merge_err!("shard {label} has no header"))?;
    if header.get(0) != Some("row") {
        return Err(merge_err!(
            "shard {label}: the header does not start with `row`"
        ));
    }
    drop(input);
    Ok(Open {
        path: label,
        shard,
        records: it,
        header,
    })
}

/// Input fingerprint of a shard file (from its first line).
fn input_of(path: &Path) -> Result<String> {
    let label = path.display().to_string();
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::io("cannot open shard", &label, &e))?;
    let mut buf = vec![0u8; 256];
    let n = f.read(&mut buf)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let first = text.lines().next().unwrap_or("");
    parse_first(first).map(|(_, i)| i).ok_or_else(|| {
        merge_err!(
            "{label} is not a shard output (its first line is not `#cartox-shard K/N input=...`)"
        )
    })
}

/// Join the shard outputs of one input into the unsharded output, in input order. Fails when a
/// shard is missing, given twice, from another input or incomplete.
pub fn merge(shards: &[impl AsRef<Path>], out: &mut dyn Write) -> Result<usize> {
    if shards.is_empty() {
        return Err(merge_err!("no shard files given"));
    }
    let mut opened: Vec<Open> = vec![];
    let mut input: Option<(String, String)> = None;
    for p in shards {
        let p = p.as_ref();
        let fp = input_of(p)?;
        let o = open(p)?;
        match &input {
            None => input = Some((fp, o.path.clone())),
            Some((want, first)) if *want != fp => {
                return Err(merge_err!(
                    "{} is a shard of a different input ({fp}) than {first} ({want})",
                    o.path
                ))
            }
            _ => {}
        }
        opened.push(o);
    }
    let n = opened[0].shard.n;
    for o in &opened {
        if o.shard.n != n {
            return Err(merge_err!(
                "{} is shard {}/{} but {} is shard {}/{}: different shard counts",
                o.path,
                o.shard.k,
                o.shard.n,
                opened[0].path,
                opened[0].shard.k,
                n
            ));
        }
        if o.header != opened[0].header {
            return Err(merge_err!(
                "{} has different columns than {}",
                o.path,
                opened[0].path
            ));
        }
    }
    let mut slots: Vec<Option<Open>> = (0..n).map(|_| None).collect();
    for o in opened {
        let k = o.shard.k;
        if let Some(prev) = &slots[k - 1] {
            return Err(merge_err!(
                "shard {k}/{n} is given twice: {} and {}",
                prev.path,
                o.path
            ));
        }
        slots[k - 1] = Some(o);
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| slots[k - 1].is_none())
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(merge_err!(
            "shard{} {} missing (have {} of {n})",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ") + if missing.len() > 1 { " are" } else { " is" },
            n - missing.len()
        ));
    }
    let mut slots: Vec<Open> = slots.into_iter().map(Option::unwrap).collect();
    let header = slots[0].header.clone();
    out.write_all(csv_line(header.iter().skip(1)).as_bytes())?;

    // Round robin: row i comes from shard i % n; the first shard to reach its end line at its
    // turn marks the end, and every other shard must then be at its end line too.
    let mut row = 0usize;
    let mut ended: Vec<Option<usize>> = vec![None; n];
    loop {
        let s = &mut slots[row % n];
        let rec = s
            .records
            .next()
            .transpose()
            .map_err(|e| Error::csv("cannot read shard", &s.path, &e))?
            .ok_or_else(|| {
                merge_err!(
                    "shard {} ({}/{n}) is incomplete: it ends without its `#cartox-end` line",
                    s.path,
                    s.shard.k
                )
            })?;
        let first = rec.get(0).unwrap_or("");
        if first.starts_with("#cartox-end") {
            let total = parse_trailer(first)
                .ok_or_else(|| merge_err!("shard {}: malformed end line `{first}`", s.path))?;
            ended[row % n] = Some(total);
            break;
        }
        let idx: usize = first
            .parse()
            .map_err(|_| merge_err!("shard {}: bad row index `{first}`", s.path))?;
        if idx != row {
            return Err(merge_err!(
                "shard {} ({}/{n}): expected input row {row}, found {idx}",
                s.path,
                s.shard.k
            ));
        }
        out.write_all(csv_line(rec.iter().skip(1)).as_bytes())?;
        row += 1;
    }
    for (i, s) in slots.iter_mut().enumerate() {
        if ended[i].is_some() {
            continue;
        }
        let rec = s
            .records
            .next()
            .transpose()
            .map_err(|e| Error::csv("cannot read shard", &s.path, &e))?;
        match rec.as_ref().and_then(|r| r.get(0)) {
            Some(f) if f.starts_with("#cartox-end") => {
                ended[i] = Some(
                    parse_trailer(f)
                        .ok_or_else(|| merge_err!("shard {}: malformed end line `{f}`", s.path))?,
                )
            }
            Some(_) => {
                return Err(merge_err!(
                    "shard {} ({}/{n}) has rows beyond input row {row}, where shard {}/{n} ends",
                    s.path,
                    s.shard.k,
                    row % n + 1
                ))
            }
            None => {
                return Err(merge_err!(
                    "shard {} ({}/{n}) is incomplete: it ends without its `#cartox-end` line",
                    s.path,
                    s.shard.k
                ))
            }
        }
    }
    for (i, e) in ended.iter().enumerate() {
        if *e != Some(row) {
            return Err(merge_err!(
                "shard {} ({}/{n}) says the input has {} rows, but the shards hold {row}",
                slots[i].path,
                i + 1,
                e.unwrap_or(0)
            ));
        }
    }
    Ok(row)
}
