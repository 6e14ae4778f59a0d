//! Sensitivity charts, one panel per output, side by side: a tornado chart (local sensitivities,
//! bars from 0 sorted by size, whiskers = error estimate), a `mu*`-`sigma` scatter (Morris, with
//! `mu*` bootstrap whiskers) and paired bars with confidence whiskers (Sobol `S1` and `ST`,
//! sorted by `ST`). Same fonts, palette and atomic write as the time-course figures.

use super::draw::{downsample, rgb, Ctx, AXIS, GRID, INK, R, SOFT};
use super::layout::{ensure_fonts, text_width, Rect};
use super::ticks::{linear_axis, Axis};
use super::{file_name, series_color, PlotError};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value per item (`series[0]`), bars from 0.
    Tornado,
    /// `series[0]` (x, e.g. mu*) against `series[1]` (y, e.g. sigma).
    MuSigma,
    /// One bar per series per item, sorted by the last series.
    Bars,
}

/// A value with its interval (NaN: missing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// One parameter of a panel: a value per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub label: String,
    pub values: Vec<Value>,
}

/// One output.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPanel {
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub kind: Kind,
    /// Series names (legend, axis titles).
    pub series: Vec<String>,
    pub panels: Vec<ChartPanel>,
}

const TICK: f64 = 13.0;
const PANEL_W: f64 = 430.0;

fn row_h(chart: &Chart) -> f64 {
    match chart.kind {
        Kind::Tornado => 26.0,
        _ => 34.0,
    }
}

