"""rsLoRA (Kalajdzievski, 2023) through PEFT: LoRA scaled by alpha / √rank instead of alpha / rank,
so that larger ranks keep learning (PEFT's ``use_rslora``)."""

from __future__ import annotations

from engine.kinds.finetune.methods.lora import Lora, LoraParams


class RsLora(Lora):
    name = "rslora"
    title = "rsLoRA"
    description = "LoRA with its change scaled by alpha / √rank, so that higher ranks still learn well."
    params = LoraParams
    use_rslora = True
