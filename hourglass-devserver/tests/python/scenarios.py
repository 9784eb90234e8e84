"""Conformance scenarios run with the official Temporal Python SDK against the dev server.

Usage: python scenarios.py <scenario> <host:port>
Each scenario asserts its results and exits non-zero (with a traceback) on failure.
"""

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    Priority,
    RetryPolicy,
    WorkflowIDConflictPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError as TemporalTimeoutError,
    TimeoutType,
    WorkflowAlreadyStartedError,
)

import harness
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

TQ = "py-" + uuid.uuid4().hex[:8]
STATE = {"flaky_attempts": 0, "cancel_seen": False}


# ---------------- activities ----------------


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def flaky() -> int:
    STATE["flaky_attempts"] += 1
    attempt = activity.info().attempt
    if attempt < 3:
        raise ApplicationError(f"transient failure {attempt}")
    return attempt


@activity.defn
async def always_fails() -> None:
    raise ApplicationError("permanent", type="FatalError")


@activity.defn
async def heartbeat_then_hang(n: int) -> int:
    info = activity.info()
    if info.attempt == 1:
        for i in range(1, n + 1):
            activity.heartbeat(i)
            await asyncio.sleep(0.2)
        # Stop heartbeating: the server must time this attempt out.
        await asyncio.sleep(30)
        return -1
    # Retried attempt sees the last recorded details.
    details = list(info.heartbeat_details)
    return int(details[0]) if details else 0


@activity.defn
async def sleepy(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke"


@activity.defn
async def wait_for_cancel() -> str:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        STATE["cancel_seen"] = True
        raise


# ---------------- workflows ----------------


@workflow.defn
class Hello:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn
class Retry:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            flaky,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0),
        )


@workflow.defn
class NonRetryable:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(
                always_fails,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100), non_retryable_error_types=["FatalError"]
                ),
            )
        except ActivityError as e:
            return f"{type(e.cause).__name__}:{e.cause.type}:{e.retry_state.name}"
        return "no error"


@workflow.defn
class Heartbeat:
    @workflow.run
    async def run(self) -> list:
        # Attempt 1 times out on heartbeat, attempt 2 returns the last details.
        resumed = await workflow.execute_activity(
            heartbeat_then_hang,
            5,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )
        # With no retries the heartbeat timeout surfaces to the workflow.
        try:
            await workflow.execute_activity(
                heartbeat_then_hang,
                1,
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=1),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            timeout_type = "none"
        except ActivityError as e:
            timeout_type = e.cause.type.name if isinstance(e.cause, TemporalTimeoutError) else repr(e.cause)
        return [resumed, timeout_type]


