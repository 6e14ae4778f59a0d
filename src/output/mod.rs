//! Outputs: time-course CSV and summary JSON, written atomically (temporary file, then rename) so
//! a failed run never leaves a half-written file; `-` writes to standard output.

use crate::trajectory::Trajectory;
use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Write a file through a temporary file in the same directory, renamed into place on success.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = BufWriter::new(stdout.lock());
        write(&mut lock)?;
        lock.flush()?;
        return Ok(());
    }
    // A device or pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written in place: renaming a
    // temporary file over it would replace the device with a regular file.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
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
        .with_context(|| format!("cannot write {}", path.display()))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        write(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // Temporary files are created 0600; a result file is an ordinary 0644 file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Shortest text that reads back as the same f64 (Rust's `{}` is round-trip exact).
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        format!("{x}")
    }
}

/// Write a time course: `time` (days), then every state, observable and extra column.
pub fn write_timecourse(
    w: &mut dyn Write,
    tr: &Trajectory,
    extra: &[(&str, Vec<f64>)],
) -> Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    let mut header = vec!["time".to_string()];
    header.extend(tr.state_names.iter().cloned());
    header.extend(tr.observable_names.iter().cloned());
    header.extend(extra.iter().map(|(n, _)| n.to_string()));
    csv.write_record(&header)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for (r, t) in tr.time.iter().enumerate() {
        row.clear();
        row.push(fmt_num(*t));
        row.extend(tr.states.row(r).iter().map(|x| fmt_num(*x)));
        row.extend(tr.observables.row(r).iter().map(|x| fmt_num(*x)));
        row.extend(extra.iter().map(|(_, col)| fmt_num(col[r])));
        csv.write_record(&row)?;
    }
    csv.flush()?;
    Ok(())
}
