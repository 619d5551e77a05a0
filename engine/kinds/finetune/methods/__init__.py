"""The fine-tuning methods, registered in one place: ``METHODS[name]``.

To add a method: one file here with a ``Method`` subclass (name, title, one-line description,
pydantic parameters, default learning rates, ``prepare``), and one line below.
"""

from __future__ import annotations

from engine.core.errors import JuxtaError
from engine.kinds.finetune.methods.adalora import AdaLora
from engine.kinds.finetune.methods.base import Method
from engine.kinds.finetune.methods.bitfit import BitFit
from engine.kinds.finetune.methods.dora import Dora
from engine.kinds.finetune.methods.full import Full
from engine.kinds.finetune.methods.ia3 import IA3
from engine.kinds.finetune.methods.last_k import LastK
from engine.kinds.finetune.methods.linear_probe import LinearProbe
from engine.kinds.finetune.methods.loha import LoHa
from engine.kinds.finetune.methods.lokr import LoKr
from engine.kinds.finetune.methods.lora import Lora
from engine.kinds.finetune.methods.lp_ft import LpFt
from engine.kinds.finetune.methods.rslora import RsLora
from engine.kinds.finetune.methods.vera import Vera
from engine.kinds.finetune.methods.wise_ft import WiseFt

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        LinearProbe(), Full(), LpFt(), BitFit(), LastK(),
        Lora(), Dora(), RsLora(), IA3(), LoHa(), LoKr(), Vera(), AdaLora(),
        WiseFt(),
    )
}


def get_method(name: str) -> Method:
    """The registered method, or a plain error listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise JuxtaError(f"Unknown fine-tuning method '{name}'; expected one of {', '.join(METHODS)}.") from None
