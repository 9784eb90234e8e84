"""The fork server ("zygote") of a pool: one process imports the package, gRPC and the activity
modules once, then forks a worker for each request, so a pool of 100 workers pays for the
imports once instead of 100 times.

Hourglass starts it like a worker, with ``HOURGLASS_FORK_SERVER=<socket path>`` in its
environment. It listens on that Unix socket (bound under a temporary name, then renamed, so the
path appearing means it is ready) and speaks one JSON object per line:

- Hourglass → server: ``{"op": "fork", "env": {...}}`` (once per connection), then
  ``{"op": "signal", "signal": N}`` as often as needed (sent to the worker's process group, only
  while the worker has not been reaped, so a reused pid is never signalled);
- server → Hourglass: ``{"pid": N}`` or ``{"error": "..."}``, and later ``{"exit": code}`` when
  the worker has exited (negative: killed by that signal); then the server closes the connection.

Guarantees:
- the server runs no thread and no event loop when it forks (imports only; the child starts its
  gRPC server itself), so the child inherits no lock held by another thread;
- each child gets its own process group (set by both sides of the fork, so a signal to the group
  works as soon as the pid is reported), the worker environment of its request (set around the
  fork, so ``os.register_at_fork`` hooks see it), a re-seeded ``random``, the parent-death signal
  (it dies with the server) and then serves as an ordinary worker (subreaper, SIGHUP on the
  server's death, see ``_containment``);
- a worker whose connection closes (Hourglass lost it) is SIGKILLed; when the server stops
  (SIGTERM, or its parent is gone) it stops its remaining workers; it dies with Hourglass
  (parent-death signal SIGKILL), and its workers die with it.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Dict, Optional

from . import _containment

#: Seconds a worker whose Hourglass connection closed has to kill its descendants and exit.
DOOMED_GRACE = 2.0

FORK_SERVER_ENV = "HOURGLASS_FORK_SERVER"


def _log(msg: str) -> None:
    print(f"hourglass-activity-worker[{os.getpid()}] fork server: {msg}", file=sys.stderr, flush=True)


class _Conn:
    """One Hourglass connection: at most one worker."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.pid: Optional[int] = None

    def send(self, message: dict) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(json.dumps(message).encode() + b"\n")
            self.sock.setblocking(False)
        except OSError:
            pass