@workflow.defn
class StartToClose:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(
                sleepy,
                10.0,
                start_to_close_timeout=timedelta(seconds=1),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as e:
            if isinstance(e.cause, TemporalTimeoutError):
                return e.cause.type.name
            return repr(e.cause)
        return "no timeout"


@workflow.defn
class Timer:
    @workflow.run
    async def run(self, seconds: float) -> float:
        start = workflow.now()
        await workflow.sleep(seconds)
        return (workflow.now() - start).total_seconds()


@workflow.defn
class Signals:
    def __init__(self) -> None:
        self.items: list = []

    @workflow.run
    async def run(self, expected: int) -> list:
        await workflow.wait_condition(lambda: len(self.items) >= expected)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.query
    def count(self) -> int:
        return len(self.items)

    @workflow.query
    def broken(self) -> int:
        raise ApplicationError("query says no")

    @workflow.update
    def set_items(self, items: list) -> int:
        old = len(self.items)
        self.items = list(items)
        return old

    @set_items.validator
    def validate_set_items(self, items: list) -> None:
        if not items:
            raise ValueError("empty items rejected")


@workflow.defn
class Cancellable:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(
            wait_for_cancel,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return "not cancelled"


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class Child:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"child of {name}"


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, name: str) -> str:
        r = await workflow.execute_child_workflow(Child.run, name, id=workflow.info().workflow_id + "-child")
        return "parent got: " + r


@workflow.defn
class Looping:
    @workflow.run
    async def run(self, n: int) -> int:
        if n < 3:
            workflow.continue_as_new(n + 1)
        return n


@workflow.defn
class Failing:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("boom", non_retryable=True)


@workflow.defn
class Messenger:
    @workflow.run
    async def run(self, target: str, victim: str) -> str:
        await workflow.get_external_workflow_handle(target).signal(Signals.add, "from-workflow")
        await workflow.get_external_workflow_handle(victim).cancel()
        return "sent"


KW = SearchAttributeKey.for_keyword("CustomKeywordField")


@workflow.defn
class Upserter:
    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes([KW.value_set("after-upsert")])
        workflow.upsert_memo({"stage": "upserted"})
        await workflow.sleep(0.1)
        return "done"


@workflow.defn
class RetriedRun:
    """Fails its first attempts (or, with `sleep_first`, outlives its run timeout once)."""

    @workflow.run
    async def run(self, succeed_at: int, sleep_first: bool) -> str:
        info = workflow.info()
        if info.attempt < succeed_at:
            if sleep_first:
                await workflow.sleep(60)
            raise ApplicationError(f"attempt {info.attempt} fails")
        last = workflow.get_last_failure()
        return f"attempt {info.attempt} after: {last.message if last else None}"


@workflow.defn
class Prioritised:
    """Runs a timer, an activity and a child, each with a summary and (but the timer) a
    priority, and reports the priority it sees itself."""

    @workflow.run
    async def run(self, depth: int) -> list:
        own = workflow.info().priority.priority_key
        if depth > 0:
            return [own]
        await workflow.sleep(0.01, summary="short nap")
        await workflow.execute_activity(
            greet,
            "p",
            start_to_close_timeout=timedelta(seconds=10),
            summary="say hello",
            priority=Priority(priority_key=5, fairness_key="tenant-a", fairness_weight=3.0),
        )
        child = await workflow.execute_child_workflow(
            Prioritised.run,
            1,
            priority=Priority(priority_key=4, fairness_key="tenant-b", fairness_weight=1.5),
        )
        return [own] + child


@workflow.defn
class CancelAfterFire:
    """Cancels a timer that fired and an activity that finished while its workflow task ran
    (both results are buffered on the server when the cancels arrive)."""

    @workflow.run
    async def run(self) -> list:
        out: list = []

        async def long_timer() -> None:
            try:
                await asyncio.sleep(1)
                out.append("timer fired")
            except asyncio.CancelledError:
                out.append("timer cancelled")

        async def act() -> None:
            try:
                out.append(
                    await workflow.execute_activity(
                        sleepy, 0.5, start_to_close_timeout=timedelta(seconds=10)
                    )
                )
            except (ActivityError, asyncio.CancelledError):
                out.append("activity cancelled")

        timer = asyncio.create_task(long_timer())
        activity_task = asyncio.create_task(act())
        await asyncio.sleep(0.1)
        if not workflow.unsafe.is_replaying():
            time.sleep(1.5)  # the timer fires and the activity finishes meanwhile
        timer.cancel()
        activity_task.cancel()
        await asyncio.gather(timer, activity_task, return_exceptions=True)
        # Not closing in that task: a close beside buffered events is UnhandledCommand.
        await asyncio.sleep(0.1)
        return sorted(out)


WORKFLOWS = [CancelAfterFire, Prioritised, RetriedRun, Messenger, Upserter, Hello, Retry, NonRetryable, Heartbeat, StartToClose, Timer, Signals, Cancellable, Forever, Child, Parent, Looping, Failing]
ACTIVITIES = [greet, flaky, always_fails, heartbeat_then_hang, sleepy, wait_for_cancel]


def wid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def result_of(client: Client, wf, arg=None, *, timeout: float = 60, **kw):
    args = [] if arg is None else [arg]
    h = await client.start_workflow(wf, *args, id=wid(wf.__name__.lower()), task_queue=TQ, **kw)
    return h, await asyncio.wait_for(h.result(), timeout)


# ---------------- scenarios ----------------


async def s_build_id_stamped(client: Client) -> None:
    """GetSystemInfo announces build-id based versioning (as Temporal's frontend), so a
    worker's build id is stamped on the tasks it completes (WorkflowTaskCompleted's
    worker_version) for replays to read as the task's build id."""
    queue = TQ + "-bid"
    async with Worker(
        client, task_queue=queue, workflows=[Hello], activities=[greet], build_id="7.1",
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        h = await client.start_workflow(Hello.run, "b", id=wid("bid"), task_queue=queue)
        await asyncio.wait_for(h.result(), 30)
    stamps = [
        e.workflow_task_completed_event_attributes.worker_version.build_id
        async for e in h.fetch_history_events()
        if e.HasField("workflow_task_completed_event_attributes")
    ]
    assert stamps and all(s == "7.1" for s in stamps), stamps
    desc = await h.describe()
    points = desc.raw_description.workflow_execution_info.auto_reset_points.points
    assert [p.build_id for p in points] == ["7.1"], points


async def s_hello(client: Client) -> None:
    _, r = await result_of(client, Hello.run, "Python")
    assert r == "Hello, Python!", r


async def s_retry(client: Client) -> None:
    _, r = await result_of(client, Retry.run)
    assert r == 3 and STATE["flaky_attempts"] == 3, (r, STATE)
    _, r = await result_of(client, NonRetryable.run)
    assert r == "ApplicationError:FatalError:NON_RETRYABLE_FAILURE", r


async def s_heartbeat(client: Client) -> None:
    _, r = await result_of(client, Heartbeat.run, timeout=60)
    assert r == [5, "HEARTBEAT"], r


async def s_start_to_close(client: Client) -> None:
    _, r = await result_of(client, StartToClose.run)
    assert r == "START_TO_CLOSE", r


async def s_timer(client: Client) -> None:
    t0 = time.monotonic()
    _, r = await result_of(client, Timer.run, 1.5)
    assert r >= 1.5, r
    assert time.monotonic() - t0 >= 1.5


async def s_signal(client: Client) -> None:
    h = await client.start_workflow(Signals.run, 2, id=wid("sig"), task_queue=TQ)
    await h.signal(Signals.add, "a")
    await h.signal(Signals.add, "b")
    assert await asyncio.wait_for(h.result(), 30) == ["a", "b"]
    # Signal-with-start: starts the workflow with the signal already in history.
    sws_id = wid("sws")
    h = await client.start_workflow(
        Signals.run, 2, id=sws_id, task_queue=TQ, start_signal="add", start_signal_args=["first"]
    )
    # A second signal-with-start on the running workflow only signals it.
    h2 = await client.start_workflow(
        Signals.run, 2, id=sws_id, task_queue=TQ, start_signal="add", start_signal_args=["second"]
    )
    assert h2.result_run_id == h.result_run_id, (h.result_run_id, h2.result_run_id)
    assert await asyncio.wait_for(h.result(), 30) == ["first", "second"]


async def s_query(client: Client) -> None:
    h = await client.start_workflow(Signals.run, 3, id=wid("query"), task_queue=TQ)
    await h.signal(Signals.add, "x")
    for _ in range(50):
        if await h.query(Signals.count) == 1:
            break
        await asyncio.sleep(0.1)
    assert await h.query(Signals.count) == 1
    try:
        await h.query(Signals.broken)
        raise AssertionError("query should fail")
    except WorkflowQueryFailedError as e:
        assert "query says no" in str(e), e
    await h.signal(Signals.add, "y")
    await h.signal(Signals.add, "z")
    await asyncio.wait_for(h.result(), 30)
    # Queries work on closed workflows too (answered by replaying history).
    assert await h.query(Signals.count) == 3


async def s_update(client: Client) -> None:
    h = await client.start_workflow(Signals.run, 3, id=wid("update"), task_queue=TQ)
    await h.signal(Signals.add, "a")
    old = await h.execute_update(Signals.set_items, ["p", "q"])
    assert old == 1, old
    try:
        await h.execute_update(Signals.set_items, [])
        raise AssertionError("update should be rejected")
    except WorkflowUpdateFailedError as e:
        assert "empty items rejected" in str(e.cause), e.cause
    await h.signal(Signals.add, "r")
    assert await asyncio.wait_for(h.result(), 30) == ["p", "q", "r"]


async def s_update_admitted_before_a_worker(client: Client) -> None:
    """Updates sent before any worker polls stay ADMITTED; a poll with no wait policy answers
    at once with that stage (Temporal's frontend fills in an empty one), and every update
    completes once a worker comes."""
    from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage as Stage
    from temporalio.api.update.v1 import UpdateRef
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest

    queue = TQ + "-late"
    h = await client.start_workflow(Signals.run, 3, id=wid("admitted"), task_queue=queue)
    tasks = []
    for i in range(3):
        tasks.append(asyncio.create_task(h.execute_update(Signals.set_items, [str(i)], id=f"u{i}")))
        deadline = time.monotonic() + 10
        while True:
            try:
                started = time.monotonic()
                resp = await client.workflow_service.poll_workflow_execution_update(
                    PollWorkflowExecutionUpdateRequest(
                        namespace=client.namespace,
                        update_ref=UpdateRef(
                            workflow_execution=WorkflowExecution(workflow_id=h.id),
                            update_id=f"u{i}",
                        ),
                    )
                )
                assert time.monotonic() - started < 5, "a poll with no wait policy waited"
                assert resp.stage == Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED, resp
                assert not resp.HasField("outcome"), resp
                break
            except RPCError as e:
                assert e.status == RPCStatusCode.NOT_FOUND, e
                assert time.monotonic() < deadline, f"update u{i} never admitted"
                await asyncio.sleep(0.1)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Signals],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        olds = [await asyncio.wait_for(t, 30) for t in tasks]
        assert sorted(olds) == [0, 1, 1], olds
        for item in ("x", "y", "z"):
            await h.signal(Signals.add, item)
        assert len(await asyncio.wait_for(h.result(), 30)) >= 3


async def s_update_first_execution_run_id(client: Client) -> None:
    """An update through the handle of a closed chain does not reach a newer run of the same
    id: the first execution run id it carries does not match (NotFound, as Temporal)."""
    workflow_id = wid("first-run")
    first = await client.start_workflow(Signals.run, 1, id=workflow_id, task_queue=TQ)
    await first.signal(Signals.add, "a")
    await asyncio.wait_for(first.result(), 30)
    second = await client.start_workflow(Signals.run, 2, id=workflow_id, task_queue=TQ)
    try:
        await first.execute_update(Signals.set_items, ["b"])
        raise AssertionError("the update reached the second run")
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND, e
        assert "workflow execution not found" in str(e), e
    assert await second.execute_update(Signals.set_items, ["b"]) == 0
    await second.signal(Signals.add, "c")
    assert await asyncio.wait_for(second.result(), 30) == ["b", "c"]


async def s_priority_and_metadata(client: Client) -> None:
    """Priorities reach the started, scheduled and child-initiated events, the child's own
    start and describe; the start's static summary and details and each command's summary
    land on their events' user metadata (Temporal's HistoryEvent.user_metadata)."""
    from temporalio.converter import PayloadConverter

    conv = PayloadConverter.default
    h = await client.start_workflow(
        Prioritised.run,
        0,
        id=wid("prio"),
        task_queue=TQ,
        priority=Priority(priority_key=1, fairness_key="tenant-0", fairness_weight=2.5),
        static_summary="the summary",
        static_details="the details",
    )
    assert await asyncio.wait_for(h.result(), 30) == [1, 4]
    seen = {}
    async for e in h.fetch_history_events():
        if e.HasField("workflow_execution_started_event_attributes"):
            p = e.workflow_execution_started_event_attributes.priority
            assert (p.priority_key, p.fairness_key, p.fairness_weight) == (1, "tenant-0", 2.5), p
            assert conv.from_payload(e.user_metadata.summary) == "the summary", e
            assert conv.from_payload(e.user_metadata.details) == "the details", e
            seen["started"] = True
        elif e.HasField("timer_started_event_attributes"):
            assert conv.from_payload(e.user_metadata.summary) == "short nap", e
            seen["timer"] = True
        elif e.HasField("activity_task_scheduled_event_attributes"):
            p = e.activity_task_scheduled_event_attributes.priority
            assert (p.priority_key, p.fairness_key) == (5, "tenant-a"), p
            assert conv.from_payload(e.user_metadata.summary) == "say hello", e
            seen["activity"] = True
        elif e.HasField("start_child_workflow_execution_initiated_event_attributes"):
            p = e.start_child_workflow_execution_initiated_event_attributes.priority
            assert (p.priority_key, p.fairness_key, p.fairness_weight) == (4, "tenant-b", 1.5), p
            seen["child"] = True
        elif e.HasField("workflow_task_completed_event_attributes"):
            assert not e.HasField("user_metadata"), e
    assert seen == {"started": True, "timer": True, "activity": True, "child": True}, seen
    desc = await h.describe()
    assert await desc.static_summary() == "the summary"
    assert await desc.static_details() == "the details"
    assert desc.raw_description.workflow_execution_info.priority.priority_key == 1, desc


async def s_cancel_after_fire(client: Client) -> None:
    """Temporal's AddTimerCanceledEvent / AddActivityTaskCancelRequestedEvent: the cancel of a
    timer whose TimerFired is buffered replaces that event; the cancel request of an
    activity whose result is buffered is recorded before the result. The history then
    replays without non-determinism."""
    from temporalio.worker import Replayer

    h = await client.start_workflow(CancelAfterFire.run, id=wid("cancel-fired"), task_queue=TQ)
    result = await asyncio.wait_for(h.result(), 30)
    assert result == ["activity cancelled", "timer cancelled"], result
    kinds = []
    async for e in h.fetch_history_events():
        for name in ("timer_fired", "timer_canceled", "activity_task_cancel_requested", "activity_task_completed"):
            if e.HasField(name + "_event_attributes"):
                kinds.append(name if name != "timer_fired" else f"timer_fired:{e.timer_fired_event_attributes.timer_id}")
    # Timer 2 (the 1 s one) was canceled, its buffered TimerFired dropped.
    assert "timer_fired:2" not in kinds and "timer_canceled" in kinds, kinds
    assert kinds.index("activity_task_cancel_requested") < kinds.index("activity_task_completed"), kinds
    await Replayer(workflows=[CancelAfterFire]).replay_workflow(await h.fetch_history())


async def s_update_with_start(client: Client) -> None:
    use_existing = WorkflowIDConflictPolicy.USE_EXISTING

    def start_op(workflow_id: str, expected: int, policy=use_existing):
        return WithStartWorkflowOperation(
            Signals.run, expected, id=workflow_id, task_queue=TQ, id_conflict_policy=policy
        )

    # No workflow yet: it is started, and the update runs on its first task.
    first = wid("uws")
    op = start_op(first, 3)
    old = await client.execute_update_with_start_workflow(
        Signals.set_items, ["a"], start_workflow_operation=op, id="uws-fixed"
    )
    assert old == 0, old
    run_id = (await op.workflow_handle()).result_run_id
    # Running, USE_EXISTING: the update joins that run.
    op = start_op(first, 3)
    old = await client.execute_update_with_start_workflow(
        Signals.set_items, ["a", "b"], start_workflow_operation=op
    )
    assert old == 1, old
    assert (await op.workflow_handle()).result_run_id == run_id
    # The same update id again: its first outcome, not applied twice.
    op = start_op(first, 3)
    old = await client.execute_update_with_start_workflow(
        Signals.set_items, ["x"] * 9, start_workflow_operation=op, id="uws-fixed"
    )
    assert old == 0, old
    assert await (await op.workflow_handle()).query(Signals.count) == 2
    # Running, FAIL: the start fails and the update is not applied.
    try:
        await client.execute_update_with_start_workflow(
            Signals.set_items,
            ["z"],
            start_workflow_operation=start_op(first, 3, WorkflowIDConflictPolicy.FAIL),
        )
        raise AssertionError("a FAIL start of a running workflow should fail")
    except WorkflowAlreadyStartedError as e:
        assert e.run_id == run_id, e.run_id
    h = client.get_workflow_handle(first)
    assert await h.query(Signals.count) == 2
    await h.signal(Signals.add, "c")
    assert await asyncio.wait_for(h.result(), 30) == ["a", "b", "c"]
    # Closed, the same update id: its outcome, nothing started.
    op = start_op(first, 3)
    old = await client.execute_update_with_start_workflow(
        Signals.set_items, ["y"], start_workflow_operation=op, id="uws-fixed"
    )
    assert old == 0, old
    assert (await op.workflow_handle()).result_run_id == run_id
    # Closed, a new update id: a new run is started for it.
    op = start_op(first, 1)
    old = await client.execute_update_with_start_workflow(
        Signals.set_items, ["n"], start_workflow_operation=op
    )
    assert old == 0, old
    second_run = (await op.workflow_handle()).result_run_id
    assert second_run != run_id
    assert await asyncio.wait_for(client.get_workflow_handle(first).result(), 30) == ["n"]
    # A rejected update: the workflow is started all the same, the update fails.
    rejected = wid("uws-rejected")
    op = start_op(rejected, 1)
    try:
        await client.execute_update_with_start_workflow(
            Signals.set_items, [], start_workflow_operation=op
        )
        raise AssertionError("the update should be rejected")
    except WorkflowUpdateFailedError as e:
        assert "empty items rejected" in str(e.cause), e.cause
    h = await op.workflow_handle()
    assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
    await h.terminate("done")


async def s_delete(client: Client) -> None:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
    from temporalio.service import RPCError, RPCStatusCode

    async def delete(workflow_id: str) -> None:
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            )
        )

    async def gone(workflow_id: str) -> None:
        try:
            await client.get_workflow_handle(workflow_id).describe()
            raise AssertionError(f"{workflow_id} still exists")
        except RPCError as e:
            assert e.status == RPCStatusCode.NOT_FOUND, e
        listed = [w.id async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        assert listed == [], listed

    # A running workflow is terminated, then deleted.
    running = wid("delete-running")
    await client.start_workflow(Signals.run, 5, id=running, task_queue=TQ)
    await delete(running)
    await gone(running)
    # A closed one is deleted; its id can be started again.
    closed = wid("delete-closed")
    assert await client.execute_workflow(Signals.run, 0, id=closed, task_queue=TQ) == []
    await delete(closed)
    await gone(closed)
    assert await client.execute_workflow(Signals.run, 0, id=closed, task_queue=TQ) == []
    # Deleting what is not there is NotFound.
    try:
        await delete(wid("delete-missing"))
        raise AssertionError("deleting a missing workflow should fail")
    except RPCError as e:
        assert e.status == RPCStatusCode.NOT_FOUND, e


async def s_workflow_retry(client: Client) -> None:
    policy = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)
    h = await client.start_workflow(
        RetriedRun.run, args=[3, False], id=wid("wf-retry"), task_queue=TQ, retry_policy=policy
    )
    assert await asyncio.wait_for(h.result(), 30) == "attempt 3 after: attempt 2 fails"
    # The first run failed and names the next one; the chain's runs are linked.
    first = client.get_workflow_handle(h.id, run_id=h.first_execution_run_id)
    assert (await first.describe()).status == WorkflowExecutionStatus.FAILED
    events = [e async for e in first.fetch_history_events()]
    failed = events[-1].workflow_execution_failed_event_attributes
    assert failed.new_execution_run_id, events[-1]
    assert failed.retry_state == 1, failed  # RETRY_STATE_IN_PROGRESS
    second = client.get_workflow_handle(h.id, run_id=failed.new_execution_run_id)
    started = [e async for e in second.fetch_history_events()][0]
    attrs = started.workflow_execution_started_event_attributes
    assert attrs.attempt == 2 and attrs.initiator == 2, attrs  # CONTINUE_AS_NEW_INITIATOR_RETRY
    assert attrs.continued_failure.message == "attempt 1 fails", attrs
    assert attrs.first_execution_run_id == h.first_execution_run_id
    # Out of attempts: the last failure is the workflow's.
    h = await client.start_workflow(
        RetriedRun.run, args=[9, False], id=wid("wf-retry-out"), task_queue=TQ, retry_policy=policy
    )
    try:
        await asyncio.wait_for(h.result(), 30)
        raise AssertionError("should fail after 3 attempts")
    except WorkflowFailureError as e:
        assert "attempt 3 fails" in str(e.cause), e.cause
    # A run timeout is retried too.
    h = await client.start_workflow(
        RetriedRun.run,
        args=[2, True],
        id=wid("wf-retry-timeout"),
        task_queue=TQ,
        retry_policy=policy,
        run_timeout=timedelta(seconds=1),
    )
    assert await asyncio.wait_for(h.result(), 30) == "attempt 2 after: workflow timeout"


