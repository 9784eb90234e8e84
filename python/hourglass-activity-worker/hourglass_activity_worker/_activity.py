"""Activity definitions: the ``@activity`` decorator, the context and the errors."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import _converter

_REGISTRY: Dict[str, "ActivityDefinition"] = {}
_CURRENT: contextvars.ContextVar["ActivityContext"] = contextvars.ContextVar("hourglass_activity_context")


@dataclasses.dataclass(frozen=True)
class ActivityDefinition:
    """A registered activity: its Temporal type name and the function implementing it."""

    name: str
    fn: Callable[..., Any]
    is_async: bool


def activity(name: Any = None) -> Any:
    """Registers a function as the activity ``name`` (default: the function's name).

    Usable as ``@activity``, ``@activity("TypeName")`` or ``@activity(name="TypeName")``.
    The function receives an :class:`ActivityContext` first, then the decoded inputs::

        @activity("Echo")
        async def echo(ctx, value):
            return value

    ``async def`` functions run on the worker's event loop (cancellation raises
    ``asyncio.CancelledError`` in them); plain functions run in a thread pool (they see
    cancellation through ``ctx.is_cancelled()``). Registering a name twice is an error.
    """

    def register(fn: Callable[..., Any], type_name: Optional[str]) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f"@activity needs a function, got {fn!r}")
        type_name = type_name or fn.__name__
        if not isinstance(type_name, str) or not type_name:
            raise ValueError("an activity name must be a non-empty string")
        if type_name in _REGISTRY and _REGISTRY[type_name].fn is not fn:
            raise ValueError(f"activity type {type_name!r} is registered more than once")
        _REGISTRY[type_name] = ActivityDefinition(type_name, fn, inspect.iscoroutinefunction(fn))
        return fn

    if callable(name):
        return register(name, None)

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        return register(fn, name)

    return decorator


def registered() -> Dict[str, ActivityDefinition]:
    """All registered activities by type name (a copy)."""
    return dict(_REGISTRY)


@dataclasses.dataclass(frozen=True)
class ActivityInfo:
    """What an activity attempt knows about itself."""

    task_token: bytes
    activity_id: str
    activity_type: str
    namespace: str
    task_queue: str
    workflow_type: str
    workflow_id: str
    workflow_run_id: str
    attempt: int
    heartbeat_timeout_ms: int
    start_to_close_timeout_ms: int
    schedule_to_close_timeout_ms: int
    scheduled_time_ms: int
    started_time_ms: int
    is_local: bool


class ApplicationError(Exception):
    """Raise to fail the attempt with a chosen type, retryability and details."""

    def __init__(
        self,
        message: str,
        *details: Any,
        type: Optional[str] = None,
        non_retryable: bool = False,
        next_retry_delay_ms: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.type = type
        self.non_retryable = non_retryable
        self.next_retry_delay_ms = next_retry_delay_ms


class ActivityCancelledError(Exception):
    """Raise (from a sync activity) to report the attempt as cancelled, with optional details."""

    def __init__(self, *details: Any) -> None:
        super().__init__("activity cancelled")
        self.details = details


class ActivityContext:
    """The running attempt: info, heartbeats, cancellation. Safe to use from any thread."""

    def __init__(
        self,
        info: ActivityInfo,
        heartbeat_details: List[Any],
        loop: asyncio.AbstractEventLoop,
        send_heartbeat: Callable[[list], None],
    ) -> None:
        self._info = info
        self._heartbeat_details = heartbeat_details
        self._loop = loop
        self._send_heartbeat = send_heartbeat
        self._cancelled = threading.Event()
        self._cancelled_async = asyncio.Event()
        self.cancel_reason: Optional[str] = None

    @property
    def info(self) -> ActivityInfo:
        """Information about this attempt."""
        return self._info

    @property
    def heartbeat_details(self) -> List[Any]:
        """Decoded details of the last heartbeat of a previous attempt (empty on a first try)."""
        return list(self._heartbeat_details)

    def heartbeat(self, *details: Any) -> None:
        """Records a heartbeat with ``details`` (encoded now; sent to Hourglass, then Temporal)."""
        payloads = _converter.encode_all(details)
        if _on_loop(self._loop):
            self._send_heartbeat(payloads)
        else:
            self._loop.call_soon_threadsafe(self._send_heartbeat, payloads)

    def is_cancelled(self) -> bool:
        """True once cancellation has been requested."""
        return self._cancelled.is_set()

    async def wait_cancelled(self) -> None:
        """Waits (on the worker's event loop) until cancellation is requested."""
        await self._cancelled_async.wait()

    def _cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self._cancelled.set()
        self._cancelled_async.set()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def current() -> ActivityContext:
    """The context of the activity attempt running in this task or thread."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError("not inside an activity") from None


def _set_current(ctx: ActivityContext) -> contextvars.Token:
    return _CURRENT.set(ctx)


def _names(defs: Sequence[ActivityDefinition]) -> List[str]:
    return sorted(d.name for d in defs)
