// The Web Worker's message loop (appended to wasm-bindgen's `--target no-modules` glue and the
// inlined wasm by web/build.sh). Requests: {id, op, args}; replies: {id, ok, result | error, ms}.
// The wasm is inlined as base64 so the worker also starts from a page opened from disk (file://).
"use strict";
const ready = (async () => {
  const bin = atob(CARTOX_WASM_BASE64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  await wasm_bindgen({ module_or_path: bytes });
})();

const ops = {
  models: () => wasm_bindgen.models(),
  describe: (a) => wasm_bindgen.describe(a.model),
  open_model: (a) => wasm_bindgen.open_model(a.name, a.text),
  simulate: (a) => wasm_bindgen.simulate(JSON.stringify(a.scenario)),
  csv: (a) => wasm_bindgen.timecourse_csv(JSON.stringify(a.scenario)),
  summary: (a) => wasm_bindgen.summary_json(JSON.stringify(a.scenario)),
  population: (a) => wasm_bindgen.population(JSON.stringify(a.scenario), a.n, a.seed),
};

self.onmessage = async (ev) => {
  const { id, op, args } = ev.data;
  try {
    await ready;
    const t0 = performance.now();
    const text = ops[op](args || {});
    const ms = performance.now() - t0;
    const raw = op === "csv" || op === "summary";
    self.postMessage({ id, ok: true, result: raw ? text : JSON.parse(text), ms });
  } catch (e) {
    self.postMessage({ id, ok: false, error: typeof e === "string" ? e : String(e && e.message || e) });
  }
};