async def s_describe_task_queue(client: Client) -> None:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    async def describe(name: str, kind) -> object:
        return await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=name),
                task_queue_type=kind,
                report_stats=True,
            )
        )

    # The worker of this scenario polls both queues of TQ.
    await result_of(client, Hello, "tq")
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        d = await describe(TQ, kind)
        assert [p.identity for p in d.pollers] == [client.identity], d
        age = time.time() - d.pollers[0].last_access_time.ToSeconds()
        assert 0 <= age < 120, age
        assert d.pollers[0].rate_per_second > 0, d
    # A queue nobody polls: no pollers, and the started workflow's task waits in its backlog.
    idle = "idle-" + uuid.uuid4().hex[:8]
    h = await client.start_workflow(Hello.run, "x", id=wid("idle"), task_queue=idle)
    d = await describe(idle, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    assert list(d.pollers) == [] and d.stats.approximate_backlog_count == 1, d
    d = await describe(idle, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    assert d.stats.approximate_backlog_count == 0, d
    await h.terminate("done")
    # One partition per type, the root one, owned by the server itself.
    import sys

    from temporalio.api.workflowservice.v1 import ListTaskQueuePartitionsRequest
    from temporalio.service import RPCError, RPCStatusCode

    parts = await client.workflow_service.list_task_queue_partitions(
        ListTaskQueuePartitionsRequest(namespace="default", task_queue=TaskQueue(name=TQ))
    )
    for kind in (parts.workflow_task_queue_partitions, parts.activity_task_queue_partitions):
        assert [(p.key, p.owner_host_name) for p in kind] == [(TQ, sys.argv[2])], parts
    try:
        await client.workflow_service.list_task_queue_partitions(
            ListTaskQueuePartitionsRequest(namespace="default", task_queue=TaskQueue(name=""))
        )
        raise AssertionError("an empty task queue name was accepted")
    except RPCError as e:
        assert e.status == RPCStatusCode.INVALID_ARGUMENT, e


async def s_namespaces(client: Client) -> None:
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
    from temporalio.api.workflowservice.v1 import (
        DescribeNamespaceRequest,
        RegisterNamespaceRequest,
        UpdateNamespaceRequest,
    )

    svc = client.workflow_service
    name = "ns-" + uuid.uuid4().hex[:8]
    await svc.register_namespace(
        RegisterNamespaceRequest(namespace=name, description="first", owner_email="a@example.com")
    )
    updated = await svc.update_namespace(
        UpdateNamespaceRequest(
            namespace=name,
            update_info=UpdateNamespaceInfo(description="second", data={"team": "core"}),
            config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=72 * 3600)),
        )
    )
    assert updated.namespace_info.description == "second", updated
    d = await svc.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert d.namespace_info.description == "second", d
    assert d.namespace_info.owner_email == "a@example.com", d
    assert dict(d.namespace_info.data) == {"team": "core"}, d
    assert d.config.workflow_execution_retention_ttl.seconds == 72 * 3600, d


