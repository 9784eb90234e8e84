"""Reset scenarios run with the official Temporal Python SDK against the dev server.

Usage: python reset.py <scenario> <host:port>
A run is reset to a workflow task (the first one, the one after an activity, a completed
run's last one): the new run replays the history before the point, its workflow task is
failed with RESET_WORKFLOW naming both runs, signals received after the point are
reapplied (unless excluded), the old run is terminated by the resetter, and the new run
finishes. Errors are checked for their codes and Temporal's messages.
Exits non-zero (with a traceback) on failure.
"""

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import harness

TQ = "reset-" + uuid.uuid4().hex[:8]
CALLS: dict[str, int] = {}


@activity.defn
async def count_call(key: str) -> int:
    CALLS[key] = CALLS.get(key, 0) + 1
    return CALLS[key]


@workflow.defn
class Resettable:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.ready = False

    @workflow.run
    async def run(self, key: str) -> list[str]:
        await workflow.execute_activity(
            count_call, key, start_to_close_timeout=timedelta(seconds=10)
        )
        self.ready = True
        await workflow.wait_condition(lambda: "finish" in self.seen)
        return self.seen

    @workflow.signal
    def note(self, value: str) -> None:
        self.seen.append(value)

    @workflow.query
    def is_ready(self) -> bool:
        return self.ready

    @workflow.update
    def add(self, value: str) -> int:
        self.seen.append("u:" + value)
        return len(self.seen)


@workflow.defn
class Child:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "child done"

    @workflow.signal
    def release(self) -> None:
        self.go = True


@workflow.defn
class Parent:
    def __init__(self) -> None:
        self.started = False

    @workflow.run
    async def run(self, child_id: str) -> str:
        child = await workflow.start_child_workflow(Child.run, id=child_id)
        self.started = True
        return await child

    @workflow.query
    def child_started(self) -> bool:
        return self.started


async def events(client: Client, wf_id: str, run_id: str = ""):
    handle = client.get_workflow_handle(wf_id, run_id=run_id or None)
    return [e async for e in handle.fetch_history_events()]


def first_after(evs, after_type, wanted_type) -> int:
    """The id of the first `wanted_type` event after the first `after_type` event."""
    seen = False
    for e in evs:
        if e.event_type == after_type:
            seen = True
        elif seen and e.event_type == wanted_type:
            return e.event_id
    raise AssertionError(f"no {wanted_type} after {after_type}")


async def reset(client: Client, wf_id: str, event_id: int, run_id: str = "", **kw) -> str:
    req = ResetWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id=wf_id, run_id=run_id),
        reason=kw.pop("reason", "scenario reset"),
        request_id=kw.pop("request_id", str(uuid.uuid4())),
        workflow_task_finish_event_id=event_id,
        **kw,
    )
    return (await client.workflow_service.reset_workflow_execution(req)).run_id


async def started_and_ready(client: Client, key: str):
    handle = await client.start_workflow(Resettable.run, key, id=key, task_queue=TQ)
    for _ in range(200):
        if await handle.query(Resettable.is_ready):
            return handle
        await __import__("asyncio").sleep(0.05)
    raise AssertionError("workflow never became ready")


