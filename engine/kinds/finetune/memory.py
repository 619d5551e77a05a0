"""Peak memory of one training run, measured the way the device allows, and labelled so.

* CUDA: the peak of memory allocated by PyTorch on the device during the run
  (``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``).
* CPU on Linux: the process's peak resident memory during the run: the kernel's high-water mark
  (VmHWM) is reset when the run starts (``/proc/self/clear_refs``, value 5) and read when it ends.
  It includes everything the process holds (Python, libraries, data), so the start value is kept
  too; ``added_bytes`` is what the run added.
* elsewhere: the process's lifetime peak resident memory (``getrusage``), labelled as such; 0 where
  the platform has no ``resource`` module (Windows).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class PeakMemory:
    peak_bytes: int
    start_bytes: int
    kind: str  # "cuda allocated" | "process resident (run)" | "process resident (lifetime)"

    @property
    def added_bytes(self) -> int:
        return max(0, self.peak_bytes - self.start_bytes)

    @property
    def label(self) -> str:
        return {
            "cuda allocated": "peak GPU memory allocated by PyTorch",
            "process resident (run)": "peak process memory during the run",
            "process resident (lifetime)": "peak process memory since the process started",
        }[self.kind]


class MemoryMeter:
    """``with MemoryMeter(device) as m: ...`` then ``m.result``."""

    def __init__(self, device: str):
        self.device = device
        self.result: PeakMemory | None = None
        self._start = 0
        self._kind = ""

    def __enter__(self) -> "MemoryMeter":
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = int(torch.cuda.memory_allocated(self.device))
            self._kind = "cuda allocated"
        elif _reset_high_water_mark():
            self._start = _status_bytes("VmRSS")
            self._kind = "process resident (run)"
        else:
            self._start = _lifetime_peak()
            self._kind = "process resident (lifetime)"
        return self

    def __exit__(self, *exc) -> None:
        if self._kind == "cuda allocated":
            import torch

            peak = int(torch.cuda.max_memory_allocated(self.device))
        elif self._kind == "process resident (run)":
            peak = _status_bytes("VmHWM")
        else:
            peak = _lifetime_peak()
        self.result = PeakMemory(peak, self._start, self._kind)


def _reset_high_water_mark() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return _status_bytes("VmHWM") > 0
    except OSError:
        return False


def _status_bytes(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # kB
    return 0


def _lifetime_peak() -> int:
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, kB elsewhere
