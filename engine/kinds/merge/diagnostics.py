"""What to look at before choosing a merge: how alike the experts' updates are, where they disagree in
sign, and how large they are per layer. Each reads one tensor at a time (state dicts or model files).

* :func:`task_vector_similarity` — cosine similarity of the task vectors τᵢ = θᵢ − θ_base over all
  shared floating-point tensors ("model kinship").
* :func:`sign_conflicts` — per layer, the share of entries updated by at least two experts whose
  signs disagree (optionally after keeping each tensor's top ``density`` magnitudes, as TIES does).
* :func:`update_norms` — per layer and expert, ‖τ‖₂ and ‖τ‖₂ / ‖θ_base‖₂.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence, Union

import torch

from engine.kinds.merge.checks import TensorSource, is_head
from engine.kinds.merge.params import layer_of
from engine.kinds.merge.sparsify import magnitude

Model = Union[Mapping[str, torch.Tensor], TensorSource]


def _names(base: Model, experts: Sequence[Model], heads: Sequence[str]) -> list[str]:
    base_names = list(base.keys()) if isinstance(base, Mapping) else base.names()
    out = []
    for n in base_names:
        if is_head(n, heads) or not all(n in e for e in experts):
            continue
        t = _get(base, n)
        if t.is_floating_point() and all(tuple(_get(e, n).shape) == tuple(t.shape) for e in experts):
            out.append(n)
    return out


def _get(model: Model, name: str) -> torch.Tensor:
    return model[name] if isinstance(model, Mapping) else model.read(name)


def layer_label(name: str) -> str:
    """``model.layers.3`` for tensors of layer 3; the tensor's own name outside numbered layers."""
    hit = layer_of(name)
    return f"{hit[0]}.{hit[1]}" if hit else name


def task_vector_similarity(base: Model, experts: Sequence[Model], heads: Sequence[str] = ()) -> torch.Tensor:
    """T×T cosine similarities of the experts' task vectors (float64)."""
    n = len(experts)
    gram = torch.zeros(n, n, dtype=torch.float64)
    for name in _names(base, experts, heads):
        b = _get(base, name).double().reshape(-1)
        tvs = torch.stack([_get(e, name).double().reshape(-1) - b for e in experts])
        gram += tvs @ tvs.T
    norms = gram.diagonal().sqrt()
    denom = torch.outer(norms, norms)
    return torch.where(denom > 0, gram / torch.where(denom > 0, denom, 1), torch.zeros_like(gram))


@dataclass(frozen=True)
class LayerConflict:
    layer: str
    conflict_rate: float  # share of entries updated by ≥ 2 experts whose signs disagree
    shared: int  # entries updated by ≥ 2 experts
    total: int


def sign_conflicts(base: Model, experts: Sequence[Model], density: float | None = None,
                   heads: Sequence[str] = ()) -> list[LayerConflict]:
    """Per layer (in model order): how often experts that both changed an entry changed it in opposite directions."""
    acc: dict[str, list[int]] = {}
    for name in _names(base, experts, heads):
        b = _get(base, name).float()
        tvs = []
        for e in experts:
            tv = _get(e, name).float() - b
            if density is not None:
                tv, _ = magnitude(tv, density)
            tvs.append(tv.reshape(-1))
        stacked = torch.stack(tvs)
        pos = (stacked > 0).sum(dim=0)
        neg = (stacked < 0).sum(dim=0)
        shared = (pos + neg) >= 2
        conflict = shared & (pos > 0) & (neg > 0)
        row = acc.setdefault(layer_label(name), [0, 0, 0])
        row[0] += int(conflict.sum())
        row[1] += int(shared.sum())
        row[2] += stacked.shape[1]
    return [LayerConflict(k, c / s if s else 0.0, s, t) for k, (c, s, t) in acc.items()]


@dataclass(frozen=True)
class LayerNorm:
    layer: str
    expert: int
    norm: float  # ‖τ‖₂ over the layer's tensors
    relative: float  # ‖τ‖₂ / ‖θ_base‖₂ (0 when the base's norm is 0)


def update_norms(base: Model, experts: Sequence[Model], heads: Sequence[str] = ()) -> list[LayerNorm]:
    """Per layer and expert, the size of the update, absolute and relative to the base's weights."""
    sq: dict[str, list[float]] = {}
    base_sq: dict[str, float] = {}
    for name in _names(base, experts, heads):
        b = _get(base, name).double()
        label = layer_label(name)
        row = sq.setdefault(label, [0.0] * len(experts))
        for i, e in enumerate(experts):
            row[i] += float(((_get(e, name).double() - b) ** 2).sum())
        base_sq[label] = base_sq.get(label, 0.0) + float((b ** 2).sum())
    out = []
    for label, row in sq.items():
        bn = base_sq[label] ** 0.5
        for i, v in enumerate(row):
            out.append(LayerNorm(label, i, v ** 0.5, (v ** 0.5) / bn if bn > 0 else 0.0))
    return out
