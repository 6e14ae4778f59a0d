//! Drawing the figure: time axis, y axes, panels, lines, ribbons, threshold strips and legends.

#[allow(unused_imports)]
use super::*;

pub(crate) fn x_range(fig: &Figure, plan: &Plan) -> (f64, f64) {
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
pub(crate) fn y_axis(
    panel: &crate::plot::Panel,
    layers: &[Layer],
    r: &Rect,
    lay: &Layout,
    room: f64,
) -> Axis {
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

pub(crate) fn draw_figure<DB: DrawingBackend>(
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
pub(crate) fn line_runs(g: &PanelGeom, t: &[f64], v: &[f64]) -> Vec<Vec<(f64, f64)>> {
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
pub(crate) fn ribbon_runs(
    g: &PanelGeom,
    t: &[f64],
    lo: &[f64],
    hi: &[f64],
) -> Vec<Vec<(f64, f64)>> {
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
pub(crate) fn draw_strip<DB: DrawingBackend>(
    c: &Ctx<DB>,
    fig: &Figure,
    g: &PanelGeom,
    lay: &Layout,
) -> R {
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

pub(crate) struct LegendBox {
    pub(crate) rect: Rect,
    pub(crate) size: f64,
}

/// Legend geometry in the top panel's upper right corner (None if no entry has a label).
pub(crate) fn legend_box(plan: &Plan, r: &Rect, lay: &Layout) -> Option<LegendBox> {
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
pub(crate) fn under_legend(g: &PanelGeom, layers: &[Layer], b: &Rect, margin: f64) -> bool {
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
pub(crate) fn draw_legend<DB: DrawingBackend>(
    c: &Ctx<DB>,
    plan: &Plan,
    b: &LegendBox,
    lay: &Layout,
) -> R {
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
