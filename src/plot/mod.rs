//! Figure renderer for cartox: stacked time-course panels sharing one time axis, written as PNG
//! or SVG with the embedded DejaVu Sans font (no system fonts, no fontconfig/freetype).
//!
//! * [`render_series`] draws one line per [`Series`] (e.g. one per dosing scenario).
//! * [`render_bands`] draws a median line and a percentile ribbon per [`Band`] (population runs).
//! * [`percentile_band`] and [`read_timecourse_csv`] prepare data for them.
//! * [`draw_runs`] (and [`runs_figure`], [`series_of`], [`decorate`]) draws simulated runs.
//!
//! Output is written to a temporary file next to the target and renamed into place only after
//! rendering succeeded, so a failed render leaves no file behind.

mod data;
mod draw;
pub mod figure;
pub mod fit;
mod glyphs;
pub mod indices;
mod layout;
mod runs;
#[cfg(test)]
mod tests;
mod ticks;

use std::path::Path;

pub use data::{percentile_band, read_timecourse_csv};
pub use layout::panel_rects;
pub use runs::{build_figure, decorate, draw_runs, runs_figure, series_of, FigureOptions};

/// One simulated trajectory (or one scenario): time in days and named output columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub label: String,
    /// Time after infusion, days.
    pub time: Vec<f64>,
    /// (column name, values), each as long as `time`.
    pub columns: Vec<(String, Vec<f64>)>,
}

impl Series {
    /// Values of the column `name`, if present.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// A population summary for one group: median line and a percentile ribbon.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    pub label: String,
    pub time: Vec<f64>,
    pub lower: Vec<f64>,
    pub median: Vec<f64>,
    pub upper: Vec<f64>,
}

/// One stacked panel of a figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Column to draw (for [`render_series`]; for [`render_bands`] it names the panel in errors).
    pub column: String,
    /// y axis label with unit, e.g. "CAR-T in blood (cells/uL)".
    pub label: String,
    pub log: bool,
    /// Horizontal threshold lines (value, label), e.g. (170.0, "grade 2"); the bands between
    /// consecutive thresholds are shaded, increasingly, very lightly.
    pub thresholds: Vec<(f64, String)>,
}

impl Panel {
    /// Linear panel without thresholds.
    pub fn new(column: &str, label: &str) -> Self {
        Panel {
            column: column.into(),
            label: label.into(),
            log: false,
            thresholds: vec![],
        }
    }
    /// Builder: log scale.
    pub fn log(mut self) -> Self {
        self.log = true;
        self
    }
    /// Builder: add a threshold line.
    pub fn threshold(mut self, value: f64, label: &str) -> Self {
        self.thresholds.push((value, label.into()));
        self
    }
}

/// Figure description: panels, size in pixels, annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub panels: Vec<Panel>,
    pub width: u32,
    pub height: u32,
    pub title: Option<String>,
    /// One line at the bottom, e.g. "Grades are modelled risk, not clinical ASTCT grades. n = 500".
    pub caption: Option<String>,
    /// Vertical marks (time in days, label): dose and intervention times.
    pub markers: Vec<(f64, String)>,
    /// Shaded time ranges (start, end, label): monitoring window, early-alarm window.
    pub windows: Vec<(f64, f64, String)>,
}

impl Default for Figure {
    fn default() -> Self {
        Figure {
            panels: vec![],
            width: 900,
            height: 900,
            title: None,
            caption: None,
            markers: vec![],
            windows: vec![],
        }
    }
}

/// Errors of the renderer (defined with the library's error type).
pub use crate::error::PlotError;

/// Okabe-Ito palette, in the order used for series and groups.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xB2), // blue
    (0xD5, 0x5E, 0x00), // vermillion
    (0x00, 0x9E, 0x73), // bluish green
    (0xE6, 0x9F, 0x00), // orange
    (0xCC, 0x79, 0xA7), // reddish purple
    (0x56, 0xB4, 0xE9), // sky blue
    (0xF0, 0xE4, 0x42), // yellow
    (0x00, 0x00, 0x00), // black
];

/// Colour of the `i`-th series or group (cycles after 8).
pub fn series_color(i: usize) -> (u8, u8, u8) {
    PALETTE[i % PALETTE.len()]
}

/// Ribbon opacity used by [`render_bands`].
pub const RIBBON_ALPHA: f64 = 0.25;

/// Draw one line per series in every panel (colour = series index), write `.png` or `.svg`.
pub fn render_series(fig: &Figure, series: &[Series], out: &Path) -> crate::error::Result<()> {
    let plan = draw::Plan::from_series(fig, series, out)?;
    Ok(draw::render(fig, &plan, out)?)
}

/// Draw a median line and ribbon per band; `bands_per_panel[i]` holds one [`Band`] per group for
/// panel `i`. Groups are matched across panels by label (same colour everywhere).
pub fn render_bands(
    fig: &Figure,
    bands_per_panel: &[Vec<Band>],
    out: &Path,
) -> crate::error::Result<()> {
    let plan = draw::Plan::from_bands(fig, bands_per_panel, out)?;
    Ok(draw::render(fig, &plan, out)?)
}

pub(crate) fn file_name(p: &Path) -> String {
    p.display().to_string()
}
