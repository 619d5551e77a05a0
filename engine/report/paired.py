"""Paired comparisons of two arms for reports: every arm's per-example correctness read once.

Kind-neutral: it compares arms on the finished cells of one cell type, condition by condition.
"""

from __future__ import annotations

import numpy as np

from engine.core import queries as Q
from engine.core.errors import JuxtaError
from engine.stats import PairedComparison, paired_comparison


class PairedPredictions:
    """Per-example correctness of every finished cell of ``cell_type`` in a study, read once, for paired
    comparisons.

    Computes what ``paired_comparison`` gives on two arms' predictions joined on seed and position,
    with the pairs always in (seed, position) order: the paired bootstrap depends on the order of the
    pairs, so a fixed order makes the report's intervals reproducible run after run. One query serves
    all comparisons.
    """

    def __init__(self, store, study: str, cell_type: str = "eval"):
        self.study = study
        preds = Q.predictions(store, study, cell_type, ("correct",), order=("arm", "condition", "seed", "position"))
        self.groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        if preds.empty:
            return
        keys = (preds.seed.to_numpy(np.int64) << 32) + preds.position.to_numpy(np.int64)
        correct = preds.correct.to_numpy(bool)
        arm = preds.arm.to_numpy(object)
        cond = preds.condition.to_numpy(object)
        change = np.flatnonzero((arm[1:] != arm[:-1]) | (cond[1:] != cond[:-1])) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(preds)]])
        for s, e in zip(starts, ends):
            self.groups[(str(arm[s]), str(cond[s]))] = (keys[s:e], correct[s:e])

    def compare(self, arm_a: str, arm_b: str, condition: str = "clean", n_resamples: int = 1000, seed: int = 0,
                level: float = 0.95) -> PairedComparison:
        a = self.groups.get((arm_a, condition))
        b = self.groups.get((arm_b, condition))
        if a is None or b is None:
            raise JuxtaError(f"No shared examples for '{arm_a}' and '{arm_b}' under condition '{condition}' in study "
                             f"'{self.study}'.")
        _common, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
        if len(ia) == 0:
            raise JuxtaError(f"No shared examples for '{arm_a}' and '{arm_b}' under condition '{condition}' in study "
                             f"'{self.study}'.")
        return paired_comparison(a[1][ia], b[1][ib], n_resamples=n_resamples, seed=seed, level=level)
