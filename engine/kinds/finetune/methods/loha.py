"""LoHa (FedPara / LyCORIS) through PEFT: the weight change is the element-wise product of two
low-rank products, reaching a higher rank than LoRA for the same number of parameters."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.models.base import Classifier


class LoHaParams(AdapterParams):
    rank: int = Field(8, ge=1, le=4096, description="Rank of each of the two low-rank factors.")
    alpha: float = Field(8.0, gt=0, le=1e5, description="Scale of the change: alpha / rank.")


class LoHa(PeftMethod):
    name = "loha"
    title = "LoHa"
    description = "Like LoRA, but the change is a product of two low-rank pieces (Hadamard), richer for its size."
    params = LoHaParams
    default_lr = 5e-2
    pretrained_lr = 5e-4
    budget = "rank"
    peft_type = "LOHA"
    supports = ("Linear", "Conv1d", "Conv2d")

    def peft_config(self, params: LoHaParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import LoHaConfig

        return LoHaConfig(r=params.rank, alpha=params.alpha, target_modules=targets, modules_to_save=[ctx.layout.head_module])
