"""LoKr (LyCORIS) through PEFT: the weight change is a Kronecker product of a small matrix and a
low-rank one. PEFT uses a full factor instead of a low-rank one when the rank is large for the
layer, so the rank is not checked against the layer's width here."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.models.base import Classifier


class LoKrParams(AdapterParams):
    rank: int = Field(8, ge=1, le=4096, description="Rank of the larger Kronecker factor.")
    alpha: float = Field(8.0, gt=0, le=1e5, description="Scale of the change: alpha / rank.")


class LoKr(PeftMethod):
    name = "lokr"
    title = "LoKr"
    description = "Like LoRA, but the change is a Kronecker product of a tiny and a low-rank matrix."
    params = LoKrParams
    default_lr = 5e-2
    pretrained_lr = 5e-4
    budget = "rank"
    peft_type = "LOKR"
    supports = ("Linear", "Conv1d", "Conv2d")
    rank_field = None

    def peft_config(self, params: LoKrParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import LoKrConfig

        return LoKrConfig(r=params.rank, alpha=params.alpha, target_modules=targets, modules_to_save=[ctx.layout.head_module])
