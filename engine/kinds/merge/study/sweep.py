"""Merged configurations in memory, for a study's evaluation cells: no file is written and read back
per grid point.

Every method with a ``lambda`` applies it last: ``θ = θ_base + λ·U`` where ``U`` is the aggregated
update (trimming, sign election, DARE's rescaling and the disjoint mean do not depend on λ; see
``engine.kinds.merge.conventions``). A worker therefore merges each configuration once at λ = 1,
keeps ``U`` (bounded by :data:`CACHE_BYTES`) and serves every λ of a grid with one ``base + λ·U``
per tensor: a λ × density grid costs one merge per density. Other methods' merged weights are
cached whole. The base and experts' tensors are themselves cached per worker (``models``), so the
task vectors are read once per worker.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch

CACHE_BYTES = 1 << 30  # per worker


class _Cache:
    """Least-recently-used merged updates, bounded by their total size in bytes."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: OrderedDict[str, tuple[dict[str, torch.Tensor], int]] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        if key in self.items:
            self.items.move_to_end(key)
            self.hits += 1
            return self.items[key][0]
        self.misses += 1
        return None

    def clear(self) -> None:
        self.items.clear()
        self.size = 0

    def put(self, key: str, value: dict[str, torch.Tensor]) -> None:
        size = sum(t.numel() * t.element_size() for t in value.values())
        if size > self.limit:
            return
        while self.items and self.size + size > self.limit:
            _, (_, old) = self.items.popitem(last=False)
            self.size -= old
        self.items[key] = (value, size)
        self.size += size


CACHE = _Cache(CACHE_BYTES)


def effective_lambda(method: str, parameters: Mapping[str, Any], preset: str) -> float | None:
    """The λ a configuration merges with (its own, else the preset's default, else the method's), or
    None when the method has no λ."""
    from engine.kinds.merge.conventions import PRESETS
    from engine.kinds.merge.methods import get_method

    options = get_method(method).options
    field = options.model_fields.get("lambda_")
    if field is None:
        return None
    if "lambda" in parameters:
        return float(parameters["lambda"])
    return float(PRESETS[preset].default_for(method, "lambda", field.default))


def merge_in_memory(merge: Mapping[str, Any], base: Mapping[str, torch.Tensor] | None,
                    experts: Sequence[Mapping[str, torch.Tensor]], heads: Sequence[str]) -> dict[str, torch.Tensor]:
    """The merged weights of one configuration (``merge``: a cell spec's merge dict), through the
    per-worker cache. Head tensors are the first expert's (each task puts its own in place)."""
    from engine.kinds.merge.conventions import PRESETS
    from engine.kinds.merge.merging import merge_state_dicts

    method, preset = merge["method"], merge["conventions"]
    params = dict(merge["parameters"])
    lam = effective_lambda(method, params, preset)
    if lam is not None:
        params.pop("lambda", None)
    key = json.dumps({**merge, "parameters": params, "heads": list(heads)}, sort_keys=True, default=str)
    cached = CACHE.get(key)
    if cached is None:
        run = {**params, "lambda": 1.0} if lam is not None else params
        result = merge_state_dicts(method, base if base is not None else None, list(experts), parameters=run,
                                   conventions=PRESETS[preset], seed=int(merge["seed"]), heads=list(heads))
        cached = result.state_dict
        if lam is not None:  # keep U = merged(λ = 1) − base for the merged tensors
            cached = {k: (v - base[k]) if _merged(k, v, base, heads) else v for k, v in cached.items()}
        CACHE.put(key, cached)
    if lam is None:
        return dict(cached)
    return {k: torch.add(base[k], v, alpha=lam) if _merged(k, v, base, heads) else v for k, v in cached.items()}


def _merged(name: str, tensor: torch.Tensor, base: Mapping[str, torch.Tensor] | None, heads: Sequence[str]) -> bool:
    return (base is not None and name in base and name not in heads and tensor.is_floating_point()
            and base[name].is_floating_point() and tuple(base[name].shape) == tuple(tensor.shape))
