"""PCB merging (Du et al., NeurIPS'24): weight every update by how much it matters within its own
task (intra-balance) and how well it agrees with the other tasks (inter-balance), drop the lowest
scores, and average the updates by score.

Following the authors' ``PCB_merge`` on flattened task vectors τ (n tasks × d entries):
magnitudes clipped at their 0.01 % quantiles; intra = ``exp(n · minmax(|τ|)²)``; inter =
``tanh(τ · Σₜτ)``; each task's score below its ``1 − pcb_ratio`` quantile becomes 0 after a
min–max rescale; ``merged = Σ score·τ / Σ score``; ``θ = θ_base + λ·merged``. The paper applies it
over the whole task vector (conventions ``trim_scope = "task_vector"``); per tensor it is the same
rule on each tensor. Per-model ``weight`` multiplies that model's clipped update (the authors search
such per-task factors on validation data; default 1). A row whose values are all equal gets zero
scale where the authors' code divides 0 by 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, Params, TensorJob, WeightParams

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    pcb_ratio: float = Field(0.1, gt=0, le=1, description="share of each task's highest-scoring updates kept")
    lambda_: float = Field(1.0, alias="lambda", description="scales the merged update before it is added to the base")


def _order_stat(x: torch.Tensor, ratio: float, last: bool = False) -> torch.Tensor:
    """Per row, the value the authors' ``sorted_x[:, int(d·ratio)]`` (or ``int(d·(1−ratio))−1``) picks."""
    import torch

    d = x.shape[1]
    idx = int(d * (1 - ratio) - 1) if last else int(d * ratio)
    idx = min(max(idx, 0), d - 1)
    return torch.kthvalue(x, idx + 1, dim=1, keepdim=True).values


def _minmax(x: torch.Tensor) -> torch.Tensor:
    import torch

    lo = x.min(dim=1, keepdim=True).values
    hi = x.max(dim=1, keepdim=True).values
    span = hi - lo
    return torch.where(span > 0, (x - lo) / torch.where(span > 0, span, 1), torch.zeros_like(x))


def pcb_merge(tvs: torch.Tensor, pcb_ratio: float) -> torch.Tensor:
    """The merged update from stacked flat task vectors ``tvs`` (n × d)."""
    import torch

    n = tvs.shape[0]
    mag = tvs.abs()
    mag = torch.clamp(mag, _order_stat(mag, 0.0001), _order_stat(mag, 0.0001, last=True))
    clipped = torch.sign(tvs) * mag
    intra = torch.exp(n * _minmax(mag) ** 2)
    inter = torch.tanh(tvs * tvs.sum(dim=0))
    score = intra * inter
    floor = _order_stat(score, 1 - pcb_ratio)
    scale = _minmax(torch.clamp(score, min=floor))
    return (clipped * scale).sum(dim=0) / scale.sum(dim=0).clamp(min=1e-12)


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    base = job.base
    tvs = torch.stack([(t - base).reshape(-1) * float(p.weight) for t, p in zip(job.tensors, job.model_params)])
    merged = pcb_merge(tvs.float(), float(job.options.pcb_ratio))
    return (base + float(job.options.lambda_) * merged.reshape(base.shape).to(base.dtype)).to(base.dtype)


METHOD = Method(
    name="pcb", title="PCB merging",
    description="scores each update by its importance in its task and its agreement across tasks, keeps the best and averages by score.",
    options=Options, model_params=WeightParams, base="required", min_models=2,
    merge_tensor=merge_tensor, in_mergekit=False, reference="https://arxiv.org/abs/2410.02396",
)
