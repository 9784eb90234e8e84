// The workflow list's paging in a real browser: a query matching more runs than a page
// shows the first page, `next page »` the rest, with the query kept and no run twice.
"use strict";
const { shot, scenario } = require("./browser.js");
const UI = process.env.UI_URL;

async function ids(page) {
  return await page.$$eval("#workflows td a", (as) =>
    as.map((a) => a.innerText.trim()).filter((t) => t.startsWith("paged-")));
}

scenario(async (page) => {
  const out = { pages: [] };
  await page.goto(UI + "/namespaces/default/workflows?query=" +
    encodeURIComponent("WorkflowType = 'Paged'"));
  for (let i = 0; i < 5; i++) {
    await page.locator("#workflows").waitFor();
    out.pages.push(await ids(page));
    out.queryKept = await page.inputValue("#query");
    await shot(page, "workflow-list-page-" + (i + 1));
    const next = page.locator("#next-page");
    if ((await next.count()) === 0) break;
    await next.click();
    await page.waitForURL(/page_token=/);
  }
  return out;
});
