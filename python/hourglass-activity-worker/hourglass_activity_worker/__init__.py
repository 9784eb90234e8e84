"""Implement Temporal activities in Python and serve them to Hourglass.

Define activities with :func:`activity`, then run the worker, either from your own script::

    from hourglass_activity_worker import activity, run

    @activity("Echo")
    async def echo(ctx, value):
        ctx.heartbeat("working")
        return value

    if __name__ == "__main__":
        run()

or with ``python -m hourglass_activity_worker my_module``. Hourglass starts and supervises
the process (see ``[[pools]]`` in ``hourglass.toml``).
"""

from ._activity import (
    ActivityCancelledError,
    ActivityContext,
    ActivityInfo,
    ApplicationError,
    activity,
    current,
    registered,
)
from ._converter import PayloadError, RawPayload
from ._server import PROTOCOL_VERSION, __version__, run, serve

__all__ = [
    "ActivityCancelledError",
    "ActivityContext",
    "ActivityInfo",
    "ApplicationError",
    "PROTOCOL_VERSION",
    "PayloadError",
    "RawPayload",
    "__version__",
    "activity",
    "current",
    "registered",
    "run",
    "serve",
]
