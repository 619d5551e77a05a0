"""Linear probe: the base stays frozen; only its final layer is trained, on features computed once."""

from __future__ import annotations

from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext
from engine.kinds.finetune.training import Stage
from engine.kinds.finetune.wrapping import base_module
from engine.models.base import Classifier


class LinearProbeParams(MethodParams):
    pass


class LinearProbe(Method):
    name = "linear_probe"
    title = "Linear probe"
    description = "Keep the model frozen and train only its final layer, on features computed once."
    params = LinearProbeParams
    default_lr = 5e-2
    pretrained_lr = 1e-3

    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        return [probe_stage(model, ctx)]


def probe_stage(model: Classifier, ctx: PrepareContext, epochs: int | None = None, lr: float | None = None) -> Stage:
    """Train the head alone on cached pre-head features (shared with LP-FT's first stage)."""
    head = base_module(model.module).get_submodule(ctx.layout.head)
    for p in head.parameters():
        p.requires_grad_(True)
    return Stage("probe", head, list(head.parameters()), on_features=True, epochs=epochs, lr=lr)
