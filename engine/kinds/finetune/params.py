"""How many parameters a method trains, as papers count them and as PEFT prints them.

Papers (and Juxta) give trainable parameters as a share of the **base** model's parameters.
PEFT's ``print_trainable_parameters`` divides by everything in the wrapped model: the base, the
adapter weights and the copy of each ``modules_to_save`` module — a larger denominator, so a smaller
share. Both are kept, labelled apart. The base is counted as it is tuned: with its new head when the
head was replaced for another number of classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from engine.kinds.finetune.layout import Layout
from engine.kinds.finetune.wrapping import is_peft

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ParamCount:
    trainable: int  # parameters the optimizer updated
    head: int  # of which in the classification head
    base: int  # parameters of the base model
    peft_trainable: int | None = None  # PEFT's own figures, when PEFT wrapped the model
    peft_total: int | None = None

    @property
    def share(self) -> float:
        """Trainable parameters as a share of the base's (0–1), what papers report."""
        return self.trainable / self.base if self.base else 0.0

    @property
    def peft_share(self) -> float | None:
        """PEFT's printout figure: trainable ÷ (base + adapters + saved-module copies)."""
        if self.peft_trainable is None or not self.peft_total:
            return None
        return self.peft_trainable / self.peft_total

    def lines(self) -> list[str]:
        out = [
            f"trainable parameters: {self.trainable:,} ({100 * self.share:.3g}% of the base's {self.base:,}), "
            f"of which {self.head:,} in the head"
        ]
        if self.peft_share is not None:
            out.append(
                f"PEFT's figure: {self.peft_trainable:,} of {self.peft_total:,} ({100 * self.peft_share:.3g}%; its total "
                "counts the adapters and the copied head too)"
            )
        return out


def count_trained(module: "nn.Module", trained: Iterable["nn.Parameter"], layout: Layout, base: int) -> ParamCount:
    """Counts for ``module`` (the model as tuned, PEFT-wrapped or not) given the parameters trained."""
    ids = {id(p) for p in trained}
    trainable = head = 0
    seen: set[int] = set()
    for name, p in module.named_parameters():
        if id(p) in ids and id(p) not in seen:
            seen.add(id(p))
            trainable += p.numel()
            if f".{layout.head_module}." in f".{name}." or f".{layout.head}." in f".{name}.":
                head += p.numel()
    if is_peft(module):
        peft_trainable, peft_total = module.get_nb_trainable_parameters()
        return ParamCount(trainable, head, base, int(peft_trainable), int(peft_total))
    return ParamCount(trainable, head, base)
