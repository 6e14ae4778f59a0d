//! Rendering a planned figure to PNG (supersampled, then downsampled) or SVG, written atomically.

#[allow(unused_imports)]
use super::*;

pub(crate) enum Format {
    Png,
    Svg,
}

/// Validate the output path, render into a temporary file beside it and rename into place.
pub(crate) fn render(fig: &Figure, plan: &Plan, out: &Path) -> Result<(), PlotError> {
    let file = file_name(out);
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let format = match ext.as_deref() {
        Some("png") => Format::Png,
        Some("svg") => Format::Svg,
        _ => return Err(PlotError::Format { file }),
    };
    let lay = layout(fig).map_err(|e| match e {
        PlotError::Data { msg, .. } => PlotError::Data {
            file: file.clone(),
            msg,
        },
        e => e,
    })?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let write_err = |msg: String| PlotError::Write {
        file: file.clone(),
        msg,
    };
    let render_err = |msg: String| PlotError::Render {
        file: file.clone(),
        msg,
    };
    let suffix = match format {
        Format::Png => ".png",
        Format::Svg => ".svg",
    };
    let tmp = tempfile::Builder::new()
        .prefix(".cartox-plot-")
        .suffix(suffix)
        .tempfile_in(dir)
        .map_err(|e| write_err(e.to_string()))?;
    let (w, h) = (fig.width, fig.height);
    match format {
        Format::Png => {
            // Render at 2x and box-filter down: anti-aliased lines and text.
            const S: u32 = 2;
            let mut big = vec![255u8; (w * S * h * S * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut big, (w * S, h * S)).into_drawing_area();
                draw_figure(&root, fig, plan, &lay, S as f64, true).map_err(render_err)?;
                root.present().map_err(|e| render_err(e.to_string()))?;
            }
            let small = downsample(&big, w, h, S);
            let mut be = BitMapBackend::new(tmp.path(), (w, h));
            be.blit_bitmap((0, 0), (w, h), &small)
                .map_err(|e| render_err(e.to_string()))?;
            be.present().map_err(|e| write_err(e.to_string()))?;
        }
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                draw_figure(&root, fig, plan, &lay, 1.0, false).map_err(render_err)?;
                root.present().map_err(|e| render_err(e.to_string()))?;
            }
            std::fs::write(tmp.path(), s).map_err(|e| write_err(e.to_string()))?;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(out)
        .map_err(|e| write_err(e.error.to_string()))?;
    Ok(())
}

pub(crate) fn downsample(big: &[u8], w: u32, h: u32, s: u32) -> Vec<u8> {
    let (w, h, s) = (w as usize, h as usize, s as usize);
    let bw = w * s;
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0u32;
                for dy in 0..s {
                    for dx in 0..s {
                        acc += big[((y * s + dy) * bw + x * s + dx) * 3 + c] as u32;
                    }
                }
                out[(y * w + x) * 3 + c] = ((acc + (s * s / 2) as u32) / (s * s) as u32) as u8;
            }
        }
    }
    out
}

// ---------------------------------------------------------------- drawing
