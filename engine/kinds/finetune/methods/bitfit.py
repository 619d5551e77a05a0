"""BitFit (Ben Zaken et al., ACL 2022): train only the bias terms, plus the classification head."""

from __future__ import annotations

from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext, freeze_all_but, in_module
from engine.kinds.finetune.training import Stage
from engine.models.base import Classifier


class BitFitParams(MethodParams):
    pass


class BitFit(Method):
    name = "bitfit"
    title = "BitFit"
    description = "Train only the bias terms of every layer (and the final layer); all other weights stay frozen."
    params = BitFitParams
    default_lr = 3e-2
    pretrained_lr = 1e-3

    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        head = ctx.layout.head_module
        trained = freeze_all_but(model.module, lambda name: name.rsplit(".", 1)[-1] == "bias" or in_module(name, head))
        return [Stage("train", model.module, trained)]
