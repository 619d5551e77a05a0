"""DELLA (linear): drops updates at random, large ones less often, rescales, and adds the weighted sum to the base."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import DellaModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(False, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(True, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="della", consensus=False)


METHOD = Method(
    name="della_linear", title="DELLA (linear)", description="drops updates at random, large ones less often, rescales, and adds the weighted sum to the base.",
    options=Options, model_params=DellaModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=True, reference="https://arxiv.org/abs/2406.11617",
)
