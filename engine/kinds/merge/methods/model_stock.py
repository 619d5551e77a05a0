"""Model Stock: move from the base towards the experts' average by an amount set by their angle.

``t = N·cosθ / (1 + (N−1)·cosθ)`` with cosθ the mean pairwise cosine of the offsets ``θᵢ − θ_base``
(per tensor, or per row with ``filter_wise``); result ``t·mean(θᵢ) + (1−t)·θ_base``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    filter_wise: bool = Field(False, description="compute the angle per row (filter) instead of per tensor")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    w0, ws = job.base, job.tensors
    shape = w0.shape
    if job.options.filter_wise:
        if w0.dim() == 1:
            w0, ws = w0.unsqueeze(0), [w.unsqueeze(0) for w in ws]
    else:
        w0, ws = w0.reshape(-1), [w.reshape(-1) for w in ws]
    offsets = [w - w0 for w in ws]
    cosines = []
    for i, a in enumerate(offsets):
        for b in offsets[i + 1:]:
            denom = (a.norm(dim=-1) * b.norm(dim=-1)).clamp(min=1e-6)
            cosines.append(((a * b).sum(dim=-1) / denom).clamp(-1, 1))
    cos = torch.stack(cosines).mean(dim=0).unsqueeze(-1)
    n = len(ws)
    t = (n * cos) / (1 + (n - 1) * cos)
    avg = sum(ws) / n
    return (t * avg + (1 - t) * w0).reshape(shape)


METHOD = Method(
    name="model_stock", title="Model Stock",
    description="moves from the base towards the experts' average, further when the experts agree in direction.",
    options=Options, model_params=NoParams, base="required", min_models=2,
    merge_tensor=merge_tensor, reference="https://arxiv.org/abs/2403.19522",
)
