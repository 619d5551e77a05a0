"""TIES: keeps each expert's largest updates, elects one sign per weight, and averages only the updates that agree with it."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import TaskVectorModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(True, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(False, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="magnitude", consensus=True)


METHOD = Method(
    name="ties", title="TIES", description="keeps each expert's largest updates, elects one sign per weight, and averages only the updates that agree with it.",
    options=Options, model_params=TaskVectorModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=False, reference="https://arxiv.org/abs/2306.01708",
)
