// The workflow list and a workflow's page in a real browser: follow a workflow, see its
// timeline and result, send a signal and see the history grow, and bad input (a query with
// a syntax error, a signal with malformed JSON) answered beside the field.
"use strict";
const { shot, check, scenario } = require("./browser.js");
const UI = process.env.UI_URL;

async function eventCount(page) {
  return await page.locator("#event-rows tr.event").count();
}

scenario(async (page) => {
  const out = {};
  await page.goto(UI + "/namespaces/default/workflows");
  await page.locator("#workflows").getByText("parent-1", { exact: true }).waitFor();
  out.listTotal = (await page.locator("#counts").innerText()).trim();
  await shot(page, "workflow-list");

  // A query with a syntax error: the server's message beside the box, the query kept.
  await page.fill("#query", "WorkflowType = ");
  await page.click("#query-form button[type=submit]");
  await page.waitForURL(/query=/);
  out.queryError = (await page.locator("#query-error").innerText()).trim();
  out.queryKept = await page.inputValue("#query");
  await shot(page, "workflow-list-bad-query");

  // A good query narrows the list.
  await page.fill("#query", "WorkflowType = 'ParentWorkflow'");
  await page.click("#query-form button[type=submit]");
  await page.waitForURL(/ParentWorkflow/);
  out.filteredRows = await page.locator("#workflows td a").count();

  // Follow the workflow: summary, result, the child in the timeline.
  await page.locator("#workflows").getByText("parent-1", { exact: true }).click();
  await page.waitForSelector("#result");
  out.result = (await page.locator("#result").innerText()).trim();
  out.input = (await page.locator("#input").innerText()).trim();
  out.timelineBars = await page.locator("#timeline .tl-bar").count();
  out.timeline = (await page.locator("#timeline").innerText()).trim();
  out.status = (await page.locator("#status").innerText()).trim();
  await shot(page, "workflow-page");

  // The child link leads to the child's page, which links back to its parent.
  await page.locator("#summary").getByText("parent-1-child").click();
  await page.waitForSelector("#result");
  out.childResult = (await page.locator("#result").innerText()).trim();
  out.childParent = (await page.locator("#summary").innerText()).includes("parent-1");

  // A running workflow: a malformed signal changes nothing and shows the server's message.
  await page.goto(UI + "/namespaces/default/workflows/counter-1");
  await page.waitForSelector("#signal-form");
  const before = await eventCount(page);
  await page.fill("#signal-form [name=signal_name]", "add");
  await page.fill("#signal-form [name=signal_input]", "{not json");
  await page.click("#signal-form button[type=submit]");
  await page.locator("#signal-msg.error").waitFor();
  out.signalError = (await page.locator("#signal-msg").innerText()).trim();
  await shot(page, "workflow-bad-signal");
  await page.reload();
  out.eventsBefore = before;
  out.eventsAfterBadSignal = await eventCount(page);

  // A good signal: the page reloads and the history has grown.
  await page.fill("#signal-form [name=signal_name]", "add");
  await page.fill("#signal-form [name=signal_input]", "7");
  await Promise.all([
    page.waitForEvent("load"),
    page.click("#signal-form button[type=submit]"),
  ]);
  await page.waitForSelector("#event-rows");
  // The worker's reaction (a workflow task) may follow; wait for the signal's event.
  await page.locator("#event-rows").getByText("WorkflowExecutionSignaled").first().waitFor();
  out.eventsAfterSignal = await eventCount(page);
  out.signaledEvents = await page.locator("#event-rows").getByText("WorkflowExecutionSignaled").count();
  await shot(page, "workflow-signaled");

  // The query box: the server's answer (or its refusal) shown beside it.
  await page.fill("#query-form [name=query_type]", "__stack_trace");
  await page.click("#query-form button[type=submit]");
  await page.waitForFunction(() => {
    const t = document.querySelector("#query-result").textContent;
    return t && t !== "…";
  });
  out.stackTrace = (await page.locator("#query-result").innerText()).trim();
  out.stackTraceOk = await page.locator("#query-result.ok").count() === 1;
  // An unknown update is refused by the workflow, shown beside the field.
  await page.fill("#update-form [name=update_name]", "no_such_update");
  await page.click("#update-form button[type=submit]");
  await page.waitForFunction(() => {
    const t = document.querySelector("#update-msg").textContent;
    return t && t !== "…";
  });
  out.updateAnswer = (await page.locator("#update-msg").innerText()).trim();
  out.updateIsError = (await page.locator("#update-msg.error").count()) === 1;
  // A good update: its result shown beside the field.
  await page.fill("#update-form [name=update_name]", "add_and_get");
  await page.fill("#update-form [name=update_args]", "2");
  await page.click("#update-form button[type=submit]");
  await page.locator("#update-msg.ok").waitFor();
  out.updateResult = (await page.locator("#update-msg").innerText()).trim();

  // Terminate, confirmed: the page reloads showing the new status.
  await page.fill("#terminate-form [name=terminate_reason]", "from the browser test");
  await Promise.all([page.waitForEvent("load"), page.click("#terminate-form button[type=submit]")]);
  await page.locator("#status").getByText("Terminated").waitFor();
  out.terminatedStatus = (await page.locator("#status").innerText()).trim();
  out.failureText = (await page.locator("#failure").innerText()).trim();
  await shot(page, "workflow-terminated");

  // Schedules: list, detail with next runs, pause, trigger.
  await page.goto(UI + "/namespaces/default/schedules");
  await page.locator("#schedules").getByText("sched-1").click();
  await page.waitForSelector("#future li");
  out.futureRuns = await page.locator("#future li").count();
  await Promise.all([page.waitForEvent("load"), page.click("#pause-form button[type=submit]")]);
  await page.getByText("Paused").first().waitFor();
  out.pausedShown = true;
  await Promise.all([page.waitForEvent("load"), page.click("#trigger-form button[type=submit]")]);
  const deadline = Date.now() + 15000;
  while ((await page.locator("#recent td a").count()) === 0 && Date.now() < deadline) {
    await page.waitForTimeout(300);
    await page.reload();
  }
  out.recentRuns = await page.locator("#recent td a").count();
  await shot(page, "schedule-page");
  return out;
});
