"""LiNeS (Wang et al., ICLR'25): after any merge, scale the merged update linearly with depth, so
shallow layers stay close to the base (keeping general features) and deep layers take the update.

``θ = θ_base + λ(ℓ)·(θ_merged − θ_base)`` with ``λ(ℓ) = α + β·ℓ/(L−1)`` for layer ℓ of a stack of
L layers; tensors outside numbered layers (embeddings, final norm) get α. For a multi-task merge the
authors set ``α = ‖Σₜ τₜ‖ / (T·‖τ_merged‖)`` (:func:`lines_alpha`) and tune β; for one task, α = λ
and β = 1 − λ.
"""

from __future__ import annotations

from typing import Mapping, Sequence, TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params
from engine.kinds.merge.methods.databased import StateDict, float_keys
from engine.kinds.merge.params import layer_of

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    alpha: float = Field(0.5, description="scale of the update at the shallowest layer and outside the layers")
    beta: float = Field(0.5, description="extra scale added linearly up to the deepest layer (α + β there)")


def depth_scales(names: Sequence[str], alpha: float, beta: float) -> dict[str, float]:
    """λ(ℓ) for every name (α outside numbered layers)."""
    stacks: dict[str, int] = {}
    hits = {n: layer_of(n) for n in names}
    for hit in hits.values():
        if hit:
            stacks[hit[0]] = max(stacks.get(hit[0], 0), hit[1] + 1)
    out = {}
    for n, hit in hits.items():
        if hit is None:
            out[n] = alpha
        else:
            layers = stacks[hit[0]]
            out[n] = alpha + beta * (hit[1] / (layers - 1) if layers > 1 else 0.0)
    return out


def lines(base: Mapping[str, torch.Tensor], merged: Mapping[str, torch.Tensor], alpha: float, beta: float,
          skip: Sequence[str] = ()) -> StateDict:
    """Rescale ``merged``'s update over ``base`` by depth (non-float and ``skip`` tensors unchanged)."""
    keys = [k for k in float_keys(merged, skip) if k in base]
    scales = depth_scales(keys, alpha, beta)
    out = dict(merged)
    for k in keys:
        out[k] = base[k] + scales[k] * (merged[k] - base[k])
    return out


def lines_alpha(base: Mapping[str, torch.Tensor], experts: Sequence[Mapping[str, torch.Tensor]],
                merged: Mapping[str, torch.Tensor], skip: Sequence[str] = ()) -> float:
    """The authors' multi-task α: ‖Σₜ τₜ‖ / (T · ‖τ_merged‖) over the float tensors."""
    keys = [k for k in float_keys(base, skip) if k in merged]
    total = sum(float(((sum(e[k] - base[k] for e in experts)).double() ** 2).sum()) for k in keys) ** 0.5
    merged_norm = sum(float(((merged[k] - base[k]).double() ** 2).sum()) for k in keys) ** 0.5
    return total / (len(experts) * merged_norm) if merged_norm > 0 else 1.0


METHOD = Method(
    name="lines", title="LiNeS (depth scaling)",
    description="post-processing for any merge: shrinks the update in shallow layers and keeps it in deep ones.",
    options=Options, model_params=NoParams, base="required", min_models=1, kind="post",
    merge_model=lines, in_mergekit=False, reference="https://arxiv.org/abs/2410.17146",
)
