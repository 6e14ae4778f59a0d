//! Validation ("plan") and drawing of a figure on any plotters backend.

use super::layout::{layout, text_width, Layout, Rect};
use super::ticks::{linear_axis, log_axis, Axis};
use super::{file_name, series_color, Band, Figure, PlotError, Series, RIBBON_ALPHA};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::path::Path;

/// One drawable layer of a panel.
pub(crate) struct Layer<'a> {
    pub group: usize,
    pub time: &'a [f64],
    pub line: Option<&'a [f64]>,
    pub ribbon: Option<(&'a [f64], &'a [f64])>,
}

/// Validated data of a figure.
pub(crate) struct Plan<'a> {
    /// (label, group index, has ribbon)
    pub legend: Vec<(String, usize, bool)>,
    pub panels: Vec<Vec<Layer<'a>>>,
}

fn data_err(out: &Path, msg: String) -> PlotError {
    PlotError::Data {
        file: file_name(out),
        msg,
    }
}

fn drawable(v: &[f64], log: bool) -> bool {
    v.iter().any(|x| x.is_finite() && (!log || *x > 0.0))
}

fn check_time(out: &Path, what: &str, label: &str, time: &[f64]) -> Result<(), PlotError> {
    if time.is_empty() {
        return Err(data_err(
            out,
            format!("{what} `{label}` is empty (no time points)"),
        ));
    }
    if let Some(t) = time.iter().find(|t| !t.is_finite()) {
        return Err(data_err(
            out,
            format!("{what} `{label}` has a non-finite time value ({t})"),
        ));
    }
    Ok(())
}

fn check_annotations(fig: &Figure, out: &Path) -> Result<(), PlotError> {
    if let Some((t, l)) = fig.markers.iter().find(|m| !m.0.is_finite()) {
        return Err(data_err(
            out,
            format!("marker `{l}` has a non-finite time ({t})"),
        ));
    }
    if let Some((a, b, l)) = fig
        .windows
        .iter()
        .find(|w| !w.0.is_finite() || !w.1.is_finite())
    {
        return Err(data_err(
            out,
            format!("window `{l}` has a non-finite bound ({a}, {b})"),
        ));
    }
    Ok(())
}