fn size(chart: &Chart) -> (u32, u32) {
    let n = chart.panels.len().max(1) as f64;
    let items = chart
        .panels
        .iter()
        .map(|p| p.items.len())
        .max()
        .unwrap_or(1) as f64;
    let body = match chart.kind {
        Kind::MuSigma => PANEL_W * 0.9,
        _ => items * row_h(chart),
    };
    ((n * PANEL_W + 20.0) as u32, (body + 150.0) as u32)
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Axis over the values and interval ends of `vals`, always including 0.
fn axis_for(vals: impl Iterator<Item = Value>, target: usize) -> Axis {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in vals {
        for x in [v.value, v.low, v.high].into_iter().filter_map(finite) {
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    linear_axis(lo, hi, target, true, false)
}

/// Render `chart` as `.png` or `.svg` (written to a temporary file, then renamed).
pub fn render(chart: &Chart, title: &str, out: &Path) -> Result<(), PlotError> {
    ensure_fonts();
    let file = file_name(out);
    let data_err = |msg: String| PlotError::Data {
        file: file.clone(),
        msg,
    };
    if chart.panels.is_empty() || chart.panels.iter().all(|p| p.items.is_empty()) {
        return Err(data_err(
            "nothing to draw (no outputs or parameters)".into(),
        ));
    }
    let need = if chart.kind == Kind::MuSigma { 2 } else { 1 };
    if chart.series.len() < need
        || chart
            .panels
            .iter()
            .flat_map(|p| &p.items)
            .any(|i| i.values.len() != chart.series.len())
    {
        return Err(data_err("every item needs one value per series".into()));
    }
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let svg = match ext.as_deref() {
        Some("png") => false,
        Some("svg") => true,
        _ => return Err(PlotError::Format { file }),
    };
    let write_err = |msg: String| PlotError::Write {
        file: file.clone(),
        msg,
    };
    let render_err = |msg: String| PlotError::Render {
        file: file.clone(),
        msg,
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".cartox-plot-")
        .suffix(if svg { ".svg" } else { ".png" })
        .tempfile_in(dir)
        .map_err(|e| write_err(e.to_string()))?;
    let (w, h) = size(chart);
    if svg {
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
            let c = Ctx {
                root: &root,
                s: 1.0,
                raster: false,
            };
            draw(&c, chart, title, w as f64, h as f64).map_err(render_err)?;
            root.present().map_err(|e| render_err(e.to_string()))?;
        }
        std::fs::write(tmp.path(), s).map_err(|e| write_err(e.to_string()))?;
    } else {
        const S: u32 = 2;
        let mut big = vec![255u8; (w * S * h * S * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut big, (w * S, h * S)).into_drawing_area();
            let c = Ctx {
                root: &root,
                s: S as f64,
                raster: true,
            };
            draw(&c, chart, title, w as f64, h as f64).map_err(render_err)?;
            root.present().map_err(|e| render_err(e.to_string()))?;
        }
        let small = downsample(&big, w, h, S);
        let mut be = BitMapBackend::new(tmp.path(), (w, h));
        be.blit_bitmap((0, 0), (w, h), &small)
            .map_err(|e| render_err(e.to_string()))?;
        be.present().map_err(|e| write_err(e.to_string()))?;
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

fn draw<DB: DrawingBackend>(c: &Ctx<DB>, chart: &Chart, title: &str, w: f64, h: f64) -> R {
    c.root.fill(&WHITE).map_err(|e| e.to_string())?;
    c.text(
        title,
        w / 2.0,
        12.0,
        TICK * 1.3,
        INK,
        HPos::Center,
        VPos::Top,
        false,
    )?;
    // legend
    let mut lx = 14.0;
    let legend: Vec<(String, (u8, u8, u8))> = match chart.kind {
        Kind::Tornado => vec![
            ("increases the output".into(), series_color(0)),
            ("decreases it".into(), series_color(1)),
            ("whiskers: error estimate".into(), (0x44, 0x44, 0x44)),
        ],
        Kind::Bars => chart
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), series_color(i)))
            .chain([("whiskers: 95% bootstrap CI".into(), (0x44, 0x44, 0x44))])
            .collect(),
        Kind::MuSigma => vec![(
            format!("whiskers: 95% bootstrap CI of {}", chart.series[0]),
            (0x44, 0x44, 0x44),
        )],
    };
    for (label, col) in &legend {
        c.fill(lx, 40.0, lx + 12.0, 50.0, rgb(*col).to_rgba())?;
        c.text(
            label,
            lx + 16.0,
            45.0,
            TICK * 0.9,
            SOFT,
            HPos::Left,
            VPos::Center,
            false,
        )?;
        lx += 28.0 + text_width(label, TICK * 0.9);
    }
    for (k, p) in chart.panels.iter().enumerate() {
        let x = 10.0 + k as f64 * PANEL_W;
        match chart.kind {
            Kind::MuSigma => scatter(c, chart, p, x, h)?,
            _ => bars(c, chart, p, x, h)?,
        }
    }
    Ok(())
}

/// Vertical grid lines, the zero line and x tick labels of a panel.
fn x_axis<DB: DrawingBackend>(c: &Ctx<DB>, ax: &Axis, r: &Rect, name: &str) -> R {
    let px = |v: f64| r.x0 + ax.frac(v) * r.w();
    for (v, label) in &ax.major {
        let x = px(*v);
        let col = if *v == 0.0 {
            AXIS.mix(0.8)
        } else {
            GRID.to_rgba()
        };
        c.line(&[(x, r.y0), (x, r.y1)], col, 1.0)?;
        if let Some(l) = label {
            c.text(l, x, r.y1 + 6.0, TICK, INK, HPos::Center, VPos::Top, false)?;
        }
    }
    c.stroke_rect(r, AXIS, 1.0)?;
    c.text(
        name,
        (r.x0 + r.x1) / 2.0,
        r.y1 + 26.0,
        TICK,
        INK,
        HPos::Center,
        VPos::Top,
        false,
    )
}

fn whisker<DB: DrawingBackend>(c: &Ctx<DB>, r: &Rect, x0: f64, x1: f64, y: f64, cap: f64) -> R {
    let col = AXIS.to_rgba();
    let (x0, x1) = (x0.clamp(r.x0, r.x1), x1.clamp(r.x0, r.x1));
    c.line(&[(x0, y), (x1, y)], col, 1.2)?;
    c.line(&[(x0, y - cap), (x0, y + cap)], col, 1.2)?;
    c.line(&[(x1, y - cap), (x1, y + cap)], col, 1.2)
}

fn bars<DB: DrawingBackend>(c: &Ctx<DB>, chart: &Chart, p: &ChartPanel, x: f64, _h: f64) -> R {
    let rh = row_h(chart);
    let key = |i: &Item| -> f64 {
        let v = match chart.kind {
            Kind::Tornado => i.values[0].value.abs(),
            _ => i.values[i.values.len() - 1].value,
        };
        if v.is_finite() {
            v
        } else {
            f64::NEG_INFINITY
        }
    };
    let mut items: Vec<&Item> = p.items.iter().collect();
    items.sort_by(|a, b| key(b).total_cmp(&key(a)));
    let label_w = items
        .iter()
        .map(|i| text_width(&i.label, TICK))
        .fold(0.0, f64::max);
    let r = Rect {
        x0: x + label_w + 10.0,
        y0: 90.0,
        x1: x + PANEL_W - 18.0,
        y1: 90.0 + items.len() as f64 * rh,
    };
    let ax = axis_for(items.iter().flat_map(|i| i.values.iter().copied()), 5);
    c.text(
        &p.title,
        (r.x0 + r.x1) / 2.0,
        66.0,
        TICK * 1.1,
        INK,
        HPos::Center,
        VPos::Top,
        false,
    )?;
    let px = |v: f64| r.x0 + ax.frac(v) * r.w();
    let name = match chart.kind {
        Kind::Tornado => "d ln y / d ln p".to_string(),
        _ => "index".to_string(),
    };
    x_axis(c, &ax, &r, &name)?;
    let ns = chart.series.len() as f64;
    let band = rh * 0.72;
    for (row, item) in items.iter().enumerate() {
        let yc = r.y0 + (row as f64 + 0.5) * rh;
        c.text(
            &item.label,
            r.x0 - 6.0,
            yc,
            TICK,
            INK,
            HPos::Right,
            VPos::Center,
            false,
        )?;
        for (s, v) in item.values.iter().enumerate() {
            let Some(val) = finite(v.value) else { continue };
            let (top, bh) = (yc - band / 2.0 + s as f64 * band / ns, band / ns);
            let col = match chart.kind {
                Kind::Tornado => series_color(if val >= 0.0 { 0 } else { 1 }),
                _ => series_color(s),
            };
            let (a, b) = (px(0.0).min(px(val)), px(0.0).max(px(val)));
            c.fill(
                a,
                top + 1.0,
                b.max(a + 1.0),
                top + bh - 1.0,
                rgb(col).mix(0.85),
            )?;
            if let (Some(lo), Some(hi)) = (finite(v.low), finite(v.high)) {
                whisker(
                    c,
                    &r,
                    px(lo),
                    px(hi),
                    top + bh / 2.0,
                    (bh / 2.0 - 2.0).clamp(2.0, 5.0),
                )?;
            }
        }
    }
    Ok(())
}

fn scatter<DB: DrawingBackend>(c: &Ctx<DB>, chart: &Chart, p: &ChartPanel, x: f64, h: f64) -> R {
    let r = Rect {
        x0: x + 62.0,
        y0: 90.0,
        x1: x + PANEL_W - 24.0,
        y1: h - 60.0,
    };
    c.text(
        &p.title,
        (r.x0 + r.x1) / 2.0,
        66.0,
        TICK * 1.1,
        INK,
        HPos::Center,
        VPos::Top,
        false,
    )?;
    let xs = axis_for(p.items.iter().map(|i| i.values[0]), 5);
    let ys = axis_for(
        p.items.iter().map(|i| Value {
            value: i.values[1].value,
            low: f64::NAN,
            high: f64::NAN,
        }),
        5,
    );
    let px = |v: f64| r.x0 + xs.frac(v) * r.w();
    let py = |v: f64| r.y1 - ys.frac(v) * r.h();
    for (v, label) in &ys.major {
        let y = py(*v);
        c.line(&[(r.x0, y), (r.x1, y)], GRID.to_rgba(), 1.0)?;
        if let Some(l) = label {
            c.text(
                l,
                r.x0 - 6.0,
                y,
                TICK,
                INK,
                HPos::Right,
                VPos::Center,
                false,
            )?;
        }
    }
    c.text(
        &chart.series[1],
        x + 14.0,
        (r.y0 + r.y1) / 2.0,
        TICK,
        INK,
        HPos::Center,
        VPos::Center,
        true,
    )?;
    x_axis(c, &xs, &r, &chart.series[0])?;
    // sigma = mu* reference line (effects that change sign or interact lie above it)
    let m = xs.hi.min(ys.hi);
    if m > 0.0 {
        c.line(&[(px(0.0), py(0.0)), (px(m), py(m))], SOFT.mix(0.35), 1.0)?;
    }
    for (i, item) in p.items.iter().enumerate() {
        let (Some(mx), Some(sy)) = (finite(item.values[0].value), finite(item.values[1].value))
        else {
            continue;
        };
        let (cx, cy) = (px(mx), py(sy));
        if let (Some(lo), Some(hi)) = (finite(item.values[0].low), finite(item.values[0].high)) {
            whisker(c, &r, px(lo), px(hi), cy, 3.0)?;
        }
        c.fill(
            cx - 4.0,
            cy - 4.0,
            cx + 4.0,
            cy + 4.0,
            rgb(series_color(i)).to_rgba(),
        )?;
        c.text(
            &item.label,
            cx + 7.0,
            cy - 3.0,
            TICK * 0.9,
            INK,
            HPos::Left,
            VPos::Bottom,
            false,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart {
        let v = |x: f64| Value {
            value: x,
            low: x - 0.1,
            high: x + 0.1,
        };
        let series = match kind {
            Kind::Tornado => vec!["local".into()],
            Kind::MuSigma => vec!["mu_star".into(), "sigma".into()],
            Kind::Bars => vec!["S1".into(), "ST".into()],
        };
        let ns = series.len();
        Chart {
            kind,
            series,
            panels: vec![ChartPanel {
                title: "cart_cmax".into(),
                items: vec![
                    Item {
                        label: "k_act".into(),
                        values: vec![v(0.8); ns],
                    },
                    Item {
                        label: "delta_E".into(),
                        values: vec![v(-0.5); ns],
                    },
                    Item {
                        label: "beta".into(),
                        values: vec![v(f64::NAN); ns],
                    },
                ],
            }],
        }
    }

    #[test]
    fn every_kind_renders_png_and_svg_and_bad_extensions_fail() {
        let dir = tempfile::tempdir().unwrap();
        for kind in [Kind::Tornado, Kind::MuSigma, Kind::Bars] {
            for ext in ["png", "svg"] {
                let out = dir.path().join(format!("c.{ext}"));
                render(&chart(kind), "t", &out).unwrap();
                assert!(std::fs::metadata(&out).unwrap().len() > 1000);
            }
        }
        let e = render(&chart(Kind::Bars), "t", &dir.path().join("c.jpg")).unwrap_err();
        assert!(e.to_string().contains("unsupported output format"));
        assert!(!dir.path().join("c.jpg").exists());
    }
}
