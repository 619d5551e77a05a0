"""A target domain as a dataset: every example moved by one shift condition ("invert/5"), once.

A fine-tuning study's target may be an existing dataset seen through a shift (inverted digits, noisy
sensor tables, typo-ridden reviews). The domain is part of the data, not of an evaluation: its split
for tuning, validation and test is moved the same way, with a fixed seed (``DOMAIN_SEED``) so every
seed of the study tunes and is scored on the same domain. The perturbation of a row depends on its
row in the full dataset (``Dataset.index``), as everywhere in ``engine.conditions``; out-of-distribution
conditions are then applied on top, batch by batch (``engine.conditions.apply.logits``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.base import Dataset
from engine.data.loaders import load_split

DOMAIN_SEED = 0
_BATCH = 1024


def in_domain(data: Dataset, domain: dict[str, Any] | None) -> Dataset:
    """A copy of ``data`` with the domain's shift applied to every example (``data`` itself when none)."""
    if domain is None:
        return data
    out = data.subset(np.arange(len(data)))
    name, severity, kind = domain["name"], int(domain["severity"]), domain["kind"]
    if kind == "text":
        from engine.conditions.text import perturb_text

        out.x = perturb_text(list(data.x), name, severity, DOMAIN_SEED, data.index)
        return out
    x = np.ascontiguousarray(data.x, dtype=np.float32)
    if kind == "tabular":
        from engine.conditions.tabular import perturb_table

        out.x = perturb_table(x, name, severity, DOMAIN_SEED, data.index, x.mean(axis=0), x.std(axis=0))
        return out
    import torch

    from engine.conditions.corruptions import corrupt

    moved = np.empty_like(x)
    for start in range(0, len(x), _BATCH):
        stop = min(len(x), start + _BATCH)
        batch = torch.from_numpy(x[start:stop])
        moved[start:stop] = corrupt(batch, name, severity, DOMAIN_SEED, torch.from_numpy(data.index[start:stop])).numpy()
    out.x = moved
    return out


def domain_split(spec: dict[str, Any], root: Path, split: str, domain: dict[str, Any] | None) -> Dataset:
    """One split of a cell's data spec, in the domain, cached per process (many cells read the same)."""
    return _cached(json.dumps(spec, sort_keys=True), str(root), split, json.dumps(domain, sort_keys=True))


@lru_cache(maxsize=8)
def _cached(spec: str, root: str, split: str, domain: str) -> Dataset:
    _, part = load_split(json.loads(spec), Path(root), split)
    return in_domain(part, json.loads(domain))
