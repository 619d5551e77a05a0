"""DoRA (Liu et al., 2024) through PEFT: LoRA on the direction of each weight, with its magnitude
learned separately (PEFT's ``use_dora``)."""

from __future__ import annotations

from engine.kinds.finetune.methods.lora import Lora, LoraParams


class Dora(Lora):
    name = "dora"
    title = "DoRA"
    description = "LoRA that learns each weight's size and direction separately (weight-decomposed LoRA)."
    params = LoraParams
    supports = ("Linear", "Conv1D", "Conv1d", "Conv2d", "Conv3d", "Embedding")
    use_dora = True
