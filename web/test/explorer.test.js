// The explorer in a real headless Chromium, opened from web/dist/ on disk, against the `cartox`
// binary: the page's numbers and downloads must be the CLI's for the same inputs.
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync, spawn, spawnSync } = require("node:child_process");
const readline = require("node:readline");
const { launch, open, idle, ROOT, DIST } = require("./browser.js");

const BIN = process.env.CARTOX_BIN || path.join(ROOT, "target/release/cartox");
const PLOTS = path.join(ROOT, "plots");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cartox-web-test-"));

// `cartox simulate FLAGS --summary S.json --out T.csv`: the summary (parsed and as bytes) and the CSV bytes.
function cli(flags, cwd = ROOT) {
  const s = path.join(tmp, "s.json"), t = path.join(tmp, "t.csv");
  execFileSync(BIN, ["simulate", ...flags, "--summary", s, "--out", t], { cwd, stdio: ["ignore", "ignore", "inherit"] });
  const text = fs.readFileSync(s, "utf8");
  return { summary: JSON.parse(text), summaryText: text, csv: fs.readFileSync(t, "utf8") };
}

const relClose = (a, b, tol) => Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));

// The page's CSV against the CLI's: the same header, rows and columns, written by the same code;
// every number within 1e-9 relative (in practice the last digit: WebAssembly's exp/ln/pow are not
// glibc's, so a value can differ in its last bit; see docs/web.md), text fields identical.
function sameCsv(got, want) {
  const g = got.split("\n"), w = want.split("\n");
  assert.equal(g.length, w.length, "row count");
  assert.equal(g[0], w[0], "header");
  let exact = 0, total = 0;
  for (let r = 1; r < w.length; r++) {
    const a = g[r].split(","), b = w[r].split(",");
    assert.equal(a.length, b.length, `row ${r}: field count`);
    for (let c = 0; c < b.length; c++) {
      total++;
      if (a[c] === b[c]) { exact++; continue; }
      const x = Number(a[c]), y = Number(b[c]);
      assert.ok(Number.isFinite(x) && Number.isFinite(y) && relClose(x, y, 1e-9),
        `row ${r}, column ${w[0].split(",")[c]}: ${a[c]} vs ${b[c]}`);
    }
  }
  return { exact, total };
}

// The same for the summary JSON: the same keys in the same order, the same texts, flags and counts,
// numbers within 1e-9 relative, except the day of a peak (peak_day, tmax, tmax_transgene): the place of a flat maximum moves by
// about the square root of a last-bit change (1e-6 relative allowed).
function sameJson(got, want, where = "summary") {
  if (typeof want === "number" && typeof got === "number") {
    const tol = /(peak_day|tmax|tmax_transgene)$/.test(where) ? 1e-6 : 1e-9;
    assert.ok(relClose(got, want, tol), `${where}: ${got} vs ${want}`);
  } else if (want && typeof want === "object") {
    assert.deepEqual(Object.keys(got), Object.keys(want), `${where}: keys`);
    for (const k of Object.keys(want)) sameJson(got[k], want[k], `${where}.${k}`);
  } else {
    assert.equal(got, want, where);
  }
}
const metric = async (page, name) => page.getAttribute(`#summary tr[data-metric='${name}']`, "data-value");
const firstPanelPaths = (page) =>
  page.$$eval("#figure g.panel:first-of-type path.series", (ps) => ps.map((p) => ({ label: p.dataset.label, d: p.getAttribute("d") })));

async function download(page, button) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
  return { name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), "utf8") };
}

