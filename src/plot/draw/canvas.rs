//! The drawing context: colours, text and primitive shapes, and clipping to a panel.

#[allow(unused_imports)]
use super::*;

pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(crate) const AXIS: RGBColor = RGBColor(0x44, 0x44, 0x44);
pub(crate) const SOFT: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub(crate) const GRID: RGBColor = RGBColor(0xEB, 0xEB, 0xEB);
pub(crate) const THRESH: RGBColor = RGBColor(0x80, 0x80, 0x80);
pub(crate) const GRADE_TINT: RGBColor = RGBColor(0xD5, 0x5E, 0x00);

pub(crate) fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

pub(crate) type R = Result<(), String>;

/// Drawing context: logical coordinates scaled to backend pixels.
pub(crate) struct Ctx<'r, DB: DrawingBackend> {
    pub(crate) root: &'r DrawingArea<DB, Shift>,
    pub(crate) s: f64,
    pub(crate) raster: bool,
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
            crate::plot::glyphs::metrics()
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
pub(crate) fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    r: &Rect,
) -> Option<((f64, f64), (f64, f64))> {
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
pub(crate) fn clip_polyline(pts: &[(f64, f64)], r: &Rect) -> Vec<Vec<(f64, f64)>> {
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
pub(crate) fn clip_polygon(poly: &[(f64, f64)], r: &Rect) -> Vec<(f64, f64)> {
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

pub(crate) struct PanelGeom {
    pub(crate) r: Rect,
    pub(crate) x: Axis,
    pub(crate) y: Axis,
}

impl PanelGeom {
    pub(crate) fn px(&self, t: f64) -> f64 {
        self.r.x0 + self.x.frac(t) * self.r.w()
    }
    /// y pixel of an axis-space value.
    pub(crate) fn py(&self, a: f64) -> f64 {
        self.r.y1 - self.y.frac(a) * self.r.h()
    }
    /// y pixel of a data value; values below a log axis map far below the frame.
    pub(crate) fn py_data(&self, v: f64) -> Option<f64> {
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
