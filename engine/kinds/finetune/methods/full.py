"""Full fine-tuning: every weight of the model is trained."""

from __future__ import annotations

from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext, freeze_all_but
from engine.kinds.finetune.training import Stage
from engine.models.base import Classifier


class FullParams(MethodParams):
    pass


class Full(Method):
    name = "full"
    title = "Full fine-tuning"
    description = "Train every weight of the model on the new data."
    params = FullParams
    default_lr = 3e-3
    pretrained_lr = 2e-5

    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        return [Stage("train", model.module, freeze_all_but(model.module, lambda name: True))]
