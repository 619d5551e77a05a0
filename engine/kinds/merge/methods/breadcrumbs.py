"""Model Breadcrumbs: drops each expert's largest outlier updates and its smallest ones, and adds the weighted sum of the rest."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import BreadcrumbsModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(False, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(False, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="outliers", consensus=False)


METHOD = Method(
    name="breadcrumbs", title="Model Breadcrumbs", description="drops each expert's largest outlier updates and its smallest ones, and adds the weighted sum of the rest.",
    options=Options, model_params=BreadcrumbsModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=False, reference="https://arxiv.org/abs/2312.06795",
)