async def s_cancel(client: Client) -> None:
    h = await client.start_workflow(Cancellable.run, id=wid("cancel"), task_queue=TQ)
    for _ in range(100):
        desc = await h.describe()
        if desc.raw_description.pending_activities and desc.raw_description.pending_activities[0].state == 2:
            break
        await asyncio.sleep(0.1)
    await h.cancel()
    try:
        await asyncio.wait_for(h.result(), 30)
        raise AssertionError("workflow should be cancelled")
    except WorkflowFailureError as e:
        assert isinstance(e.cause, CancelledError), repr(e.cause)
    assert STATE["cancel_seen"], "activity never saw the cancellation"
    assert (await h.describe()).status == WorkflowExecutionStatus.CANCELED


async def s_terminate(client: Client) -> None:
    h = await client.start_workflow(Forever.run, id=wid("term"), task_queue=TQ)
    await h.terminate("enough")
    try:
        await asyncio.wait_for(h.result(), 30)
        raise AssertionError("workflow should be terminated")
    except WorkflowFailureError as e:
        assert isinstance(e.cause, TerminatedError), repr(e.cause)
    assert (await h.describe()).status == WorkflowExecutionStatus.TERMINATED


async def s_child(client: Client) -> None:
    _, r = await result_of(client, Parent.run, "p")
    assert r == "parent got: child of p", r


