"""The entry point the scenario scripts share: `python <script> <scenario> <host:port>` runs
one scenario with a worker polling the script's task queue, and exits 0 only if it passed."""

import asyncio
import os
import sys
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


def run(scenarios, task_queue, workflows, activities=(), cleanup=None) -> None:
    """Runs the scenario named by argv[1] against the server at argv[2]; `cleanup(client)`
    runs after it, before the worker stops."""

    async def main() -> None:
        name, addr = sys.argv[1], sys.argv[2]
        client = await Client.connect(addr, namespace="default")
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=list(workflows),
            activities=list(activities),
            workflow_runner=UnsandboxedWorkflowRunner(),
            graceful_shutdown_timeout=timedelta(seconds=1),
        ):
            await scenarios[name](client)
            if cleanup is not None:
                await cleanup(client)
        print(f"scenario {name}: ok")

    asyncio.run(main())
    # Skip interpreter finalization: the SDK's native threads can abort it
    # ("PyGILState_Release ... finalizing") after the scenario already passed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
