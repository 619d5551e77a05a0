"""LP-FT (Kumar et al., ICLR 2022): probe the head first, then fine-tune everything from that head,
so the early, large gradients of a random head do not distort the pretrained features."""

from __future__ import annotations

from pydantic import Field

from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext, freeze_all_but
from engine.kinds.finetune.methods.linear_probe import LinearProbe, probe_stage
from engine.kinds.finetune.training import Stage
from engine.models.base import Classifier


class LpFtParams(MethodParams):
    probe_epochs: int = Field(5, ge=1, le=1000, description="Epochs of the linear-probe stage.")
    probe_lr: float | None = Field(
        None, gt=0, le=10, description="Learning rate of the probe stage; empty: the linear probe's default."
    )


class LpFt(Method):
    name = "lp_ft"
    title = "LP-FT"
    description = "First train only the final layer (linear probe), then fine-tune the whole model from there."
    params = LpFtParams
    default_lr = 3e-3
    pretrained_lr = 1e-5

    def prepare(self, model: Classifier, params: LpFtParams, ctx: PrepareContext) -> list[Stage]:
        probe_lr = params.probe_lr or LinearProbe().lr_for(model.info)
        probe = probe_stage(model, ctx, epochs=params.probe_epochs, lr=probe_lr)
        tune = Stage("fine-tune", model.module, freeze_all_but(model.module, lambda name: True))
        return [probe, tune]
