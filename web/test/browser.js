// Headless Chromium (Debian's /usr/bin/chromium) through playwright-core, with a fresh profile,
// and the explorer page opened from web/dist/ on disk (file://).
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const WEB = path.resolve(__dirname, "..");
const ROOT = path.resolve(WEB, "..");
const DIST = path.join(WEB, "dist");
const PAGE_URL = "file://" + path.join(DIST, "index.html");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cartox-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1600, height: 1200 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// Open the page (at `hash`) and wait for its first plot.
async function open(context, hash = "") {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(PAGE_URL + hash);
  await page.waitForSelector("body[data-ready='1']", { timeout: 60000 });
  return { page, errors };
}

// Wait until every run the page asked for has finished.
const idle = (page) => page.evaluate(() => window.cartoxIdle());

module.exports = { launch, open, idle, ROOT, WEB, DIST, PAGE_URL };
