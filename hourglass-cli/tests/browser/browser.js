// Shared by the Web UI browser scenarios: Debian's Chromium through playwright-core.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

// Launches the browser named by CHROMIUM with a fresh profile; returns { context, page, close }.
async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "hg-chromium-"));
  const args = (process.env.CHROMIUM_ARGS || "").split(" ").filter((a) => a && a !== "--headless");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    args,
    viewport: { width: 1400, height: 1000 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  // Every confirm() the pages ask is accepted, and logged.
  page.on("dialog", async (d) => {
    console.log("dialog: " + d.message());
    await d.accept();
  });
  page.on("pageerror", (e) => console.log("page error: " + e));
  return {
    context,
    page,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function shot(page, name) {
  const file = path.join(process.env.SHOTS, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  console.log("screenshot: " + file);
}

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

// Runs `body` with a browser, printing RESULT <json> on success; exits 1 on failure.
async function scenario(body) {
  const b = await launch();
  try {
    const result = await body(b.page);
    console.log("RESULT " + JSON.stringify(result));
  } catch (e) {
    try { await shot(b.page, "failure"); } catch (_) { /* best effort */ }
    console.log("FAILED " + (e && e.stack ? e.stack : e));
    process.exitCode = 1;
  } finally {
    await b.close();
  }
}

module.exports = { launch, shot, check, scenario };