impl<'a> Plan<'a> {
    pub fn from_series(
        fig: &Figure,
        series: &'a [Series],
        out: &Path,
    ) -> Result<Plan<'a>, PlotError> {
        if fig.panels.is_empty() {
            return Err(data_err(out, "figure has no panels".into()));
        }
        check_annotations(fig, out)?;
        if series.is_empty() {
            return Err(data_err(out, "no series to plot".into()));
        }
        for s in series {
            check_time(out, "series", &s.label, &s.time)?;
            for (name, v) in &s.columns {
                if v.len() != s.time.len() {
                    return Err(data_err(
                        out,
                        format!(
                            "series `{}`: column `{name}` has {} values for {} time points",
                            s.label,
                            v.len(),
                            s.time.len()
                        ),
                    ));
                }
            }
        }
        let mut panels = vec![];
        for p in &fig.panels {
            let layers: Vec<Layer> = series
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.column(&p.column).map(|v| Layer {
                        group: i,
                        time: &s.time,
                        line: Some(v),
                        ribbon: None,
                    })
                })
                .collect();
            if layers.is_empty() {
                let mut avail: Vec<&str> = vec![];
                for s in series {
                    for (n, _) in &s.columns {
                        if !avail.contains(&n.as_str()) {
                            avail.push(n);
                        }
                    }
                }
                return Err(PlotError::UnknownPanel {
                    file: file_name(out),
                    column: p.column.clone(),
                    available: avail.join(", "),
                });
            }
            if !layers.iter().any(|l| drawable(l.line.unwrap(), p.log)) {
                let what = if p.log { "positive" } else { "finite" };
                return Err(data_err(
                    out,
                    format!(
                        "panel `{}`: the column has no {what} values to draw",
                        p.column
                    ),
                ));
            }
            panels.push(layers);
        }
        let legend = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.label.clone(), i, false))
            .collect();
        Ok(Plan { legend, panels })
    }

    pub fn from_bands(
        fig: &Figure,
        bands: &'a [Vec<Band>],
        out: &Path,
    ) -> Result<Plan<'a>, PlotError> {
        if fig.panels.is_empty() {
            return Err(data_err(out, "figure has no panels".into()));
        }
        check_annotations(fig, out)?;
        if bands.len() != fig.panels.len() {
            return Err(data_err(
                out,
                format!(
                    "{} band set(s) given for {} panel(s)",
                    bands.len(),
                    fig.panels.len()
                ),
            ));
        }
        let mut legend: Vec<(String, usize, bool)> = vec![];
        let mut panels = vec![];
        for (p, set) in fig.panels.iter().zip(bands) {
            if set.is_empty() {
                return Err(data_err(out, format!("panel `{}` has no bands", p.column)));
            }
            let mut layers = vec![];
            for b in set {
                check_time(out, "band", &b.label, &b.time)?;
                for (name, v) in [
                    ("lower", &b.lower),
                    ("median", &b.median),
                    ("upper", &b.upper),
                ] {
                    if v.len() != b.time.len() {
                        return Err(data_err(
                            out,
                            format!(
                                "band `{}` in panel `{}`: {name} has {} values for {} time points",
                                b.label,
                                p.column,
                                v.len(),
                                b.time.len()
                            ),
                        ));
                    }
                }
                let group = match legend.iter().position(|(l, _, _)| *l == b.label) {
                    Some(g) => g,
                    None => {
                        legend.push((b.label.clone(), legend.len(), true));
                        legend.len() - 1
                    }
                };
                layers.push(Layer {
                    group,
                    time: &b.time,
                    line: Some(&b.median),
                    ribbon: Some((&b.lower, &b.upper)),
                });
            }
            let ok = set
                .iter()
                .any(|b| drawable(&b.median, p.log) || drawable(&b.upper, p.log));
            if !ok {
                let what = if p.log { "positive" } else { "finite" };
                return Err(data_err(
                    out,
                    format!(
                        "panel `{}`: the bands have no {what} values to draw",
                        p.column
                    ),
                ));
            }
            panels.push(layers);
        }
        Ok(Plan { legend, panels })
    }
}

enum Format {
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

pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(crate) const AXIS: RGBColor = RGBColor(0x44, 0x44, 0x44);
pub(crate) const SOFT: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub(crate) const GRID: RGBColor = RGBColor(0xEB, 0xEB, 0xEB);
const THRESH: RGBColor = RGBColor(0x80, 0x80, 0x80);
const GRADE_TINT: RGBColor = RGBColor(0xD5, 0x5E, 0x00);

pub(crate) fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

pub(crate) type R = Result<(), String>;

/// Drawing context: logical coordinates scaled to backend pixels.
pub(crate) struct Ctx<'r, DB: DrawingBackend> {
    pub root: &'r DrawingArea<DB, Shift>,
    pub s: f64,
    pub raster: bool,
}

