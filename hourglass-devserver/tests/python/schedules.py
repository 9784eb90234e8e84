"""Schedule scenarios run with the official Temporal Python SDK against the dev server.

Usage: python schedules.py <scenario> <host:port>
Each scenario asserts what Temporal's own server answers and exits non-zero (with a
traceback) on failure. `PreRegistered` (Int) is registered by the Rust side.
"""

import asyncio
import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import harness

TQ = "sched-" + uuid.uuid4().hex[:8]
PRE = SearchAttributeKey.for_int("PreRegistered")


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"Hello, {name}!"


@workflow.defn
class Count:
    """Returns one more than the previous scheduled run's result."""

    @workflow.run
    async def run(self) -> int:
        last = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        return last + 1


@workflow.defn
class Nap:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "rested"


@workflow.defn
class Broken:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("broken on purpose", non_retryable=True)


def sid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def action(wf, *args, wf_id: str) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(wf, *args, id=wf_id, task_queue=TQ)


async def until(what: str, probe, timeout: float = 30.0):
    """Polls `probe` (async, returns a truthy value when done) and returns that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def expect_rpc_error(code: RPCStatusCode, fragment: str, call) -> None:
    try:
        await call()
    except RPCError as e:
        assert e.status == code, (e.status, e.message)
        assert fragment in e.message, e.message
        return
    raise AssertionError(f"expected {code.name} containing {fragment!r}")


# ---------------- scenarios ----------------


async def s_schedule_lifecycle(client: Client) -> None:
    """Create (cron, trigger now, search attribute), describe, pause/unpause, update, list, delete."""
    id_ = sid("life")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Greet.run, "schedule", wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(cron_expressions=["0 12 * * MON-FRI"]),
        ),
        trigger_immediately=True,
        memo={"owner": "tests"},
        search_attributes=TypedSearchAttributes([SearchAttributePair(PRE, 7)]),
    )

    async def one_action():
        d = await handle.describe()
        return d if d.info.num_actions == 1 and d.info.recent_actions else None

    desc = await until("the triggered action", one_action)
    started = desc.info.recent_actions[0].action
    assert started.workflow_id.startswith(f"{id_}-wf-"), started.workflow_id
    wf = client.get_workflow_handle(started.workflow_id, run_id=started.first_execution_run_id)
    assert await wf.result() == "Hello, schedule!"
    wf_desc = await wf.describe()
    assert wf_desc.search_attributes["TemporalScheduledById"] == [id_], wf_desc.search_attributes
    assert wf_desc.search_attributes["TemporalScheduledStartTime"], wf_desc.search_attributes

    # The cron string comes back as Temporal's structured calendar.
    spec = desc.schedule.spec
    assert spec.cron_expressions == [], spec
    assert len(spec.calendars) == 1, spec
    cal = spec.calendars[0]
    assert [(r.start, r.end) for r in cal.hour] == [(12, 12)], cal
    assert [(r.start, r.end) for r in cal.day_of_week] == [(1, 5)], cal
    assert desc.info.next_action_times, desc.info
    for t in desc.info.next_action_times:
        assert (t.hour, t.minute, t.second) == (12, 0, 0) and t.weekday() < 5, t
    assert await desc.memo_value("owner") == "tests"
    assert desc.typed_search_attributes.get(PRE) == 7, desc.typed_search_attributes

    await handle.pause(note="maintenance window")
    desc = await handle.describe()
    assert desc.schedule.state.paused and desc.schedule.state.note == "maintenance window"
    await handle.unpause(note="done")
    desc = await handle.describe()
    assert not desc.schedule.state.paused and desc.schedule.state.note == "done"

    def limit(inp):
        s = inp.description.schedule
        return ScheduleUpdate(
            schedule=dataclasses.replace(
                s, state=ScheduleState(limited_actions=True, remaining_actions=3)
            )
        )

    await handle.update(limit)
    desc = await handle.describe()
    assert desc.schedule.state.limited_actions and desc.schedule.state.remaining_actions == 3

    async def listed(query: str) -> list:
        return [s.id async for s in await client.list_schedules(query=query)]

    assert id_ in await listed("PreRegistered = 7")
    assert id_ not in await listed("PreRegistered = 8")
    assert id_ in await listed(f"ScheduleId = '{id_}' AND TemporalSchedulePaused = false")

    await handle.delete()
    await expect_rpc_error(RPCStatusCode.NOT_FOUND, "schedule not found", handle.describe)


async def s_schedule_backfill(client: Client) -> None:
    """A paused schedule still runs its backfill, one start per spec time (start inclusive)."""
    id_ = sid("fill")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Greet.run, "backfill", wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
            state=ScheduleState(paused=True),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        ),
    )
    start, end = now - timedelta(minutes=10), now - timedelta(minutes=7)
    await handle.backfill(ScheduleBackfill(start_at=start, end_at=end))

    async def four():
        d = await handle.describe()
        return d if d.info.num_actions == 4 else None

    desc = await until("four backfilled starts", four)
    scheduled = sorted(a.scheduled_at for a in desc.info.recent_actions)
    expected = [start + timedelta(minutes=i) for i in range(4)]
    assert scheduled == expected, (scheduled, expected)
    for a in desc.info.recent_actions:
        stamp = a.scheduled_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert a.action.workflow_id == f"{id_}-wf-{stamp}", a.action.workflow_id
    assert desc.schedule.state.paused
    await handle.delete()


async def s_schedule_overlap_skip(client: Client) -> None:
    """Every second, a run that takes 3 s: overlapping times are skipped, one runs at a time."""
    id_ = sid("skip")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Nap.run, 3.0, wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )

    async def skipped():
        d = await handle.describe()
        return d if d.info.num_actions_skipped_overlap >= 2 else None

    desc = await until("skipped overlaps", skipped)
    assert len(desc.info.running_actions) == 1, desc.info.running_actions
    await handle.delete()


async def s_schedule_terminate_other(client: Client) -> None:
    """TERMINATE_OTHER: each new time terminates the run still going."""
    id_ = sid("term")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Nap.run, 3600.0, wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.TERMINATE_OTHER),
        ),
    )

    async def two():
        d = await handle.describe()
        return d if d.info.num_actions >= 2 else None

    desc = await until("two starts", two)
    first = sorted(desc.info.recent_actions, key=lambda a: a.scheduled_at)[0].action
    await handle.delete()

    async def terminated():
        d = await client.get_workflow_handle(first.workflow_id, run_id=first.first_execution_run_id).describe()
        return d.status == WorkflowExecutionStatus.TERMINATED

    await until("the first run terminated", terminated)


async def s_schedule_remaining_actions(client: Client) -> None:
    """A schedule limited to two actions takes two and then stops."""
    id_ = sid("limit")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Greet.run, "limited", wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            state=ScheduleState(limited_actions=True, remaining_actions=2),
        ),
    )

    async def used_up():
        d = await handle.describe()
        return d if d.schedule.state.remaining_actions == 0 else None

    await until("two actions", used_up)
    await asyncio.sleep(2.5)
    desc = await handle.describe()
    assert desc.info.num_actions == 2, desc.info.num_actions
    assert desc.info.next_action_times == [], desc.info.next_action_times
    await handle.delete()


async def s_schedule_last_completion(client: Client) -> None:
    """Each scheduled run sees the previous run's result."""
    id_ = sid("count")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Count.run, wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
        ),
    )

    async def reached_three():
        d = await handle.describe()
        for a in d.info.recent_actions:
            h = client.get_workflow_handle(a.action.workflow_id, run_id=a.action.first_execution_run_id)
            if (await h.describe()).status == WorkflowExecutionStatus.COMPLETED and await h.result() >= 3:
                return True
        return False

    await until("a third counted run", reached_three)
    await handle.delete()