async def s_reset_reapplies_signals(client: Client) -> None:
    key = "reset-signals-" + uuid.uuid4().hex[:6]
    handle = await started_and_ready(client, key)
    await handle.signal(Resettable.note, "before-reset")
    base = await events(client, key)
    base_run = handle.result_run_id
    point = first_after(
        base, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    new_run = await reset(client, key, point, reason="reapply test")
    assert new_run and new_run != base_run
    # The old run was terminated by the resetter and links to the new one.
    old = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=key, run_id=base_run)
        )
    )
    assert old.workflow_execution_info.status == WorkflowExecutionStatus.TERMINATED.value
    assert old.workflow_extended_info.reset_run_id == new_run
    # One worker build: one auto-reset point, the first completed workflow task.
    points = old.workflow_execution_info.auto_reset_points.points
    assert [(p.run_id, p.first_workflow_task_completed_id, p.resettable) for p in points] == [
        (base_run, 4, True)
    ], points
    old_events = await events(client, key, base_run)
    term = old_events[-1].workflow_execution_terminated_event_attributes
    assert (term.reason, term.identity) == ("reapply test", "history-resetter"), term
    # The new run: the base history up to the point, then the failed task, the signal again.
    new = await events(client, key, new_run)
    prefix = [e.event_type for e in base[: point - 1]]
    assert [e.event_type for e in new[: point - 1]] == prefix
    failed = next(e for e in new if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    fa = failed.workflow_task_failed_event_attributes
    assert fa.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert (fa.base_run_id, fa.new_run_id) == (base_run, new_run)
    assert fa.failure.message == "reapply test"
    assert fa.failure.HasField("reset_workflow_failure_info")
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in new
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == ["note"], signals
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=key, run_id=new_run)
        )
    )
    assert desc.workflow_extended_info.HasField("last_reset_time")
    new_points = desc.workflow_execution_info.auto_reset_points.points
    assert [(p.run_id, p.first_workflow_task_completed_id) for p in new_points] == [(new_run, 4)]
    assert new_points[0].binary_checksum == points[0].binary_checksum
    assert desc.workflow_extended_info.original_start_time == base[0].event_time
    # The current run is the reset run; the activity before the point is not run again.
    current = client.get_workflow_handle(key)
    await current.signal(Resettable.note, "finish")
    assert await current.result() == ["before-reset", "finish"]
    assert CALLS[key] == 1, CALLS


