"""Last-k-blocks: fine-tune only the model's last k blocks (and what follows them, the head)."""

from __future__ import annotations

from pydantic import Field

from engine.core.errors import ModelError
from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext, in_module
from engine.kinds.finetune.training import Stage
from engine.models.base import Classifier


class LastKParams(MethodParams):
    k: int = Field(1, ge=1, le=1000, description="How many of the last blocks to train.")


class LastK(Method):
    name = "last_k"
    title = "Last k blocks"
    description = "Train only the last k blocks of the model and its final layer; earlier blocks stay frozen."
    params = LastKParams
    default_lr = 5e-3
    pretrained_lr = 5e-5
    budget = "k"

    def prepare(self, model: Classifier, params: LastKParams, ctx: PrepareContext) -> list[Stage]:
        blocks = ctx.layout.blocks
        where = ctx.layout.describe()
        if not blocks:
            raise ModelError(f"last_k: {where} has no blocks before its head to train.")
        if params.k > len(blocks):
            raise ModelError(
                f"last_k: k = {params.k} but {where} has {len(blocks)} block{'s' if len(blocks) != 1 else ''} before "
                f"its head ({', '.join(b[0] for b in blocks)}); choose k between 1 and {len(blocks)}."
            )
        first = blocks[-params.k]
        named = list(model.module.named_parameters())
        start = next(i for i, (name, _) in enumerate(named) if any(in_module(name, b) for b in first))
        trained = []
        for i, (name, p) in enumerate(named):
            p.requires_grad_(i >= start or in_module(name, ctx.layout.head_module))
            if p.requires_grad:
                trained.append(p)
        return [Stage("train", model.module, trained)]
