'use strict';
// Activities for the conformance scenarios (run by the official TypeScript SDK's worker in
// the scenario process, so their counters are visible to the scenario code).
const { Context, ApplicationFailure, CancelledFailure } = require('@temporalio/activity');

/** What the activities saw, read by the scenarios after a workflow finishes. */
const state = { flakyCalls: 0, cancelSeen: false, cleanup: {} };

/** Greets and reports the timeouts and times of the activity task it ran in. */
async function greet(name) {
  const info = Context.current().info;
  return {
    greeting: `Hello, ${name}!`,
    attempt: info.attempt,
    scheduleToCloseTimeoutMs: info.scheduleToCloseTimeoutMs,
    startToCloseTimeoutMs: info.startToCloseTimeoutMs,
    heartbeatTimeoutMs: info.heartbeatTimeoutMs === undefined ? null : info.heartbeatTimeoutMs,
    scheduledTimestampMs: info.scheduledTimestampMs,
    currentAttemptScheduledTimestampMs: info.currentAttemptScheduledTimestampMs,
  };
}

/** Fails its first two attempts, then returns the attempt number. */
async function flaky() {
  state.flakyCalls += 1;
  const { attempt } = Context.current().info;
  if (attempt < 3) {
    throw ApplicationFailure.retryable(`transient failure ${attempt}`, 'Transient');
  }
  return attempt;
}

/**
 * Attempt 1 heartbeats `n` times (details 1..n) and then goes quiet until cancelled, so the
 * server must time it out on heartbeat; a later attempt returns the last recorded details.
 */
async function heartbeatThenHang(n) {
  const ctx = Context.current();
  if (ctx.info.attempt === 1) {
    for (let i = 1; i <= n; i += 1) {
      ctx.heartbeat(i);
      await ctx.sleep(200);
    }
    try {
      await ctx.sleep(30000);
    } catch (err) {
      // The worker shutting down cancels the abandoned attempt.
      return -1;
    }
    return -1;
  }
  return ctx.info.heartbeatDetails === undefined ? 0 : ctx.info.heartbeatDetails;
}

/** Heartbeats until cancelled, then records that it saw the cancellation and rethrows. */
async function waitForCancel() {
  const ctx = Context.current();
  try {
    for (;;) {
      ctx.heartbeat();
      await ctx.sleep(100);
    }
  } catch (err) {
    if (err instanceof CancelledFailure) {
      state.cancelSeen = true;
    }
    throw err;
  }
}

/** Called by a workflow's non-cancellable cleanup with the name of the error it caught. */
async function recordCleanup(errorName) {
  state.cleanup[Context.current().info.workflowExecution.workflowId] = errorName;
  return 'cleaned';
}

module.exports = {
  activities: { greet, flaky, heartbeatThenHang, waitForCancel, recordCleanup },
  state,
};
