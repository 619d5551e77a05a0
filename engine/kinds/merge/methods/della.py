"""DELLA: drops updates at random, large ones less often, rescales, elects one sign per weight and averages the agreeing updates."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import DellaModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(True, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(True, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="della", consensus=True)


METHOD = Method(
    name="della", title="DELLA", description="drops updates at random, large ones less often, rescales, elects one sign per weight and averages the agreeing updates.",
    options=Options, model_params=DellaModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=True, reference="https://arxiv.org/abs/2406.11617",
)