async def s_continue_as_new(client: Client) -> None:
    h, r = await result_of(client, Looping.run, 0)
    assert r == 3, r
    desc = await h.describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.run_id != h.first_execution_run_id
    # Reset points roll over (Temporal's rolloverAutoResetPointsWithExpiringTime): the first
    # run's point is kept, expiring a retention (24 h) after the next run started; the later
    # runs of the same build add none.
    points = desc.raw_description.workflow_execution_info.auto_reset_points.points
    assert [(p.run_id, p.first_workflow_task_completed_id) for p in points] == [
        (h.first_execution_run_id, 4)
    ], points
    expires = points[0].expire_time.ToDatetime() - points[0].create_time.ToDatetime()
    assert timedelta(hours=23, minutes=59) < expires < timedelta(hours=24, minutes=1), expires
    first_event = None
    async for e in h.fetch_history_events():
        first_event = e
        break
    prev = first_event.workflow_execution_started_event_attributes.prev_auto_reset_points.points
    assert [p.run_id for p in prev] == [h.first_execution_run_id], prev


async def s_failure(client: Client) -> None:
    try:
        await result_of(client, Failing.run)
        raise AssertionError("workflow should fail")
    except WorkflowFailureError as e:
        assert isinstance(e.cause, ApplicationError) and e.cause.message == "boom", repr(e.cause)


