"""Cross-checks Hourglass's replay format against the official Temporal Python SDK.

  python replay_history.py record <host:port> <workflow id> <out.json>
      Runs a Python `TimerWorkflow` (the type name and behaviour of Hourglass's example:
      sleep `seconds` on a durable timer, return "timer of {seconds}s fired") on a Python
      worker against the server, writes its history as the SDK's own JSON
      (`WorkflowHistory.to_json()`), and replays it with the SDK's `Replayer`.

  python replay_history.py replay <workflow id> <history.json>...
      Replays JSON histories (e.g. exported by Hourglass) with the SDK's `Replayer`: each must
      replay cleanly against `TimerWorkflow` and fail with a `NondeterminismError` against a
      version whose timer was swapped for an activity.

Exits non-zero (with a traceback) on any mismatch.
"""

import asyncio
import os
import sys
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker


@workflow.defn(name="TimerWorkflow")
class TimerWorkflow:
    @workflow.run
    async def run(self, seconds: int) -> str:
        await asyncio.sleep(seconds)
        return f"timer of {seconds}s fired"


@workflow.defn(name="TimerWorkflow")
class TimerSwappedForActivity:
    @workflow.run
    async def run(self, seconds: int) -> str:
        await workflow.execute_activity(
            "GreetingActivities::greet", "x", start_to_close_timeout=timedelta(seconds=10)
        )
        return f"timer of {seconds}s fired"


def replayer(wf) -> Replayer:
    return Replayer(workflows=[wf], workflow_runner=UnsandboxedWorkflowRunner())


async def record(address: str, workflow_id: str, out: str) -> None:
    client = await Client.connect(address, namespace="default")
    async with Worker(
        client,
        task_queue="py-replay",
        workflows=[TimerWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
        graceful_shutdown_timeout=timedelta(seconds=1),
    ):
        result = await client.execute_workflow(
            TimerWorkflow.run, 1, id=workflow_id, task_queue="py-replay"
        )
        assert result == "timer of 1s fired", result
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    await replayer(TimerWorkflow).replay_workflow(history)
    with open(out, "w") as f:
        f.write(history.to_json())
    print(f"recorded {workflow_id}: {len(history.events)} events")


async def replay(workflow_id: str, paths: list) -> None:
    for path in paths:
        with open(path) as f:
            history = WorkflowHistory.from_json(workflow_id, f.read())
        await replayer(TimerWorkflow).replay_workflow(history)
        try:
            await replayer(TimerSwappedForActivity).replay_workflow(history)
        except workflow.NondeterminismError as e:
            print(f"{path}: changed workflow detected: {e}")
        else:
            raise AssertionError(f"{path}: the changed workflow replayed without error")
        print(f"{path}: replayed by the Python SDK: ok")


def main() -> None:
    mode = sys.argv[1]
    if mode == "record":
        asyncio.run(record(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif mode == "replay":
        asyncio.run(replay(sys.argv[2], sys.argv[3:]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    # Skip interpreter finalization: the SDK's native threads can abort it after success.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
