'use strict';
// Workflows for the conformance scenarios, bundled by the official TypeScript SDK's webpack
// bundler (see bundle.js). Plain CommonJS: only @temporalio/workflow may be required here.
const {
  proxyActivities,
  defineSignal,
  defineQuery,
  defineUpdate,
  setHandler,
  condition,
  executeChild,
  workflowInfo,
  sleep,
  isCancellation,
  CancellationScope,
  ActivityFailure,
  TimeoutFailure,
  ActivityCancellationType,
} = require('@temporalio/workflow');

/** Calls `greet` with exactly the activity options given (e.g. only startToCloseTimeout). */
async function helloActivity(name, options) {
  const { greet } = proxyActivities(options);
  return greet(name);
}

/** Calls `flaky`, retried quickly; it succeeds on attempt 3. */
async function retryActivity() {
  const { flaky } = proxyActivities({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1 },
  });
  return flaky();
}

/**
 * Attempt 1 of `heartbeatThenHang` times out on heartbeat and attempt 2 returns the last
 * heartbeat details; then, without retries, the heartbeat timeout reaches the workflow.
 */
async function heartbeatActivity() {
  const retried = proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '1s',
    retry: { initialInterval: '100ms' },
  });
  const resumed = await retried.heartbeatThenHang(5);
  const once = proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '1s',
    retry: { maximumAttempts: 1 },
  });
  let timeoutType = 'none';
  try {
    await once.heartbeatThenHang(1);
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
      timeoutType = err.cause.timeoutType;
    } else {
      timeoutType = `unexpected: ${err}`;
    }
  }
  return [resumed, timeoutType];
}

const addSignal = defineSignal('add');
const countQuery = defineQuery('count');
const brokenQuery = defineQuery('broken');
const setItemsUpdate = defineUpdate('setItems');

/** Collects signalled items until it has `expected` of them; answers queries and updates. */
async function collector(expected) {
  let items = [];
  setHandler(addSignal, (item) => {
    items.push(item);
  });
  setHandler(countQuery, () => items.length);
  setHandler(brokenQuery, () => {
    throw new Error('query says no');
  });
  setHandler(
    setItemsUpdate,
    (newItems) => {
      const old = items.length;
      items = [...newItems];
      return old;
    },
    {
      validator: (newItems) => {
        if (newItems.length === 0) {
          throw new Error('empty items rejected');
        }
      },
    },
  );
  await condition(() => items.length >= expected);
  return items;
}

/** A child workflow. */
async function child(name) {
  return `child of ${name} (parent ${workflowInfo().parent ? workflowInfo().parent.workflowId : 'none'})`;
}

/** Runs `child` and returns what it returned. */
async function parent(name) {
  const r = await executeChild(child, {
    args: [name],
    workflowId: `${workflowInfo().workflowId}-child`,
  });
  return `parent got: ${r}`;
}

/**
 * Waits on a long heartbeating activity; on cancellation it records (in a non-cancellable
 * scope) the name of the error it saw, and rethrows it so the workflow ends cancelled.
 */
async function cancellable() {
  const { waitForCancel } = proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '2s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const { recordCleanup } = proxyActivities({ startToCloseTimeout: '10s' });
  try {
    await waitForCancel();
    return 'not cancelled';
  } catch (err) {
    if (isCancellation(err)) {
      const name = err instanceof ActivityFailure ? `ActivityFailure(${err.cause && err.cause.name})` : err.name;
      await CancellationScope.nonCancellable(() => recordCleanup(name));
    }
    throw err;
  }
}

/** Sleeps a day; on cancellation records the error it saw and rethrows it. */
async function cancellableTimer() {
  const { recordCleanup } = proxyActivities({ startToCloseTimeout: '10s' });
  try {
    await sleep('1 day');
    return 'not cancelled';
  } catch (err) {
    await CancellationScope.nonCancellable(() => recordCleanup(err.name));
    throw err;
  }
}

module.exports = {
  cancellableTimer,
  helloActivity,
  retryActivity,
  heartbeatActivity,
  collector,
  child,
  parent,
  cancellable,
};
