"""Breadcrumbs + TIES: drops outlier and small updates, then elects one sign per weight and sums the agreeing updates."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.merge.methods.base import Method, TensorJob
from engine.kinds.merge.taskvec import BreadcrumbsModelParams, TaskVectorOptions, merge_task_vectors


class Options(TaskVectorOptions):
    normalize: bool = Field(False, description=TaskVectorOptions.model_fields["normalize"].description)
    rescale: bool = Field(False, description=TaskVectorOptions.model_fields["rescale"].description)


def merge_tensor(job: TensorJob):
    return merge_task_vectors(job, sparsification="outliers", consensus=True)


METHOD = Method(
    name="breadcrumbs_ties", title="Breadcrumbs + TIES", description="drops outlier and small updates, then elects one sign per weight and sums the agreeing updates.",
    options=Options, model_params=BreadcrumbsModelParams, base="required", min_models=1,
    merge_tensor=merge_tensor, random=False, reference="https://arxiv.org/abs/2312.06795",
)