class _Server:
    def __init__(self, path: str) -> None:
        self.path = path
        self.zygote = os.getpid()
        self.sel = selectors.DefaultSelector()
        self.conns: Dict[socket.socket, _Conn] = {}
        self.workers: Dict[int, Optional[_Conn]] = {}
        # Workers told to die (SIGHUP) whose group is SIGKILLed at the deadline if still there.
        self.doomed: Dict[int, float] = {}
        self.stopping: Optional[str] = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(tmp)
        self.listener.listen(1024)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self._stop(signal.Signals(signum).name))
        os.replace(tmp, path)

    def _stop(self, why: str) -> None:
        if self.stopping is None:
            self.stopping = why

    def _close(self, conn: _Conn) -> None:
        self.conns.pop(conn.sock, None)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            conn = _Conn(sock)
            self.conns[sock] = conn
            self.sel.register(sock, selectors.EVENT_READ, "conn")

    def _read(self, conn: _Conn) -> Optional[dict]:
        """Handles what arrived on ``conn``; returns the request if this process is a new child."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:
            # Hourglass closed the connection: the worker it watched must not outlive that.
            # SIGHUP first, the worker's parent-death path, so that it kills its own
            # descendants (a setsid() grandchild is outside its group); SIGKILL if it lingers.
            # When Hourglass was SIGKILLed this EOF comes before this server's own death.
            if conn.pid is not None and conn.pid in self.workers:
                self.workers[conn.pid] = None
                try:
                    os.kill(conn.pid, signal.SIGHUP)
                except OSError:
                    pass
                self.doomed[conn.pid] = time.monotonic() + DOOMED_GRACE
            self._close(conn)
            return None
        conn.buf += data
        while b"\n" in conn.buf:
            line, conn.buf = conn.buf.split(b"\n", 1)
            try:
                request = json.loads(line)
            except ValueError as e:
                conn.send({"error": f"bad request: {e}"})
                continue
            op = request.get("op") if isinstance(request, dict) else None
            if op == "fork":
                if conn.pid is not None:
                    conn.send({"error": "this connection already has a worker"})
                elif self._fork(conn, request.get("env") or {}):
                    return request
            elif op == "signal":
                if conn.pid is not None and conn.pid in self.workers:
                    _killpg(conn.pid, int(request.get("signal", signal.SIGKILL)))
            else:
                conn.send({"error": f"unknown request {op!r}"})
        return None

    def _fork(self, conn: _Conn, env: dict) -> bool:
        """Forks a worker with ``env``; True in the child."""
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update({str(k): str(v) for k, v in env.items()})
        try:
            pid = os.fork()
        except OSError as e:
            _restore(saved)
            conn.send({"error": f"fork failed: {e}"})
            return False
        if pid == 0:
            self._become_worker()
            return True
        _restore(saved)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child already did it, or already exited (its exit is reported)
        conn.pid = pid
        self.workers[pid] = conn
        conn.send({"pid": pid})
        return False

    def _become_worker(self) -> None:
        """In the child: drop everything of the server, then set up as a worker."""
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        self.sel.close()
        self.listener.close()
        for sock in list(self.conns):
            sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        os.environ.pop(FORK_SERVER_ENV, None)
        random.seed()
        # Die with the server; the worker re-arms this to SIGHUP once it can act on it.
        _containment.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != self.zygote:
            os._exit(1)

    def _kill_doomed(self) -> None:
        now = time.monotonic()
        for pid, deadline in list(self.doomed.items()):
            if pid not in self.workers:
                del self.doomed[pid]
            elif now >= deadline:
                _killpg(pid, signal.SIGKILL)
                del self.doomed[pid]

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.workers.pop(pid, None)
            if conn is not None:
                conn.send({"exit": os.waitstatus_to_exitcode(status)})
                self._close(conn)

    def serve(self, parent_gone) -> Optional[dict]:
        """The server loop; returns the request in a forked child, None when the server stops."""
        while self.stopping is None:
            for key, _ in self.sel.select(timeout=0.5):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    try:
                        while os.read(self.wake_r, 4096):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass
                else:
                    conn = self.conns.get(key.fileobj)
                    if conn is not None:
                        request = self._read(conn)
                        if request is not None:
                            return request
            self._reap()
            self._kill_doomed()
            if parent_gone():
                self._stop("parent process gone")
        return None

    def shutdown(self, grace: float) -> None:
        """Stops the remaining workers: SIGTERM, ``grace`` seconds, SIGKILL; reaps them."""
        try:
            os.unlink(self.path)
        except OSError:
            pass
        if self.workers:
            _log(f"stopping {len(self.workers)} worker(s) ({self.stopping})")
        for pid in list(self.workers):
            _killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.workers and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        for pid in list(self.workers):
            _killpg(pid, signal.SIGKILL)
        while self.workers:
            self._reap()
            time.sleep(0.005)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _restore(saved: dict) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def serve_forks(path: str, grace: float) -> None:
    """Runs the fork server on the Unix socket ``path``. Returns only in a forked worker, which
    then serves as an ordinary worker; the server itself exits the process when it stops."""
    if threading.active_count() > 1:
        _log(f"warning: {threading.active_count()} threads run at fork time (an import started them)")
    parent_gone = _containment.parent_watch()

    try:
        server = _Server(path)
    except OSError as e:
        _log(f"cannot listen on {path}: {e}")
        os._exit(1)
    _log(f"ready on {path}")
    request = server.serve(parent_gone)
    if request is not None:
        return
    server.shutdown(grace)
    _log(f"stopped ({server.stopping})")
    sys.stdout.flush()
    os._exit(0)
