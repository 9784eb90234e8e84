// A live core reload seen on the supervision tree of `hourglass run --watch-core`: the page
// is open while the library file is replaced (written aside, renamed over, as a build does),
// and the page (never reloaded) shows the new generation, pushed by server-sent events.
"use strict";
const fs = require("fs");
const { shot, check, scenario } = require("./browser.js");
const UI = process.env.UI_URL;
const CORE = process.env.CORE_PATH;
const SOURCE = process.env.CORE_SOURCE;

scenario(async (page) => {
  const out = {};
  await page.goto(UI + "/hourglass/tree");
  await page.locator("#live-status").getByText("live").waitFor();
  await page.evaluate(() => { window.__hourglassMarker = 42; });
  out.coreBefore = (await page.locator("#core-info").innerText()).trim();
  out.rowsBefore = await page.locator("#tree-table tr.tree-row").count();

  check(CORE && SOURCE, "CORE_PATH and CORE_SOURCE are set");
  const staged = CORE + ".staged";
  fs.copyFileSync(SOURCE, staged);
  fs.renameSync(staged, CORE);
  console.log("replaced " + CORE);
  const deadline = Date.now() + 60000;
  let info = out.coreBefore;
  while (Date.now() < deadline && !info.includes("generation 2")) {
    await page.waitForTimeout(100);
    info = (await page.locator("#core-info").innerText()).trim();
  }
  out.coreAfter = info;
  out.rowsAfter = await page.locator("#tree-table tr.tree-row").count();
  out.sameDocument = await page.evaluate(() => window.__hourglassMarker === 42);
  await shot(page, "tree-after-core-reload");
  return out;
});
