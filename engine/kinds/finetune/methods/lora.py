"""LoRA (Hu et al., 2021) through PEFT: a trainable low-rank change B·A added to chosen layers'
frozen weights, scaled by alpha / rank; B starts at zero, so training starts from the base."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.models.base import Classifier


class LoraParams(AdapterParams):
    rank: int = Field(8, ge=1, le=4096, description="Rank of the learned change to each layer's weight.")
    alpha: float = Field(16.0, gt=0, le=1e5, description="Scale of the change: alpha / rank (alpha / √rank for rsLoRA).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapter's input.")


class Lora(PeftMethod):
    name = "lora"
    title = "LoRA"
    description = "Learn a small low-rank change to chosen layers' weights; the model's own weights stay frozen."
    params = LoraParams
    default_lr = 5e-3
    pretrained_lr = 5e-4
    budget = "rank"
    peft_type = "LORA"
    supports = ("Linear", "Conv1D", "Conv1d", "Conv2d", "Conv3d", "Embedding", "MultiheadAttention")
    use_dora: ClassVar[bool] = False
    use_rslora: ClassVar[bool] = False

    def peft_config(self, params: LoraParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import LoraConfig

        return LoraConfig(
            r=params.rank,
            lora_alpha=params.alpha,
            lora_dropout=params.dropout,
            target_modules=targets,
            modules_to_save=[ctx.layout.head_module],
            use_dora=self.use_dora,
            use_rslora=self.use_rslora,
        )
