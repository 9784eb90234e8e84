"""Starts Hourglass's built-in example workflows with the official Temporal Python client and
checks their results, which Hourglass's worker computes.

Usage: python official_client.py <host:port> <task queue>
Exits non-zero (with a traceback) on any mismatch.
"""

import asyncio
import os
import sys
import uuid

from temporalio.client import Client


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address, namespace="default")
    suffix = uuid.uuid4().hex[:8]
    greeting = await client.execute_workflow(
        "GreetingWorkflow", "Python", id=f"py-greeting-{suffix}", task_queue=task_queue
    )
    assert greeting == "Hello, Python!", greeting
    parent = await client.execute_workflow(
        "ParentWorkflow", "snake", id=f"py-parent-{suffix}", task_queue=task_queue
    )
    assert parent == "child said: Hello, snake!", parent
    handle = await client.start_workflow(
        "CounterWorkflow", id=f"py-counter-{suffix}", task_queue=task_queue
    )
    await handle.signal("add", 4)
    count = await handle.execute_update("add_and_get", 3)
    assert count == 7, count
    assert await handle.query("count") == 7
    await handle.signal("finish")
    assert await handle.result() == 7
    print("official python client: all results computed by hourglass")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    # The SDK's native threads can abort the interpreter's finalization ("PyGILState_Release
    # ... finalizing") after everything passed; a failure above has already exited non-zero.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
