"""How long a run has left, from the durations of the cells it has already finished.

One estimator for every display (CLI progress bar, the app's Run page and status bar), fed by the
coordinator. Cells of different kinds cost very different amounts (training a model against
evaluating it under one condition), so the work left is summed per group of cells:

    work left   = Σ_group cells_left(group) × mean_duration(group) − work already done on running cells
    parallelism = (Σ finished durations + time spent so far on running cells) / wall time so far
    time left   = work left / parallelism

A group is a cell kind and a model (``("eval", "vit")``): models differ in cost. A group with no
finished cell yet borrows the mean of its kind; a kind with none is unknown, and so is the
estimate (``None``: "estimating…"). Parallelism is measured, not assumed from the worker count:
it absorbs start-up, the single writer and other load on the machine.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Callable, Hashable, Iterable

Group = tuple[str, Hashable]  # (cell kind, finer key such as the model id)


class RemainingTime:
    """Remaining wall time of a run. Thread-safe: the coordinator and its progress pump both feed it."""

    def __init__(self, planned: Iterable[Group], workers: int, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._t0 = clock()
        self._workers = max(1, workers)
        self._left: Counter[Group] = Counter(planned)
        self._sums: defaultdict[Group, float] = defaultdict(float)
        self._counts: Counter[Group] = Counter()
        self._running: dict[Hashable, tuple[Group, float]] = {}  # cell key -> (group, start)
        self._ended: set[Hashable] = set()
        self._busy = 0.0  # summed durations of finished cells
        self._lock = threading.Lock()

    def started(self, key: Hashable, group: Group) -> None:
        """A cell began on a worker: the time it runs counts as work in progress. (Its start may be
        reported after its result: both travel on different channels.)"""
        with self._lock:
            if key not in self._ended:
                self._running[key] = (group, self._clock())

    def finished(self, key: Hashable, group: Group, duration_s: float) -> None:
        """A cell was computed (done or failed) in ``duration_s`` seconds of worker time."""
        with self._lock:
            self._running.pop(key, None)
            self._ended.add(key)
            self._left[group] -= 1
            self._sums[group] += duration_s
            self._counts[group] += 1
            self._busy += duration_s

    def dropped(self, key: Hashable, group: Group) -> None:
        """A cell will not run (blocked by a failed dependency, cancelled): it costs nothing more."""
        with self._lock:
            self._running.pop(key, None)
            self._ended.add(key)
            self._left[group] -= 1

    def seconds_left(self) -> float | None:
        """Estimated wall seconds until the last cell finishes; ``None`` while a kind still to run has
        no finished cell to learn from."""
        with self._lock:
            now = self._clock()
            work = 0.0
            for group, n in self._left.items():
                if n <= 0:
                    continue
                mean = self._mean(group)
                if mean is None:
                    return None
                work += n * mean
            in_progress = 0.0
            for group, start in self._running.values():
                mean = self._mean(group)
                spent = now - start
                in_progress += spent
                work -= min(spent, mean) if mean is not None else 0.0
            if work <= 0:
                return 0.0
            wall = now - self._t0
            if wall <= 0 or self._busy + in_progress <= 0:
                return None
            parallelism = min(float(self._workers), (self._busy + in_progress) / wall)
            return work / parallelism

    def _mean(self, group: Group) -> float | None:
        if self._counts[group]:
            return self._sums[group] / self._counts[group]
        kind = group[0]
        n = sum(c for g, c in self._counts.items() if g[0] == kind)
        if not n:
            return None
        return sum(s for g, s in self._sums.items() if g[0] == kind) / n
