"""Activities used by hourglass-worker's external-pool tests and benchmark."""

import asyncio
import os
import subprocess
import time

from hourglass_activity_worker import ActivityCancelledError, ApplicationError, activity

# A test may mark one worker of a pool as broken: it exits while importing its activities.
if os.environ.get("FIXTURE_BROKEN_WORKER") and os.environ.get("FIXTURE_BROKEN_WORKER") == os.environ.get(
    "HOURGLASS_WORKER_ID"
):
    raise SystemExit(3)


@activity("Echo")
async def echo(ctx, value):
    return value


@activity("SyncEcho")
def sync_echo(ctx, value):
    return value


@activity("Pid")
async def pid(ctx):
    return os.getpid()


@activity("Sleep")
async def sleep(ctx, seconds):
    await asyncio.sleep(seconds)
    return "slept"


@activity("Heartbeats")
async def heartbeats(ctx, count):
    """Heartbeats `count` times, then returns the previous attempt's details and the attempt."""
    for i in range(count):
        ctx.heartbeat({"step": i})
        await asyncio.sleep(0.01)
    return {"previous": ctx.heartbeat_details, "attempt": ctx.info.attempt, "activity_id": ctx.info.activity_id}


@activity("WaitForCancel")
async def wait_for_cancel(ctx):
    ctx.heartbeat("waiting")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise ActivityCancelledError("cleaned up", ctx.cancel_reason)
    return "not cancelled"


@activity("SyncWaitForCancel")
def sync_wait_for_cancel(ctx):
    ctx.heartbeat("waiting")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ctx.is_cancelled():
            raise ActivityCancelledError("sync cleaned up")
        time.sleep(0.01)
    return "not cancelled"


@activity("BlockLoop")
async def block_loop(ctx, seconds):
    time.sleep(seconds)  # blocks the event loop on purpose: the worker looks hung
    return "unblocked"


@activity("Fail")
async def fail(ctx, message):
    raise ApplicationError(message, {"why": "test"}, type="FixtureError", non_retryable=True)


@activity("Crash")
async def crash(ctx):
    raise ValueError("plain python error")


@activity("SpawnGrandchild")
async def spawn_grandchild(ctx):
    """Starts a long sleep in the worker's process group and returns its pid."""
    child = subprocess.Popen(["sleep", "300"])
    return child.pid