let browser, page, errors;
before(async () => {
  browser = await launch();
  ({ page, errors } = await open(browser.context));
});
after(async () => {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("the default scenario's summary is `cartox simulate`'s", async () => {
  const want = cli([]).summary;
  const cmax = Number(await metric(page, "cart_cmax"));
  assert.ok(relClose(cmax, want.cart_cmax, 1e-9), `page ${cmax} vs CLI ${want.cart_cmax}`);
  assert.equal(Number(await metric(page, "crs_grade")), want.crs_grade);
  assert.equal(Number(await metric(page, "icans_grade")), want.icans_grade);
  assert.equal(await metric(page, "alarm"), String(want.alarm));
  assert.match(await page.textContent("header"), /Modelled risk, not clinical advice/);
  assert.match(await page.textContent("#summary"), /not clinical advice/);
  assert.deepEqual(errors, []);
});

test("dose slider and LD control change plot and summary; Cmax equals the CLI's to 1e-9", async () => {
  const before0 = await firstPanelPaths(page);
  const cmax0 = Number(await metric(page, "cart_cmax"));
  await page.locator("#dose-slider").fill("7.5");
  await idle(page);
  // and by keyboard: the slider is a native range input
  await page.focus("#dose-slider");
  await page.keyboard.press("ArrowLeft");
  await idle(page);
  const dose = await page.inputValue("#dose");
  assert.equal(dose, String(+Math.pow(10, 7.49).toPrecision(3)));
  await page.selectOption("#ld", "none");
  await idle(page);
  const after0 = await firstPanelPaths(page);
  assert.notEqual(after0[0].d, before0[0].d, "the CAR-T curve moved");
  const cmax = Number(await metric(page, "cart_cmax"));
  assert.notEqual(cmax, cmax0);
  const want = cli(["--dose", dose, "--ld", "none"]).summary;
  assert.ok(relClose(cmax, want.cart_cmax, 1e-9), `page ${cmax} vs CLI ${want.cart_cmax}`);
  assert.equal(Number(await metric(page, "crs_grade")), want.crs_grade);
});

test("the CSV and summary downloads are the CLI's for the same inputs (to the last digit)", async () => {
  await page.selectOption("#schedule-preset", "0:0.1,1:0.3,2:0.6");
  await page.fill("#p-rho_E-text", "0.55");
  await page.press("#p-rho_E-text", "Enter");
  await idle(page);
  const dose = await page.inputValue("#dose");
  const want = cli(["--dose", dose, "--ld", "none", "--schedule", "0:0.1,1:0.3,2:0.6", "--set", "rho_E=0.55"]);
  const csv = await download(page, "#dl-csv");
  assert.ok(csv.text.length > 1000);
  const { exact, total } = sameCsv(csv.text, want.csv);
  console.log(`# CSV: ${exact} of ${total} fields byte-identical to the CLI's, the others within 1e-9 relative`);
  const json = await download(page, "#dl-json");
  sameJson(JSON.parse(json.text), JSON.parse(want.summaryText));
  assert.equal(json.text.split("\n").length, want.summaryText.split("\n").length, "same layout");
  const svg = await download(page, "#dl-svg");
  assert.match(svg.text, /<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#dl-png")]);
  const bytes = fs.readFileSync(await dl.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "a PNG file");
});

test("the URL restores the scenario", async () => {
  const url = page.url();
  assert.match(url, /#.*ld=none/);
  const cmax = await metric(page, "cart_cmax");
  const again = await open(browser.context, url.slice(url.indexOf("#")));
  assert.equal(await again.page.inputValue("#dose"), await page.inputValue("#dose"));
  assert.equal(await again.page.inputValue("#ld"), "none");
  assert.equal(await again.page.inputValue("#schedule"), "0:0.1,1:0.3,2:0.6");
  assert.equal(await again.page.inputValue("#p-rho_E-text"), "0.55");
  assert.equal(await metric(again.page, "cart_cmax"), cmax);
  await again.page.close();
});

test("pinning two runs overlays two series with a legend", async () => {
  await page.click("#clear-pins");
  await page.click("#reset-params");
  await page.selectOption("#schedule-preset", "");
  await page.selectOption("#ld", "none");
  await idle(page);
  await page.click("#pin");
  await page.selectOption("#ld", "flu-cy");
  await idle(page);
  await page.click("#pin");
  const paths = await firstPanelPaths(page);
  const pinned = paths.filter((p) => p.label !== "current");
  assert.equal(pinned.length, 2);
  assert.notEqual(pinned[0].d, pinned[1].d);
  assert.equal(await page.locator("#pins .pin").count(), 2);
  assert.equal(await page.locator("#figure g.legend text").count(), 3);
  await page.locator("#dose-slider").fill("8.3"); // the current run apart from the pins
  await idle(page);
  await page.screenshot({ path: path.join(PLOTS, "web-explorer.png") });
});

test("a population of 200 virtual patients finishes; its grade incidence is the CLI's", async () => {
  await page.fill("#dose", "");
  await page.press("#dose", "Enter"); // the model's dose: the patients of `cartox population`
  await idle(page);
  await page.check("input[name=mode][value=population]");
  await page.fill("#pop-n", "200");
  await page.press("#pop-n", "Tab");
  await page.click("#pop-run");
  await page.waitForSelector("body[data-population='200']", { timeout: 300000 });
  assert.equal(await page.locator("#figure g.panel:first-of-type path.band").count(), 2);
  const ge2 = await page.getAttribute("#incidence tr[data-metric='crs_ge2']", "data-value");
  assert.match(ge2, /^\d+(\.\d)?%$/);
  await page.screenshot({ path: path.join(PLOTS, "web-population.png") });

  const pop = path.join(tmp, "pop.csv"), res = path.join(tmp, "res.csv");
  execFileSync(BIN, ["population", "--n", "200", "--seed", "1", "--out", pop]);
  execFileSync(BIN, ["sweep", "--params", pop, "--ld", "flu-cy", "--quiet", "--out", res]);
  const rows = fs.readFileSync(res, "utf8").trim().split("\n").map((l) => l.split(","));
  const col = (name) => rows.slice(1).map((r) => r[rows[0].indexOf(name)]);
  const shares = (name) => [0, 1, 2, 3, 4].map((g) => col(name).filter((x) => Number(x) === g).length / 200);
  const got = await page.evaluate(() => window.cartoxPopulation);
  assert.equal(got.done, 200);
  assert.deepEqual(got.crs_grades, shares("crs_grade"));
  assert.deepEqual(got.icans_grades, shares("icans_grade"));
  const cmax = col("cart_cmax").map(Number).sort((a, b) => a - b);
  assert.ok(relClose(got.cmax[2], (cmax[99] + cmax[100]) / 2, 1e-9), `median Cmax ${got.cmax[2]}`);
  await page.check("input[name=mode][value=single]");
});

test("a model file opened from disk runs like a bundled one; a bad one shows the CLI's error line", async () => {
  const dir = fs.mkdtempSync(path.join(tmp, "m-"));
  const good = fs.readFileSync(path.join(ROOT, "models/cartox.toml"), "utf8").replace(/\n\[\[parameters\]\]\nname = "rho_E"\nvalue = [^\n]+/, '\n[[parameters]]\nname = "rho_E"\nvalue = 0.6');
  fs.writeFileSync(path.join(dir, "my-model.toml"), good);
  await page.setInputFiles("#file", path.join(dir, "my-model.toml"));
  await page.waitForFunction(() => document.getElementById("model").value === "my-model.toml");
  await idle(page);
  const want = cli(["--model", "my-model.toml"], dir).summary;
  const cmax = Number(await metric(page, "cart_cmax"));
  assert.ok(relClose(cmax, want.cart_cmax, 1e-9), `page ${cmax} vs CLI ${want.cart_cmax}`);

  fs.writeFileSync(path.join(dir, "bad.toml"), good.replace(/\[equations\]\n/, "[equations]\nno_such_state = \"1\"\n"));
  const r = spawnSync(BIN, ["simulate", "--model", "bad.toml"], { cwd: dir, encoding: "utf8" });
  assert.notEqual(r.status, 0);
  const cliLine = r.stderr.trim();
  assert.equal(cliLine.split("\n").length, 1);
  await page.setInputFiles("#file", path.join(dir, "bad.toml"));
  await page.waitForSelector("#error:not([hidden])");
  assert.equal((await page.textContent("#error")).trim(), cliLine);
});

test("a model dropped on the page opens; the guided exercise pins no-LD and Flu/Cy runs", async () => {
  const text = fs.readFileSync(path.join(ROOT, "models/cartox.toml"), "utf8");
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], "dropped.toml", { type: "text/plain" }));
    document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, text);
  await page.waitForFunction(() => document.getElementById("model").value === "dropped.toml");
  await idle(page);
  const want = cli([]).summary;
  assert.ok(relClose(Number(await metric(page, "cart_cmax")), want.cart_cmax, 1e-9));

  await page.click("#exercise-start");
  await page.waitForFunction(() => document.getElementById("exercise-result")?.textContent.length > 0);
  const labels = (await firstPanelPaths(page)).map((p) => p.label);
  assert.deepEqual(labels.slice(0, 2), ["no lymphodepletion", "flu-cy"]);
  assert.match(await page.textContent("#exercise-result"), /^none: Cmax .* · flu-cy: Cmax .*not clinical advice/);
});

