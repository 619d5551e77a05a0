"""DARE + TIES: randomly drops updates, rescales the survivors, then elects one sign per weight and sums the agreeing updates."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import TaskVectorModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(False, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(True, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="random", consensus=True)


METHOD = Method(
    name="dare_ties", title="DARE + TIES", description="randomly drops updates, rescales the survivors, then elects one sign per weight and sums the agreeing updates.",
    options=Options, model_params=TaskVectorModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=True, reference="https://arxiv.org/abs/2311.03099",
)
