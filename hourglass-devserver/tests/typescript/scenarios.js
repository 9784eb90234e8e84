'use strict';
// Conformance scenarios run with the official Temporal TypeScript SDK against the dev server.
//
// Usage: node scenarios.js <scenario> <host:port>
// Needs workflow-bundle.js (made by bundle.js). Each scenario starts a worker on a fresh task
// queue in this process, drives workflows with the client, asserts on their outcomes and
// histories, and exits non-zero (with the failed assertion) on failure.
const assert = require('assert/strict');
const path = require('path');
const crypto = require('crypto');
const { Worker, NativeConnection, Runtime, DefaultLogger } = require('@temporalio/worker');
const {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} = require('@temporalio/client');
const { CancelledFailure } = require('@temporalio/common');
const { temporal } = require('@temporalio/proto');
const { activities, state } = require('./activities');

const EventType = temporal.api.enums.v1.EventType;
const TimeoutType = temporal.api.enums.v1.TimeoutType;
const TQ = `ts-${crypto.randomBytes(4).toString('hex')}`;

function wid(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** A protobuf Duration as milliseconds; `null` when the field is absent from the message. */
function durationMs(d) {
  if (d === null || d === undefined) {
    return null;
  }
  const s = d.seconds === null || d.seconds === undefined ? 0 : Number(d.seconds.toString());
  return s * 1000 + Math.floor((d.nanos || 0) / 1e6);
}

async function events(handle) {
  return (await handle.fetchHistory()).events;
}

function ofType(evs, type) {
  return evs.filter((e) => e.eventType === type);
}

async function run(client, workflow, args, opts = {}) {
  const handle = await client.workflow.start(workflow, {
    taskQueue: TQ,
    workflowId: wid(workflow),
    args,
    ...opts,
  });
  const result = await withTimeout(handle.result(), 60000, workflow);
  return { handle, result };
}

/**
 * Runs `helloActivity` with `options` and checks what the activity task carried and what
 * ActivityTaskScheduled recorded against `want` (milliseconds; 0 means no limit).
 */
async function helloWith(client, options, want, startOpts = {}) {
  const before = Date.now();
  const { handle, result } = await run(client, 'helloActivity', ['TypeScript', options], startOpts);
  assert.equal(result.greeting, 'Hello, TypeScript!');
  assert.equal(result.attempt, 1);
  assert.equal(result.scheduleToCloseTimeoutMs, want.scheduleToClose, 'task schedule_to_close');
  assert.equal(result.startToCloseTimeoutMs, want.startToClose, 'task start_to_close');
  assert.equal(result.heartbeatTimeoutMs, want.heartbeat, 'task heartbeat_timeout');
  assert.ok(result.scheduledTimestampMs >= before - 1000, `scheduled_time ${result.scheduledTimestampMs}`);
  assert.ok(result.scheduledTimestampMs <= Date.now(), `scheduled_time ${result.scheduledTimestampMs}`);
  assert.equal(result.currentAttemptScheduledTimestampMs, result.scheduledTimestampMs);
  const evs = await events(handle);
  const [scheduled] = ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  const a = scheduled.activityTaskScheduledEventAttributes;
  assert.deepEqual(
    {
      scheduleToClose: durationMs(a.scheduleToCloseTimeout),
      scheduleToStart: durationMs(a.scheduleToStartTimeout),
      startToClose: durationMs(a.startToCloseTimeout),
      heartbeat: durationMs(a.heartbeatTimeout),
    },
    {
      scheduleToClose: want.scheduleToClose,
      scheduleToStart: want.scheduleToStart,
      startToClose: want.startToClose,
      heartbeat: want.heartbeat,
    },
    'ActivityTaskScheduled timeouts',
  );
  const [started] = ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
  assert.equal(started.activityTaskStartedEventAttributes.attempt, 1);
}

const scenarios = {
  // The usual TypeScript call: only startToCloseTimeout. Schedule-to-close becomes the run
  // timeout (zero: none), and so does schedule-to-start.
  async hello_start_to_close(client) {
    const only = { startToCloseTimeout: '10s' };
    await helloWith(client, only, { scheduleToClose: 0, scheduleToStart: 0, startToClose: 10000, heartbeat: 0 });
    await helloWith(
      client,
      only,
      { scheduleToClose: 60000, scheduleToStart: 60000, startToClose: 10000, heartbeat: 0 },
      { workflowRunTimeout: '1 minute' },
    );
  },

  // Only scheduleToCloseTimeout: schedule-to-start and start-to-close become it.
  async hello_schedule_to_close(client) {
    await helloWith(
      client,
      { scheduleToCloseTimeout: '20s' },
      { scheduleToClose: 20000, scheduleToStart: 20000, startToClose: 20000, heartbeat: 0 },
    );
  },

  // Both, plus a heartbeat timeout longer than start-to-close (capped by it).
  async hello_both(client) {
    await helloWith(
      client,
      { scheduleToCloseTimeout: '20s', startToCloseTimeout: '5s' },
      { scheduleToClose: 20000, scheduleToStart: 20000, startToClose: 5000, heartbeat: 0 },
    );
    await helloWith(
      client,
      { scheduleToCloseTimeout: '20s', startToCloseTimeout: '5s', heartbeatTimeout: '30s' },
      { scheduleToClose: 20000, scheduleToStart: 20000, startToClose: 5000, heartbeat: 5000 },
    );
  },

  // Fails twice, succeeds on attempt 3; retries write no events, the started event records
  // the final attempt and the last failure.
  async retry(client) {
    const { handle, result } = await run(client, 'retryActivity', []);
    assert.equal(result, 3);
    assert.equal(state.flakyCalls, 3);
    const evs = await events(handle);
    assert.equal(ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).length, 1);
    const started = ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
    assert.equal(started.length, 1);
    const attrs = started[0].activityTaskStartedEventAttributes;
    assert.equal(attrs.attempt, 3);
    assert.equal(attrs.lastFailure.message, 'transient failure 2');
    assert.equal(attrs.lastFailure.applicationFailureInfo.type, 'Transient');
    assert.equal(ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED).length, 1);
  },

  // The first attempt stops heartbeating: the server times it out on heartbeat, the retry
  // sees the last details; without retries ActivityTaskTimedOut records HEARTBEAT.
  async heartbeat(client) {
    const { handle, result } = await run(client, 'heartbeatActivity', []);
    assert.deepEqual(result, [5, 'HEARTBEAT']);
    const evs = await events(handle);
    const started = ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).map(
      (e) => e.activityTaskStartedEventAttributes,
    );
    assert.equal(started.length, 2);
    assert.equal(started[0].attempt, 2);
    assert.equal(started[0].lastFailure.timeoutFailureInfo.timeoutType, TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
    assert.equal(started[1].attempt, 1);
    const timedOut = ofType(evs, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
    assert.equal(timedOut.length, 1);
    const failure = timedOut[0].activityTaskTimedOutEventAttributes.failure;
    assert.equal(failure.timeoutFailureInfo.timeoutType, TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  },

  async signal(client) {
    const handle = await client.workflow.start('collector', { taskQueue: TQ, workflowId: wid('sig'), args: [2] });
    await handle.signal('add', 'a');
    await handle.signal('add', 'b');
    assert.deepEqual(await withTimeout(handle.result(), 30000, 'signal'), ['a', 'b']);
    const evs = await events(handle);
    const signalled = ofType(evs, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).map(
      (e) => e.workflowExecutionSignaledEventAttributes.signalName,
    );
    assert.deepEqual(signalled, ['add', 'add']);
    // Signal-with-start, then a second one that only signals the running workflow.
    const id = wid('sws');
    const h1 = await client.workflow.signalWithStart('collector', {
      taskQueue: TQ,
      workflowId: id,
      args: [2],
      signal: 'add',
      signalArgs: ['first'],
    });
    const h2 = await client.workflow.signalWithStart('collector', {
      taskQueue: TQ,
      workflowId: id,
      args: [2],
      signal: 'add',
      signalArgs: ['second'],
    });
    assert.equal(h2.signaledRunId, h1.signaledRunId);
    assert.deepEqual(await withTimeout(h1.result(), 30000, 'signal-with-start'), ['first', 'second']);
  },

  async query(client) {
    const handle = await client.workflow.start('collector', { taskQueue: TQ, workflowId: wid('query'), args: [3] });
    await handle.signal('add', 'x');
    let count = 0;
    for (let i = 0; i < 50 && count !== 1; i += 1) {
      count = await handle.query('count');
      if (count !== 1) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(count, 1);
    await assert.rejects(handle.query('broken'), /query says no/);
    await assert.rejects(handle.query('nosuch'), /did not register a handler for nosuch/);
    await handle.signal('add', 'y');
    await handle.signal('add', 'z');
    await withTimeout(handle.result(), 30000, 'query');
    // Answered by replaying the closed workflow's history.
    assert.equal(await handle.query('count'), 3);
  },

  async update(client) {
    const handle = await client.workflow.start('collector', { taskQueue: TQ, workflowId: wid('update'), args: [3] });
    await handle.signal('add', 'a');
    assert.equal(await handle.executeUpdate('setItems', { args: [['p', 'q']] }), 1);
    await assert.rejects(
      handle.executeUpdate('setItems', { args: [[]] }),
      (err) => err instanceof WorkflowUpdateFailedError && /empty items rejected/.test(err.cause.message),
    );
    await handle.signal('add', 'r');
    assert.deepEqual(await withTimeout(handle.result(), 30000, 'update'), ['p', 'q', 'r']);
    const evs = await events(handle);
    // Only the accepted update is in history; the rejected one left no trace.
    assert.equal(ofType(evs, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).length, 1);
    assert.equal(ofType(evs, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED).length, 1);
  },

  async child(client) {
    const { handle, result } = await run(client, 'parent', ['p']);
    assert.equal(result, `parent got: child of p (parent ${handle.workflowId})`);
    const evs = await events(handle);
    for (const t of [
      EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
      EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ]) {
      assert.equal(ofType(evs, t).length, 1, `event type ${t}`);
    }
    const childDesc = await client.workflow.getHandle(`${handle.workflowId}-child`).describe();
    assert.equal(childDesc.status.name, 'COMPLETED');
    assert.equal(childDesc.parentExecution.workflowId, handle.workflowId);
  },

  // A cancel request reaches the workflow as CancelledFailure (through its activity, which
  // sees the cancellation too, and through a timer); the workflow ends CANCELED.
  async cancel(client) {
    const handle = await client.workflow.start('cancellable', { taskQueue: TQ, workflowId: wid('cancel') });
    let started = false;
    for (let i = 0; i < 100 && !started; i += 1) {
      const desc = await handle.describe();
      const pending = desc.raw.pendingActivities || [];
      started = pending.length > 0 && pending[0].state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
      if (!started) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(started, 'activity never started');
    await handle.cancel();
    await assert.rejects(
      withTimeout(handle.result(), 30000, 'cancel'),
      (err) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure,
    );
    assert.ok(state.cancelSeen, 'activity never saw the cancellation');
    assert.equal(state.cleanup[handle.workflowId], 'ActivityFailure(CancelledFailure)');
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    const evs = await events(handle);
    for (const t of [
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    ]) {
      assert.equal(ofType(evs, t).length, 1, `event type ${t}`);
    }

    const timer = await client.workflow.start('cancellableTimer', { taskQueue: TQ, workflowId: wid('cancel-timer') });
    let timerStarted = false;
    for (let i = 0; i < 100 && !timerStarted; i += 1) {
      timerStarted = ofType(await events(timer), EventType.EVENT_TYPE_TIMER_STARTED).length > 0;
      if (!timerStarted) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(timerStarted, 'timer never started');
    await timer.cancel();
    await assert.rejects(
      withTimeout(timer.result(), 30000, 'cancel timer'),
      (err) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure,
    );
    assert.equal(state.cleanup[timer.workflowId], 'CancelledFailure');
    assert.equal(ofType(await events(timer), EventType.EVENT_TYPE_TIMER_CANCELED).length, 1);
  },
};

async function main() {
  const [name, address] = process.argv.slice(2);
  const scenario = scenarios[name];
  if (!scenario || !address) {
    throw new Error(`usage: node scenarios.js <${Object.keys(scenarios).join('|')}> <host:port>`);
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workerConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: 'default',
      taskQueue: TQ,
      workflowBundle: { codePath: path.join(__dirname, 'workflow-bundle.js') },
      activities,
      shutdownGraceTime: '1s',
    });
    await worker.runUntil(scenario(client));
  } finally {
    await connection.close();
    await workerConnection.close();
  }
  console.log(`scenario ${name}: ok`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
