"""VeRA (Kopiczko et al., 2024) through PEFT: one pair of frozen random low-rank matrices shared by
all targeted layers; each layer learns only two scaling vectors. Linear layers only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.kinds.finetune.methods.base import AdapterParams, PeftMethod, PrepareContext
from engine.models.base import Classifier


class VeraParams(AdapterParams):
    rank: int = Field(64, ge=1, le=4096, description="Rank of the shared random matrices.")
    d_initial: float = Field(0.1, gt=0, le=10, description="Starting value of the learned per-rank scales.")


class Vera(PeftMethod):
    name = "vera"
    title = "VeRA"
    description = "Share one pair of frozen random matrices across layers and learn only two small scaling vectors per layer."
    params = VeraParams
    default_lr = 3e-2
    pretrained_lr = 4e-3
    budget = "rank"
    peft_type = "VERA"
    supports = ("Linear", "Conv1D")

    def peft_config(self, params: VeraParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        from peft import VeraConfig

        return VeraConfig(
            r=params.rank,
            d_initial=params.d_initial,
            target_modules=targets,
            modules_to_save=[ctx.layout.head_module],
            projection_prng_key=ctx.config.seed,
            save_projection=True,
        )
