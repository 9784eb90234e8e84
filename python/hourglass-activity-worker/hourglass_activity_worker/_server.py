"""The asyncio gRPC server Hourglass talks to, and the process lifecycle around it.

Lifecycle guarantees:
- binds 127.0.0.1 on a port chosen by the OS, then reports readiness: writes ``port=<port>`` to
  the file named by ``HOURGLASS_READY_FILE`` atomically (temporary file, fsync, rename) and prints
  ``HOURGLASS_READY port=<port>`` on stdout;
- SIGTERM or SIGINT: stops accepting calls, gives running attempts ``grace`` seconds, cancels the
  rest, exits 0;
- exits by itself when its parent is gone: the kernel's parent-death signal (re-armed from
  Hourglass's SIGKILL to SIGHUP so the worker can act on it), a changed parent pid, or the pid in
  ``HOURGLASS_PARENT_PID`` no longer existing;
- leaves no descendant behind, however it ends (see ``_containment``): it is a child subreaper,
  kills every descendant when it stops or its parent dies, and logs what it killed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import platform
import signal
import sys
import traceback
from typing import Callable, Dict, List, Optional

import grpc

from . import _activity, _containment, _converter, _forkserver
from ._proto import external_worker_pb2 as pb
from ._proto import external_worker_pb2_grpc as pb_grpc

PROTOCOL_VERSION = 1
__version__ = "0.1.0"
_MAX_MESSAGE = 64 * 1024 * 1024


def _log(msg: str) -> None:
    print(f"hourglass-activity-worker[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


class _Execution:
    def __init__(self, ctx: _activity.ActivityContext) -> None:
        self.ctx = ctx
        self.task: Optional[asyncio.Future] = None


class Servicer(pb_grpc.ExternalWorkerServicer):
    """Implements the ExternalWorker service over the registered activities."""

    def __init__(
        self,
        activities: Dict[str, _activity.ActivityDefinition],
        max_concurrent: int,
        run_marker: str,
        session: bool = True,
    ) -> None:
        self._session = session
        self._activities = activities
        self._max_concurrent = max(1, max_concurrent)
        self._run_marker = run_marker
        limit = os.environ.get("HOURGLASS_MAX_PAYLOAD_BYTES", "")
        self._max_payload = int(limit) if limit.isdigit() else _MAX_MESSAGE - 1024 * 1024
        self._running: Dict[str, _Execution] = {}
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._max_concurrent, thread_name_prefix="activity"
        )

    async def Handshake(self, request, context):
        if request.protocol_version < 1:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"unsupported protocol version {request.protocol_version}; this worker speaks {PROTOCOL_VERSION}",
            )
        return pb.HandshakeResponse(
            protocol_version=min(PROTOCOL_VERSION, request.protocol_version),
            activity_types=sorted(self._activities),
            max_concurrent=self._max_concurrent,
            session=self._session,
            run_marker=self._run_marker,
            pid=os.getpid(),
            sdk=f"hourglass-activity-worker {__version__} (Python {platform.python_version()})",
        )

    async def Health(self, request, context):
        return pb.HealthResponse(serving=True, running=len(self._running))

    async def Cancel(self, request, context):
        return pb.CancelResponse(found=self._cancel(request.execution_id, request.reason))

    def _cancel(self, execution_id: str, reason: str) -> bool:
        execution = self._running.get(execution_id)
        if execution is None:
            return False
        execution.ctx._cancel(reason or "cancelled")
        if execution.task is not None and self._activities[execution.ctx.info.activity_type].is_async:
            execution.task.cancel()
        return True

    def _start(self, request, emit: Callable[[pb.ExecuteEvent, bool], None]) -> Optional[_Execution]:
        """Starts one execution; its events go to ``emit(event, final)``, the last with
        ``final=True``. Never raises: a bad request is reported as a failure event."""

        def fail(message: str, type_: str) -> None:
            emit(pb.ExecuteEvent(failed=pb.Failure(message=message, type=type_, non_retryable=True)), True)

        info = request.info
        definition = self._activities.get(info.activity_type)
        if definition is None:
            fail(
                f"activity type {info.activity_type!r} is not served by this worker "
                f"(serves: {', '.join(sorted(self._activities))})",
                "NotFoundError",
            )
            return None
        if request.execution_id in self._running:
            fail(f"execution {request.execution_id} is already running", "DuplicateExecution")
            return None
        try:
            args = _converter.decode_all(request.input)
            details = _converter.decode_all(request.heartbeat_details)
        except _converter.PayloadError as e:
            fail(str(e), "PayloadError")
            return None
        ctx = _activity.ActivityContext(
            _info(info),
            details,
            asyncio.get_running_loop(),
            lambda payloads: emit(pb.ExecuteEvent(heartbeat=pb.Heartbeat(details=payloads)), False),
        )
        execution = _Execution(ctx)
        self._running[request.execution_id] = execution
        execution_id = request.execution_id

        def done(task: asyncio.Future) -> None:
            self._running.pop(execution_id, None)
            if task.cancelled():
                # Cancelled before it could report (the stream or session went away).
                emit(pb.ExecuteEvent(cancelled=pb.Cancelled()), True)
            else:
                emit(task.result(), True)

        execution.task = asyncio.ensure_future(self._run(definition, ctx, args))
        execution.task.add_done_callback(done)
        return execution

    async def Execute(self, request, context):
        events: asyncio.Queue = asyncio.Queue()
        execution = self._start(request, lambda event, final: events.put_nowait((event, final)))
        try:
            while True:
                event, final = await events.get()
                yield event
                if final:
                    return
        finally:
            # Also reached when Hourglass drops the stream: the attempt must not run on.
            if execution is not None and execution.task is not None and not execution.task.done():
                execution.ctx._cancel("stream closed")
                execution.task.cancel()

    async def Session(self, request_iterator, context):
        """Many executions over one long-lived stream (no per-call RPC): Execute and Cancel
        requests in, events tagged with their execution id out. When the stream ends, the
        executions it started are cancelled."""
        await context.send_initial_metadata(())
        out: asyncio.Queue = asyncio.Queue()
        mine: Dict[str, _Execution] = {}

        def start(request) -> None:
            execution_id = request.execution_id

            def emit(event: pb.ExecuteEvent, final: bool) -> None:
                if final:
                    mine.pop(execution_id, None)
                out.put_nowait(pb.SessionEvent(execution_id=execution_id, event=event))

            execution = self._start(request, emit)
            if execution is not None and execution.task is not None and not execution.task.done():
                mine[execution_id] = execution

        async def read() -> None:
            try:
                async for request in request_iterator:
                    which = request.WhichOneof("request")
                    if which == "execute":
                        start(request.execute)
                    elif which == "cancel":
                        self._cancel(request.cancel.execution_id, request.cancel.reason)
            finally:
                out.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                event = await out.get()
                if event is None:
                    return
                yield event
        finally:
            reader.cancel()
            for execution in list(mine.values()):
                execution.ctx._cancel("session closed")
                if execution.task is not None:
                    execution.task.cancel()

    async def _run(self, definition: _activity.ActivityDefinition, ctx, args: List) -> pb.ExecuteEvent:
        token = _activity._set_current(ctx)
        try:
            if definition.is_async:
                value = await definition.fn(ctx, *args)
            else:
                cv = contextvars.copy_context()
                value = await asyncio.get_running_loop().run_in_executor(
                    self._threads, lambda: cv.run(definition.fn, ctx, *args)
                )
            result = _converter.encode(value)
            size = len(result.data) + sum(len(k) + len(v) for k, v in result.metadata.items())
            if size > self._max_payload:
                return pb.ExecuteEvent(
                    failed=pb.Failure(
                        message=f"the result of activity {ctx.info.activity_type} is {size} bytes, over the "
                        f"pool's limit of {self._max_payload} bytes (max_payload_bytes); return a reference "
                        "(a path, a URL) instead of the data",
                        type="ExternalPayloadTooLarge",
                        non_retryable=True,
                    )
                )
            return pb.ExecuteEvent(completed=pb.Completed(result=result))
        except asyncio.CancelledError:
            return pb.ExecuteEvent(cancelled=pb.Cancelled())
        except _activity.ActivityCancelledError as e:
            return pb.ExecuteEvent(cancelled=pb.Cancelled(details=_safe_encode(e.details)))
        except _activity.ApplicationError as e:
            return pb.ExecuteEvent(
                failed=pb.Failure(
                    message=e.message,
                    type=e.type or type(e).__name__,
                    non_retryable=e.non_retryable,
                    details=_safe_encode(e.details),
                    stack_trace=traceback.format_exc(),
                    next_retry_delay_ms=max(0, int(e.next_retry_delay_ms)),
                )
            )
        except BaseException as e:  # noqa: BLE001 - every activity error becomes a failure
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return pb.ExecuteEvent(
                failed=pb.Failure(message=str(e) or repr(e), type=type(e).__name__, stack_trace=traceback.format_exc())
            )
        finally:
            _activity._CURRENT.reset(token)

    def cancel_all(self, reason: str) -> None:
        for execution in list(self._running.values()):
            execution.ctx._cancel(reason)
            if execution.task is not None:
                execution.task.cancel()

    def shutdown_threads(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def _safe_encode(values) -> List[pb.Payload]:
    try:
        return _converter.encode_all(values)
    except _converter.PayloadError:
        return []


def _info(i: pb.ActivityInfo) -> _activity.ActivityInfo:
    return _activity.ActivityInfo(
        task_token=bytes(i.task_token),
        activity_id=i.activity_id,
        activity_type=i.activity_type,
        namespace=i.namespace,
        task_queue=i.task_queue,
        workflow_type=i.workflow_type,
        workflow_id=i.workflow_id,
        workflow_run_id=i.workflow_run_id,
        attempt=i.attempt,
        heartbeat_timeout_ms=i.heartbeat_timeout_ms,
        start_to_close_timeout_ms=i.start_to_close_timeout_ms,
        schedule_to_close_timeout_ms=i.schedule_to_close_timeout_ms,
        scheduled_time_ms=i.scheduled_time_ms,
        started_time_ms=i.started_time_ms,
        is_local=i.is_local,
    )


def _write_ready_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"port={port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def serve(
    max_concurrent: int = 1,
    grace: float = 5.0,
    parent_poll_interval: float = 0.5,
    session: bool = True,
) -> int:
    """Serves the registered activities until SIGTERM/SIGINT or the parent's death; returns the exit code."""
    activities = _activity.registered()
    if not activities:
        _log("no activities are registered (decorate functions with @activity and import their module)")
        return 2
    run_marker = os.environ.get("HOURGLASS_RUN_MARKER", "")
    ready_file = os.environ.get("HOURGLASS_READY_FILE")
    parent_gone = _containment.parent_watch()
    if parent_gone():
        _log("parent process is already gone; exiting")
        return 1

    guard = _containment.Guard(_log, parent_gone, parent_poll_interval)
    guard.install()
    if parent_gone():
        # The parent died before the death signal was re-armed.
        guard.die("parent process is already gone")

    servicer = Servicer(activities, max_concurrent, run_marker, session)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ExternalWorkerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    if port == 0:
        _log("could not bind 127.0.0.1:0")
        return 1
    await server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reason = {"why": ""}

    def request_stop(why: str) -> None:
        if not stop.is_set():
            reason["why"] = why
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, signal.Signals(sig).name)

    if ready_file:
        _write_ready_file(ready_file, port)
    print(f"HOURGLASS_READY port={port}", flush=True)
    _log(
        f"serving {', '.join(sorted(activities))} on 127.0.0.1:{port} (max_concurrent={max(1, max_concurrent)}, "
        f"subreaper={'yes' if guard.subreaper else 'no'}, cgroup={os.environ.get('HOURGLASS_CGROUP') or 'none'})"
    )

    await stop.wait()
    _log(f"stopping ({reason['why']}); grace {grace}s")
    stopping = asyncio.ensure_future(server.stop(grace))
    try:
        await asyncio.wait_for(asyncio.shield(stopping), timeout=grace)
    except asyncio.TimeoutError:
        servicer.cancel_all("worker_shutdown")
    await stopping
    servicer.shutdown_threads()
    guard.stop(f"stopping ({reason['why']})")
    _log("stopped")
    return 0


