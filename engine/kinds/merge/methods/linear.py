"""Linear: the weighted average of the models' weights ("model soup")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, Params, TensorJob, WeightParams

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    normalize: bool = Field(True, description="divide by the sum of the weights (a weighted mean instead of a weighted sum)")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    weights = [float(p.weight) for p in job.model_params]
    out = job.tensors[0] * weights[0]
    for x, w in zip(job.tensors[1:], weights[1:]):
        out = out + x * w
    if job.options.normalize:
        out = out / sum(weights)
    return out


METHOD = Method(
    name="linear", title="Linear (weight averaging)",
    description="averages the models' weights, each counted by its weight.",
    options=Options, model_params=WeightParams, base="unused", min_models=1,
    merge_tensor=merge_tensor, reference="https://arxiv.org/abs/2203.05482",
)
