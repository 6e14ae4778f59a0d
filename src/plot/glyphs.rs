//! Glyph metrics read from the embedded TrueType font.
//!
//! plotters 0.3.7's ab_glyph raster path draws every glyph at the pen position without its left
//! side bearing (and truncates the pen to whole pixels), which gives visibly uneven letter
//! spacing at small sizes. For bitmap output we therefore place glyphs one by one using the
//! advance widths and bearings from the font's `hmtx` table.

use super::layout::ensure_fonts;
use plotters::style::{FontDesc, FontFamily, FontStyle};
use std::sync::OnceLock;

pub(crate) struct Metrics {
    /// (first char, last char, id delta, id range offset position or 0)
    segments: Vec<(u32, u32, u16, usize)>,
    cmap: &'static [u8],
    advance: Vec<u16>,
    lsb: Vec<i16>,
    /// Pixels per font unit at font size 1 (calibrated against plotters' own measurement).
    px_per_unit: f64,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

fn table(font: &'static [u8], tag: &[u8; 4]) -> Option<&'static [u8]> {
    let n = u16_at(font, 4)? as usize;
    for k in 0..n {
        let rec = 12 + 16 * k;
        if font.get(rec..rec + 4)? == tag {
            let off = u32_at(font, rec + 8)? as usize;
            let len = u32_at(font, rec + 12)? as usize;
            return font.get(off..off + len);
        }
    }
    None
}

fn parse(font: &'static [u8]) -> Option<Metrics> {
    let hhea = table(font, b"hhea")?;
    let n_hm = u16_at(hhea, 34)? as usize;
    let hmtx = table(font, b"hmtx")?;
    let maxp = table(font, b"maxp")?;
    let n_glyphs = u16_at(maxp, 4)? as usize;
    let mut advance = Vec::with_capacity(n_glyphs);
    let mut lsb = Vec::with_capacity(n_glyphs);
    for g in 0..n_glyphs {
        if g < n_hm {
            advance.push(u16_at(hmtx, 4 * g)?);
            lsb.push(u16_at(hmtx, 4 * g + 2)? as i16);
        } else {
            advance.push(*advance.last()?);
            lsb.push(u16_at(hmtx, 4 * n_hm + 2 * (g - n_hm)).unwrap_or(0) as i16);
        }
    }
    let cmap = table(font, b"cmap")?;
    let n_sub = u16_at(cmap, 2)? as usize;
    let mut sub = None;
    for k in 0..n_sub {
        let (pid, eid) = (u16_at(cmap, 4 + 8 * k)?, u16_at(cmap, 6 + 8 * k)?);
        let off = u32_at(cmap, 8 + 8 * k)? as usize;
        if u16_at(cmap, off)? == 4 && ((pid == 3 && eid == 1) || pid == 0) {
            sub = Some(off);
            break;
        }
    }
    let base = sub?;
    let seg_x2 = u16_at(cmap, base + 6)? as usize;
    let seg = seg_x2 / 2;
    let ends = base + 14;
    let starts = ends + seg_x2 + 2;
    let deltas = starts + seg_x2;
    let ranges = deltas + seg_x2;
    let mut segments = Vec::with_capacity(seg);
    for i in 0..seg {
        let end = u16_at(cmap, ends + 2 * i)? as u32;
        let start = u16_at(cmap, starts + 2 * i)? as u32;
        let delta = u16_at(cmap, deltas + 2 * i)?;
        let ro = u16_at(cmap, ranges + 2 * i)? as usize;
        let ro_pos = if ro == 0 { 0 } else { ranges + 2 * i + ro };
        segments.push((start, end, delta, ro_pos));
    }
    let mut m = Metrics {
        segments,
        cmap,
        advance,
        lsb,
        px_per_unit: 0.0,
    };
    // calibrate the font-unit scale against plotters' own layout (same ab_glyph scale)
    let sample = "MMMMMMMMMMMMMMMMMMMM";
    let w = FontDesc::new(FontFamily::SansSerif, 100.0, FontStyle::Normal)
        .box_size(sample)
        .ok()?
        .0 as f64;
    let adv_m = *m.advance.get(m.glyph('M')? as usize)? as f64;
    m.px_per_unit = w / (20.0 * adv_m * 100.0);
    Some(m)
}

impl Metrics {
    fn glyph(&self, c: char) -> Option<u16> {
        let c = c as u32;
        let &(start, _, delta, ro_pos) = self.segments.iter().find(|s| s.1 >= c && s.0 <= c)?;
        let g = if ro_pos == 0 {
            (c as u16).wrapping_add(delta)
        } else {
            let g = u16_at(self.cmap, ro_pos + 2 * (c - start) as usize)?;
            if g == 0 {
                return None;
            }
            g.wrapping_add(delta)
        };
        (g != 0).then_some(g)
    }

    /// (advance, left side bearing) in pixels at font size `size`.
    pub fn h_metrics(&self, c: char, size: f64) -> Option<(f64, f64)> {
        let g = self.glyph(c)? as usize;
        let k = self.px_per_unit * size;
        Some((
            *self.advance.get(g)? as f64 * k,
            *self.lsb.get(g)? as f64 * k,
        ))
    }
}

/// Metrics of the embedded font, or None if it cannot be parsed (then whole strings are drawn).
pub(crate) fn metrics() -> Option<&'static Metrics> {
    static M: OnceLock<Option<Metrics>> = OnceLock::new();
    M.get_or_init(|| {
        ensure_fonts();
        parse(dejavu::sans::regular())
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_parse_and_are_plausible() {
        let m = super::metrics().expect("DejaVu metrics");
        let (adv_i, lsb_i) = m.h_metrics('i', 100.0).unwrap();
        let (adv_m, _) = m.h_metrics('M', 100.0).unwrap();
        assert!(adv_i > 15.0 && adv_i < 40.0, "{adv_i}");
        assert!(adv_m > 60.0 && adv_m < 110.0, "{adv_m}");
        assert!(lsb_i > 3.0 && lsb_i < 15.0, "{lsb_i}");
        assert!(m.h_metrics('\u{1F600}', 10.0).is_none());
    }
}
