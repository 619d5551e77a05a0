"""Batch-norm statistics of a merged model, re-estimated on unlabeled inputs (``batch_norm = "recompute"``).

A batch-norm layer's running mean and variance describe the activations of the network they were
measured in. Merging averages them (or trims, elects and sums them as if they were weights), but the
activations of the merged weights are not the average of the experts' activations: the statistics no
longer match and the merged model's accuracy falls, often to near the base's (Jordan et al., "REPAIR",
ICLR'23; Ainsworth et al., "Git Re-Basin", ICLR'23, reset them the same way). ``recompute`` measures
them again on the merged model itself: the first :data:`EXAMPLES` inputs of every task's train split
(its condition applied, labels unused), pooled and shuffled with a fixed seed, one pass in training
mode with a cumulative average. The test inputs are never used.

A worker keeps the statistics it measured per configuration (:data:`CACHE`), so the evaluation cells
of one configuration on its tasks measure them once.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

EXAMPLES = 128  # train inputs per task
BATCH = 256
SPLIT = "train"
CACHE_ENTRIES = 512


def calibration(tasks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a cell spec records about the re-estimation (it determines the result, so the key hashes it)."""
    return {"tasks": list(tasks), "split": SPLIT, "examples": EXAMPLES}


def has_batch_norm(names: Sequence[str]) -> bool:
    """Whether a model with these tensor names has batch-norm running statistics."""
    return any(n.endswith(".running_mean") for n in names)


def calibration_inputs(spec: Mapping[str, Any], root: Path) -> list[Any]:
    """The pooled, shuffled batches the statistics are measured on."""
    import numpy as np
    import torch

    from engine.kinds.merge.study.evaluate import task_inputs

    parts = []
    for task in spec["tasks"]:
        data = task_inputs(task, root, spec["split"]).data
        parts.append(np.asarray(data.x)[: int(spec["examples"])])
    x = np.concatenate(parts)
    order = np.random.default_rng(0).permutation(len(x))
    tensor = torch.as_tensor(x[order])
    return [tensor[i:i + BATCH] for i in range(0, len(tensor), BATCH)]


def recompute(module, batches: Sequence[Any], call=None) -> dict[str, Any]:
    """Re-estimate every batch-norm layer's running statistics of ``module`` in place on ``batches``
    (a cumulative average over them) and return its buffers; the module is left in evaluation mode
    with its layers' momentum as it was."""
    import torch

    layers = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    try:
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: every batch counts the same
        module.train()
        with torch.no_grad():
            for batch in batches:
                (call or module)(batch)
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        module.eval()
    return {k: v.detach().clone() for k, v in module.named_buffers()}


def batch_statistics(module) -> None:
    """Evaluation mode, except that batch-norm layers normalise with each batch's own statistics.

    AdaMerging fits with this when the statistics are re-estimated after merging: the merged running
    statistics it would otherwise normalise with are the mismatched ones that re-estimation replaces."""
    import torch

    module.eval()
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.train()
            m.track_running_stats = False  # use the batch's statistics and write no buffer


class _Cache:
    """Measured statistics per configuration, least recently used dropped first."""

    def __init__(self, entries: int):
        self.entries = entries
        self.items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, key: str) -> dict[str, Any] | None:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        return None

    def clear(self) -> None:
        self.items.clear()

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.items[key] = value
        while len(self.items) > self.entries:
            self.items.popitem(last=False)


CACHE = _Cache(CACHE_ENTRIES)


def recalibrated(clf, spec: Mapping[str, Any], merge: Mapping[str, Any], fit: str | None, root: Path) -> None:
    """Put statistics re-estimated as ``spec`` (:func:`calibration`) says into ``clf``, which holds the
    merged weights of configuration ``merge`` (or of fit cell ``fit``); measured once per configuration
    per worker. Heads do not matter: they come after every batch norm."""
    key = json.dumps({"merge": dict(merge), "fit": fit, "spec": dict(spec)}, sort_keys=True, default=str)
    buffers = CACHE.get(key)
    if buffers is None:
        buffers = recompute(clf.module, calibration_inputs(spec, root), call=clf.logits)
        CACHE.put(key, buffers)
        return
    own = dict(clf.module.named_buffers())
    for name, value in buffers.items():
        own[name].copy_(value)
