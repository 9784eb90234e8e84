"""``python -m hourglass_activity_worker MODULE [MODULE ...]``: import the modules that define
activities, then serve them."""

import argparse
import importlib
import os
import sys


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="hourglass-activity-worker", description=__doc__)
    parser.add_argument("modules", nargs="+", help="modules defining @activity functions")
    parser.add_argument("--max-concurrent", type=int, default=None, help="attempts run at once (default 1)")
    parser.add_argument("--grace", type=float, default=None, help="seconds given to running attempts on SIGTERM")
    parser.add_argument("--path", action="append", default=[], help="directory added to sys.path")
    parser.add_argument("--run-marker", default=None, help="run marker (default: HOURGLASS_RUN_MARKER)")
    parser.add_argument(
        "--no-session",
        action="store_true",
        help="do not offer the Session stream (Hourglass then makes one Execute call per attempt)",
    )
    args = parser.parse_args(argv)
    if args.run_marker is not None:
        os.environ["HOURGLASS_RUN_MARKER"] = args.run_marker
    sys.path[:0] = args.path or [os.getcwd()]
    for name in args.modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - report any import failure clearly
            print(f"hourglass-activity-worker: cannot import module {name!r}: {e!r}", file=sys.stderr, flush=True)
            sys.exit(2)
    from ._server import run

    run(max_concurrent=args.max_concurrent, grace=args.grace, session=not args.no_session)


if __name__ == "__main__":
    main()
