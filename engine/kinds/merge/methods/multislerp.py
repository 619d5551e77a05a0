"""Multi-SLERP: a weighted barycenter of several models on the sphere (mergekit's tangent-space rule)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.core.errors import JuxtaError
from engine.kinds.merge.methods.base import Method, Params, TensorJob, WeightParams

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    normalize_weights: bool = Field(True, description="scale the weights to sum to 1")
    eps: float = Field(1e-8, gt=0, description="small constant that keeps divisions finite")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    eps = float(job.options.eps)
    if len(job.tensors) == 1:
        return job.tensors[0]
    stacked = torch.stack(job.tensors, dim=0)
    if job.base is not None:
        stacked = stacked - job.base
    flat = stacked.reshape(stacked.shape[0], -1)
    weights = torch.tensor([float(p.weight) for p in job.model_params], dtype=flat.dtype)
    if job.options.normalize_weights:
        weights = weights / weights.sum()
    norms = flat.norm(dim=-1, keepdim=True)
    units = flat / (norms + eps)
    mean = (units * weights.view(-1, 1)).sum(0)
    mean_norm = mean.norm()
    if mean_norm < eps:
        if stacked.shape[0] == 2:
            res = stacked[0] * weights[0] + stacked[1] * weights[1]
            return res + job.base if job.base is not None else res
        raise JuxtaError(f"multislerp cannot merge '{job.name}': the weighted directions cancel out (opposite tensors "
                         "with balancing weights); change the weights.")
    mean = mean / mean_norm
    dots = (units * mean).sum(-1, keepdim=True)
    tangent = ((units - dots * mean) * weights.view(-1, 1)).sum(0)
    tnorm = tangent.norm() + eps
    result = mean * torch.cos(tnorm) + tangent * (torch.sin(tnorm) / tnorm)
    result = (result * (norms.squeeze(-1) * weights).sum()).reshape(stacked.shape[1:])
    return result + job.base if job.base is not None else result


METHOD = Method(
    name="multislerp", title="Multi-SLERP",
    description="a weighted average of several models taken along the sphere instead of a straight line.",
    options=Options, model_params=WeightParams, base="optional", min_models=2,
    merge_tensor=merge_tensor, reference="https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
)
