"""PauseActivity, UnpauseActivity and ResetActivity with the official Temporal Python SDK.

Usage: python activity_pause.py <scenario> <host:port>
A running activity that is paused is told so on its heartbeat (the SDK stops it), its retry
waits until it is unpaused; a reset activity backing off before a retry runs again at once
at attempt 1. Errors are checked for their codes and Temporal's messages.
Exits non-zero (with a traceback) on failure.
"""

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityRequest,
)
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import harness

TQ = "pause-" + uuid.uuid4().hex[:8]
ATTEMPTS: dict[str, list[int]] = {}


@activity.defn
async def heartbeats_until_stopped(key: str) -> int:
    ATTEMPTS.setdefault(key, []).append(activity.info().attempt)
    if len(ATTEMPTS[key]) > 1:
        return activity.info().attempt
    while True:
        activity.heartbeat("beat")
        await asyncio.sleep(0.1)


@activity.defn
async def fails_first(key: str) -> int:
    ATTEMPTS.setdefault(key, []).append(activity.info().attempt)
    if len(ATTEMPTS[key]) == 1:
        raise ApplicationError("first call fails")
    return activity.info().attempt


@workflow.defn
class RunsOne:
    @workflow.run
    async def run(self, kind: str, key: str) -> int:
        fn = heartbeats_until_stopped if kind == "heartbeat" else fails_first
        return await workflow.execute_activity(
            fn,
            key,
            activity_id="act",
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1), backoff_coefficient=1.0),
        )


def execution(wf_id: str) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=wf_id)


async def pending(client: Client, wf_id: str):
    d = await client.get_workflow_handle(wf_id).describe()
    acts = d.raw_description.pending_activities
    return acts[0] if acts else None


async def eventually(check, what: str):
    for _ in range(200):
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def s_activity_pause_unpause(client: Client) -> None:
    key = uuid.uuid4().hex
    wf_id = "paused-" + key[:8]
    handle = await client.start_workflow(RunsOne.run, args=["heartbeat", key], id=wf_id, task_queue=TQ)
    await eventually(lambda: pending_started(client, wf_id), "activity started")
    await client.workflow_service.pause_activity(
        PauseActivityRequest(namespace="default", execution=execution(wf_id), id="act", reason="ops", identity="me")
    )
    # The SDK learns of the pause on its next heartbeat and stops the attempt; the retry
    # then waits, paused.
    info = await eventually(lambda: pending_in(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED), "paused and waiting")
    assert info.paused and info.attempt == 2, info
    assert info.pause_info.manual.reason == "ops" and info.pause_info.manual.identity == "me", info
    await asyncio.sleep(1.0)
    assert ATTEMPTS[key] == [1], f"a paused activity ran again: {ATTEMPTS[key]}"
    await client.workflow_service.unpause_activity(
        UnpauseActivityRequest(namespace="default", execution=execution(wf_id), id="act")
    )
    # Unpausing cuts the hour-long backoff short.
    assert 2 == await asyncio.wait_for(handle.result(), 20)
    assert ATTEMPTS[key] == [1, 2], ATTEMPTS[key]


async def pending_started(client: Client, wf_id: str):
    p = await pending(client, wf_id)
    return p if p and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED else None


async def pending_in(client: Client, wf_id: str, state):
    p = await pending(client, wf_id)
    return p if p and p.state == state else None


async def s_activity_reset(client: Client) -> None:
    key = uuid.uuid4().hex
    wf_id = "reset-" + key[:8]
    handle = await client.start_workflow(RunsOne.run, args=["fails", key], id=wf_id, task_queue=TQ)
    info = await eventually(
        lambda: pending_in(client, wf_id, PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED), "backing off"
    )
    assert info.attempt == 2, info
    await client.workflow_service.reset_activity(
        ResetActivityRequest(namespace="default", execution=execution(wf_id), id="act")
    )
    # Reset: attempt 1 again, dispatched at once instead of after the hour.
    assert 1 == await asyncio.wait_for(handle.result(), 20)
    assert ATTEMPTS[key] == [1, 1], ATTEMPTS[key]


async def expect(code, message: str, call) -> None:
    try:
        await call()
    except RPCError as e:
        assert e.status == code, (e.status, e.message)
        assert message in e.message, e.message
        return
    raise AssertionError(f"no error, expected {message!r}")


async def s_activity_pause_errors(client: Client) -> None:
    key = uuid.uuid4().hex
    wf_id = "perr-" + key[:8]
    handle = await client.start_workflow(RunsOne.run, args=["heartbeat", key], id=wf_id, task_queue=TQ)
    await eventually(lambda: pending_started(client, wf_id), "activity started")
    svc = client.workflow_service
    await expect(
        RPCStatusCode.INVALID_ARGUMENT,
        "Either Activity.Id or Activity.Type should be set on request.",
        lambda: svc.pause_activity(PauseActivityRequest(namespace="default", execution=execution(wf_id))),
    )
    await expect(
        RPCStatusCode.INVALID_ARGUMENT,
        "WorkflowId is not set on request.",
        lambda: svc.reset_activity(ResetActivityRequest(namespace="default", id="act")),
    )
    await expect(
        RPCStatusCode.NOT_FOUND,
        "Can't find pending activity with such ID",
        lambda: svc.pause_activity(PauseActivityRequest(namespace="default", execution=execution(wf_id), id="nope")),
    )
    first = PauseActivityRequest(namespace="default", execution=execution(wf_id), id="act", request_id="r1")
    await svc.pause_activity(first)
    await svc.pause_activity(first)  # the same request again: not an error
    await expect(
        RPCStatusCode.FAILED_PRECONDITION,
        "activity is already paused",
        lambda: svc.pause_activity(PauseActivityRequest(namespace="default", execution=execution(wf_id), type="heartbeats_until_stopped", request_id="r2")),
    )
    await handle.terminate("scenario over")
    await expect(
        RPCStatusCode.NOT_FOUND,
        "workflow execution already completed",
        lambda: svc.unpause_activity(UnpauseActivityRequest(namespace="default", execution=execution(wf_id), unpause_all=True)),
    )


if __name__ == "__main__":
    harness.run(
        {
            "activity_pause_unpause": s_activity_pause_unpause,
            "activity_reset": s_activity_reset,
            "activity_pause_errors": s_activity_pause_errors,
        },
        TQ,
        [RunsOne],
        [heartbeats_until_stopped, fails_first],
    )
