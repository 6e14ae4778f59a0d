//! Figure of a fit: per observed quantity, one panel with the data (filled circles; censored
//! observations as open triangles at their limit of quantification), the individual fit (solid)
//! and the typical-value prediction (dashed grey), on a log axis when every value is positive.
//! PNG or SVG, embedded font, written atomically.

use super::layout::ensure_fonts;
use super::{file_name, series_color, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One panel of a fit figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FitPanel {
    /// y-axis label with unit.
    pub label: String,
    /// Days of the curves.
    pub time: Vec<f64>,
    /// Individual fit on `time` (NaN where unavailable).
    pub fitted: Vec<f64>,
    /// Typical-value prediction on `time`.
    pub typical: Vec<f64>,
    /// Observations: (day, value, censored); a censored value is its limit.
    pub points: Vec<(f64, f64, bool)>,
}

/// Draw `panels` stacked, titled `title`, to `out` (`.png` or `.svg`).
pub fn render_fit(title: &str, panels: &[FitPanel], out: &Path) -> crate::Result<()> {
    let file = file_name(out);
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let (w, h) = (900u32, 60 + 320 * panels.len().max(1) as u32);
    let render_err = |e: String| PlotError::Render {
        file: file.clone(),
        msg: e,
    };
    if panels.is_empty() {
        return Err(PlotError::Data {
            file,
            msg: "no observations to plot".into(),
        }
        .into());
    }
    ensure_fonts();
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let write_err = |msg: String| PlotError::Write {
        file: file.clone(),
        msg,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".cartox-plot-")
        .suffix(&format!(".{}", ext.as_deref().unwrap_or("png")))
        .tempfile_in(dir)
        .map_err(|e| write_err(e.to_string()))?;
    match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(tmp.path(), (w, h)).into_drawing_area();
            draw(&root, title, panels).map_err(render_err)?;
            root.present().map_err(|e| write_err(e.to_string()))?;
        }
        Some("svg") => {
            let root = SVGBackend::new(tmp.path(), (w, h)).into_drawing_area();
            draw(&root, title, panels).map_err(render_err)?;
            root.present().map_err(|e| write_err(e.to_string()))?;
        }
        _ => return Err(PlotError::Format { file }.into()),
    }
    tmp.persist(out)
        .map_err(|e| write_err(e.error.to_string()))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[FitPanel],
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let areas = root.split_evenly((panels.len(), 1));
    let fit_color = series_color(0);
    let fit_rgb = RGBColor(fit_color.0, fit_color.1, fit_color.2);
    let data_rgb = RGBColor(0, 0, 0);
    for (p, area) in panels.iter().zip(&areas) {
        let t_max = p
            .time
            .iter()
            .chain(p.points.iter().map(|q| &q.0))
            .cloned()
            .fold(0.0, f64::max)
            .max(1e-3);
        let values: Vec<f64> = p
            .fitted
            .iter()
            .chain(&p.typical)
            .cloned()
            .chain(p.points.iter().map(|q| q.1))
            .filter(|v| v.is_finite())
            .collect();
        let log = !values.is_empty() && values.iter().all(|v| *v > 0.0);
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let mut chart = ChartBuilder::on(area);
        chart.margin(12).x_label_area_size(40).y_label_area_size(80);
        let points_of = |ys: &[f64]| -> Vec<(f64, f64)> {
            p.time
                .iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite() && (!log || **y > 0.0))
                .map(|(t, y)| (*t, *y))
                .collect()
        };
        macro_rules! body {
            ($c:expr) => {{
                let mut c = $c;
                c.configure_mesh()
                    .x_desc("days after infusion")
                    .y_desc(p.label.as_str())
                    .label_style(("sans-serif", 13))
                    .axis_desc_style(("sans-serif", 14))
                    .light_line_style(WHITE.mix(0.0))
                    .draw()
                    .map_err(e)?;
                c.draw_series(DashedLineSeries::new(
                    points_of(&p.typical),
                    6,
                    4,
                    RGBColor(140, 140, 140).stroke_width(2),
                ))
                .map_err(e)?
                .label("typical values")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(140, 140, 140))
                });
                c.draw_series(LineSeries::new(
                    points_of(&p.fitted),
                    fit_rgb.stroke_width(2),
                ))
                .map_err(e)?
                .label("fit")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], fit_rgb));
                c.draw_series(
                    p.points
                        .iter()
                        .filter(|q| !q.2 && (!log || q.1 > 0.0))
                        .map(|q| Circle::new((q.0, q.1), 4, data_rgb.filled())),
                )
                .map_err(e)?
                .label("data")
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, data_rgb.filled()));
                let censored =
                    c.draw_series(p.points.iter().filter(|q| q.2 && (!log || q.1 > 0.0)).map(
                        |q| {
                            TriangleMarker::new((q.0, q.1), 6, RGBColor(213, 94, 0).stroke_width(2))
                        },
                    ))
                    .map_err(e)?;
                if p.points.iter().any(|q| q.2) {
                    censored
                        .label("below LLOQ (at the limit)")
                        .legend(|(x, y)| {
                            TriangleMarker::new((x + 9, y), 6, RGBColor(213, 94, 0).stroke_width(2))
                        });
                }
                c.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(200, 200, 200))
                    .label_font(("sans-serif", 13))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(e)?;
            }};
        }
        if log {
            let c = chart
                .build_cartesian_2d(0.0..t_max * 1.02, (lo / 2.0..hi * 2.0).log_scale())
                .map_err(e)?;
            body!(c);
        } else {
            let pad = (hi - lo).abs().max(1e-12) * 0.05;
            let c = chart
                .build_cartesian_2d(0.0..t_max * 1.02, lo - pad..hi + pad)
                .map_err(e)?;
            body!(c);
        }
    }
    Ok(())
}