async def s_reset_reapplies_updates(client: Client) -> None:
    """An update accepted after the point comes back in the reset run as a
    WorkflowExecutionUpdateAdmitted event (origin REAPPLY) the worker handles from history;
    excluding updates leaves it out (Temporal's reapplyEvents)."""
    from temporalio.api.enums.v1 import ResetReapplyExcludeType, UpdateAdmittedEventOrigin

    for exclude in (False, True):
        key = f"reset-updates-{exclude}-" + uuid.uuid4().hex[:6]
        handle = await started_and_ready(client, key)
        assert await handle.execute_update(Resettable.add, "x", id="up-1") == 1
        base = await events(client, key)
        point = first_after(
            base, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        )
        kw = {"reset_reapply_exclude_types": [ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE]} if exclude else {}
        new_run = await reset(client, key, point, **kw)
        current = client.get_workflow_handle(key)
        await current.signal(Resettable.note, "finish")
        expected = ["finish"] if exclude else ["u:x", "finish"]
        assert await current.result() == expected, await current.result()
        new = await events(client, key, new_run)
        admitted = [e for e in new if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED]
        accepted = [e for e in new if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        completed = [e for e in new if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        if exclude:
            assert not admitted and not accepted and not completed, new
            continue
        assert len(admitted) == 1 and len(accepted) == 1 and len(completed) == 1, new
        a = admitted[0].workflow_execution_update_admitted_event_attributes
        assert a.origin == UpdateAdmittedEventOrigin.UPDATE_ADMITTED_EVENT_ORIGIN_REAPPLY, a
        assert a.request.meta.update_id == "up-1", a
        assert admitted[0].event_id < accepted[0].event_id < completed[0].event_id
        acc = accepted[0].workflow_execution_update_accepted_event_attributes
        assert acc.accepted_request_sequencing_event_id == admitted[0].event_id, acc
        # The Admitted event carries the request, so the Accepted one does not (Temporal's
        # onAcceptanceMsg); a second reset then reapplies the update once.
        assert not acc.HasField("accepted_request"), acc
        again = await reset(client, key, point)
        again_events = await events(client, key, again)
        readmitted = [e for e in again_events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED]
        assert len(readmitted) == 1, again_events
        failed = [e for e in again_events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert len(failed) == 1, again_events  # only the reset's own
        # Its reapplied update and finish signal complete it again.
        assert await client.get_workflow_handle(key).result() == ["u:x", "finish"]


async def s_reset_to_first_task_reruns_everything(client: Client) -> None:
    key = "reset-first-" + uuid.uuid4().hex[:6]
    handle = await started_and_ready(client, key)
    await handle.signal(Resettable.note, "finish")
    assert await handle.result() == ["finish"]
    # Reset a completed run to its first workflow task, signals excluded.
    base = await events(client, key)
    first = next(e.event_id for e in base if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    new_run = await reset(
        client, key, first, reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_NONE
    )
    new = await events(client, key, new_run)
    assert not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for e in new)
    current = client.get_workflow_handle(key)
    for _ in range(200):
        if await current.query(Resettable.is_ready):
            break
        await __import__("asyncio").sleep(0.05)
    assert CALLS[key] == 2, CALLS  # the activity ran again in the reset run
    await current.signal(Resettable.note, "finish")
    assert await current.result() == ["finish"]
    desc = await current.describe()
    assert desc.run_id == new_run and desc.status == WorkflowExecutionStatus.COMPLETED


async def s_reset_keeps_pending_children(client: Client) -> None:
    key = "reset-parent-" + uuid.uuid4().hex[:6]
    child_id = key + "-child"
    parent = await client.start_workflow(Parent.run, child_id, id=key, task_queue=TQ)
    for _ in range(200):
        if await parent.query(Parent.child_started):
            break
        await __import__("asyncio").sleep(0.05)
    base = await events(client, key)
    point = first_after(
        base,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    )
    await reset(client, key, point)
    # The reset terminated the old parent run, but not its child (no parent close policy),
    # and the child's result reaches the reset run.
    child = client.get_workflow_handle(child_id)
    assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
    await child.signal(Child.release)
    assert await client.get_workflow_handle(key).result() == "child done"


async def s_reset_errors(client: Client) -> None:
    key = "reset-errors-" + uuid.uuid4().hex[:6]
    handle = await started_and_ready(client, key)
    base = await events(client, key)

    async def refused(code, text, event_id, **kw):
        try:
            await reset(client, key, event_id, **kw)
        except RPCError as e:
            assert e.status == code, e
            assert text in e.message, e.message
            return
        raise AssertionError(f"reset to {event_id} should be refused")

    bad_range = "Workflow task finish ID must be > 1 && <= workflow last event ID."
    await refused(RPCStatusCode.INVALID_ARGUMENT, bad_range, 1)
    await refused(RPCStatusCode.INVALID_ARGUMENT, bad_range, len(base) + 1)
    scheduled = next(
        e.event_id for e in base if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )
    await refused(
        RPCStatusCode.INVALID_ARGUMENT,
        "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]",
        scheduled + 1,
    )
    await refused(RPCStatusCode.INVALID_ARGUMENT, "RequestId is not set on request.", 4, request_id="")
    try:
        await reset(client, "no-such-workflow-" + uuid.uuid4().hex, 4)
        raise AssertionError("an unknown workflow should be NotFound")
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND, e
    # Nothing was changed by the refusals; a repeated request id resets once.
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    rid = str(uuid.uuid4())
    first = await reset(client, key, 4, request_id=rid)
    again = await reset(client, key, 4, request_id=rid)
    assert first == again
    runs = [w.run_id async for w in client.list_workflows(f"WorkflowId = '{key}'")]
    assert len(runs) == 2, runs


SCENARIOS = {name[2:]: fn for name, fn in list(globals().items()) if name.startswith("s_reset_")}


async def cleanup(client: Client) -> None:
    """Leaves no run open behind the worker's shutdown."""
    async for w in client.list_workflows(f"TaskQueue = '{TQ}' AND ExecutionStatus = 'Running'"):
        await client.get_workflow_handle(w.id).terminate("scenario over")


if __name__ == "__main__":
    harness.run(SCENARIOS, TQ, [Resettable, Parent, Child], activities=[count_call], cleanup=cleanup)
