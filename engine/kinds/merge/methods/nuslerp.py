"""NuSLERP: SLERP between two models with t from their weights, optionally on task vectors of a base.

As mergekit: ``t = w₂/(w₁+w₂)`` (0.5 when the weights sum to < 1e-6); flattened (default), row-wise
or column-wise; colinear rows (|sin θ| < 1e-8) fall back to lerp; with a base, the two task vectors
are interpolated and the base added back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, Params, TensorJob, WeightParams

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    nuslerp_row_wise: bool = Field(False, description="interpolate each row separately (when not flattened); "
                                                      "otherwise each column")
    nuslerp_flatten: bool = Field(True, description="treat the whole tensor as one vector")


def nuslerp(t: float, v0: torch.Tensor, v1: torch.Tensor, dim: int = -1, flatten: bool = False, eps: float = 1e-8) -> torch.Tensor:
    import torch

    shape = v0.shape
    if flatten:
        v0, v1 = v0.reshape(-1), v1.reshape(-1)
    elif dim != -1:
        v0, v1 = v0.transpose(dim, -1), v1.transpose(dim, -1)
    u0 = v0 / v0.norm(dim=-1, keepdim=True).clamp(min=1e-7)
    u1 = v1 / v1.norm(dim=-1, keepdim=True).clamp(min=1e-7)
    cos = (u0 * u1).sum(dim=-1, keepdim=True)
    theta = torch.acos(cos.clamp(-1, 1))
    sin = torch.sin(theta)
    colinear = (sin.abs() < eps).squeeze(-1)
    res = (torch.sin((1 - t) * theta) * v0 + torch.sin(t * theta) * v1) / sin
    res[colinear] = (1 - t) * v0[colinear] + t * v1[colinear]
    if dim != -1 and not flatten:
        res = res.transpose(dim, -1)
    return res.reshape(shape)


def merge_tensor(job: TensorJob) -> torch.Tensor:
    w = [float(p.weight) for p in job.model_params]
    t = 0.5 if abs(sum(w)) < 1e-6 else w[1] / sum(w)
    dim = 0 if job.options.nuslerp_row_wise else -1
    a, b = job.tensors
    if job.base is not None:
        return job.base + nuslerp(t, a - job.base, b - job.base, dim=dim, flatten=job.options.nuslerp_flatten)
    return nuslerp(t, a, b, dim=dim, flatten=job.options.nuslerp_flatten)


METHOD = Method(
    name="nuslerp", title="NuSLERP",
    description="spherical interpolation between two models, t set by their weights; with a base, between their updates.",
    options=Options, model_params=WeightParams, base="optional", min_models=2, max_models=2,
    merge_tensor=merge_tensor,
)
