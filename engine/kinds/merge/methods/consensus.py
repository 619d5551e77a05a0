"""Consensus merging and TALL masks (Wang et al., ICML'24).

A TALL mask says which entries matter to a task: ``mₜ = |τₜ| ≥ λₘ·|τ_MTL − τₜ|`` with
``τ_MTL = Σₜ τₜ``. Consensus merging keeps only the entries that at least ``k`` tasks' masks select
(k = 2 drops the "selfish" entries only one task needs) and adds ``λ · (mask ⊙ τ_MTL)`` to the base.
:func:`tall_mask_models` gives the per-task models ``θ_base + mₜ ⊙ τ_MTL`` instead (one model per
task, each evaluated on its own task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    k: int = Field(2, ge=1, description="an entry is kept when at least this many tasks' masks select it")
    mask_lambda: float = Field(0.6, gt=0, description="how large a task's update must be, relative to the other "
                                                      "tasks' combined update, for its mask to select the entry")
    lambda_: float = Field(1.0, alias="lambda", description="scales the kept update before it is added to the base")


def tall_masks(base: torch.Tensor, tensors: list[torch.Tensor], mask_lambda: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(τ_MTL, [mₜ])`` for one tensor."""
    tvs = [t - base for t in tensors]
    total = sum(tvs)
    return total, [tv.abs() >= mask_lambda * (total - tv).abs() for tv in tvs]


def merge_tensor(job: TensorJob) -> torch.Tensor:
    import torch

    total, masks = tall_masks(job.base, job.tensors, float(job.options.mask_lambda))
    keep = torch.stack(masks).sum(dim=0) >= int(job.options.k)
    return job.base + float(job.options.lambda_) * total * keep


def tall_mask_models(base: dict[str, torch.Tensor], experts: list[dict[str, torch.Tensor]], mask_lambda: float = 0.6,
                     names: list[str] | None = None) -> list[dict[str, torch.Tensor]]:
    """One model per task: ``θ_base + mₜ ⊙ τ_MTL`` on the float tensors ``names`` (default: all floats)."""
    keys = names or [k for k, v in base.items() if v.is_floating_point()]
    out = [dict(base) for _ in experts]
    for key in keys:
        total, masks = tall_masks(base[key], [e[key] for e in experts], mask_lambda)
        for model, m in zip(out, masks):
            model[key] = base[key] + total * m
    return out


METHOD = Method(
    name="consensus", title="Consensus (TALL masks)",
    description="adds the tasks' summed update only where at least k tasks need it.",
    options=Options, model_params=NoParams, base="required", min_models=2,
    merge_tensor=merge_tensor, in_mergekit=False, reference="https://arxiv.org/abs/2405.07813",
)
