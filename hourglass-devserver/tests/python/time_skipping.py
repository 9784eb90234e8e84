"""The dev server's time-skipping mode through the official Python SDK's own time-skipping
environment: `WorkflowEnvironment.start_time_skipping(test_server_existing_path=...)` runs
our binary with Temporal's test-server command line (`<port>`), and its client unlocks time
skipping while it waits on a result, as with Temporal's Java test server.

Usage: python time_skipping.py <scenario> <path to hourglass-devserver>
Prints `wall=<seconds>` figures; exits non-zero (with a traceback) on failure.
"""

import asyncio
import sys
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

TQ = "time-skipping-" + uuid.uuid4().hex[:8]
DAY = 86400
ATTEMPTS: dict[str, int] = {}


@workflow.defn
class LongSleep:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"


@workflow.defn
class RetriedActivity:
    @workflow.run
    async def run(self, key: str) -> int:
        return await workflow.execute_activity(
            flaky,
            key,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1), backoff_coefficient=1.0),
        )


@activity.defn
async def flaky(key: str) -> int:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise ApplicationError(f"attempt {ATTEMPTS[key]} fails")
    return ATTEMPTS[key]


ENV: list[WorkflowEnvironment] = []


@activity.defn
async def sleeps_past_timeouts() -> str:
    # Sleeping on the test server's clock lets virtual time run past this activity's own
    # timeouts (the sleep releases the lock the running activity holds, as in Java).
    await ENV[0].sleep(3600)
    return "should have timed out"


@workflow.defn
class TimedOutActivity:
    @workflow.run
    async def run(self, kind: str) -> str:
        timeouts = (
            {"heartbeat_timeout": timedelta(seconds=20), "schedule_to_close_timeout": timedelta(hours=2)}
            if kind == "heartbeat"
            else {"start_to_close_timeout": timedelta(minutes=10)}
        )
        return await workflow.execute_activity(
            sleeps_past_timeouts, retry_policy=RetryPolicy(maximum_attempts=1), **timeouts
        )


async def event_times(env: WorkflowEnvironment, wf_id: str) -> dict:
    out = {}
    async for e in env.client.get_workflow_handle(wf_id).fetch_history_events():
        out.setdefault(e.event_type, []).append(e.event_time.ToDatetime())
    return out


async def s_thirty_days(env: WorkflowEnvironment) -> None:
    before = await env.get_current_time()
    wall = time.monotonic()
    wf_id = "sleep-" + uuid.uuid4().hex[:8]
    assert "slept" == await env.client.execute_workflow(
        LongSleep.run, 30 * DAY, id=wf_id, task_queue=TQ
    )
    wall = time.monotonic() - wall
    print(f"wall={wall:.3f} for a 30-day sleep")
    assert wall < 60, wall
    assert (await env.get_current_time() - before) >= timedelta(days=30)
    times = await event_times(env, wf_id)
    started = times[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED][0]
    done = times[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED][0]
    assert done - started >= timedelta(days=30), (started, done)
    fired = times[EventType.EVENT_TYPE_TIMER_FIRED][0]
    assert fired - started >= timedelta(days=30), (started, fired)


async def s_manual_sleep(env: WorkflowEnvironment) -> None:
    handle = await env.client.start_workflow(
        LongSleep.run, 100000, id="manual-" + uuid.uuid4().hex[:8], task_queue=TQ
    )
    # Started but not waited on: time runs with the wall clock until the test sleeps.
    await env.sleep(50000)
    desc = await handle.describe()
    assert desc.close_time is None, desc.status
    await env.sleep(60000)
    assert "slept" == await handle.result()


