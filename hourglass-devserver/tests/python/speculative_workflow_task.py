"""Speculative workflow task scenarios run with the official Temporal Python SDK.

Usage: python speculative_workflow_task.py <scenario> <host:port>
An update sent to a run with no workflow task is delivered by a speculative task: when the
validator rejects it, the task leaves no event in history (the worker is told to roll back
with ResetHistoryEventId); when it is accepted, the task's events are written as usual.
Exits non-zero (with a traceback) on failure.
"""

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

import harness

TQ = "speculative-" + uuid.uuid4().hex[:8]


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.total

    @workflow.update
    def add(self, n: int) -> int:
        self.total += n
        return self.total

    @add.validator
    def check_add(self, n: int) -> None:
        if n < 0:
            raise ValueError("negative")

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.signal
    def poke(self, n: int) -> None:
        self.total += n


async def history_types(handle):
    return [e.event_type async for e in handle.fetch_history_events()]


async def s_speculative_rejections_leave_no_trace(client: Client) -> None:
    handle = await client.start_workflow(Counter.run, id="spec-" + uuid.uuid4().hex, task_queue=TQ)
    assert await handle.execute_update(Counter.add, 2) == 2
    before = await history_types(handle)
    for n in (-1, -2, -3):
        try:
            await handle.execute_update(Counter.add, n)
            raise AssertionError("a negative add should be rejected")
        except WorkflowUpdateFailedError as e:
            assert "negative" in str(e.cause), e.cause
    # Rejected updates on speculative tasks wrote nothing.
    now = await history_types(handle)
    assert now == before, (before, now)
    # The worker rolled back correctly: the next update and signal work on the same state.
    assert await handle.execute_update(Counter.add, 5) == 7
    after = await history_types(handle)
    assert after[len(before):] == [
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    ], after[len(before):]
    await handle.signal(Counter.finish)
    assert await handle.result() == 7


async def s_speculative_rejections_with_concurrent_signals(client: Client) -> None:
    handle = await client.start_workflow(Counter.run, id="spec-sig-" + uuid.uuid4().hex, task_queue=TQ)
    assert await handle.execute_update(Counter.add, 1) == 1

    async def rejected() -> None:
        try:
            await handle.execute_update(Counter.add, -1)
        except WorkflowUpdateFailedError:
            return
        raise AssertionError("a negative add should be rejected")

    await asyncio.gather(*(rejected() for _ in range(5)), handle.signal(Counter.poke, 10))
    assert await handle.execute_update(Counter.add, 100) == 111
    await handle.signal(Counter.finish)
    assert await handle.result() == 111
    types = await history_types(handle)
    assert types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 2
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types, types


SCENARIOS = {name[2:]: fn for name, fn in list(globals().items()) if name.startswith("s_speculative_")}


async def cleanup(client: Client) -> None:
    """Leaves no run open behind the worker's shutdown."""
    async for w in client.list_workflows(f"TaskQueue = '{TQ}' AND ExecutionStatus = 'Running'"):
        await client.get_workflow_handle(w.id).terminate("scenario over")


if __name__ == "__main__":
    harness.run(SCENARIOS, TQ, [Counter], cleanup=cleanup)
