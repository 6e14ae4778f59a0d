// Measure the explorer in headless Chromium (not a test: prints figures for docs/web.md).
// node web/measure.js   (after web/build.sh and web/test.sh's installs)
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const { launch, open, idle, DIST } = require("./test/browser.js");

const median = (a) => { const s = [...a].sort((x, y) => x - y); const k = s.length; return k % 2 ? s[(k - 1) / 2] : (s[k / 2 - 1] + s[k / 2]) / 2; };
const r1 = (x) => Math.round(x * 10) / 10;

(async () => {
  const sizes = {};
  let total = 0;
  for (const f of fs.readdirSync(DIST)) {
    const b = fs.readFileSync(path.join(DIST, f));
    total += b.length;
    sizes[f] = { bytes: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length };
  }
  const b = await launch();
  const loads = [];
  for (let i = 0; i < 5; i++) {
    const { page } = await open(b.context);
    loads.push(await page.evaluate(() => window.cartoxTimings.firstPlotSinceNavigation));
    await page.close();
  }
  const { page } = await open(b.context);
  const rt = [], wasm = [];
  for (let i = 0; i < 40; i++) {
    await page.locator("#dose-slider").fill(String(7 + (i % 20) * 0.1));
    await idle(page);
    const t = await page.evaluate(() => window.cartoxTimings.runs.at(-1));
    rt.push(t.roundTrip); wasm.push(t.wasm);
  }
  await page.check("input[name=mode][value=population]");
  const pop = [];
  for (let i = 0; i < 3; i++) {
    await page.fill("#pop-n", "200");
    await page.fill("#pop-seed", String(i + 1));
    await page.press("#pop-seed", "Tab");
    await page.click("#pop-run");
    await page.waitForFunction((k) => window.cartoxTimings.population.length === k, i + 1, { timeout: 300000 });
    pop.push(await page.evaluate(() => window.cartoxTimings.population.at(-1)));
  }
  await b.close();
  console.log(JSON.stringify({
    dist_total_bytes: total, files: sizes,
    first_plot_ms: { runs: loads.map(r1), median: r1(median(loads)) },
    rerun_ms: { n: rt.length, round_trip_median: r1(median(rt)), wasm_median: r1(median(wasm)), round_trip_max: r1(Math.max(...rt)) },
    population_200_ms: pop.map((p) => ({ round_trip: r1(p.roundTrip), wasm: r1(p.wasm) })),
  }, null, 2));
})().catch((e) => { console.error(e); process.exit(1); });