async def s_retry_backoff(env: WorkflowEnvironment) -> None:
    key = uuid.uuid4().hex
    wall = time.monotonic()
    wf_id = "retry-" + key[:8]
    assert 3 == await env.client.execute_workflow(RetriedActivity.run, key, id=wf_id, task_queue=TQ)
    wall = time.monotonic() - wall
    print(f"wall={wall:.3f} for two 1-hour retry backoffs")
    assert wall < 60, wall
    times = await event_times(env, wf_id)
    started = times[EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED][0]
    scheduled = times[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED][0]
    # The started event of the last attempt is written with its time: two backoffs later.
    assert started - scheduled >= timedelta(hours=2), (scheduled, started)


async def s_activity_timeouts(env: WorkflowEnvironment) -> None:
    for kind, expected in (("heartbeat", TimeoutType.HEARTBEAT), ("start_to_close", TimeoutType.START_TO_CLOSE)):
        try:
            await env.client.execute_workflow(
                TimedOutActivity.run, kind, id=f"{kind}-" + uuid.uuid4().hex[:8], task_queue=TQ
            )
            raise AssertionError(f"{kind}: the activity did not time out")
        except WorkflowFailureError as err:
            assert isinstance(err.cause, ActivityError), err.cause
            assert isinstance(err.cause.cause, TimeoutError), err.cause.cause
            assert err.cause.cause.type == expected, (kind, err.cause.cause.type)


async def s_auto_skipping_disabled(env: WorkflowEnvironment) -> None:
    wall = time.monotonic()
    with env.auto_time_skipping_disabled():
        assert "slept" == await env.client.execute_workflow(
            LongSleep.run, 2, id="nosk-" + uuid.uuid4().hex[:8], task_queue=TQ
        )
    wall = time.monotonic() - wall
    assert wall >= 2, f"time skipped although auto skipping was disabled: {wall}"


async def s_schedule(env: WorkflowEnvironment) -> None:
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    sid = "daily-" + uuid.uuid4().hex[:8]
    handle = await env.client.create_schedule(
        sid,
        Schedule(
            action=ScheduleActionStartWorkflow(LongSleep.run, 0, id=sid + "-wf", task_queue=TQ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
        ),
    )
    wall = time.monotonic()
    await env.sleep(3 * DAY + 3600)
    wall = time.monotonic() - wall
    desc = await handle.describe()
    # Every virtual day fired once, each started workflow ran, and it took seconds.
    assert desc.info.num_actions >= 3, desc.info
    print(f"wall={wall:.3f} for three daily schedule actions")
    assert wall < 60, wall
    await handle.delete()


async def s_run_timeout(env: WorkflowEnvironment) -> None:
    wall = time.monotonic()
    try:
        await env.client.execute_workflow(
            LongSleep.run, 30 * DAY, id="rto-" + uuid.uuid4().hex[:8], task_queue=TQ,
            run_timeout=timedelta(days=1),
        )
        raise AssertionError("the run did not time out")
    except WorkflowFailureError as err:
        assert isinstance(err.cause, TimeoutError), err.cause
    wall = time.monotonic() - wall
    print(f"wall={wall:.3f} for a 1-day run timeout")
    assert wall < 60, wall


SCENARIOS = {
    "ts_run_timeout": s_run_timeout,
    "ts_schedule": s_schedule,
    "ts_thirty_days": s_thirty_days,
    "ts_manual_sleep": s_manual_sleep,
    "ts_retry_backoff": s_retry_backoff,
    "ts_activity_timeouts": s_activity_timeouts,
    "ts_auto_skipping_disabled": s_auto_skipping_disabled,
}


async def main() -> None:
    name, binary = sys.argv[1], sys.argv[2]
    async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binary) as env:
        ENV.append(env)
        assert env.supports_time_skipping
        async with Worker(
            env.client,
            task_queue=TQ,
            workflows=[LongSleep, RetriedActivity, TimedOutActivity],
            activities=[flaky, sleeps_past_timeouts],
            workflow_runner=UnsandboxedWorkflowRunner(),
            graceful_shutdown_timeout=timedelta(seconds=1),
        ):
            await SCENARIOS[name](env)
    print(f"scenario {name}: ok")


if __name__ == "__main__":
    import os

    asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
