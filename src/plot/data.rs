//! Data helpers: percentile ribbons over patients and time-course CSV reading.

use super::{file_name, Band, PlotError, Series};
use std::path::Path;

/// Linear-interpolated percentile (numpy's default, "type 7") of sorted finite values.
fn percentile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = (p / 100.0) * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    v[i] + (v[j] - v[i]) * (pos - i as f64)
}

/// Median and `[lo, hi]` percentile ribbon (percentiles in 0..=100, e.g. 5 and 95) over patients
/// sharing the time grid `time`. Non-finite values are ignored per time point; a time point
/// with no finite value gives NaN (drawn as a gap). Patients shorter than `time` count as
/// missing at the later points.
pub fn percentile_band(label: &str, time: &[f64], patients: &[Vec<f64>], lo: f64, hi: f64) -> Band {
    let (mut lo, mut hi) = (lo.clamp(0.0, 100.0), hi.clamp(0.0, 100.0));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let mut band = Band {
        label: label.to_string(),
        time: time.to_vec(),
        ..Band::default()
    };
    let mut col = Vec::with_capacity(patients.len());
    for k in 0..time.len() {
        col.clear();
        col.extend(
            patients
                .iter()
                .filter_map(|p| p.get(k).copied())
                .filter(|x| x.is_finite()),
        );
        col.sort_by(|a, b| a.partial_cmp(b).unwrap());
        band.lower.push(percentile_sorted(&col, lo));
        band.median.push(percentile_sorted(&col, 50.0));
        band.upper.push(percentile_sorted(&col, hi));
    }
    band
}

fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "" | "." | "NA" | "na" | "NaN" | "nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok(),
    }
}

/// Read a time-course CSV: a header with a `time` column (any case), an optional `ID` column
/// and other columns; columns whose every value is numeric (or empty/NA/`.`) become series
/// columns, other columns are skipped. Long files (with `ID`) give one [`Series`] per ID in
/// order of first appearance, labelled "`label` `ID`"; files without `ID` give one series
/// labelled `label`. Rows are sorted by time within each series.
pub fn read_timecourse_csv(path: &Path, label: &str) -> crate::error::Result<Vec<Series>> {
    let file = file_name(path);
    let err = |msg: String| PlotError::Input {
        file: file.clone(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if text.trim().is_empty() {
        return Err(crate::Error::from(err(
            "empty file (expected a header with a `time` column)".into(),
        )));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| err(format!("bad header: {e}")))?
        .iter()
        .map(|s| s.to_string())
        .collect();
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let tcol = find("time")
        .ok_or_else(|| err(format!("no `time` column (columns: {})", header.join(", "))))?;
    let idcol = find("id");

    let mut rows: Vec<csv::StringRecord> = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("line {}: {e}", i + 2)))?;
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        rows.push(rec);
    }
    if rows.is_empty() {
        return Err(crate::Error::from(err("no data rows".into())));
    }
    // numeric columns: every field parses
    let value_cols: Vec<usize> = (0..header.len())
        .filter(|&c| c != tcol && Some(c) != idcol)
        .filter(|&c| {
            rows.iter()
                .all(|r| parse_num(r.get(c).unwrap_or("")).is_some())
        })
        .collect();
    if value_cols.is_empty() {
        return Err(crate::Error::from(err(
            "no numeric columns besides `time`".into()
        )));
    }

    // group rows by ID (first-appearance order)
    let mut ids: Vec<String> = vec![];
    let mut groups: Vec<Vec<usize>> = vec![];
    for (i, r) in rows.iter().enumerate() {
        let id = idcol
            .map(|c| r.get(c).unwrap_or("").to_string())
            .unwrap_or_default();
        match ids.iter().position(|x| *x == id) {
            Some(g) => groups[g].push(i),
            None => {
                ids.push(id);
                groups.push(vec![i]);
            }
        }
    }

    let mut out = vec![];
    for (id, idx) in ids.iter().zip(groups) {
        let mut pts: Vec<(f64, usize)> = Vec::with_capacity(idx.len());
        for i in idx {
            let raw = rows[i].get(tcol).unwrap_or("");
            let t = raw
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| {
                    err(format!(
                        "data row {}: time value `{raw}` is not a number",
                        i + 1
                    ))
                })?;
            pts.push((t, i));
        }
        pts.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let s_label = match (idcol.is_some(), label.is_empty()) {
            (false, _) => label.to_string(),
            (true, true) => id.clone(),
            (true, false) => format!("{label} {id}"),
        };
        out.push(Series {
            label: s_label,
            time: pts.iter().map(|p| p.0).collect(),
            columns: value_cols
                .iter()
                .map(|&c| {
                    let v = pts
                        .iter()
                        .map(|&(_, i)| parse_num(rows[i].get(c).unwrap_or("")).unwrap())
                        .collect();
                    (header[c].clone(), v)
                })
                .collect(),
        });
    }
    Ok(out)
}
