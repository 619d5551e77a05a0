"""Applying a condition to a dataset: what a model sees under "gaussian_noise/3", "dirichlet/0.3" or
a field dataset, for any kind that evaluates a classifier under a condition.

A condition is the plain dict a cell's spec stores (``{"id", "kind", "family", "severity", ...}``):
``kind`` is "clean", "corruption", "tabular", "text", "label_shift", "group_shift" or "field".
Resampling shifts choose rows (``resample``); perturbations change inputs batch by batch inside
``logits``; a field condition replaces the data (``field_dataset``). Everything is seeded, so the same
(data, condition, seed) always gives the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.core.errors import CancelledError, DataError
from engine.data.base import Dataset, DataOptions
from engine.data.loaders import load_data_cached


class Runner(Protocol):
    """What ``logits`` needs from the cell it runs in (an ``engine.core.cells.CellContext``)."""

    device: str

    def cancelled(self) -> bool: ...

    def progress(self, fraction: float, note: str = "") -> None: ...


def field_dataset(cond: dict[str, Any], base: Dataset, root: Path) -> Dataset:
    """A field condition's dataset, its labels mapped onto ``base``'s classes (validation checked they exist)."""
    field_data = load_data_cached(cond["source"], str(root), DataOptions.from_dict(cond.get("options") or {}))
    lookup = {n: i for i, n in enumerate(base.class_names)}
    y = np.asarray([lookup[field_data.class_names[k]] for k in field_data.y], dtype=np.int64)
    return Dataset(field_data.source, field_data.modality, field_data.x, y, base.class_names,
                   groups=field_data.groups, feature_names=field_data.feature_names, index=field_data.index)


def resample(data: Dataset, cond: dict[str, Any], seed: int) -> tuple[Dataset, dict[str, Any]]:
    """The rows of ``data`` a resampling shift keeps (all rows for other conditions), and what it realised."""
    from engine.conditions import resample as R

    if cond["kind"] == "label_shift":
        method = cond["method"]
        if method == "dirichlet":
            r = R.dirichlet_label_shift(data.y, data.num_classes, cond["alpha"], seed)
        elif method == "tweak_one":
            r = R.tweak_one_label_shift(data.y, data.num_classes, cond["rho"], seed)
        else:
            r = R.class_imbalance(data.y, data.num_classes, cond["ratio"], seed)
        return data.subset(r.indices), r.info
    if cond["kind"] == "group_shift":
        if data.groups is None:
            raise DataError(f"Dataset {data.source} has no groups; group shift needs group_column in [data].")
        r = R.group_shift(np.asarray(data.groups).astype(str), cond["group"], cond["share"], seed)
        return data.subset(r.indices), r.info
    return data, {}


def logits(clf: Any, data: Dataset, cond: dict[str, Any], seed: int, batch: int, run: Runner) -> np.ndarray:
    """Model outputs for every row, with the condition's perturbation applied batch by batch."""
    import torch

    kind = cond["kind"]
    n = len(data)
    out = []
    if kind == "tabular":
        x_all = np.asarray(data.x)
        mean, std = x_all.mean(axis=0), x_all.std(axis=0)
    autocast = run.device.startswith("cuda")
    with torch.inference_mode(), torch.autocast("cuda", enabled=autocast):
        for start in range(0, n, batch):
            if run.cancelled():
                raise CancelledError()
            stop = min(n, start + batch)
            idx = data.index[start:stop]
            if data.modality == "text":
                xb: Any = data.x[start:stop]
                if kind == "text":
                    from engine.conditions.text import perturb_text

                    xb = perturb_text(list(xb), cond["name"], cond["severity"], seed, idx)
            else:
                xnp = np.asarray(data.x[start:stop])
                if kind == "tabular":
                    from engine.conditions.tabular import perturb_table

                    xnp = perturb_table(xnp, cond["name"], cond["severity"], seed, idx, mean, std)
                xb = torch.from_numpy(np.ascontiguousarray(xnp, dtype=np.float32)).to(run.device)
                if kind == "corruption":
                    from engine.conditions.corruptions import corrupt

                    xb = corrupt(xb, cond["name"], cond["severity"], seed, torch.from_numpy(idx).to(run.device))
                if xb.ndim == 4:  # convolutions run markedly faster on channels-last memory
                    xb = xb.contiguous(memory_format=torch.channels_last)
            out.append(clf.logits(xb).float().cpu().numpy())
            run.progress(stop / n, f"{stop}/{n} examples")
    return np.concatenate(out).astype(np.float64)
