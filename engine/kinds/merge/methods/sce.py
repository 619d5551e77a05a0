"""SCE: select the positions where experts vary most, weight each expert by its update energy, and
average the updates that agree with the elected sign (mergekit's implementation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob
from engine.kinds.merge.taskvec import elect_signs

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    select_topk: float = Field(1.0, gt=0, le=1, description="share of positions kept: those where the experts' "
                                                            "updates vary most (1 keeps all)")
    int8_mask: bool = Field(False, description="mergekit's memory saver for the sign mask; changes no number here")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    base = job.base
    tvs = torch.stack([t - base for t in job.tensors], dim=0)
    k_share = float(job.options.select_topk)
    if k_share < 1:
        var = torch.var(tvs, dim=0, unbiased=False)
        k = int(torch.count_nonzero(var) * k_share)
        mask = torch.zeros(var.numel(), dtype=tvs.dtype)
        if k > 0:
            mask[torch.topk(var.abs().reshape(-1), k=k, largest=True).indices] = 1
        tvs = tvs * mask.reshape(var.shape).unsqueeze(0)
    elected = elect_signs(list(tvs), job.conventions.zero_sign)
    agree = torch.stack([torch.where(elected > 0, tv > 0, tv < 0) for tv in tvs]).to(tvs.dtype)
    energy = torch.mean(tvs ** 2, dim=list(range(1, tvs.dim())))
    total = float(energy.sum())
    weights = torch.ones_like(energy) / energy.shape[0] if abs(total) < 1e-6 else energy / total
    while weights.dim() < tvs.dim():
        weights = weights.unsqueeze(-1)
    kept = weights * agree
    merged = (tvs * kept).sum(dim=0) / kept.sum(dim=0).clamp(min=1e-6)
    return base + merged


METHOD = Method(
    name="sce", title="SCE",
    description="keeps the positions where experts differ most, weights each expert by how much it changed, and averages the agreeing updates.",
    options=Options, model_params=NoParams, base="required", min_models=1,
    merge_tensor=merge_tensor, reference="https://arxiv.org/abs/2408.07990",
)
