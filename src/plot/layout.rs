//! Figure layout in logical pixels, derived from the [`Figure`] alone (not from the data), so
//! tests and callers can know where each panel's plotting area is.

use super::{Figure, PlotError};
use plotters::style::{FontDesc, FontFamily, FontStyle};
use std::sync::Once;

static FONTS: Once = Once::new();

/// Register the embedded DejaVu Sans as "sans-serif" (once per process).
pub(crate) fn ensure_fonts() {
    FONTS.call_once(|| {
        // The bundled font is known-good; a failure here would be a build defect.
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| ())
            .expect("embedded DejaVu Sans font is valid");
    });
}

/// Width of `s` in pixels at font size `size`.
pub(crate) fn text_width(s: &str, size: f64) -> f64 {
    ensure_fonts();
    // same advances the raster text path uses (see glyphs.rs)
    if let Some(m) = super::glyphs::metrics() {
        let w: Option<f64> = s.chars().map(|c| m.h_metrics(c, size).map(|g| g.0)).sum();
        if let Some(w) = w {
            return w;
        }
    }
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
        .box_size(s)
        .map(|(w, _)| w as f64)
        .unwrap_or(s.chars().count() as f64 * size * 0.6)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn w(&self) -> f64 {
        self.x1 - self.x0
    }
    pub fn h(&self) -> f64 {
        self.y1 - self.y0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub w: f64,
    #[allow(dead_code)]
    pub h: f64,
    /// Font sizes (px).
    pub tick: f64,
    pub label: f64,
    pub title: f64,
    pub annot: f64,
    pub legend: f64,
    pub caption: f64,
    pub tick_len: f64,
    pub line_w: f64,
    /// Plotting areas, top to bottom.
    pub panels: Vec<Rect>,
    /// y label of each panel, split into 1 or 2 lines.
    pub ylabels: Vec<Vec<String>>,
    /// Horizontal centre of the (rotated) y label block.
    pub ylabel_x: f64,
    pub ylabel_line_h: f64,
    pub title_y: f64,
    /// Top of the annotation strip (marker and window labels) and its rows.
    pub strip_top: f64,
    pub strip_rows: usize,
    pub strip_row_h: f64,
    pub xticklabel_y: f64,
    pub xlabel_y: f64,
    pub caption_y: f64,
}

/// Split "Name (unit)" into two lines if it is wider than `avail`.
fn split_label(label: &str, size: f64, avail: f64) -> Vec<String> {
    if text_width(label, size) <= avail {
        return vec![label.to_string()];
    }
    let cut = label.rfind(" (").or_else(|| {
        // else the space closest to the middle
        let mid = label.len() / 2;
        label
            .match_indices(' ')
            .map(|(i, _)| i)
            .min_by_key(|i| i.abs_diff(mid))
    });
    match cut {
        Some(i) => vec![label[..i].trim().to_string(), label[i..].trim().to_string()],
        None => vec![label.to_string()],
    }
}

/// Largest size <= `size` at which every string fits in `avail` px.
fn fit(lines: &[String], size: f64, avail: f64) -> f64 {
    let widest = lines
        .iter()
        .map(|l| text_width(l, size))
        .fold(0.0, f64::max);
    if widest > avail && widest > 0.0 {
        (size * avail / widest).max(6.0)
    } else {
        size
    }
}

pub(crate) fn layout(fig: &Figure) -> Result<Layout, PlotError> {
    let n = fig.panels.len().max(1) as f64;
    let (w, h) = (fig.width as f64, fig.height as f64);
    let tick = (h / n / 14.0).min(w / 52.0).clamp(9.0, 24.0);
    let label = tick * 1.1;
    let mut title = tick * 1.3;
    let annot = tick * 0.85;
    let legend = tick * 0.9;
    let mut caption = tick * 0.85;
    let tick_len = (tick * 0.35).max(3.0);
    let line_w = (tick / 7.0).clamp(1.5, 3.5);
    let pad = tick * 0.7;

    // vertical budget
    let mut top = pad * 0.6;
    let mut title_y = 0.0;
    if let Some(t) = &fig.title {
        title = fit(std::slice::from_ref(t), title, w - 2.0 * pad);
        title_y = top + title * 0.6;
        top += title * 1.5;
    }
    let items = fig.markers.len() + fig.windows.len();
    let strip_rows = items.min(2);
    let strip_row_h = annot * 1.35;
    let strip_top = top;
    top += strip_rows as f64 * strip_row_h
        + if strip_rows > 0 {
            tick * 0.6
        } else {
            tick * 0.5
        };

    let mut bottom_stack = tick_len + tick * 0.35; // tick + gap
    let xticklabel_rel = bottom_stack;
    bottom_stack += tick * 1.15;
    let xlabel_rel = bottom_stack + label * 0.2;
    bottom_stack += label * 1.45;
    let mut caption_rel = 0.0;
    if let Some(c) = &fig.caption {
        caption = fit(std::slice::from_ref(c), caption, w - 2.0 * pad);
        caption_rel = bottom_stack + caption * 0.1;
        bottom_stack += caption * 1.5;
    }
    bottom_stack += pad * 0.4;

    let gap = tick * 0.9;
    let panel_h = (h - top - bottom_stack - gap * (n - 1.0)) / n;
    if panel_h < tick * 3.0 || w < 150.0 {
        return Err(PlotError::Data {
            file: String::new(),
            msg: format!(
                "figure {}x{} px is too small for {} panel(s)",
                fig.width,
                fig.height,
                fig.panels.len()
            ),
        });
    }

    // y labels: one line if it fits along the panel height, else "name / (unit)"
    let avail = panel_h * 0.95;
    let ylabels: Vec<Vec<String>> = fig
        .panels
        .iter()
        .map(|p| split_label(&p.label, label, avail))
        .collect();
    let ylabel_size = ylabels
        .iter()
        .map(|l| fit(l, label, avail))
        .fold(label, f64::min);
    let ylabel_lines = ylabels.iter().map(|l| l.len()).max().unwrap_or(1) as f64;
    let ylabel_line_h = ylabel_size * 1.2;

    let ticklabel_w = ["-1.5e5", "0.025", "1e-10"]
        .iter()
        .map(|s| text_width(s, tick))
        .fold(0.0, f64::max);
    let left = pad * 0.6 + ylabel_lines * ylabel_line_h + tick * 0.4 + ticklabel_w + tick_len;
    let ylabel_x = pad * 0.6 + ylabel_lines * ylabel_line_h / 2.0;

    let thr_w = fig
        .panels
        .iter()
        .flat_map(|p| p.thresholds.iter())
        .map(|(_, l)| text_width(l, annot))
        .fold(0.0, f64::max);
    let right = if thr_w > 0.0 {
        thr_w + tick * 0.8
    } else {
        tick * 1.3
    };
    if w - left - right < w * 0.3 {
        return Err(PlotError::Data {
            file: String::new(),
            msg: format!("figure width {} px is too small for the labels", fig.width),
        });
    }

    let panels = (0..fig.panels.len())
        .map(|i| {
            let y0 = top + i as f64 * (panel_h + gap);
            Rect {
                x0: left,
                y0,
                x1: w - right,
                y1: y0 + panel_h,
            }
        })
        .collect::<Vec<_>>();
    let plot_bottom = panels.last().map(|r| r.y1).unwrap_or(h);

    Ok(Layout {
        w,
        h,
        tick,
        label: ylabel_size,
        title,
        annot,
        legend,
        caption,
        tick_len,
        line_w,
        panels,
        ylabels,
        ylabel_x,
        ylabel_line_h,
        title_y,
        strip_top,
        strip_rows,
        strip_row_h,
        xticklabel_y: plot_bottom + xticklabel_rel,
        xlabel_y: plot_bottom + xlabel_rel,
        caption_y: plot_bottom + caption_rel,
    })
}

/// Pixel rectangle `(left, top, right, bottom)` of each panel's plotting area (inside the axes
/// frame; right and bottom exclusive), top panel first, as rendered in the PNG output.
/// Empty if the figure is too small to lay out.
pub fn panel_rects(fig: &Figure) -> Vec<(u32, u32, u32, u32)> {
    match layout(fig) {
        Ok(l) => l
            .panels
            .iter()
            .map(|r| {
                (
                    r.x0.round() as u32,
                    r.y0.round() as u32,
                    r.x1.round() as u32,
                    r.y1.round() as u32,
                )
            })
            .collect(),
        Err(_) => vec![],
    }
}