def run(max_concurrent: Optional[int] = None, grace: Optional[float] = None, session: bool = True) -> None:
    """Runs the worker in this process until it is told to stop, then exits the process.

    ``max_concurrent`` defaults to ``HOURGLASS_MAX_CONCURRENT`` or 1; ``grace`` (seconds given to
    running attempts on SIGTERM) to ``HOURGLASS_GRACE_SECONDS`` or 5; ``session=False`` offers no
    Session stream (one Execute call per attempt). With ``HOURGLASS_FORK_SERVER`` set (a pool
    with ``fork_server = true``), this process becomes the pool's fork server instead and each
    worker it forks continues from here (see ``_forkserver``).
    """
    fork_server = os.environ.get(_forkserver.FORK_SERVER_ENV)
    if fork_server:
        # Returns only in a forked worker, whose environment is the worker's own.
        _forkserver.serve_forks(fork_server, float(os.environ.get("HOURGLASS_GRACE_SECONDS", "5") or "5"))
    if max_concurrent is None:
        max_concurrent = int(os.environ.get("HOURGLASS_MAX_CONCURRENT", "1") or "1")
    if grace is None:
        grace = float(os.environ.get("HOURGLASS_GRACE_SECONDS", "5") or "5")
    code = asyncio.run(serve(max_concurrent=max_concurrent, grace=grace, session=session))
    sys.exit(code)