test("an SBML file opened from disk runs: its CSV is the CLI's for the same file", async () => {
  const src = path.join(ROOT, "../shared/reference/biomodels/BIOMD0000001041_Kimmel2021.xml");
  const dir = fs.mkdtempSync(path.join(tmp, "sbml-"));
  const file = path.join(dir, "kimmel.xml");
  fs.copyFileSync(src, file);
  await page.setInputFiles("#file", file);
  await page.waitForFunction(() => document.getElementById("model").value === "kimmel.xml");
  await idle(page);
  assert.equal(await page.isHidden("#error"), true);
  const want = cli(["--model", "kimmel.xml"], dir);
  const csv = await download(page, "#dl-csv");
  sameCsv(csv.text, want.csv);
  sameJson(JSON.parse((await download(page, "#dl-json")).text), want.summary);
});

test("`cartox serve` serves the same page over http://127.0.0.1", async () => {
  const server = spawn(BIN, ["serve", "--port", "0", "--dir", DIST], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const line = await new Promise((resolve, reject) => {
      readline.createInterface({ input: server.stdout }).once("line", resolve);
      server.once("exit", (code) => reject(new Error(`cartox serve exited with ${code}`)));
    });
    const url = line.match(/http:\/\/127\.0\.0\.1:\d+\//)[0];
    const p = await browser.context.newPage();
    const response = await p.goto(url);
    assert.equal(response.headers()["content-type"], "text/html; charset=utf-8");
    await p.waitForSelector("body[data-ready='1']", { timeout: 60000 });
    const want = cli([]).summary;
    const cmax = Number(await p.getAttribute("#summary tr[data-metric='cart_cmax']", "data-value"));
    assert.ok(relClose(cmax, want.cart_cmax, 1e-9));
    await p.close();
  } finally {
    server.kill();
  }
});