async def register_custom_keyword(client: Client) -> None:
    """Registers `CustomKeywordField` (KW), as a start or upsert needs it to be."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={"CustomKeywordField": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )


async def s_visibility(client: Client) -> None:
    await register_custom_keyword(client)
    key = SearchAttributeKey.for_keyword("CustomKeywordField")
    wf_id = wid("vis")
    h = await client.start_workflow(
        Hello.run,
        "vis",
        id=wf_id,
        task_queue=TQ,
        memo={"owner": "hourglass"},
        search_attributes=TypedSearchAttributes([SearchAttributePair(key, "tag-1")]),
    )
    assert await asyncio.wait_for(h.result(), 30) == "Hello, vis!"
    desc = await h.describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.workflow_type == "Hello", desc.workflow_type
    assert await desc.memo() == {"owner": "hourglass"}, await desc.memo()
    assert desc.typed_search_attributes.get(key) == "tag-1", desc.typed_search_attributes
    listed = [w async for w in client.list_workflows(f"WorkflowId = '{wf_id}'")]
    assert len(listed) == 1 and listed[0].id == wf_id, listed
    listed = [w async for w in client.list_workflows("CustomKeywordField = 'tag-1'")]
    assert [w.id for w in listed] == [wf_id], listed
    count = await client.count_workflows(f"WorkflowType = 'Hello' AND ExecutionStatus = 'Completed'")
    assert count.count >= 1, count
    history = await h.fetch_history()
    types = [e.event_type for e in history.events]
    assert types[0] == 1 and types[-1] == 2, types  # started ... completed
    ids = [e.event_id for e in history.events]
    assert ids == list(range(1, len(ids) + 1)), ids
    # Duplicate start of a closed id with REJECT_DUPLICATE is refused.
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    try:
        await client.start_workflow(
            Hello.run, "again", id=wf_id, task_queue=TQ, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE
        )
        raise AssertionError("duplicate start should fail")
    except WorkflowAlreadyStartedError:
        pass


async def s_external(client: Client) -> None:
    target = await client.start_workflow(Signals.run, 1, id=wid("target"), task_queue=TQ)
    victim = await client.start_workflow(Forever.run, id=wid("victim"), task_queue=TQ)
    h = await client.start_workflow(Messenger.run, args=[target.id, victim.id], id=wid("messenger"), task_queue=TQ)
    assert await asyncio.wait_for(h.result(), 30) == "sent"
    assert await asyncio.wait_for(target.result(), 30) == ["from-workflow"]
    try:
        await asyncio.wait_for(victim.result(), 30)
        raise AssertionError("victim should be cancelled")
    except WorkflowFailureError as e:
        assert isinstance(e.cause, CancelledError), repr(e.cause)


async def s_upsert(client: Client) -> None:
    await register_custom_keyword(client)
    h, r = await result_of(client, Upserter.run)
    assert r == "done"
    desc = await h.describe()
    assert desc.typed_search_attributes.get(KW) == "after-upsert", desc.typed_search_attributes
    assert (await desc.memo()).get("stage") == "upserted", await desc.memo()
    listed = [w.id async for w in client.list_workflows("CustomKeywordField = 'after-upsert'")]
    assert listed == [h.id], listed


SCENARIOS = {
    "external": s_external,
    "upsert": s_upsert,
    "hello": s_hello,
    "build_id_stamped": s_build_id_stamped,
    "retry": s_retry,
    "heartbeat": s_heartbeat,
    "start_to_close": s_start_to_close,
    "timer": s_timer,
    "signal": s_signal,
    "query": s_query,
    "update": s_update,
    "cancel_after_fire": s_cancel_after_fire,
    "priority_and_metadata": s_priority_and_metadata,
    "update_first_execution_run_id": s_update_first_execution_run_id,
    "update_admitted_before_a_worker": s_update_admitted_before_a_worker,
    "update_with_start": s_update_with_start,
    "delete": s_delete,
    "workflow_retry": s_workflow_retry,
    "describe_task_queue": s_describe_task_queue,
    "namespaces": s_namespaces,
    "cancel": s_cancel,
    "terminate": s_terminate,
    "child": s_child,
    "continue_as_new": s_continue_as_new,
    "failure": s_failure,
    "visibility": s_visibility,
}


if __name__ == "__main__":
    harness.run(SCENARIOS, TQ, WORKFLOWS, ACTIVITIES)
