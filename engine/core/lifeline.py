"""A run's helper processes exit within seconds when their coordinator dies, ``kill -9`` included.

Workers and the progress manager are children of the coordinator (``juxta run`` or the app). If it
is killed they are orphaned and would live on for minutes (loky's idle timeout) or for ever (the
manager), holding memory. Each one calls ``exit_with(coordinator_pid)`` when it starts: a daemon
thread polls the parent and ends the process with ``os._exit`` once it is gone. The resource
trackers of loky and multiprocessing then see their last peers gone and exit by themselves.

Linux's ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that started the child ends,
and the app starts workers from a run thread that ends while loky keeps the workers for the next run.
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_S = 0.5
_watched: set[int] = set()
_lock = threading.Lock()


def exit_with(coordinator_pid: int, poll_s: float = POLL_S) -> None:
    """End this process soon after ``coordinator_pid`` is gone. Once per process and pid; cheap to repeat."""
    if sys.platform == "win32":
        return  # a Windows child's getppid() does not change when its parent dies: no safe, cheap check
    with _lock:
        if coordinator_pid in _watched or coordinator_pid == os.getpid():
            return
        _watched.add(coordinator_pid)
    direct = os.getppid() == coordinator_pid
    threading.Thread(target=_watch, args=(coordinator_pid, direct, poll_s), name="juxta-lifeline", daemon=True).start()


def _watch(pid: int, direct: bool, poll_s: float) -> None:
    while parent_alive(pid, direct):
        time.sleep(poll_s)
    os._exit(70)  # nothing here is worth saving: an unwritten cell is recomputed on resume


def parent_alive(pid: int, direct: bool) -> bool:
    """For a direct child, whether it still has that parent (an orphan is re-parented, so a reused pid
    cannot fool it); otherwise whether a process with that pid exists."""
    if direct:
        return os.getppid() == pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True
