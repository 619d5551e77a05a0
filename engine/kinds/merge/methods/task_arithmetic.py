"""Task arithmetic: adds the weighted sum of the experts' updates (task vectors) to the base, times λ."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import TaskVectorModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(False, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(False, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification=None, consensus=False)


METHOD = Method(
    name="task_arithmetic", title="Task arithmetic", description="adds the weighted sum of the experts' updates (task vectors) to the base, times λ.",
    options=Options, model_params=TaskVectorModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=False, reference="https://arxiv.org/abs/2212.04089",
)
