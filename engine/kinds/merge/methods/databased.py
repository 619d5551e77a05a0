"""What data-based methods share: how they receive inputs, and what they return.

They never load data themselves. A caller passes, per expert/task, an iterable of input batches
(whatever its forward function takes) and a forward function that returns logits; studies decide
where batches come from. Task-specific heads stay the caller's business: the forward function gets
the task index and can put that task's head in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch
    from torch import nn

StateDict = dict[str, "torch.Tensor"]
Forward = Callable[["nn.Module", Any], "torch.Tensor"]
ParamForward = Callable[[Mapping[str, "torch.Tensor"], Any, int], "torch.Tensor"]


@dataclass
class ModelMergeResult:
    """A merged state dict and what the method learned or measured on the way."""

    state_dict: StateDict
    method: str
    info: dict[str, Any] = field(default_factory=dict)
    transductive: bool = False  # coefficients fitted on the (unlabeled) inputs the model is then tested on
    curve: list[float] = field(default_factory=list)  # e.g. AdaMerging's entropy per step


def state_dict_of(model: nn.Module | Mapping[str, torch.Tensor]) -> StateDict:
    from torch import nn

    if isinstance(model, nn.Module):
        return {k: v.detach() for k, v in model.state_dict().items()}
    return dict(model)


def float_keys(state: Mapping[str, torch.Tensor], skip: Iterable[str] = ()) -> list[str]:
    skipped = set(skip)
    return [k for k, v in state.items() if v.is_floating_point() and k not in skipped]


def adapter(inner: nn.Module, call: Callable[[nn.Module, Any], torch.Tensor]) -> nn.Module:
    """A module whose forward is ``call(inner, batch)``, so ``functional_call`` can run a custom call
    (parameters under ``inner.``). Built here, when torch is loaded, rather than at import."""
    from torch import nn

    class Adapter(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, batch: Any) -> torch.Tensor:
            return call(self.inner, batch)

    return Adapter()


def functional_forward(module: nn.Module, heads: list[Mapping[str, torch.Tensor]] | None = None,
                       call: Callable[[nn.Module, Any], torch.Tensor] | None = None) -> ParamForward:
    """A ParamForward for AdaMerging: runs ``module`` with the given parameters (and task ``t``'s head
    tensors, when given) via ``torch.func.functional_call``. ``call(module, batch)`` adapts a batch
    to the module (default: ``module(batch)``)."""
    from torch.func import functional_call

    wrapped = adapter(module, call or (lambda m, b: m(b)))

    def run(params: Mapping[str, torch.Tensor], batch: Any, task: int) -> torch.Tensor:
        tensors = dict(params)
        if heads is not None:
            tensors.update(heads[task])
        return functional_call(wrapped, {f"inner.{k}": v for k, v in tensors.items()}, (batch,))

    return run
