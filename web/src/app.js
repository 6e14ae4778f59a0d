// The explorer page: controls -> a scenario (the CLI's input names) -> the cartox core in a Web
// Worker -> figure and summary. The whole scenario lives in the URL's hash (a share link).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const T0 = performance.now();
  const timings = { firstPlot: null, runs: [], population: [] };
  window.cartoxTimings = timings;

  // ---- worker -------------------------------------------------------------------------------
  // Started from a Blob of its source (engine.js) so that the page also works from file://.
  const worker = new Worker(URL.createObjectURL(new Blob([self.CARTOX_WORKER_SOURCE], { type: "text/javascript" })));
  let nextId = 1;
  const waiting = new Map();
  worker.onmessage = (ev) => {
    const w = waiting.get(ev.data.id);
    waiting.delete(ev.data.id);
    if (ev.data.ok) w.resolve(ev.data); else w.reject(ev.data.error);
  };
  const call = (op, args) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });

  // ---- state --------------------------------------------------------------------------------
  const S = {
    model: "cartox", doseMode: "cells", dose: "", dose_per_kg: "", weight: "", schedule: "", ld: "",
    tumor_burden: "", bridging: "", days: "28", dt: "0.1", set: {}, log: true, mode: "single", n: "200", seed: "1",
  };
  let desc = null;        // the model's description
  let current = null;     // the last run
  let population = null;  // the last population result
  const pins = [];        // {label, color, run}
  const opened = new Set(); // models opened from files

  function scenario() {
    const sc = { model: S.model, schedule: S.schedule, ld: S.ld, tumor_burden: S.tumor_burden,
      bridging: S.bridging, days: S.days, dt: S.dt, set: { ...S.set } };
    if (S.doseMode === "perkg") { sc.dose_per_kg = S.dose_per_kg; sc.weight = S.weight; } else sc.dose = S.dose;
    for (const k of Object.keys(sc)) if (sc[k] === "") delete sc[k];
    return sc;
  }

  // ---- URL ----------------------------------------------------------------------------------
  const KEYS = { model: "m", doseMode: "dm", dose: "dose", dose_per_kg: "dpk", weight: "w", schedule: "sch",
    ld: "ld", tumor_burden: "tb", bridging: "br", days: "days", dt: "dt", mode: "mode", n: "n", seed: "seed" };
  function writeURL() {
    const q = new URLSearchParams();
    for (const [k, short] of Object.entries(KEYS)) if (S[k] !== "" && S[k] !== undefined) q.set(short, S[k]);
    if (!S.log) q.set("lin", "1");
    for (const [name, v] of Object.entries(S.set)) q.set("p." + name, v);
    history.replaceState(null, "", "#" + q.toString());
  }
  function readURL() {
    const q = new URLSearchParams(location.hash.slice(1));
    for (const [k, short] of Object.entries(KEYS)) if (q.has(short)) S[k] = q.get(short);
    S.log = !q.has("lin");
    for (const [key, v] of q) if (key.startsWith("p.")) S.set[key.slice(2)] = v;
  }

  // ---- messages -----------------------------------------------------------------------------
  function showError(e) { const b = $("error"); b.textContent = "error: " + e; b.hidden = false; }
  function hideError() { $("error").hidden = true; }
  function status(t) { $("status").textContent = t; }

  // ---- log-scale slider + text pairs -----------------------------------------------------------
  function pair(slider, text, key, { log = true, onchange } = {}) {
    const toSlider = (v) => (log ? Math.log10(v) : v);
    const fromSlider = (x) => (log ? +Math.pow(10, +x).toPrecision(3) : +(+x).toPrecision(3));
    const sync = () => { const v = parseFloat(S[key] || text.placeholder); if (Number.isFinite(v) && (!log || v > 0)) slider.value = toSlider(v); };
    slider.addEventListener("input", () => { S[key] = String(fromSlider(slider.value)); text.value = S[key]; (onchange || rerun)(); });
    text.addEventListener("change", () => { S[key] = text.value.trim(); sync(); (onchange || rerun)(); });
    return sync;
  }
  const syncTumor = pair($("tumor-slider"), $("tumor_burden"), "tumor_burden");
  const syncBridging = pair($("bridging-slider"), $("bridging"), "bridging", { log: false });

  function doseKey() { return S.doseMode === "perkg" ? "dose_per_kg" : "dose"; }
  function setDoseMode() {
    const perkg = S.doseMode === "perkg";
    $("weight-row").hidden = !perkg;
    $("dose-label").textContent = perkg ? "Dose (CAR-T cells/kg)" : "Dose (CAR-T cells)";
    const slider = $("dose-slider");
    slider.min = perkg ? 4 : 6; slider.max = perkg ? 8 : 10;
    const r = (desc && desc.regimen) || {};
    const def = perkg ? r.dose_per_kg : (r.dose ?? (r.dose_per_kg && r.weight ? r.dose_per_kg * r.weight : null));
    $("dose").placeholder = def != null ? String(def) : "";
    $("dose").value = S[doseKey()];
    $("weight").placeholder = r.weight != null ? String(r.weight) : "70";
    $("weight").value = S.weight;
    for (const el of document.querySelectorAll("input[name=dose-mode]")) el.checked = el.value === S.doseMode;
    const v = parseFloat(S[doseKey()] || $("dose").placeholder);
    if (Number.isFinite(v) && v > 0) slider.value = Math.log10(v);
  }
  // the dose pair follows the mode: one text box for cells or cells/kg
  $("dose-slider").addEventListener("input", () => {
    S[doseKey()] = String(+Math.pow(10, +$("dose-slider").value).toPrecision(3));
    $("dose").value = S[doseKey()];
    rerun();
  });
  $("dose").addEventListener("change", () => { S[doseKey()] = $("dose").value.trim(); setDoseMode(); rerun(); });
  for (const el of document.querySelectorAll("input[name=dose-mode]")) {
    el.addEventListener("change", () => { S.doseMode = el.value; setDoseMode(); rerun(); });
  }
  $("weight").addEventListener("change", () => { S.weight = $("weight").value.trim(); rerun(); });

  // ---- model ----------------------------------------------------------------------------------
  async function loadModel(key, keepInputs) {
    desc = (await call("describe", { model: key })).result;
    S.model = key;
    if (!keepInputs) Object.assign(S, { dose: "", dose_per_kg: "", weight: "", schedule: "", ld: "", tumor_burden: "", bridging: "", set: {} });
    $("model").value = key;
    $("model-title").textContent = desc.title + (desc.preset ? ` (product preset over \`${desc.preset}\`)` : "");
    const r = desc.regimen;
    $("regimen").disabled = !r;
    S.doseMode = S.doseMode === "perkg" || (!keepInputs && r && r.dose == null && r.dose_per_kg != null) ? "perkg" : "cells";
    const ld = $("ld");
    ld.innerHTML = "";
    const def = document.createElement("option");
    def.value = ""; def.textContent = `model default (${(r && r.ld) || "none"})`;
    ld.appendChild(def);
    for (const l of [{ name: "none", description: "no lymphodepletion" }].concat(desc.lymphodepletion)) {
      const o = document.createElement("option");
      o.value = l.name; o.textContent = l.name + (l.description ? " — " + l.description.slice(0, 60) : "");
      ld.appendChild(o);
    }
    ld.value = S.ld;
    $("schedule").value = S.schedule;
    $("schedule-preset").value = [...$("schedule-preset").options].some((o) => o.value === S.schedule) ? S.schedule : "custom";
    $("tumor-row").hidden = !(r && r.tumor);
    $("bridging-row").hidden = !(r && r.tumor);
    $("tumor_burden").placeholder = r && r.tumor_burden != null ? String(r.tumor_burden) : "";
    $("tumor_burden").value = S.tumor_burden;
    $("bridging").placeholder = "0"; $("bridging").value = S.bridging;
    $("days").value = S.days; $("dt").value = S.dt;
    syncTumor(); syncBridging();
    setDoseMode();
    buildParams();
    $("pop-run").disabled = !desc.variability;
    $("pop-status").textContent = desc.variability ? "" : "this model declares no inter-individual variability (omega2)";
  }

  function paramRange(p) {
    const v = p.value;
    const positive = v > 0 && (p.lower == null || p.lower >= 0);
    if (positive) {
      let lo = v / 10, hi = v * 10;
      if (p.lower != null && p.lower > 0) lo = Math.max(lo, p.lower);
      if (p.upper != null) hi = Math.min(hi, p.upper);
      if (hi <= lo) hi = lo * 10;
      return { log: true, min: Math.log10(lo), max: Math.log10(hi) };
    }
    const lo = p.lower ?? (v === 0 ? -1 : v - 10 * Math.abs(v));
    const hi = p.upper ?? (v === 0 ? 1 : v + 10 * Math.abs(v));
    return { log: false, min: lo, max: hi };
  }

  function buildParams() {
    const box = $("params");
    box.innerHTML = "";
    for (const p of desc.parameters) {
      const div = document.createElement("div");
      div.className = "param";
      const id = "p-" + p.name;
      const r = paramRange(p);
      const bounds = `bounds ${p.lower ?? "−∞"} … ${p.upper ?? "∞"}`;
      div.innerHTML = `<div class="head"><label class="name" for="${id}-text"></label>
        <input type="range" id="${id}" step="any" aria-label="">
        <input type="text" id="${id}-text" inputmode="decimal"> <span class="unit"></span></div>
        <div class="note"></div>`;
      div.querySelector(".name").textContent = p.name;
      div.querySelector(".unit").textContent = p.unit;
      div.querySelector(".note").textContent = `${p.description || ""} Source: ${p.source || "—"}; ${bounds}; file value ${p.value}` +
        (p.omega2 != null ? `; IIV omega² ${p.omega2}` : "");
      const slider = div.querySelector("input[type=range]");
      const text = div.querySelector("input[type=text]");
      slider.setAttribute("aria-label", `${p.name} slider (${p.unit})`);
      slider.min = r.min; slider.max = r.max; slider.step = (r.max - r.min) / 200;
      const show = () => {
        const v = S.set[p.name] !== undefined ? parseFloat(S.set[p.name]) : p.value;
        text.value = S.set[p.name] !== undefined ? S.set[p.name] : String(p.value);
        if (Number.isFinite(v)) slider.value = r.log ? Math.log10(Math.max(v, 1e-300)) : v;
        div.classList.toggle("changed", S.set[p.name] !== undefined);
      };
      slider.addEventListener("input", () => {
        const x = +slider.value;
        S.set[p.name] = String(+(r.log ? Math.pow(10, x) : x).toPrecision(4));
        show(); rerun();
      });
      text.addEventListener("change", () => {
        const t = text.value.trim();
        if (t === "" || t === String(p.value)) delete S.set[p.name]; else S.set[p.name] = t;
        show(); rerun();
      });
      show();
      box.appendChild(div);
    }
  }

  // ---- running -------------------------------------------------------------------------------
  let busy = false, pending = null, runWaiters = [];
  function rerun() {
    pending = scenario();
    if (population && JSON.stringify(pending) !== population.scenarioText) {
      $("pop-status").textContent = "the scenario changed: run the population again";
    }
    writeURL();
    if (!busy) pump();
  }
  async function pump() {
    busy = true;
    while (pending) {
      const sc = pending;
      pending = null;
      const t0 = performance.now();
      try {
        const r = await call("simulate", { scenario: sc });
        current = r.result;
        current.scenario = sc;
        hideError();
        render();
        timings.runs.push({ roundTrip: performance.now() - t0, wasm: r.ms });
      } catch (e) {
        showError(e);
      }
    }
    busy = false;
    const w = runWaiters; runWaiters = [];
    w.forEach((f) => f());
  }
  // Resolves when every requested run has finished (used by the exercise and by tests).
  window.cartoxIdle = () => new Promise((res) => (busy || pending ? runWaiters.push(res) : res()));

  // ---- drawing -------------------------------------------------------------------------------
  function markers(run) {
    const m = (run.doses || []).map((d) => ({ day: d.day, label: "dose", kind: "dose" }));
    (run.summary.interventions_detail || []).forEach((f, i) =>
      m.push({ day: f.start_day, label: f.name, kind: "intervention", row: i + 1 }));
    return m;
  }
  function render() {
    if (!current) return;
    const lines = pins.map((p) => ({ label: p.label, color: p.color, time: p.run.time, series: p.run.series }));
    const bands = [];
    if (S.mode === "population" && population) {
      bands.push({ label: `${population.done} virtual patients`, color: "#4d7c0f", time: population.time, quantiles: population.bands });
    }
    lines.push({ label: pins.length ? "current" : desc.name, color: "#111", width: 2.6, time: current.time, series: current.series });
    const days = current.time[current.time.length - 1];
    CartoxPlot.draw($("figure"), {
      panels: current.panels, days, lines, bands, markers: markers(current), log: S.log,
      alarmWindow: current.alarm_window, title: `${desc.name} — ${describeScenario(current.scenario)}`,
    });
    renderSummary();
    renderPins();
    if (timings.firstPlot === null) {
      timings.firstPlot = performance.now() - T0;
      timings.firstPlotSinceNavigation = performance.now();
      document.body.dataset.ready = "1";
    }
  }

  function describeScenario(sc) {
    const parts = [];
    if (sc.dose) parts.push(`dose ${sc.dose} cells`);
    if (sc.dose_per_kg) parts.push(`${sc.dose_per_kg} cells/kg × ${sc.weight || "default"} kg`);
    if (!sc.dose && !sc.dose_per_kg) parts.push("model's dose");
    parts.push("LD " + (sc.ld || "model default"));
    if (sc.schedule) parts.push("schedule " + sc.schedule);
    const n = Object.keys(sc.set || {}).length;
    if (n) parts.push(`${n} parameter${n > 1 ? "s" : ""} changed`);
    return parts.join(", ");
  }

  const num = (x, unit) => (x == null ? "—" : CartoxPlot.fmt(x) + (unit ? " " + unit : ""));
  function renderSummary() {
    const s = current.summary, u = s.units || {};
    const rows = [
      ["cart_cmax", "CAR-T peak (Cmax)", num(s.cart_cmax, u.cart_cmax)],
      ["cart_tmax", "time of peak (Tmax)", num(s.cart_tmax, "day")],
      ["cart_auc", `CAR-T AUC, days 0-${num(s.inputs.window)}`, num(s.cart_auc, u.cart_auc)],
      ["tumor_nadir", "tumor nadir (fraction of baseline)", num(s.tumor_nadir)],
      ["response", "modelled response", s.response || "—"],
      ["crs_grade", "modelled CRS risk grade", s.crs_grade ?? "—"],
      ["crs_onset", "CRS onset", num(s.crs_onset, "day")],
      ["icans_grade", "modelled ICANS risk grade", s.icans_grade ?? "—"],
      ["icans_onset", "ICANS onset", num(s.icans_onset, "day")],
      ["alarm", `alarm (grade ≥ 2 by day ${num(s.inputs.alarm_window)})`, s.alarm == null ? "—" : s.alarm ? "yes" : "no"],
      ["interventions", "interventions given", s.interventions || "none"],
    ];
    const t = rows.map(([k, label, v]) => {
      const raw = s[k];
      return `<tr data-metric="${k}" data-value="${raw == null ? "" : String(raw)}"><td>${label}</td><td class="v">${v}</td></tr>`;
    }).join("");
    $("summary").innerHTML = `<h2>Summary</h2><table>${t}</table>
      <p class="warn">Grades are modelled risk (threshold bands on a model observable), not ASTCT grades and not clinical advice.</p>`;
    if (S.mode === "population" && population) {
      const g = (a) => (a ? a.map((x, i) => `${i}: ${(100 * x).toFixed(1)}%`).join(", ") : "—");
      const atLeast = (a, k) => (a ? (100 * a.slice(k).reduce((x, y) => x + y, 0)).toFixed(1) + "%" : "—");
      $("summary").insertAdjacentHTML("beforeend", `<h2>Population (n = ${population.done}, seed ${population.seed})</h2>
        <table id="incidence">
        <tr data-metric="crs_ge2" data-value="${atLeast(population.crs_grades, 2)}"><td>modelled CRS grade ≥ 2</td><td class="v">${atLeast(population.crs_grades, 2)}</td></tr>
        <tr><td>CRS by grade</td><td class="v">${g(population.crs_grades)}</td></tr>
        <tr><td>modelled ICANS grade ≥ 2</td><td class="v">${atLeast(population.icans_grades, 2)}</td></tr>
        <tr><td>ICANS by grade</td><td class="v">${g(population.icans_grades)}</td></tr>
        <tr><td>alarm</td><td class="v">${(100 * population.alarm).toFixed(1)}%</td></tr>
        <tr><td>Cmax median (5-95%)</td><td class="v">${num(population.cmax[2])} (${num(population.cmax[0])}-${num(population.cmax[4])})</td></tr>
        </table><p class="note">Varied: ${population.varied.join(", ")}${population.failed.length ? `; ${population.failed.length} failed` : ""}</p>`);
    }
  }

  function renderPins() {
    const box = $("pins");
    box.innerHTML = pins.length ? "Pinned: " : "";
    pins.forEach((p, i) => {
      const span = document.createElement("span");
      span.className = "pin";
      span.innerHTML = `<span class="swatch" style="background:${p.color}"></span>`;
      span.append(`${p.label}: Cmax ${num(p.run.summary.cart_cmax)}, CRS ${p.run.summary.crs_grade ?? "—"} `);
      const b = document.createElement("button");
      b.type = "button"; b.textContent = "×"; b.setAttribute("aria-label", "remove pin " + p.label);
      b.onclick = () => { pins.splice(i, 1); render(); };
      span.appendChild(b);
      box.appendChild(span);
    });
  }

  function pin(label) {
    if (!current) return;
    if (pins.length >= 6) pins.shift();
    const used = new Set(pins.map((p) => p.color));
    const color = CartoxPlot.COLORS.find((c) => !used.has(c));
    pins.push({ label: label || `run ${pins.length + 1}: ${describeScenario(current.scenario)}`, color, run: current });
    render();
  }

  // ---- population ----------------------------------------------------------------------------
  async function runPopulation() {
    const n = parseInt(S.n, 10), seed = parseInt(S.seed, 10);
    if (!(n > 0 && n <= 5000)) return showError(`--n: \`${S.n}\` must be a whole number from 1 to 5000`);
    if (!(seed >= 0)) return showError(`--seed: \`${S.seed}\` is not a non-negative whole number`);
    $("pop-status").textContent = `running ${n} virtual patients…`;
    $("pop-run").disabled = true;
    const t0 = performance.now();
    try {
      const sc = scenario();
      const r = await call("population", { scenario: sc, n, seed });
      population = r.result;
      population.scenarioText = JSON.stringify(sc);
      window.cartoxPopulation = population;
      timings.population.push({ n, roundTrip: performance.now() - t0, wasm: r.ms });
      $("pop-status").textContent = `${population.done} patients in ${(r.ms / 1000).toFixed(2)} s`;
      document.body.dataset.population = String(population.done);
      hideError();
      render();
    } catch (e) {
      showError(e);
      $("pop-status").textContent = "";
    }
    $("pop-run").disabled = false;
  }

  // ---- downloads -----------------------------------------------------------------------------
  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 30000);
    status("saved " + name);
  }
  const base = () => `cartox-${S.model.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
  $("dl-csv").onclick = async () => {
    try { download(new Blob([(await call("csv", { scenario: scenario() })).result], { type: "text/csv" }), base() + "-timecourse.csv"); } catch (e) { showError(e); }
  };
  $("dl-json").onclick = async () => {
    try { download(new Blob([(await call("summary", { scenario: scenario() })).result], { type: "application/json" }), base() + "-summary.json"); } catch (e) { showError(e); }
  };
  $("dl-svg").onclick = () => download(new Blob([CartoxPlot.svgText($("figure"))], { type: "image/svg+xml" }), base() + "-figure.svg");
  $("dl-png").onclick = async () => {
    try { download(await CartoxPlot.pngBlob($("figure"), 2), base() + "-figure.png"); } catch (e) { showError(e.message || e); }
  };
  $("share").onclick = async () => {
    writeURL();
    try { await navigator.clipboard.writeText(location.href); status("link copied"); } catch { status("link: " + location.href); }
  };

  // ---- open a model file -----------------------------------------------------------------------
  async function openFile(file) {
    const text = await file.text();
    try {
      await call("open_model", { name: file.name, text });
      if (!opened.has(file.name)) {
        opened.add(file.name);
        const o = document.createElement("option");
        o.value = file.name; o.textContent = "file: " + file.name;
        $("model").appendChild(o);
      }
      hideError();
      pins.length = 0; population = null;
      await loadModel(file.name, false);
      rerun();
    } catch (e) {
      showError(e);
    }
  }
  $("file").addEventListener("change", () => { if ($("file").files[0]) openFile($("file").files[0]); });
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    if (e.dataTransfer.files[0]) openFile(e.dataTransfer.files[0]);
  });

  // ---- the other controls ------------------------------------------------------------------------
  $("model").addEventListener("change", async () => {
    pins.length = 0; population = null;
    try { await loadModel($("model").value, false); rerun(); } catch (e) { showError(e); }
  });
  $("schedule-preset").addEventListener("change", () => {
    const v = $("schedule-preset").value;
    if (v !== "custom") { S.schedule = v; $("schedule").value = v; rerun(); } else $("schedule").focus();
  });
  $("schedule").addEventListener("change", () => { S.schedule = $("schedule").value.trim(); rerun(); });
  $("ld").addEventListener("change", () => { S.ld = $("ld").value; rerun(); });
  $("days").addEventListener("change", () => { S.days = $("days").value.trim(); population = null; rerun(); });
  $("dt").addEventListener("change", () => { S.dt = $("dt").value.trim(); population = null; rerun(); });
  $("log").addEventListener("change", () => { S.log = $("log").checked; writeURL(); render(); });
  $("pin").onclick = () => pin();
  $("clear-pins").onclick = () => { pins.length = 0; render(); };
  $("reset-params").onclick = () => { S.set = {}; buildParams(); rerun(); };
  for (const el of document.querySelectorAll("input[name=mode]")) {
    el.addEventListener("change", () => {
      S.mode = el.value;
      $("population-controls").hidden = S.mode !== "population";
      writeURL(); render();
    });
  }
  $("pop-n").addEventListener("change", () => { S.n = $("pop-n").value.trim(); writeURL(); });
  $("pop-seed").addEventListener("change", () => { S.seed = $("pop-seed").value.trim(); writeURL(); });
  $("pop-run").onclick = runPopulation;

  // ---- guided exercise: no lymphodepletion vs Flu/Cy ---------------------------------------------
  $("exercise-start").onclick = async () => {
    const box = $("exercise");
    const regimens = desc.lymphodepletion.map((l) => l.name);
    const ld = regimens.includes("flu-cy") ? "flu-cy" : regimens[0];
    if (!ld) { box.hidden = false; box.textContent = "This model has no lymphodepletion regimen: choose the cartox model."; return; }
    box.hidden = false;
    box.innerHTML = `<h2>Exercise: why lymphodeplete?</h2><ol>
      <li>Predict: will the CAR-T peak be higher or lower without lymphodepletion? And the modelled CRS risk?</li>
      <li>The page now runs the same patient twice — no lymphodepletion, then ${ld} — and pins both.</li>
      <li>Compare the CAR-T panels and the summaries. Which run crosses the modelled grade-2 band of the CRS drive?</li>
      <li>Then try: halve the dose with ${ld}. Can you keep the peak and lower the modelled CRS risk?</li></ol>
      <p id="exercise-result" role="status"></p>`;
    pins.length = 0;
    const sum = [];
    for (const l of ["none", ld]) {
      S.ld = l; $("ld").value = l; rerun(); await window.cartoxIdle();
      pin(l === "none" ? "no lymphodepletion" : l);
      sum.push(`${l}: Cmax ${num(current.summary.cart_cmax, current.summary.units.cart_cmax)}, modelled CRS grade ${current.summary.crs_grade ?? "—"}`);
    }
    $("exercise-result").textContent = sum.join(" · ") + " (modelled, not clinical advice)";
  };

  // ---- start ---------------------------------------------------------------------------------------
  (async () => {
    readURL();
    try {
      const models = (await call("models")).result;
      for (const m of models) {
        const o = document.createElement("option");
        o.value = m.name; o.textContent = (m.preset ? "preset: " : "") + m.name + " — " + m.title.slice(0, 70);
        $("model").appendChild(o);
      }
      if (!models.some((m) => m.name === S.model)) {
        showError(`model \`${S.model}\` of the link is not bundled (open its file); showing the default model`);
        S.model = "cartox";
      }
      await loadModel(S.model, true);
      $("log").checked = S.log;
      $("pop-n").value = S.n; $("pop-seed").value = S.seed;
      for (const el of document.querySelectorAll("input[name=mode]")) el.checked = el.value === S.mode;
      $("population-controls").hidden = S.mode !== "population";
      rerun();
    } catch (e) {
      showError(e);
    }
  })();
})();
