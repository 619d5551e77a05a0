"""Device placement: CUDA if present (one worker per GPU), then Apple MPS, then CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache

def _probe_here() -> tuple[list[str], list[str]]:
    import torch

    cuda = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = ["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else []
    return cuda, mps


@lru_cache(maxsize=1)
def _probe() -> tuple[list[str], list[str]]:
    """Ask torch which accelerators exist. A process that has not imported torch (the GUI, the
    coordinator) asks a short-lived subprocess: importing torch holds the GIL for seconds, which
    would freeze a window's event loop."""
    if "torch" not in sys.modules:
        code = "import json, engine.core.device as d; print(json.dumps(d._probe_here()))"
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
            cuda, mps = json.loads(out.stdout.strip().splitlines()[-1])
            return cuda, mps
        except (subprocess.SubprocessError, OSError, ValueError, IndexError):
            pass  # fall back to asking torch in this process
    return _probe_here()


def available_devices(preference: str = "auto") -> list[str]:
    """Devices cells may run on, best first."""
    cuda, mps = _probe()
    if preference == "cpu":
        return ["cpu"]
    if preference == "cuda":
        return cuda or ["cpu"]
    if preference == "mps":
        return mps or ["cpu"]
    return cuda or mps or ["cpu"]


def default_workers(devices: list[str]) -> int:
    """One worker per GPU; on CPU, one per core up to 8 (each with its own torch threads)."""
    if devices[0].startswith("cuda"):
        return len(devices)
    return max(1, min(8, os.cpu_count() or 1))


def configure_worker_threads(workers: int) -> None:
    """Split the cores between workers so they do not oversubscribe the CPU."""
    import torch

    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
