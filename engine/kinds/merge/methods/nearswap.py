"""NearSwap: take the other model's value where it is close to the base's, keep the base elsewhere.

``w = clamp(t / max(|a−b|, 1e-6), 0, 1)``, result ``w·b + (1−w)·a`` (a = base, b = the other model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    t: float = Field(0.0001, gt=0, description="distance below which the other model's value is taken whole; "
                                               "further values are blended in less")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    a, b = job.base, job.tensors[0]
    w = (float(job.options.t) / (a - b).abs().clamp(min=1e-6)).clamp(min=0, max=1)
    return w * b + (1 - w) * a


METHOD = Method(
    name="nearswap", title="NearSwap",
    description="takes the other model's weights where they are close to the base's and keeps the base's elsewhere.",
    options=Options, model_params=NoParams, base="required", min_models=1, max_models=1,
    merge_tensor=merge_tensor, reference="https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
)