impl<'r, DB: DrawingBackend> Ctx<'r, DB> {
    pub(crate) fn p(&self, v: f64) -> i32 {
        (v * self.s).round() as i32
    }
    pub(crate) fn pt(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (self.p(x), self.p(y))
    }
    pub(crate) fn fill(&self, x0: f64, y0: f64, x1: f64, y1: f64, color: RGBAColor) -> R {
        self.root
            .draw(&Rectangle::new(
                [self.pt((x0, y0)), self.pt((x1, y1))],
                color.filled(),
            ))
            .map_err(|e| e.to_string())
    }
    pub(crate) fn stroke_rect(&self, r: &Rect, color: RGBColor, width: f64) -> R {
        let sw = (width * self.s).round().max(1.0) as u32;
        self.root
            .draw(&Rectangle::new(
                [self.pt((r.x0, r.y0)), self.pt((r.x1, r.y1))],
                color.stroke_width(sw),
            ))
            .map_err(|e| e.to_string())
    }
    pub(crate) fn line(&self, pts: &[(f64, f64)], color: RGBAColor, width: f64) -> R {
        if pts.len() < 2 {
            return Ok(());
        }
        let sw = (width * self.s).round().max(1.0) as u32;
        let v: Vec<(i32, i32)> = pts.iter().map(|&q| self.pt(q)).collect();
        self.root
            .draw(&PathElement::new(v, color.stroke_width(sw)))
            .map_err(|e| e.to_string())
    }
    pub(crate) fn polygon(&self, pts: &[(f64, f64)], color: RGBAColor) -> R {
        if pts.len() < 3 {
            return Ok(());
        }
        let v: Vec<(i32, i32)> = pts.iter().map(|&q| self.pt(q)).collect();
        self.root
            .draw(&Polygon::new(v, color.filled()))
            .map_err(|e| e.to_string())
    }
    /// Text anchored at (x, y); `rotate` = reading bottom-to-top.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn text(
        &self,
        t: &str,
        x: f64,
        y: f64,
        size: f64,
        color: RGBColor,
        h: HPos,
        v: VPos,
        rotate: bool,
    ) -> R {
        if t.is_empty() {
            return Ok(());
        }
        // The ab_glyph raster path draws glyphs ~0.2 em above their layout box; compensate.
        let (mut x, mut y) = (x, y);
        if self.raster {
            if rotate {
                x += 0.2 * size;
            } else {
                y += 0.2 * size;
            }
        }
        let mut style = TextStyle::from(("sans-serif", size * self.s).into_font()).color(&color);
        if rotate {
            style = style.transform(FontTransform::Rotate270);
        }
        let m = if self.raster {
            super::glyphs::metrics()
        } else {
            None
        };
        let Some(m) = m.filter(|m| t.chars().all(|c| m.h_metrics(c, 1.0).is_some())) else {
            let style = style.pos(Pos::new(h, v));
            return self
                .root
                .draw_text(t, &style, self.pt((x, y)))
                .map_err(|e| e.to_string());
        };
        // place glyphs one by one (see glyphs.rs), in backend pixels
        let px = size * self.s;
        let hm: Vec<(f64, f64)> = t.chars().map(|c| m.h_metrics(c, px).unwrap()).collect();
        let total: f64 = hm.iter().map(|g| g.0).sum();
        let mut pen = match h {
            HPos::Left => 0.0,
            HPos::Center => -total / 2.0,
            HPos::Right => -total,
        };
        let style = style.pos(Pos::new(HPos::Left, v));
        let (ax, ay) = (x * self.s, y * self.s);
        let mut buf = [0u8; 4];
        for (ch, (adv, lsb)) in t.chars().zip(hm) {
            if !ch.is_whitespace() {
                let d = pen + lsb.floor();
                let p = if rotate { (ax, ay - d) } else { (ax + d, ay) };
                let p = (p.0.round() as i32, p.1.round() as i32);
                self.root
                    .draw_text(ch.encode_utf8(&mut buf), &style, p)
                    .map_err(|e| e.to_string())?;
            }
            pen += adv;
        }
        Ok(())
    }
}

/// Clip segment p-q to the rectangle (Liang-Barsky).
fn clip_segment(p: (f64, f64), q: (f64, f64), r: &Rect) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pp, qq) in [
        (-dx, p.0 - r.x0),
        (dx, r.x1 - p.0),
        (-dy, p.1 - r.y0),
        (dy, r.y1 - p.1),
    ] {
        if pp == 0.0 {
            if qq < 0.0 {
                return None;
            }
        } else {
            let t = qq / pp;
            if pp < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        (p.0 + t0 * dx, p.1 + t0 * dy),
        (p.0 + t1 * dx, p.1 + t1 * dy),
    ))
}

