// The live supervision tree of `hourglass run`: a child is killed while the page is open,
// and the page (never reloaded) shows the restart, pushed by server-sent events.
"use strict";
const { shot, check, scenario } = require("./browser.js");
const UI = process.env.UI_URL;
const PID = parseInt(process.env.CRASH_PID, 10);

async function rows(page) {
  return await page.$$eval("#tree-table tr.tree-row", (trs) =>
    trs.map((tr) => ({
      path: tr.dataset.path,
      state: tr.dataset.state,
      restarts: +tr.dataset.restarts,
      pid: tr.dataset.pid,
      lastExit: tr.querySelector(".last-exit").innerText.trim(),
    })));
}

function total(rs) {
  return rs.reduce((n, r) => n + r.restarts, 0);
}

scenario(async (page) => {
  const out = {};
  await page.goto(UI + "/hourglass/tree");
  await page.locator("#live-status").getByText("live").waitFor();
  // Marks this document: a reload would lose it.
  await page.evaluate(() => { window.__hourglassMarker = 42; });
  const before = await rows(page);
  out.rowsBefore = before.length;
  out.restartsBefore = total(before);
  out.paths = before.map((r) => r.path);
  out.coreInfo = (await page.locator("#core-info").innerText()).trim();
  out.pidsBefore = before.filter((r) => r.pid).map((r) => r.pid);
  await shot(page, "tree-before-crash");

  check(PID > 0, "CRASH_PID names a process");
  process.kill(PID, "SIGKILL");
  console.log("killed " + PID);
  const deadline = Date.now() + 30000;
  let after = before;
  while (Date.now() < deadline) {
    after = await rows(page);
    if (total(after) > out.restartsBefore && after.every((r) => r.state !== "restarting")) break;
    await page.waitForTimeout(100);
  }
  out.restartsAfter = total(after);
  out.restarted = after
    .filter((r) => r.restarts > (before.find((b) => b.path === r.path) || { restarts: 0 }).restarts)
    .map((r) => r.path);
  out.lastExits = after.filter((r) => r.lastExit).map((r) => r.path + ": " + r.lastExit);
  out.pidsAfter = after.filter((r) => r.pid).map((r) => r.pid);
  out.sameDocument = await page.evaluate(() => window.__hourglassMarker === 42);
  out.updates = +(await page.getAttribute("#tree", "data-updates"));
  await shot(page, "tree-after-crash");

  await page.goto(UI + "/hourglass/metrics");
  out.metricsHasRestarts = (await page.locator("#metrics").innerText()).includes("hourglass_child_restarts_total");
  return out;
});
