"""Karcher mean: the Riemannian mean of the models' directions, scaled by their mean norm.

As mergekit: equal weights (a ``weight`` is ignored), at most ``max_iter`` iterations, stops when the
update's norm is below ``tol``; no base model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    max_iter: int = Field(10, ge=1, description="most iterations of the mean's fixed-point update")
    tol: float = Field(1e-5, gt=0, description="stop when the update is smaller than this")


def karcher(tensors: list[torch.Tensor], max_iter: int, tol: float) -> torch.Tensor:
    import torch

    alphas = [1.0 / len(tensors)] * len(tensors)
    norms, units = [], []
    for t in tensors:
        n = float(torch.linalg.norm(t.float()))
        norms.append(n)
        units.append(torch.zeros_like(t) if n == 0 else (t / n).to(t.dtype))
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return torch.zeros_like(tensors[0])
    a_sum = sum(alphas[i] for i in valid)
    a_norm = [alphas[i] / a_sum for i in valid]
    vunits = [units[i] for i in valid]
    u = torch.zeros_like(vunits[0])
    for a, ui in zip(a_norm, vunits):
        u += a * ui
    nu = float(torch.linalg.norm(u.float()))
    u = vunits[0].clone() if nu < tol else (u / nu).to(u.dtype)
    for _ in range(max_iter):
        step = torch.zeros_like(u)
        for a, ui in zip(a_norm, vunits):
            dot = torch.clamp(torch.dot(u.flatten(), ui.flatten()), -1.0, 1.0)
            theta = torch.arccos(dot)
            if float(theta) < tol:
                continue
            step += a * (theta / torch.sin(theta)) * (ui - dot * u)
        n_step = torch.linalg.norm(step.float())
        if float(n_step) < tol:
            break
        u = (torch.cos(n_step) * u + torch.sin(n_step) * (step / n_step)).to(u.dtype)
        n_u = torch.linalg.norm(u.float())
        if float(n_u) > tol:
            u = (u / n_u).to(u.dtype)
    scale = sum(a * n for a, n in zip(alphas, norms))
    return scale * u


def merge_tensor(job: TensorJob) -> torch.Tensor:
    return karcher(job.tensors, int(job.options.max_iter), float(job.options.tol))


METHOD = Method(
    name="karcher", title="Karcher mean",
    description="the geometric mean of the models' weight directions on the sphere, equally weighted.",
    options=Options, model_params=NoParams, base="unused", min_models=2,
    merge_tensor=merge_tensor, reference="https://en.wikipedia.org/wiki/Karcher_mean",
)
