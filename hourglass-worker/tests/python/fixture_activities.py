"""Activities used by hourglass-worker's external-pool tests and benchmark."""

import asyncio
import os
import subprocess
import sys
import time

from hourglass_activity_worker import ActivityCancelledError, ApplicationError, activity

# A test may mark one worker of a pool as broken: it exits while importing its activities, or,
# forked by a fork server (which imported them once, with no worker id), right after the fork
# (the fork server sets the worker's environment around the fork).
def _is_broken_worker():
    broken = os.environ.get("FIXTURE_BROKEN_WORKER")
    return bool(broken) and broken == os.environ.get("HOURGLASS_WORKER_ID")


if _is_broken_worker():
    raise SystemExit(3)
os.register_at_fork(after_in_child=lambda: os._exit(3) if _is_broken_worker() else None)


@activity("Echo")
async def echo(ctx, value):
    return value


@activity("SyncEcho")
def sync_echo(ctx, value):
    return value


@activity("Pid")
async def pid(ctx):
    return os.getpid()


@activity("Random")
async def random_bits(ctx):
    """A fresh 64-bit value of ``random`` (differs between workers forked from one server)."""
    import random

    return str(random.getrandbits(64))


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


_SETSID_SCRIPT = """
import subprocess, time
p = subprocess.Popen(["sleep", "301"], start_new_session=True)
print(p.pid, flush=True)
time.sleep(300)
"""

_DAEMON_SCRIPT = """
import os, shutil
sleep = shutil.which("sleep")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(1, str(os.getpid()).encode() + b"\\n")
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        # An empty environment: no run marker, no process token to find it by.
        os.execve(sleep, ["sleep", "302"], {})
    os._exit(0)
os.wait()
"""


def _wait_for_comm(pid, comm, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == comm:
                    return
        except OSError:
            return
        time.sleep(0.005)


@activity("SpawnDescendants")
def spawn_descendants(ctx):
    """Starts a child, a grandchild that called setsid() (its parent stays), and a double-forked
    daemon with an empty environment; returns their pids."""
    child = subprocess.Popen(["sleep", "300"])
    helper = subprocess.Popen([sys.executable, "-c", _SETSID_SCRIPT], stdout=subprocess.PIPE)
    grandchild = int(helper.stdout.readline())
    launcher = subprocess.Popen([sys.executable, "-c", _DAEMON_SCRIPT], stdout=subprocess.PIPE)
    daemon = int(launcher.stdout.readline())
    launcher.wait()
    # Until they have exec'ed, /proc shows the environment of the process they forked from.
    for pid in (child.pid, grandchild, daemon):
        _wait_for_comm(pid, "sleep")
    return {"worker": os.getpid(), "child": child.pid, "setsid_parent": helper.pid, "setsid_grandchild": grandchild, "daemon": daemon}


@activity("Big")
async def big(ctx, size):
    """Returns a string of `size` characters."""
    return "x" * size