async def s_schedule_pause_on_failure(client: Client) -> None:
    """pause_on_failure: a failed run pauses the schedule with a note naming it."""
    id_ = sid("fail")
    handle = await client.create_schedule(
        id_,
        Schedule(
            action=action(Broken.run, wf_id=f"{id_}-wf"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            policy=SchedulePolicy(pause_on_failure=True),
        ),
        trigger_immediately=True,
    )

    async def paused():
        d = await handle.describe()
        return d if d.schedule.state.paused else None

    desc = await until("the pause", paused)
    assert "paused due to workflow failure" in desc.schedule.state.note, desc.schedule.state.note
    assert "broken on purpose" in desc.schedule.state.note, desc.schedule.state.note
    await handle.delete()


async def s_schedule_errors(client: Client) -> None:
    """Bad specs, a duplicate id, an unknown schedule, a bad list query."""
    greet = action(Greet.run, "x", wf_id="err-wf")
    await expect_rpc_error(
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid schedule spec",
        lambda: client.create_schedule(
            sid("bad"), Schedule(action=greet, spec=ScheduleSpec(cron_expressions=["not a cron"]))
        ),
    )
    await expect_rpc_error(
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid schedule spec",
        lambda: client.create_schedule(
            sid("badtz"),
            Schedule(action=greet, spec=ScheduleSpec(cron_expressions=["0 * * * *"], time_zone_name="Mars/Olympus")),
        ),
    )
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
    # Unknown search attributes, on the started workflows or on the schedule itself.
    unknown = TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_keyword("NoSuchAttr"), "v")])
    with_sa = ScheduleActionStartWorkflow(
        Greet.run, "x", id="err-sa-wf", task_queue=TQ, typed_search_attributes=unknown
    )
    sa_error = "Namespace default has no mapping defined for search attribute NoSuchAttr"
    await expect_rpc_error(
        RPCStatusCode.INVALID_ARGUMENT,
        sa_error,
        lambda: client.create_schedule(sid("badsa"), Schedule(action=with_sa, spec=spec)),
    )
    await expect_rpc_error(
        RPCStatusCode.INVALID_ARGUMENT,
        sa_error,
        lambda: client.create_schedule(
            sid("badownsa"), Schedule(action=greet, spec=spec), search_attributes=unknown
        ),
    )
    id_ = sid("dup")
    handle = await client.create_schedule(id_, Schedule(action=greet, spec=spec))
    try:
        await client.create_schedule(id_, Schedule(action=greet, spec=spec))
        raise AssertionError("a duplicate schedule id was accepted")
    except ScheduleAlreadyRunningError:
        pass
    missing = client.get_schedule_handle(sid("missing"))
    await expect_rpc_error(RPCStatusCode.NOT_FOUND, "schedule not found", missing.describe)
    await expect_rpc_error(RPCStatusCode.NOT_FOUND, "schedule not found", missing.trigger)

    async def bad_query():
        async for _ in await client.list_schedules(query="ScheduleId = "):
            pass

    await expect_rpc_error(RPCStatusCode.INVALID_ARGUMENT, "", bad_query)

    async def with_unknown(inp: ScheduleUpdateInput) -> ScheduleUpdate:
        inp.description.schedule.action = with_sa
        return ScheduleUpdate(schedule=inp.description.schedule)

    await expect_rpc_error(RPCStatusCode.INVALID_ARGUMENT, sa_error, lambda: handle.update(with_unknown))
    # Nothing the bad requests did changed what exists.
    assert (await handle.describe()).info.num_actions == 0
    await handle.delete()


SCENARIOS = {
    name[2:]: fn for name, fn in list(globals().items()) if name.startswith("s_schedule_")
}


if __name__ == "__main__":
    harness.run(SCENARIOS, TQ, [Greet, Count, Nap, Broken])