/// Clip a polyline to the rectangle, returning the visible pieces.
fn clip_polyline(pts: &[(f64, f64)], r: &Rect) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![];
    let mut cur: Vec<(f64, f64)> = vec![];
    if pts.len() == 1 {
        let p = pts[0];
        if p.0 >= r.x0 && p.0 <= r.x1 && p.1 >= r.y0 && p.1 <= r.y1 {
            return vec![vec![p, p]];
        }
    }
    for w in pts.windows(2) {
        match clip_segment(w[0], w[1], r) {
            Some((a, b)) => {
                let joined = cur
                    .last()
                    .is_some_and(|l| (l.0 - a.0).abs() < 1e-9 && (l.1 - a.1).abs() < 1e-9);
                if !joined && !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if cur.is_empty() {
                    cur.push(a);
                }
                cur.push(b);
            }
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Clip a polygon to the rectangle (Sutherland-Hodgman).
fn clip_polygon(poly: &[(f64, f64)], r: &Rect) -> Vec<(f64, f64)> {
    let mut pts = poly.to_vec();
    let edges: [(usize, f64, bool); 4] = [
        (0, r.x0, true),
        (0, r.x1, false),
        (1, r.y0, true),
        (1, r.y1, false),
    ];
    for (axis, lim, keep_greater) in edges {
        if pts.is_empty() {
            break;
        }
        let inside = |p: &(f64, f64)| {
            let v = if axis == 0 { p.0 } else { p.1 };
            if keep_greater {
                v >= lim
            } else {
                v <= lim
            }
        };
        let cross = |a: (f64, f64), b: (f64, f64)| {
            let (va, vb) = if axis == 0 { (a.0, b.0) } else { (a.1, b.1) };
            let t = (lim - va) / (vb - va);
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        };
        let mut next = vec![];
        for i in 0..pts.len() {
            let a = pts[i];
            let b = pts[(i + 1) % pts.len()];
            match (inside(&a), inside(&b)) {
                (true, true) => next.push(b),
                (true, false) => next.push(cross(a, b)),
                (false, true) => {
                    next.push(cross(a, b));
                    next.push(b);
                }
                (false, false) => {}
            }
        }
        pts = next;
    }
    pts
}

struct PanelGeom {
    r: Rect,
    x: Axis,
    y: Axis,
}

impl PanelGeom {
    fn px(&self, t: f64) -> f64 {
        self.r.x0 + self.x.frac(t) * self.r.w()
    }
    /// y pixel of an axis-space value.
    fn py(&self, a: f64) -> f64 {
        self.r.y1 - self.y.frac(a) * self.r.h()
    }
    /// y pixel of a data value; values below a log axis map far below the frame.
    fn py_data(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self.y.to_axis(v) {
            Some(a) => Some(self.py(a.max(self.y.lo - 1e3))),
            None if self.y.log => Some(self.r.y1 + 1e4),
            None => None,
        }
    }
}

fn x_range(fig: &Figure, plan: &Plan) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for layers in &plan.panels {
        for l in layers {
            for &t in l.time {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
    }
    for (t, _) in &fig.markers {
        if t.is_finite() {
            lo = lo.min(*t);
            hi = hi.max(*t);
        }
    }
    for (a, b, _) in &fig.windows {
        for t in [a, b] {
            if t.is_finite() {
                lo = lo.min(*t);
                hi = hi.max(*t);
            }
        }
    }
    (lo, hi)
}

/// y axis of a panel; `room` > 0 raises the top (in decades on log axes, in fractions of the
/// data maximum on linear ones) to keep the legend clear of the data.
fn y_axis(panel: &super::Panel, layers: &[Layer], r: &Rect, lay: &Layout, room: f64) -> Axis {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut minpos = f64::INFINITY;
    let mut take = |v: f64| {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
            if v > 0.0 {
                minpos = minpos.min(v);
            }
        }
    };
    for l in layers {
        for v in l.line.into_iter().flatten() {
            take(*v);
        }
        if let Some((a, b)) = l.ribbon {
            a.iter().chain(b.iter()).for_each(|v| take(*v));
        }
    }
    // include thresholds near the data so the grade lines are visible
    for (t, _) in &panel.thresholds {
        let near = if panel.log {
            *t <= hi * 100.0 && *t > 0.0
        } else {
            *t <= hi * 2.0
        };
        if t.is_finite() && near {
            hi = hi.max(*t);
            lo = lo.min(*t);
            if *t > 0.0 {
                minpos = minpos.min(*t);
            }
        }
    }
    if panel.log {
        let target = (r.h() / (lay.tick * 1.7)).floor() as usize;
        log_axis(minpos, hi * 10f64.powf(room), target.clamp(2, 10), 10)
    } else {
        let target = (r.h() / (lay.tick * 2.8)).floor() as usize;
        let lo = if lo >= 0.0 { 0.0 } else { lo };
        let hi = hi + room * (hi - lo).abs();
        linear_axis(lo, hi, target.clamp(2, 8), true, false)
    }
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    plan: &Plan,
    lay: &Layout,
    s: f64,
    raster: bool,
) -> R {
    let c = Ctx { root, s, raster };
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (xmin, xmax) = x_range(fig, plan);
    let plot_w = lay.panels[0].w();
    let xtarget = (plot_w / (lay.tick * 4.5)).floor() as usize;
    let xaxis = linear_axis(xmin, xmax, xtarget.clamp(2, 12), false, true);
    let legend = legend_box(plan, &lay.panels[0], lay);
    let geoms: Vec<PanelGeom> = fig
        .panels
        .iter()
        .zip(&plan.panels)
        .zip(&lay.panels)
        .enumerate()
        .map(|(i, ((p, layers), r))| {
            let mk = |room: f64| PanelGeom {
                r: *r,
                x: xaxis.clone(),
                y: y_axis(p, layers, r, lay, room),
            };
            let mut g = mk(0.0);
            if i == 0 {
                if let Some(b) = &legend {
                    let steps: &[f64] = if p.log { &[1.0, 2.0] } else { &[0.35, 0.7] };
                    for &room in steps {
                        if !under_legend(&g, layers, &b.rect, lay.tick * 0.3) {
                            break;
                        }
                        g = mk(room);
                    }
                }
            }
            g
        })
        .collect();
    let n = geoms.len();
    let thin = (lay.line_w * 0.45).max(0.5);

    for (i, (g, panel)) in geoms.iter().zip(&fig.panels).enumerate() {
        let r = g.r;
        // grade bands between thresholds, increasingly tinted
        let mut thr: Vec<(f64, &str)> = panel
            .thresholds
            .iter()
            .filter_map(|(v, l)| g.y.to_axis(*v).map(|a| (a, l.as_str())))
            .collect();
        thr.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        for (k, (a, _)) in thr.iter().enumerate() {
            let top = thr.get(k + 1).map(|t| t.0).unwrap_or(g.y.hi).min(g.y.hi);
            let bot = a.max(g.y.lo);
            if top > bot {
                let alpha = (0.025 * (k + 1) as f64).min(0.10);
                c.fill(r.x0, g.py(top), r.x1, g.py(bot), GRADE_TINT.mix(alpha))?;
            }
        }
        // windows
        for (a, b, _) in &fig.windows {
            let (x0, x1) = (g.px(a.min(*b)).max(r.x0), g.px(a.max(*b)).min(r.x1));
            if x1 > x0 {
                c.fill(x0, r.y0, x1, r.y1, BLACK.mix(0.06))?;
            }
        }
        // grid
        for (a, _) in &g.y.major {
            if *a > g.y.lo && *a < g.y.hi {
                c.line(&[(r.x0, g.py(*a)), (r.x1, g.py(*a))], GRID.to_rgba(), thin)?;
            }
        }
        for (t, _) in &g.x.major {
            if *t > g.x.lo && *t < g.x.hi {
                c.line(&[(g.px(*t), r.y0), (g.px(*t), r.y1)], GRID.to_rgba(), thin)?;
            }
        }
        // thresholds: dashed lines
        let dash = lay.tick * 0.55;
        let gap = lay.tick * 0.35;
        for (a, _) in &thr {
            if *a < g.y.lo || *a > g.y.hi {
                continue;
            }
            let y = g.py(*a);
            let mut x = r.x0;
            while x < r.x1 {
                c.line(
                    &[(x, y), ((x + dash).min(r.x1), y)],
                    THRESH.to_rgba(),
                    thin * 1.6,
                )?;
                x += dash + gap;
            }
        }
        // markers
        for (t, _) in &fig.markers {
            let x = g.px(*t);
            if x >= r.x0 && x <= r.x1 {
                let top = if i == 0 { r.y0 - lay.tick * 0.6 } else { r.y0 };
                c.line(&[(x, top), (x, r.y1)], SOFT.to_rgba(), thin)?;
            }
        }
        // data: ribbons first, then lines
        for l in &plan.panels[i] {
            if let Some((lo, hi)) = l.ribbon {
                let color = rgb(series_color(l.group)).mix(RIBBON_ALPHA);
                for run in ribbon_runs(g, l.time, lo, hi) {
                    let poly = clip_polygon(&run, &r);
                    c.polygon(&poly, color)?;
                }
            }
        }
        for l in &plan.panels[i] {
            if let Some(v) = l.line {
                let color = rgb(series_color(l.group)).to_rgba();
                for run in line_runs(g, l.time, v) {
                    for piece in clip_polyline(&run, &r) {
                        c.line(&piece, color, lay.line_w)?;
                    }
                }
            }
        }
        // frame and ticks
        c.stroke_rect(&r, AXIS, thin)?;
        for (a, lab) in &g.y.major {
            if *a < g.y.lo - 1e-9 || *a > g.y.hi + 1e-9 {
                continue;
            }
            let y = g.py(*a);
            c.line(&[(r.x0 - lay.tick_len, y), (r.x0, y)], AXIS.to_rgba(), thin)?;
            if let Some(lab) = lab {
                c.text(
                    lab,
                    r.x0 - lay.tick_len - lay.tick * 0.25,
                    y,
                    lay.tick,
                    INK,
                    HPos::Right,
                    VPos::Center,
                    false,
                )?;
            }
        }
        for a in &g.y.minor {
            let y = g.py(*a);
            c.line(
                &[(r.x0 - lay.tick_len * 0.55, y), (r.x0, y)],
                AXIS.to_rgba(),
                thin,
            )?;
        }
        for (t, lab) in &g.x.major {
            let x = g.px(*t);
            c.line(&[(x, r.y1), (x, r.y1 + lay.tick_len)], AXIS.to_rgba(), thin)?;
            if i == n - 1 {
                if let Some(lab) = lab {
                    c.text(
                        lab,
                        x,
                        lay.xticklabel_y,
                        lay.tick,
                        INK,
                        HPos::Center,
                        VPos::Top,
                        false,
                    )?;
                }
            }
        }
        // y label (1 or 2 lines, reading upwards)
        let lines = &lay.ylabels[i];
        let k = lines.len() as f64;
        for (j, line) in lines.iter().enumerate() {
            let x = lay.ylabel_x + (j as f64 - (k - 1.0) / 2.0) * lay.ylabel_line_h;
            c.text(
                line,
                x,
                (r.y0 + r.y1) / 2.0,
                lay.label,
                INK,
                HPos::Center,
                VPos::Center,
                true,
            )?;
        }
        // threshold labels at the right edge, pushed apart if they collide
        let mut labs: Vec<(f64, &str)> = thr
            .iter()
            .filter(|(a, _)| *a >= g.y.lo && *a <= g.y.hi)
            .map(|(a, l)| (g.py(*a), *l))
            .collect();
        labs.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap()); // bottom first
        let min_sep = lay.annot * 1.1;
        for k in 1..labs.len() {
            if labs[k - 1].0 - labs[k].0 < min_sep {
                labs[k].0 = labs[k - 1].0 - min_sep;
            }
        }
        for (y, l) in labs {
            c.text(
                l,
                r.x1 + lay.tick * 0.35,
                y,
                lay.annot,
                SOFT,
                HPos::Left,
                VPos::Center,
                false,
            )?;
        }
    }

    // x axis label
    let r0 = geoms[0].r;
    c.text(
        "Time after infusion (days)",
        (r0.x0 + r0.x1) / 2.0,
        lay.xlabel_y,
        lay.label,
        INK,
        HPos::Center,
        VPos::Top,
        false,
    )?;
    if let Some(t) = &fig.title {
        c.text(
            t,
            (r0.x0 + r0.x1) / 2.0,
            lay.title_y,
            lay.title,
            INK,
            HPos::Center,
            VPos::Center,
            false,
        )?;
    }
    if let Some(cap) = &fig.caption {
        c.text(
            cap,
            lay.tick * 0.5,
            lay.caption_y,
            lay.caption,
            SOFT,
            HPos::Left,
            VPos::Top,
            false,
        )?;
    }
    draw_strip(&c, fig, &geoms[0], lay)?;
    if let Some(b) = &legend {
        draw_legend(&c, plan, b, lay)?;
    }
    Ok(())
}

/// Runs of consecutive drawable points of a line, in pixel coordinates.
fn line_runs(g: &PanelGeom, t: &[f64], v: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![];
    let mut cur = vec![];
    for (&ti, &vi) in t.iter().zip(v) {
        let ok = vi.is_finite() && (!g.y.log || vi > 0.0);
        if ok {
            cur.push((g.px(ti), g.py_data(vi).unwrap()));
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

/// Ribbon polygons over runs where the upper bound is drawable (lower bounds that cannot be
/// drawn on a log axis are taken as the bottom of the axis).
fn ribbon_runs(g: &PanelGeom, t: &[f64], lo: &[f64], hi: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut polys = vec![];
    let mut up: Vec<(f64, f64)> = vec![];
    let mut dn: Vec<(f64, f64)> = vec![];
    let bottom = g.r.y1 + 1.0;
    let flush =
        |up: &mut Vec<(f64, f64)>, dn: &mut Vec<(f64, f64)>, polys: &mut Vec<Vec<(f64, f64)>>| {
            if up.len() >= 2 {
                let mut p = std::mem::take(up);
                p.extend(dn.drain(..).rev());
                polys.push(p);
            }
            up.clear();
            dn.clear();
        };
    for ((&ti, &l), &h) in t.iter().zip(lo).zip(hi) {
        let hy = if h.is_finite() && (!g.y.log || h > 0.0) {
            g.py_data(h)
        } else {
            None
        };
        let ly = if l.is_finite() {
            if g.y.log && l <= 0.0 {
                Some(bottom)
            } else {
                g.py_data(l).map(|y| y.min(bottom))
            }
        } else {
            None
        };
        match (hy, ly) {
            (Some(hy), Some(ly)) => {
                let x = g.px(ti);
                up.push((x, hy));
                dn.push((x, ly));
            }
            _ => flush(&mut up, &mut dn, &mut polys),
        }
    }
    flush(&mut up, &mut dn, &mut polys);
    polys
}

/// Marker and window labels above the top panel, placed in up to `strip_rows` rows without
/// overlapping (labels slide sideways when a row is taken).
fn draw_strip<DB: DrawingBackend>(c: &Ctx<DB>, fig: &Figure, g: &PanelGeom, lay: &Layout) -> R {
    if lay.strip_rows == 0 {
        return Ok(());
    }
    // (centre x, text, is marker)
    let mut items: Vec<(f64, &str, bool)> = vec![];
    for (t, l) in &fig.markers {
        items.push((g.px(*t), l, true));
    }
    for (a, b, l) in &fig.windows {
        let x0 = g.px(a.min(*b)).max(g.r.x0);
        let x1 = g.px(a.max(*b)).min(g.r.x1);
        items.push(((x0 + x1) / 2.0, l, false));
    }
    items.retain(|i| !i.1.is_empty() && i.0.is_finite());
    items.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let rows = lay.strip_rows;
    let mut row_end = vec![f64::NEG_INFINITY; rows];
    let sep = lay.annot * 0.8;
    let margin = lay.tick * 0.3;
    for (cx, text, is_marker) in items {
        let w = text_width(text, lay.annot);
        let want = (cx - w / 2.0).clamp(margin, (lay.w - margin - w).max(margin));
        let (row, left) = (0..rows)
            .map(|r| (r, want.max(row_end[r] + sep)))
            .min_by(|a, b| (a.1 - want).partial_cmp(&(b.1 - want)).unwrap())
            .unwrap();
        row_end[row] = left + w;
        // row 0 sits right above the panel
        let yc = lay.strip_top + (rows - 1 - row) as f64 * lay.strip_row_h + lay.strip_row_h * 0.5;
        let color = if is_marker { INK } else { SOFT };
        c.text(
            text,
            left,
            yc,
            lay.annot,
            color,
            HPos::Left,
            VPos::Center,
            false,
        )?;
    }
    Ok(())
}

struct LegendBox {
    rect: Rect,
    size: f64,
}

/// Legend geometry in the top panel's upper right corner (None if no entry has a label).
fn legend_box(plan: &Plan, r: &Rect, lay: &Layout) -> Option<LegendBox> {
    let entries: Vec<&(String, usize, bool)> =
        plan.legend.iter().filter(|e| !e.0.is_empty()).collect();
    if entries.is_empty() {
        return None;
    }
    let mut size = lay.legend;
    let rows = entries.len() as f64;
    let max_h = r.h() - lay.tick;
    if rows * size * 1.35 + size > max_h {
        size = (max_h / (rows * 1.35 + 1.0)).max(6.0);
    }
    let row_h = size * 1.35;
    let pad = size * 0.5;
    let sw = size * 1.8;
    let text_w = entries
        .iter()
        .map(|e| text_width(&e.0, size))
        .fold(0.0, f64::max);
    let bw = pad * 2.0 + sw + size * 0.5 + text_w + pad * 0.5;
    let bh = pad * 2.0 + rows * row_h - (row_h - size);
    let x1 = r.x1 - lay.tick * 0.4;
    let y0 = r.y0 + lay.tick * 0.4;
    Some(LegendBox {
        rect: Rect {
            x0: (x1 - bw).max(r.x0),
            y0,
            x1,
            y1: y0 + bh,
        },
        size,
    })
}

/// Does any drawn point of the panel fall under the legend box (plus `margin`)?
fn under_legend(g: &PanelGeom, layers: &[Layer], b: &Rect, margin: f64) -> bool {
    let hit = |t: f64, v: f64| {
        let x = g.px(t);
        x >= b.x0 - margin
            && x <= b.x1 + margin
            && g.py_data(v)
                .is_some_and(|y| y <= b.y1 + margin && y >= g.r.y0)
    };
    layers.iter().any(|l| {
        let line = l
            .line
            .is_some_and(|v| l.time.iter().zip(v).any(|(&t, &v)| hit(t, v)));
        let rib = l
            .ribbon
            .is_some_and(|(_, up)| l.time.iter().zip(up).any(|(&t, &v)| hit(t, v)));
        line || rib
    })
}

/// Legend on a semi-transparent background.
fn draw_legend<DB: DrawingBackend>(c: &Ctx<DB>, plan: &Plan, b: &LegendBox, lay: &Layout) -> R {
    let size = b.size;
    let row_h = size * 1.35;
    let pad = size * 0.5;
    let sw = size * 1.8;
    let Rect { x0, y0, x1, y1 } = b.rect;
    c.fill(x0, y0, x1, y1, WHITE.mix(0.8))?;
    c.stroke_rect(
        &b.rect,
        RGBColor(0xBB, 0xBB, 0xBB),
        (lay.line_w * 0.4).max(0.5),
    )?;
    let entries = plan.legend.iter().filter(|e| !e.0.is_empty());
    for (k, (label, group, ribbon)) in entries.enumerate() {
        let yc = y0 + pad + k as f64 * row_h + size * 0.5;
        let col = rgb(series_color(*group));
        let sx0 = x0 + pad;
        if *ribbon {
            c.fill(
                sx0,
                yc - size * 0.42,
                sx0 + sw,
                yc + size * 0.42,
                col.mix(RIBBON_ALPHA),
            )?;
        }
        c.line(&[(sx0, yc), (sx0 + sw, yc)], col.to_rgba(), lay.line_w)?;
        c.text(
            label,
            sx0 + sw + size * 0.5,
            yc,
            size,
            INK,
            HPos::Left,
            VPos::Center,
            false,
        )?;
    }
    Ok(())
}
