// SVG figures of runs, drawn like `cartox simulate --plot`: one panel per quantity (CAR-T,
// tumor, the CRS and ICANS drives with their grade bands), dose and intervention markers, the
// monitoring and alarm windows; several runs overlay; a population draws its median and bands.
// Plain SVG (no chart library), so the figure downloads as SVG and, through a canvas, as PNG.
"use strict";

const CartoxPlot = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#4d4d4d"];
  const BAND_FILL = ["#fff7cc", "#ffe0a3", "#ffc38a", "#ff9f8a"]; // grades 1..4

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmt(x) {
    if (x === 0) return "0";
    const a = Math.abs(x);
    if (a >= 1e4 || a < 1e-2) {
      const e = Math.floor(Math.log10(a));
      const m = x / Math.pow(10, e);
      return (Math.abs(m - 1) < 1e-9 ? "" : +m.toFixed(1) + "×") + "1e" + e;
    }
    return String(+x.toPrecision(3));
  }

  function niceTicks(lo, hi, n) {
    const span = hi - lo || 1;
    const raw = span / n;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => span / s <= n) || 10 * p;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
    return out;
  }

  // The y range of a panel: over every series (positive values only on a log axis).
  function yRange(values, log, thresholds) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      if (!Number.isFinite(v) || (log && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (thresholds) for (const t of thresholds) if (t > 0) { hi = Math.max(hi, t * 1.05); lo = Math.min(lo, t); }
    if (!Number.isFinite(lo)) { lo = log ? 1e-3 : 0; hi = 1; }
    if (log) {
      lo = Math.max(lo, hi * 1e-9);
      const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
      return [Math.pow(10, a), Math.pow(10, b === a ? a + 1 : b)];
    }
    if (lo > 0) lo = 0;
    if (hi === lo) hi = lo + 1;
    return [lo, hi * 1.05];
  }

  // figure = {panels: [{name, unit, role, thresholds}], time, days, window, alarmWindow,
  //           lines: [{label, color, series: {name: values}, time}],
  //           bands: [{label, color, time, quantiles: {name: [[q05..],[q25..],[q50..],[q75..],[q95..]]}}],
  //           markers: [{day, label, kind}], log: bool, title}
  function draw(svg, figure) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const nLegend = figure.lines.length + figure.bands.length;
    const W = 900, panelH = 210, gap = 34, left = 88, right = 20;
    const top = nLegend > 1 ? 34 + Math.min(nLegend, 7) * 14 : 46;
    const panels = figure.panels;
    const H = top + panels.length * (panelH + gap) + 10;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    el("rect", { x: 0, y: 0, width: W, height: H, fill: "#ffffff" }, svg);
    el("text", { x: left, y: 20, "font-size": 15, "font-weight": "bold", fill: "#111" }, svg).textContent =
      figure.title || "";
    el("text", { x: left, y: top - 8, "font-size": 12, fill: "#7a1d1d" }, svg).textContent =
      "Modelled quantities and modelled risk grades from a mathematical model; not clinical advice.";
    const x0 = 0, x1 = figure.days;
    const sx = (t) => left + ((t - x0) / (x1 - x0)) * (W - left - right);
    panels.forEach((panel, k) => {
      const y0 = top + k * (panelH + gap) + 8;
      const g = el("g", { class: "panel", "data-panel": panel.name }, svg);
      const vals = [];
      for (const l of figure.lines) for (const v of l.series[panel.name] || []) vals.push(v);
      for (const b of figure.bands) for (const q of b.quantiles[panel.name] || []) for (const v of q) vals.push(v);
      const log = figure.log && panel.role !== "state_linear";
      const [lo, hi] = yRange(vals, log, panel.thresholds);
      const sy = log
        ? (v) => y0 + panelH - ((Math.log10(Math.max(v, lo * 1e-3)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH
        : (v) => y0 + panelH - ((v - lo) / (hi - lo)) * panelH;
      const clipId = "clip-" + k;
      const cp = el("clipPath", { id: clipId }, g);
      el("rect", { x: left, y: y0, width: W - left - right, height: panelH }, cp);
      // windows: alarm (darker) inside monitoring
      if (figure.alarmWindow) {
        el("rect", { x: left, y: y0, width: sx(Math.min(figure.alarmWindow, x1)) - left, height: panelH,
          fill: "#eef3fb" }, g);
      }
      // grade bands
      if (panel.thresholds) {
        panel.thresholds.forEach((t, i) => {
          const next = i < 3 ? panel.thresholds[i + 1] : hi;
          const ya = sy(Math.min(Math.max(t, lo), hi)), yb = sy(Math.min(Math.max(next, lo), hi));
          if (ya - yb > 0.5) {
            el("rect", { x: left, y: yb, width: W - left - right, height: ya - yb, fill: BAND_FILL[i],
              opacity: 0.75, class: "grade-band" }, g);
            el("text", { x: W - right - 4, y: ya - 3, "text-anchor": "end", "font-size": 11, fill: "#7a4a00" }, g)
              .textContent = "modelled grade " + (i + 1);
          }
        });
      }
      // axes, grid and ticks
      el("rect", { x: left, y: y0, width: W - left - right, height: panelH, fill: "none", stroke: "#333" }, g);
      const yt = log
        ? (() => { const o = []; for (let e = Math.round(Math.log10(lo)); e <= Math.round(Math.log10(hi)); e++) o.push(Math.pow(10, e)); return o.length > 7 ? o.filter((_, i) => i % 2 === 0) : o; })()
        : niceTicks(lo, hi, 5);
      for (const t of yt) {
        const y = sy(t);
        if (y < y0 - 0.5 || y > y0 + panelH + 0.5) continue;
        el("line", { x1: left, x2: W - right, y1: y, y2: y, stroke: "#ddd", "stroke-width": 1 }, g);
        el("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#222" }, g).textContent = fmt(t);
      }
      for (const t of niceTicks(x0, x1, 10)) {
        const x = sx(t);
        el("line", { x1: x, x2: x, y1: y0 + panelH, y2: y0 + panelH + 5, stroke: "#333" }, g);
        el("text", { x, y: y0 + panelH + 18, "text-anchor": "middle", "font-size": 12, fill: "#222" }, g).textContent = fmt(t);
      }
      el("text", { x: left + 6, y: y0 + 16, "font-size": 13, "font-weight": "bold", fill: "#111" }, g).textContent =
        `${panel.name} (${panel.unit || "1"})` + (panel.thresholds ? " — modelled risk bands" : "");
      if (k === panels.length - 1) {
        el("text", { x: (left + W - right) / 2, y: y0 + panelH + 32, "text-anchor": "middle", "font-size": 13 }, g)
          .textContent = "days after infusion";
      }
      const plot = el("g", { "clip-path": `url(#${clipId})` }, g);
      // population bands
      for (const b of figure.bands) {
        const q = b.quantiles[panel.name];
        if (!q) continue;
        const area = (a, c) => {
          let d = "";
          b.time.forEach((t, i) => { d += (i ? "L" : "M") + sx(t).toFixed(1) + "," + sy(q[c][i]).toFixed(1); });
          for (let i = b.time.length - 1; i >= 0; i--) d += "L" + sx(b.time[i]).toFixed(1) + "," + sy(q[a][i]).toFixed(1);
          return d + "Z";
        };
        el("path", { d: area(0, 4), fill: b.color, opacity: 0.15, class: "band" }, plot);
        el("path", { d: area(1, 3), fill: b.color, opacity: 0.25, class: "band" }, plot);
        let d = "";
        b.time.forEach((t, i) => { d += (i ? "L" : "M") + sx(t).toFixed(1) + "," + sy(q[2][i]).toFixed(1); });
        el("path", { d, fill: "none", stroke: b.color, "stroke-width": 2.5, class: "series median", "data-label": b.label }, plot);
      }
      // lines
      for (const l of figure.lines) {
        const v = l.series[panel.name];
        if (!v) continue;
        let d = "", pen = false;
        l.time.forEach((t, i) => {
          const y = v[i];
          if (!Number.isFinite(y) || (log && y <= 0)) { pen = false; return; }
          d += (pen ? "L" : "M") + sx(t).toFixed(1) + "," + sy(y).toFixed(1);
          pen = true;
        });
        el("path", { d, fill: "none", stroke: l.color, "stroke-width": l.width || 2.2,
          "stroke-dasharray": l.dash || "", class: "series", "data-label": l.label }, plot);
      }
      // markers
      for (const m of figure.markers) {
        const x = sx(m.day);
        if (x < left || x > W - right) continue;
        el("line", { x1: x, x2: x, y1: y0, y2: y0 + panelH, stroke: m.kind === "dose" ? "#1f5fa8" : "#b91c1c",
          "stroke-dasharray": m.kind === "dose" ? "2,3" : "6,3", "stroke-width": 1.3, class: "marker-" + m.kind }, g);
        if (k === 0) {
          el("text", { x: x + 3, y: y0 + 30 + (m.row || 0) * 13, "font-size": 11, fill: m.kind === "dose" ? "#1f5fa8" : "#b91c1c" }, g)
            .textContent = m.label;
        }
      }
    });
    // legend
    const items = figure.lines.filter((l) => l.legend !== false).map((l) => [l.label, l.color])
      .concat(figure.bands.map((b) => [b.label + " (median, 25-75% and 5-95%)", b.color]));
    const lx = left + 500;
    if (items.length > 1 || figure.bands.length) {
      const lg = el("g", { class: "legend" }, svg);
      items.forEach(([label, color], i) => {
        const y = 14 + i * 14;
        if (i > 6) return;
        el("line", { x1: lx, x2: lx + 22, y1: y - 4, y2: y - 4, stroke: color, "stroke-width": 3 }, lg);
        el("text", { x: lx + 28, y, "font-size": 11, fill: "#111" }, lg).textContent = label;
      });
      if (items.length > 2) svg.setAttribute("data-legend", items.length);
    }
  }

  function svgText(svg) {
    const s = new XMLSerializer().serializeToString(svg);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + s;
  }

  // A PNG of the SVG at `scale` x its size.
  function pngBlob(svg, scale) {
    return new Promise((resolve, reject) => {
      const text = new XMLSerializer().serializeToString(svg);
      const img = new Image();
      const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
      img.onload = () => {
        const c = document.createElement("canvas");
        c.width = w * scale; c.height = h * scale;
        const ctx = c.getContext("2d");
        ctx.scale(scale, scale);
        ctx.drawImage(img, 0, 0, w, h);
        c.toBlob((b) => (b ? resolve(b) : reject(new Error("PNG encoding failed"))), "image/png");
      };
      img.onerror = () => reject(new Error("could not render the figure"));
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
    });
  }

  return { draw, svgText, pngBlob, COLORS, fmt };
})();
