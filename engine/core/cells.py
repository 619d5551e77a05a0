"""Cells and plans: the unit of work, the key that makes a finished cell reusable, and the wrapper
every work function runs in.

A cell's key hashes everything its result depends on: its type, the compute version of that type and
its spec (which holds the fingerprints of its inputs). A key that finished once is never computed
again. A work function is a plain module-level function ``work(cell, ctx) -> CellResult`` (a kind
maps each of its cell types to one); ``execute_cell`` runs it and always returns a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.core.errors import CancelledError, JuxtaError, Problem
from engine.core.store import CellResult

WorkFunction = Callable[["Cell", "CellContext"], CellResult]


@dataclass
class Cell:
    """One unit of work. ``spec`` is hashed into ``key``; ``inputs`` is filled at dispatch time.

    ``type`` is global (a kind's own types carry its prefix, "ft.train"; shift's are "train" and
    "eval"). ``axes`` holds what charts group by, kind-specific (shift: family and severity).
    ``depends_on`` names the cells that must finish first; their saved artifacts reach the cell as
    ``inputs["artifacts"]`` (dependency key -> path inside the project).
    """

    key: str
    study: str
    type: str
    arm: str
    condition: str
    seed: int
    spec: dict[str, Any]
    axes: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """'cnn · gaussian_noise/3 · seed 0': arm, condition and seed, for progress lines and errors."""
        return f"{self.arm} · {self.condition} · seed {self.seed}"


@dataclass
class Plan:
    """A study's cells, plus what validation found worth saying that does not stop a run (``warnings``).

    ``summary`` is one line for ``juxta validate`` ("576 evaluation cells and 9 training cells; test
    split 360 examples"). A kind may subclass Plan to keep what its checks need (shift: the datasets).
    """

    study: Any  # the kind's spec (an engine.core.header.StudyFile)
    cells: list[Cell]
    warnings: list[Problem] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def of_type(self, cell_type: str) -> list[Cell]:
        return [c for c in self.cells if c.type == cell_type]


def cell_key(cell_type: str, version: int, spec: dict[str, Any]) -> str:
    """The content key of a cell: sha256 of its type, compute version and spec (first 32 hex digits).

    The JSON names the type "kind", as it did before cell types had that name, so existing results keep
    their keys."""
    blob = json.dumps({"kind": cell_type, "version": version, "spec": spec}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class CellContext:
    """What a work function gets from its runner: device, project folder, progress and cancellation."""

    device: str = "cpu"
    root: Path = Path(".")
    progress_fn: Callable[[str, float, str], None] | None = None
    cancel_file: str | None = None
    curve_fn: Callable[[str, int, str, float], None] | None = None
    cell_key: str = ""
    _last_check: float = field(default=0.0, repr=False)
    _cancelled: bool = field(default=False, repr=False)

    def progress(self, fraction: float, note: str = "") -> None:
        if self.progress_fn is not None:
            try:
                self.progress_fn(self.cell_key, float(fraction), note)
            except Exception:  # progress is best effort; a broken queue must not fail the cell
                self.progress_fn = None

    def curve(self, step: int, series: str, value: float) -> None:
        """Send one point of a learning curve (step, series name, value) to whoever watches the run, as it
        is measured (the coordinator turns it into a ``cell_curve`` event). Best effort, like progress; the
        cell still returns its whole curves in its result, which is what the database keeps."""
        if self.curve_fn is not None:
            try:
                self.curve_fn(self.cell_key, int(step), str(series), float(value))
            except Exception:  # a broken queue must not fail the cell
                self.curve_fn = None

    def cancelled(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if self.cancel_file and now - self._last_check > 0.05:
            self._last_check = now
            self._cancelled = os.path.exists(self.cancel_file)
        return self._cancelled


def execute_cell(cell: Cell, ctx: CellContext, work: WorkFunction) -> CellResult:
    """Run ``work`` on a cell and always return a result: done, failed (with a message) or cancelled."""
    started = time.time()
    t0 = time.perf_counter()
    ctx.cell_key = cell.key
    try:
        _reset_peak(ctx.device)
        result = work(cell, ctx)
        result.status = "done"
    except CancelledError:
        result = CellResult(cell.key, "cancelled")
    except JuxtaError as exc:
        result = CellResult(cell.key, "failed", error=str(exc))
    except MemoryError:
        result = CellResult(cell.key, "failed", error="The cell ran out of memory; lower execution.batch_size or use a smaller model.")
    except Exception as exc:  # any other bug or library error: record it, keep the others going
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "out of memory" in msg.lower():
            msg = "The device ran out of memory; lower execution.batch_size or run on another device."
        result = CellResult(cell.key, "failed", error=f"{type(exc).__name__}: {msg}"[:2000], traceback=traceback.format_exc())
    result.started = started
    result.duration_s = time.perf_counter() - t0
    result.device = ctx.device
    result.peak_mem_mb = _peak_mb(ctx.device)
    return result


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
