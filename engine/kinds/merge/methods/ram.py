"""RAM: updates made by one expert alone are kept whole; updates several experts share are averaged.

An entry counts as updated when |δ| > ε (mergekit's ``ram``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    epsilon: float = Field(1e-5, ge=0, description="an update smaller than this counts as no update")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    base = job.base
    tv = torch.stack([t - base for t in job.tensors], dim=0).reshape(len(job.tensors), -1)
    active = tv.abs() > float(job.options.epsilon)
    counts = active.sum(dim=0, keepdim=True)
    tvz = tv * active
    merged = (tvz * (counts == 1) + tvz * (counts > 1) / counts.clamp(min=1)).sum(dim=0)
    return base + merged.reshape(base.shape)


METHOD = Method(
    name="ram", title="RAM",
    description="keeps updates made by a single expert whole and averages the ones several experts share.",
    options=Options, model_params=NoParams, base="required", min_models=1,
    merge_tensor=merge_tensor, reference="https://arxiv.org/abs/2601.13572",
)
