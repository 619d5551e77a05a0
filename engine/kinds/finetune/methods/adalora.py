"""AdaLoRA (Zhang et al., ICLR 2023) through PEFT: LoRA in SVD form whose rank budget is moved
during training to the layers that matter most, from ``init_rank`` per layer down to an average
of ``target_rank``.

Two things PEFT leaves to the training loop are done here: ``update_and_allocate`` after every
optimizer step (before the gradients are cleared), and the orthogonality regulariser, which PEFT's
``AdaLoraModel.forward`` adds only to a ``loss`` the model itself returns (Juxta computes the loss
outside the model). The budget schedule: no pruning in the first 10% of steps, final ranks fixed for
the last 20%.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.kinds.finetune.training import Stage
from engine.models.base import Classifier

if TYPE_CHECKING:
    import torch
    from torch import nn


class AdaLoraParams(AdapterParams):
    target_rank: int = Field(4, ge=1, le=4096, description="Average rank per layer once the budget is allocated.")
    init_rank: int = Field(8, ge=1, le=4096, description="Rank each layer starts with, before pruning.")
    alpha: float = Field(16.0, gt=0, le=1e5, description="Scale of the change: alpha / rank.")
    orth_reg_weight: float = Field(0.5, ge=0, le=100, description="Weight of the orthogonality regulariser.")

    @model_validator(mode="after")
    def _ranks_in_order(self) -> "AdaLoraParams":
        if self.target_rank > self.init_rank:
            raise ValueError(f"target_rank ({self.target_rank}) must not exceed init_rank ({self.init_rank})")
        return self


class AdaLora(PeftMethod):
    name = "adalora"
    title = "AdaLoRA"
    description = "LoRA that moves its rank budget during training toward the layers where it helps most."
    params = AdaLoraParams
    default_lr = 5e-2
    pretrained_lr = 5e-4
    budget = "target_rank"
    peft_type = "ADALORA"
    supports = ("Linear", "Conv1D", "Conv2d")
    rank_field = "init_rank"

    def peft_config(self, params: AdaLoraParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import AdaLoraConfig

        total = ctx.total_steps
        return AdaLoraConfig(
            init_r=params.init_rank,
            target_r=params.target_rank,
            lora_alpha=params.alpha,
            orth_reg_weight=params.orth_reg_weight,
            total_step=total,
            tinit=int(0.1 * total),
            tfinal=int(0.2 * total),
            deltaT=1,
            target_modules=targets,
            modules_to_save=[ctx.layout.head_module],
        )

    def stage(self, wrapped: "nn.Module", trainable: list, params: AdaLoraParams, ctx: PrepareContext) -> Stage:
        tuner = wrapped.base_model
        return Stage(
            "train",
            wrapped,
            trainable,
            after_step=lambda step: tuner.update_and_allocate(step - 1),  # PEFT counts steps from 0
            regularizer=(lambda: params.orth_reg_weight * orthogonality(wrapped)) if params.orth_reg_weight else None,
        )


def orthogonality(wrapped: "nn.Module") -> "torch.Tensor":
    """AdaLoRA's regulariser, as PEFT's ``AdaLoraModel.forward`` computes it: the mean over the
    adapter's A and B matrices of ‖AAᵀ − I‖ (‖BᵀB − I‖), Frobenius norm."""
    import torch

    name = wrapped.base_model.trainable_adapter_name
    total, count = None, 0
    for n, p in wrapped.named_parameters():
        if ("lora_A" in n or "lora_B" in n) and name in n:
            cov = p @ p.T if "lora_A" in n else p.T @ p
            term = torch.linalg.matrix_norm(cov - torch.eye(*cov.shape, device=cov.device, dtype=cov.dtype))
            total = term if total is None else total + term
            count += 1
    if total is None:
        return torch.zeros((), device=next(wrapped.parameters()).device)
    return total / count
