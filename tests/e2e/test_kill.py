"""Killing the coordinator with SIGKILL leaves no process behind: workers, the progress manager and
the resource trackers exit within seconds (issue 8, item 24)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import write_study

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of one process is a POSIX test")


def _alive(pids: list[int]) -> list[str]:
    """Processes among ``pids`` still running (a zombie has exited; only its parent's bookkeeping is left)."""
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return out


# The app runs the coordinator in a thread of its own process; so does this stand-in.
RUN_IN_A_THREAD = """
import sys, threading
from engine import open_project
t = threading.Thread(target=open_project(sys.argv[1]).run, args=("mini",), kwargs={"workers": 2})
t.start()
t.join()
"""


@pytest.mark.parametrize("coordinator", ["cli", "thread"])
def test_sigkill_of_the_coordinator_takes_every_child_with_it(project_dir, coordinator):
    write_study(project_dir, severities=(1, 2, 3, 4, 5), seeds=(0, 1, 2), backend="loky",
                corruptions=("gaussian_noise", "contrast", "rotate", "fog"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if coordinator == "cli":
        command = ["-m", "app.cli", "run", str(project_dir), "--quiet", "--workers", "2"]
    else:
        command = ["-c", RUN_IN_A_THREAD, str(project_dir)]
    proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        coordinator = psutil.Process(proc.pid)
        deadline = time.time() + 120
        children: list[psutil.Process] = []
        while time.time() < deadline:  # cells are running: two workers exist and a model has been saved
            children = coordinator.children(recursive=True)
            workers = [c for c in children if "loky" in " ".join(c.cmdline())]
            if len(workers) >= 2 and list((project_dir / "artifacts" / "models").glob("*.safetensors")):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the run did not start its workers: {[c.cmdline() for c in children]}")
        time.sleep(1.0)
        pids = [c.pid for c in coordinator.children(recursive=True)]
        assert len(pids) >= 3  # two workers and the progress manager at least
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator only, not its process group
        proc.wait(30)
        killed_at = time.time()
        while _alive(pids) and time.time() < killed_at + 10:
            time.sleep(0.25)
        print(f"children gone {time.time() - killed_at:.1f} s after the kill")
        left = _alive(pids)
        assert left == [], f"children outlived their coordinator by 10 s: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids if "pids" in locals() else []:  # never leave strays behind, whatever failed
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
