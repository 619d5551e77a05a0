"""Passthrough: copy one model's tensor unchanged (optionally scaled); the building block of slices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class ModelParams(Params):
    scale: float | None = Field(None, description="multiply the copied tensor by this (none: copy as is)")


def merge_tensor(job: TensorJob) -> torch.Tensor:
    scale = job.model_params[0].scale
    return job.tensors[0] if scale is None else job.tensors[0] * scale


METHOD = Method(
    name="passthrough", title="Passthrough",
    description="copies one model's tensors as they are; with slices, stacks layers from several models.",
    options=NoParams, model_params=ModelParams, base="unused", min_models=1, max_models=1,
    merge_tensor=merge_tensor,
)
