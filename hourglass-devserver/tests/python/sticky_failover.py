"""A worker killed while its workflow is sticky: another worker continues it.

Usage: python sticky_failover.py first|second <host:port> <workflow-id> <task-queue>
- first: runs a worker (sticky cache on, the SDK default), starts the workflow, waits until
  its first workflow task completed (the execution is now sticky to this worker), prints
  "ready" and waits to be killed.
- second: runs a fresh worker on the same task queue, signals the workflow and awaits its
  result; checks that the sticky task timed out (SCHEDULE_TO_START) before the new worker
  got it with full history.
"""

import asyncio
import os
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@activity.defn
async def shout(s: str) -> str:
    return s.upper()


@workflow.defn
class WaitThenShout:
    def __init__(self) -> None:
        self.go: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go is not None)
        return await workflow.execute_activity(
            shout, self.go, start_to_close_timeout=timedelta(seconds=10)
        )

    @workflow.signal
    def proceed(self, s: str) -> None:
        self.go = s


def worker(client: Client, tq: str) -> Worker:
    return Worker(
        client,
        task_queue=tq,
        workflows=[WaitThenShout],
        activities=[shout],
        workflow_runner=UnsandboxedWorkflowRunner(),
        # The SDK default is 10 s; a short one keeps the test quick.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    )


async def first(client: Client, wid: str, tq: str) -> None:
    async with worker(client, tq):
        h = await client.start_workflow(WaitThenShout.run, id=wid, task_queue=tq)
        for _ in range(200):
            events = [e async for e in h.fetch_history_events()]
            if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in events):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("first workflow task never completed")
        print("ready", flush=True)
        await asyncio.sleep(600)


async def second(client: Client, wid: str, tq: str) -> None:
    async with worker(client, tq):
        h = client.get_workflow_handle(wid)
        await h.signal(WaitThenShout.proceed, "continued")
        result = await asyncio.wait_for(h.result(), 60)
        assert result == "CONTINUED", result
        events = [e async for e in h.fetch_history_events()]
        sticky_timeouts = [
            e
            for e in events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
            and e.workflow_task_timed_out_event_attributes.timeout_type
            == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
        ]
        assert len(sticky_timeouts) == 1, [e.event_type for e in events]
    print("ok", flush=True)


async def main() -> None:
    mode, addr, wid, tq = sys.argv[1:5]
    client = await Client.connect(addr, namespace="default")
    await (first if mode == "first" else second)(client, wid, tq)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
