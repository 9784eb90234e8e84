"""Connects the official Temporal Python SDK to a dev server that requires mutual TLS and an
API key: runs a Python workflow and activity on a Python worker, executes Hourglass's
GreetingWorkflow, and checks that a wrong key is refused at connect.

Usage: python tls_client.py <host:port> <ca.pem> <client.pem> <client.key> <api key> <task queue>
Prints one line per check; exits non-zero (with a traceback) on any mismatch.
"""

import asyncio
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.worker import Worker


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=30)
        )


async def connect(address: str, tls: TLSConfig, key: str) -> Client:
    return await Client.connect(address, namespace="default", tls=tls, api_key=key)


async def main(address, ca, cert, key_file, api_key, hourglass_queue) -> None:
    tls = TLSConfig(
        server_root_ca_cert=Path(ca).read_bytes(),
        domain="localhost",
        client_cert=Path(cert).read_bytes(),
        client_private_key=Path(key_file).read_bytes(),
    )
    client = await connect(address, tls, api_key)
    queue = f"py-tls-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[ShoutWorkflow], activities=[shout]
    ):
        shouted = await client.execute_workflow(
            ShoutWorkflow.run, "over tls", id=f"py-tls-{queue}", task_queue=queue
        )
    assert shouted == "OVER TLS", shouted
    print(f"python worker over mutual TLS: {shouted}")
    greeting = await client.execute_workflow(
        "GreetingWorkflow", "TLS", id=f"py-greeting-{queue}", task_queue=hourglass_queue
    )
    assert greeting == "Hello, TLS!", greeting
    print(f"hourglass worker over mutual TLS: {greeting}")
    try:
        await connect(address, tls, "not-the-key")
    except RuntimeError as e:
        # The SDK's core bridge reports a refused connect as RuntimeError carrying the status.
        assert "Unauthenticated" in str(e) or "unauthenticated" in str(e), e
        print(f"wrong key refused: {e}")
    except RPCError as e:
        assert e.status == RPCStatusCode.UNAUTHENTICATED, e
        print(f"wrong key refused: {e}")
    else:
        raise AssertionError("a wrong API key was accepted")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
    sys.stdout.flush()
    # The SDK's bridge threads can crash the interpreter's finalisation (PyGILState_Release)
    # after a failed connect; every check has passed by now, so skip it.
    os._exit(0)
