"""No process an activity starts outlives the worker (Linux; elsewhere these are no-ops).

- The worker is a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): when a process it started
  exits, that process's orphans — a grandchild that called ``setsid()``, a double-forked daemon —
  are re-parented to the worker instead of to init, so the worker can still find them: they are
  its descendants in ``/proc``.
- Hourglass starts the worker with ``PR_SET_PDEATHSIG = SIGKILL``; the worker re-arms it to
  ``SIGHUP`` so that, when Hourglass dies (even by SIGKILL), it can act: it SIGKILLs all its
  descendants, logs them, and exits. A watchdog thread does the same if the parent changes or
  ``HOURGLASS_PARENT_PID`` disappears (so a blocked event loop cannot stop the cleanup).
- On a normal stop (SIGTERM) the worker kills the descendants left once its activities ended.
- Where Hourglass put the worker in a cgroup v2 (``HOURGLASS_CGROUP``), dying also writes its
  ``cgroup.kill``, which kills whatever is left in the cgroup, the worker last.
- Adopted orphans that exit become zombies of the worker; a zombie child older than
  ``ZOMBIE_REAP_AFTER`` seconds is reaped (an activity's own child is normally waited for long
  before that).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ZOMBIE_REAP_AFTER = 30.0
LINUX = sys.platform.startswith("linux")


def _prctl(option: int, arg: int) -> bool:
    if not LINUX:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Makes this process the reaper of its descendants' orphans; False if not supported."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(sig: int) -> bool:
    """Asks the kernel to send ``sig`` to this process when its parent dies."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def _stat(pid: str) -> Optional[tuple]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ')'.
    head, _, rest = stat.rpartition(")")
    fields = rest.split()
    if len(fields) < 2:
        return None
    return head.partition("(")[2], fields[0], int(fields[1])


def _processes() -> Dict[int, tuple]:
    """pid -> (comm, state, ppid) of every process in /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if name.isdigit():
            st = _stat(name)
            if st is not None:
                table[int(name)] = st
    return table


def descendants(root: Optional[int] = None, table: Optional[Dict[int, tuple]] = None) -> List[int]:
    """Pids of the live (non-zombie) descendants of ``root`` (default: this process)."""
    root = os.getpid() if root is None else root
    table = _processes() if table is None else table
    children: Dict[int, List[int]] = {}
    for pid, (_, _, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child != root:
                found.append(child)
                todo.append(child)
    return [p for p in found if table[p][1] not in ("Z", "X")]


def kill_descendants(log: Callable[[str], None], why: str) -> List[int]:
    """SIGKILLs every descendant (rescanning until none is left, so a fork in between is caught
    too), reaps the worker's own children, and logs what was killed."""
    killed: Dict[int, str] = {}
    for _ in range(50):
        table = _processes()
        pids = descendants(table=table)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.setdefault(pid, table[pid][0])
            except OSError:
                pass
        _reap_children(0.0)
        time.sleep(0.005)
    _reap_children(0.0)
    if killed:
        listed = ", ".join(f"{pid} ({comm})" for pid, comm in sorted(killed.items()))
        log(f"{why}: killed {len(killed)} descendant process(es): {listed}")
    return sorted(killed)


_zombie_since: Dict[int, float] = {}


def _reap_children(older_than: float) -> None:
    """Reaps this process's zombie children that have been zombies for ``older_than`` seconds."""
    if not LINUX:
        return
    me, now = os.getpid(), time.monotonic()
    table = _processes()
    zombies = {pid for pid, (_, state, ppid) in table.items() if ppid == me and state == "Z"}
    for pid in list(_zombie_since):
        if pid not in zombies:
            del _zombie_since[pid]
    for pid in zombies:
        first = _zombie_since.setdefault(pid, now)
        if now - first >= older_than:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            _zombie_since.pop(pid, None)


def kill_own_cgroup() -> None:
    """Writes ``cgroup.kill`` of the cgroup Hourglass put this worker in (kills this process too)."""
    cgroup = os.environ.get("HOURGLASS_CGROUP")
    if not cgroup:
        return
    try:
        with open(os.path.join(cgroup, "cgroup.kill"), "w") as f:
            f.write("1")
    except OSError:
        pass


def parent_watch() -> Callable[[], bool]:
    """A test of whether this process's parent is gone, as of now: its parent pid changed, or
    the pid Hourglass named in ``HOURGLASS_PARENT_PID`` no longer exists."""
    expected_parent = None
    if os.environ.get("HOURGLASS_PARENT_PID", "").isdigit():
        expected_parent = int(os.environ["HOURGLASS_PARENT_PID"])
    original_ppid = os.getppid()

    def parent_gone() -> bool:
        if os.getppid() != original_ppid:
            return True
        if expected_parent is not None:
            try:
                os.kill(expected_parent, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
        return False

    return parent_gone


class Guard:
    """Installs the subreaper, the parent-death signal and the watchdog thread."""

    def __init__(self, log: Callable[[str], None], parent_gone: Callable[[], bool], poll_interval: float) -> None:
        self._log = log
        self._parent_gone = parent_gone
        self._poll_interval = poll_interval
        self._dying = threading.Lock()
        self._stopped = threading.Event()
        self.subreaper = False

    def install(self) -> None:
        """Call once, from the main thread, before serving."""
        self.subreaper = become_subreaper()
        if LINUX:
            signal.signal(signal.SIGHUP, lambda signum, frame: self.die("parent process died (SIGHUP)"))
            set_parent_death_signal(signal.SIGHUP)
        threading.Thread(target=self._watch, name="hourglass-parent-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopped.wait(self._poll_interval):
            if self._parent_gone():
                self.die("parent process gone")
            _reap_children(ZOMBIE_REAP_AFTER)

    def die(self, why: str) -> None:
        """Kills every descendant and exits at once (from any thread or a signal handler)."""
        if not self._dying.acquire(blocking=False):
            return
        try:
            kill_descendants(self._log, why)
            self._log(f"{why}; exiting")
            kill_own_cgroup()
        finally:
            os._exit(1)

    def stop(self, log_why: str) -> List[int]:
        """Normal stop: ends the watchdog and kills the descendants still running."""
        self._stopped.set()
        return kill_descendants(self._log, log_why)
