"""IA3 (Liu et al., 2022) through PEFT: learned per-channel scales on chosen layers' outputs, or on
their inputs for the "feed-forward" ones; the fewest trainable parameters of the adapters."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.kinds.finetune.targets import default_feedforward
from engine.models.base import Classifier


class IA3Params(AdapterParams):
    feedforward_modules: list[str] | None = Field(
        None, description="Targets whose input (not output) is scaled; empty: the architecture's default."
    )


class IA3(PeftMethod):
    name = "ia3"
    title = "IA3"
    description = "Learn one scale per channel of chosen layers; the fewest trainable parameters of all adapters."
    params = IA3Params
    default_lr = 3e-2
    pretrained_lr = 3e-3
    peft_type = "IA3"
    supports = ("Linear", "Conv1D", "Conv2d", "Conv3d")
    rank_field = None

    def peft_config(self, params: IA3Params, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import IA3Config

        requested = params.target_modules or targets
        wanted = params.feedforward_modules
        if wanted is None:
            wanted = default_feedforward(ctx.layout, list(requested))
        feedforward = [t for t in targets if any(t == f or t.endswith("." + f) for f in wanted)]
        return IA3Config(
            target_modules=targets, feedforward_modules=feedforward, modules_to_save=[ctx.layout.head_module]
        )
